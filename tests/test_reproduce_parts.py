"""The parts of numrnn reproduce that answer issue 24: nan (A/B above the exploding point), matched
(D against a parameter-matched C, paired by seed) and alpha (the scaled skip)."""
import dataclasses
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
    fixed = [s for s in specs if not s.learn_skip_scale]
    assert len(fixed) == 4 * 2 * 2 * 3
    factorial = {rp.run_key(s) for s in rp.factorial_plan(rp.FULL)}
    assert all(rp.run_key(s) in factorial for s in fixed if s.skip_scale == 1.0)   # reused, not retrained
    assert not any(rp.run_key(s) in factorial for s in fixed if s.skip_scale != 1.0)
    learned = specs[len(fixed):]                         # last: alpha learned from 1, C and D x clips x seeds
    assert all(s.learn_skip_scale and s.skip_scale == 1.0 for s in learned) and len(learned) == 2 * 2 * 3
    assert {s.row for s in learned} == {"C, alpha learned", "D, alpha learned"}
    assert not any(rp.run_key(s) in factorial for s in learned)
    # an older record without the field is a fixed-alpha run: its key is unchanged
    old = {k: v for k, v in dataclasses.asdict(fixed[0]).items() if k != "learn_skip_scale"}
    assert rp.run_key(old) == rp.run_key(fixed[0])


def test_a_run_with_alpha_trains_the_scaled_skip():
    base = dict(T=6, n_train=64, n_test=32, epochs=1, batch_size=16, hidden_size=6, D=2, clip=1.0)
    plain = rp.run_one(rp.RunSpec(row="C", version="C", seed=0, **base))
    scaled = rp.run_one(rp.RunSpec(row="C", version="C", seed=0, skip_scale=0.5, **base))
    assert scaled["spec"]["skip_scale"] == 0.5 and plain["spec"]["skip_scale"] == 1.0
    assert scaled["test_mse"] != plain["test_mse"] and scaled["n_params"] == plain["n_params"]


def test_a_run_with_alpha_learned_records_its_final_alpha():
    base = dict(T=6, n_train=64, n_test=32, epochs=1, batch_size=16, hidden_size=6, D=2, clip=1.0)
    fixed = rp.run_one(rp.RunSpec(row="C", version="C", seed=0, **base))
    learned = rp.run_one(rp.RunSpec(row="C, alpha learned", version="C", seed=0, learn_skip_scale=True, **base))
    assert "skip_scale_final" not in fixed and learned["skip_scale_final"] != 1.0
    assert learned["n_params"] == fixed["n_params"] + 1
    md = rp.alpha_notes([fixed, learned])
    assert f"| C, alpha learned | 1 | 0 | {learned['skip_scale_final']:.4g} |" in md
    assert rp.alpha_notes([fixed]) is None


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
    learned = [r for r in alpha["runs"] if r["spec"]["learn_skip_scale"]]
    assert len(learned) == 4 and all(np.isfinite(r["skip_scale_final"]) for r in learned)
    assert "### The learned alphas (each started at 1)" in open(written["alpha"]["md"]).read()
    assert alpha["environment"]["blas_threads_per_run"] == 1
    assert all(np.isfinite(float(r["normalised_mse"])) for r in alpha["runs"])


# ------------------------------------------------------------------ baselines: tuned LSTM and IRNN
def test_baseline_tuning_gives_the_plain_lstm_and_the_irnn_a_grid_on_a_validation_seed():
    specs = rp.baseline_tune_plan(rp.FULL)
    lstm = [s for s in specs if s.cell == "lstm"]
    irnn = [s for s in specs if s.cell == "rnn"]
    for task, T in (("adding", 200), ("copy", 100)):
        grid = {(s.lr, s.forget_bias) for s in lstm if s.task == task and s.T == T}
        assert grid == {(lr, b) for lr in (3e-3, 1e-2, 3e-2, 1e-1) for b in (1.0, 3.0, 5.0)}
        grid = {(s.lr, s.clip) for s in irnn if s.task == task and s.T == T}
        assert grid == {(lr, c) for lr in (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3) for c in (1.0, 10.0)}
    assert {s.version for s in specs} == {"A"} and {s.init for s in irnn} == {"identity"}
    assert {s.seed for s in specs} == {100} and 100 not in rp.FULL["baseline_seeds"]


def _tuning_record(cell, task, lr, loss, diverged=None, forget_bias=1.0, clip=1.0):
    spec = dataclasses.asdict(rp.RunSpec(row="x", version="A", T=5, seed=100, cell=cell, task=task,
                                         lr=lr, forget_bias=forget_bias, clip=clip,
                                         init="identity" if cell == "rnn" else "normal"))
    return {"spec": spec, "normalised_mse": loss, "diverged_step": diverged, "accuracy": None}


def test_choose_tuned_takes_the_lowest_validation_loss_that_did_not_diverge():
    runs = [_tuning_record("lstm", "adding", 1e-2, 0.5, forget_bias=1.0),
            _tuning_record("lstm", "adding", 3e-2, 0.01, forget_bias=5.0),
            _tuning_record("lstm", "adding", 1e-1, 0.001, diverged=12),      # lowest, but diverged
            _tuning_record("rnn", "adding", 1e-4, "nan"),
            _tuning_record("rnn", "adding", 1e-5, 0.9, clip=10.0),
            _tuning_record("lstm", "copy", 3e-3, 0.7)]
    best = rp.choose_tuned(runs)
    assert set(best) == {("LSTM A", "adding"), ("IRNN", "adding"), ("LSTM A", "copy")}
    assert best[("LSTM A", "adding")]["spec"]["lr"] == 3e-2
    assert best[("IRNN", "adding")]["spec"]["clip"] == 10.0
    specs = rp.baseline_plan(rp.FULL, best)
    tuned = [s for s in specs if "tuned" in s.row]
    adding = {(s.row, s.lr, s.forget_bias, s.clip) for s in tuned if s.task == "adding"}
    assert adding == {("LSTM A, tuned (lr 0.03, forget bias 5)", 3e-2, 5.0, 1.0),
                      ("IRNN, tuned (lr 1e-05, clip 10)", 1e-5, 1.0, 10.0)}
    assert {s.T for s in tuned if s.task == "adding"} == {200, 400, 1000}
    assert not any(s.row.startswith("IRNN") for s in specs if s.task == "copy")   # no IRNN tuning run finished
    # the skip rows are the standard-task table's runs, so an earlier table's runs are reused
    tasks = {rp.run_key(s) for s in rp.task_plan(rp.FULL)}
    skip = [s for s in specs if s.row in ("C", "D", "LSTM C", "LSTM D")]
    assert len(skip) == 2 * 4 * 3 + 2 * 4 * 3           # RNN and LSTM C and D at every cell
    assert {s.T for s in skip if s.cell == "lstm" and s.task == "adding"} == {200, 400, 1000}
    short = dict(rp.FULL, baseline_skip_lstm_max_T=400)  # the limit, where a setting sets one
    assert not any(s.row in ("LSTM C", "LSTM D") and s.T > 400 for s in rp.baseline_plan(short, best))
    assert all(rp.run_key(s) in tasks for s in skip if s.seed == 0 and s.T in (100, 200, 400))


def test_the_forget_bias_of_a_run_reaches_the_lstm():
    base = dict(T=6, n_train=64, n_test=32, epochs=1, batch_size=16, hidden_size=4, D=2, clip=1.0,
                cell="lstm", task="adding")
    one = rp.run_one(rp.RunSpec(row="LSTM A", version="A", seed=0, **base))
    five = rp.run_one(rp.RunSpec(row="LSTM A", version="A", seed=0, forget_bias=5.0, **base))
    assert five["spec"]["forget_bias"] == 5.0 and one["test_mse"] != five["test_mse"]


def test_the_baselines_part_tunes_then_writes_its_table_with_the_choice(tmp_path):
    tiny = dict(TINY, n_train=64, n_test=32, epochs=1, baseline_adding_T=(5,), baseline_copy_T=(4,),
                baseline_seeds=(0, 1), baseline_tune_adding_T=5, baseline_tune_copy_T=4,
                lstm_tune_lrs=(1e-2,), forget_biases=(1.0, 3.0), irnn_tune_lrs=(1e-3,),
                irnn_tune_clips=(1.0,))
    written = rp.reproduce(parts=["baselines"], out=str(tmp_path), progress=False, overrides=tiny,
                           command="numrnn test", figures=False, workers=1)
    tuning = json.load(open(written["baselines_tune"]["json"]))
    assert len(tuning["runs"]) == 2 * (2 + 1)
    md = open(written["baselines"]["md"]).read()
    assert "### What the tuning chose" in md and "| LSTM A | adding | (lr 0.01, forget bias " in md
    assert "| adding | 5 | D vs LSTM A, tuned (lr 0.01, forget bias " in md     # paired over 2 seeds
    assert "Environment: " in md
    table = json.load(open(written["baselines"]["json"]))
    assert {r["spec"]["row"].split(",")[0] for r in table["runs"]} == {"C", "D", "LSTM C", "LSTM D",
                                                                        "LSTM A", "IRNN"}
