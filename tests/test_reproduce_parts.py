"""The parts of numrnn reproduce that answer issue 24: nan (A/B above the exploding point), matched
(D against a parameter-matched C, paired by seed) and alpha (the scaled skip)."""
import json

import numpy as np
import pytest

from numrnn.experiments import reproduce as rp
from numrnn.training.model import SequenceModel

TINY = dict(D=2, T=5, n_train=64, n_test=32, epochs=2, batch_size=16, hidden_size=8,
            seeds=(0, 1), nan_scales=(2.0,), matched_seeds=(0, 1, 2), matched_small_seeds=(0,),
            matched_scales=(0.25,), alphas=(0.5,), alpha_seeds=(0,))


def test_the_new_parts_run_only_when_named():
    assert set(rp.DEFAULT_PARTS) == {"tune", "factorial", "lengths", "tasks"}
    assert {"nan", "matched", "alpha"} <= set(rp.PARTS)


def test_nan_plan_is_a_and_b_above_the_exploding_point_with_and_without_clipping():
    specs = rp.nan_plan(rp.FULL)
    f64 = [s for s in specs if s.dtype == "float64"]
    assert len(f64) == 3 * 5 * 2 * 2
    assert {s.version for s in f64} == {"A", "B"} and {s.scale for s in f64} == {1.5, 2.0, 3.0}
    assert {s.clip for s in f64} == {None, 1.0} and {s.seed for s in f64} == set(range(5))
    assert {(s.T, s.hidden_size, s.readout_init) for s in specs} == {(100, 32, "zeros")}
    f32 = [s for s in specs if s.dtype == "float32"]
    assert len(f32) == 2 * 5 * 2 and {(s.clip, s.scale > 1.5) for s in f32} == {(None, True)}
    assert {s.row for s in f32} == {"A (float32)", "B (float32)"}


@pytest.mark.parametrize("version, H", [("D", 32), ("B", 20), ("special", 16)])
def test_matching_hidden_size_is_the_closest_parameter_count(version, H):
    target = SequenceModel(6, H, 1, version=version, seed=0).n_params()
    Hc = rp.matching_hidden_size(target, "C")

    def count(h):
        return SequenceModel(6, h, 1, version="C", seed=0).n_params()
    assert abs(count(Hc) - target) <= min(abs(count(Hc - 1) - target), abs(count(Hc + 1) - target))


def test_the_matched_c_of_the_papers_d_has_h_44():
    assert rp._count_params(rp.FULL, "D", 32) == 2305
    assert rp.matching_hidden_size(2305, "C") == 44 and rp._count_params(rp.FULL, "C", 44) == 2289


def test_matched_plan_pairs_every_seed_in_one_cell():
    specs = rp.matched_plan(rp.FULL)
    for scale in rp.FULL["matched_scales"]:
        cell = [s for s in specs if s.scale == scale]
        big_c = {s.seed for s in cell if s.hidden_size == 44}
        d = {s.seed for s in cell if s.version == "D"}
        assert big_c == d == set(range(30))
        assert {(s.clip, s.readout_init) for s in cell} == {(1.0, "zeros")}
    # the C and D of D's size at seeds 0-4 are the factorial's runs: same training, reused
    factorial = {rp.run_key(s) for s in rp.factorial_plan(rp.FULL)}
    shared = [s for s in specs if rp.run_key(s) in factorial]
    assert {(s.version, s.hidden_size) for s in shared} == {("C", 32), ("D", 32)} and len(shared) == 20


def test_alpha_plan_puts_the_papers_skip_beside_the_scaled_ones():
    specs = rp.alpha_plan(rp.FULL)
    assert {s.skip_scale for s in specs} == {0.25, 0.5, 0.9, 1.0}
    assert len(specs) == 4 * 2 * 2 * 3
    factorial = {rp.run_key(s) for s in rp.factorial_plan(rp.FULL)}
    assert all(rp.run_key(s) in factorial for s in specs if s.skip_scale == 1.0)   # reused, not retrained
    assert not any(rp.run_key(s) in factorial for s in specs if s.skip_scale != 1.0)


def test_a_run_with_alpha_trains_the_scaled_skip():
    base = dict(T=6, n_train=64, n_test=32, epochs=1, batch_size=16, hidden_size=6, D=2, clip=1.0)
    plain = rp.run_one(rp.RunSpec(row="C", version="C", seed=0, **base))
    scaled = rp.run_one(rp.RunSpec(row="C", version="C", seed=0, skip_scale=0.5, **base))
    assert scaled["spec"]["skip_scale"] == 0.5 and plain["spec"]["skip_scale"] == 1.0
    assert scaled["test_mse"] != plain["test_mse"] and scaled["n_params"] == plain["n_params"]


def _record(row, seed, nmse, scale=0.25):
    return {"spec": {"row": row, "seed": seed, "scale": scale}, "normalised_mse": nmse,
            "success": nmse < 0.01}


def test_matched_notes_state_the_paired_tests_on_known_data():
    results = ([_record("D", s, 0.001 * (s + 1)) for s in range(6)] +
               [_record("C (H = 44)", s, 0.002 * (s + 1)) for s in range(6)] +
               [_record("C", s, 0.001 * (s + 1)) for s in range(6)])
    md = rp.matched_notes(results)
    # D is half the matched C on every seed: ratio 0.5, exactly, all 6 lower, exact p = 2 / 64
    assert "| 0.25 | D vs C (H = 44) | 6 | 6 | 0.5 [0.5, 0.5] | 0.031 | 0.031 |" in md
    assert "| 0.25 | D vs C | 6 | 0 | 1 [1, 1] | 1 | 1 |" in md


def test_the_three_parts_write_their_tables(tmp_path):
    written = rp.reproduce(parts=["nan", "matched", "alpha"], out=str(tmp_path), progress=False,
                           overrides=TINY, command="numrnn test", figures=False, workers=1)
    md = open(written["matched"]["md"]).read()
    assert "D against a C with as many parameters: 3 seeds" in md and "### Paired tests" in md
    assert "Environment: " in md and "kernel" in md
    assert "| C (H = 11) |" in md                     # D at H = 8, D = 2: 2*64+3*8+9 -> C at H = 11
    nan = open(written["nan"]["md"]).read()
    assert "### Every run" in nan and nan.count("| A | 2 |") == 4 and nan.count("| A (float32) | 2 |") == 2
    alpha = json.load(open(written["alpha"]["json"]))
    assert {r["spec"]["skip_scale"] for r in alpha["runs"]} == {0.5, 1.0}
    assert alpha["environment"]["blas_threads_per_run"] == 1
    assert all(np.isfinite(float(r["normalised_mse"])) for r in alpha["runs"])
