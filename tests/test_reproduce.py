"""The reproduction: runs, sweeps through executors (process pool, Dask), tables and figures."""
import dataclasses
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from numrnn.experiments import reproduce as rp
from numrnn.experiments.reproduce import RunSpec, run_one, run_sweep

TINY = dict(D=2, n_train=64, n_test=32, epochs=2, batch_size=16, hidden_size=8)


def _tiny(row, version, seed=0, T=5, **kw):
    return RunSpec(row=row, version=version, T=T, seed=seed, **dict(TINY, **kw))


def test_run_one_records_what_happened():
    r = run_one(_tiny("D", "D"))
    assert r["steps"] == 8 and len(r["loss"]) == 8 and len(r["grad_norm"]) == 8
    assert r["diverged_step"] is None and r["n_params"] == 2 * 64 + 8 * 2 + 8 + 9
    assert r["normalised_mse"] == pytest.approx(r["test_mse"] / r["baseline_mse"], rel=1e-5)
    assert r["test"][-1][0] == 8 and r["test"][-1][1] == pytest.approx(r["test_mse"], rel=1e-5)
    json.dumps(r)                                             # the record is JSON-able


def test_a_diverging_run_is_a_result():
    r = run_one(_tiny("A", "A", T=20, optimizer="sgd", lr=1e6, scale=2.0))
    assert r["diverged_step"] is not None and r["success"] is False
    assert r["steps"] == r["diverged_step"] - 1 == len(r["loss"])
    json.dumps(r)                                             # nan/inf test MSE stays JSON-able


def test_process_pool_and_thread_pool_give_the_same_bits_as_serial():
    specs = [_tiny("A", "A", seed=1), _tiny("C", "C", seed=2), _tiny("special", "special", T=9)]
    serial = [run_one(dataclasses.asdict(s)) for s in specs]
    pooled = run_sweep(specs, workers=2, progress=False)
    with ThreadPoolExecutor(2) as ex:
        threaded = run_sweep(specs, executor=ex, progress=False)
    for a, b, c in zip(serial, pooled, threaded):
        assert a["spec"] == b["spec"] == c["spec"]
        assert a["loss"] == b["loss"] == c["loss"] and a["test_mse"] == b["test_mse"] == c["test_mse"]


def test_a_dask_cluster_executor_works_unchanged():
    distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    specs = [_tiny("B", "B"), _tiny("D", "D")]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results = run_sweep(specs, executor=client.get_executor(), progress=False)
    for spec, r in zip(specs, results):
        assert r["spec"]["row"] == spec.row
        assert r["loss"] == run_one(spec)["loss"]


def test_plan_holds_the_paper_rows_and_the_baselines():
    specs = rp.plan(rp.FULL, seeds=[0, 1], lstm=True)
    rows = {s.row: s for s in specs}
    assert list(rows)[:5] == ["A", "B", "C", "D", "special"]
    assert rows["special"].T == 500 and rows["A"].T == 100 and rows["A"].n_train == 10000
    irnn = rows["A + identity init (IRNN)"]
    assert irnn.init == "identity" and irnn.scale == 1.0 and irnn.version == "A"
    clip = rows["A + clipping (1)"]
    assert clip.clip == 1.0 and rows["A"].clip is None
    assert rows["LSTM D"].cell == "lstm" and rows["LSTM D"].hidden_size == rp.FULL["lstm_hidden_size"]
    assert len(specs) == 2 * len(rows)
    assert not any(s.cell == "lstm" for s in rp.plan(rp.FULL, seeds=[0], lstm=False))
    lengths = rp.length_plan(rp.FULL, seeds=[0], lengths=[100, 1000])
    assert [(s.row, s.T) for s in lengths][:5] == [("A", 100), ("B", 100), ("C", 100), ("D", 100), ("A", 1000)]


def _record(row, seed, nmse, diverged=None, T=100):
    return {"spec": dict(row=row, version=row, T=T, seed=seed, cell="rnn", group="main"),
            "baseline_mse": 0.33, "test_mse": nmse * 0.33, "normalised_mse": nmse,
            "success": diverged is None and nmse < 0.01, "diverged_step": diverged,
            "diverged_reason": None, "n_params": 100, "wall_seconds": 2.0, "seconds_per_epoch": 1.0,
            "steps": 10, "loss": [1.0, 0.5], "test": [[10, nmse * 0.33]], "grad_norm": [1.0, 1.0]}


def test_summary_medians_rates_and_the_markdown_table():
    results = [_record("A", 0, 1.0), _record("A", 1, 1.2, diverged=7), _record("A", 2, 0.9),
               _record("C", 0, 0.001), _record("C", 1, 0.02), _record("C", 2, 0.005)]
    rows = rp.summarise(results)
    a, c = rows
    assert a["row"] == "A" and a["normalised_mse_median"] == pytest.approx(1.0)
    assert (a["normalised_mse_min"], a["normalised_mse_max"]) == (0.9, 1.2)
    assert a["divergence_rate"] == pytest.approx(1 / 3) and a["diverged_steps"] == [7]
    assert c["success_rate"] == pytest.approx(2 / 3) and a["success_rate"] == 0
    md = rp.markdown_table(rows, "t", "numrnn reproduce --x", {"epochs": 3})
    assert "`numrnn reproduce --x`" in md and "epochs=3" in md
    assert "| A | 100 | 100 | 0.33 [0.297 - 0.396] | 1 [0.9 - 1.2] | 0% | 33% (7) | 1 |" in md
    assert "| C | 100 |" in md and "| 67% |" in md and "0,1,2" in md


def test_reproduce_writes_tables_and_figures_with_the_command(tmp_path):
    over = dict(TINY, T=5, special_T=8, seeds=2, length_seeds=2, lstm_seeds=1)
    main, lengths = rp.reproduce(quick=True, out=str(tmp_path), lstm=False, lengths=[5, 7],
                                 workers=2, progress=False, overrides=over, command="numrnn test")
    record = json.load(open(main["json"]))
    assert record["command"] == "numrnn test" and record["settings"]["n_train"] == 64
    assert [r["row"] for r in record["rows"]] == ["A", "B", "C", "D", "special",
                                                  "A + identity init (IRNN)", "A + clipping (1)"]
    assert all(r["seeds"] == [0, 1] for r in record["rows"])
    md = open(main["md"]).read()
    assert "numrnn test" in md and "reproduce_quick_loss_curves.png" in md
    for key in ("curves", "final"):
        assert os.path.getsize(main[key]) > 10_000
    sweep = json.load(open(lengths["json"]))
    assert sorted({(r["row"], r["T"]) for r in sweep["rows"]}) == sorted(
        (v, T) for v in "ABCD" for T in (5, 7))
    # T = 5 runs are those of the main table, reused, not trained again
    reused = [r for r in sweep["runs"] if r["spec"]["T"] == 5 and r["spec"]["row"] == "C"]
    again = [r for r in record["runs"] if r["spec"]["row"] == "C"]
    assert [r["loss"] for r in reused] == [r["loss"] for r in again]
    assert os.path.getsize(lengths["length"]) > 10_000
    # --resume reuses the journalled runs (nothing is trained); without it they are trained again
    again, _ = rp.reproduce(quick=True, out=str(tmp_path), lstm=False, progress=False,
                            overrides=over, command="numrnn test", resume=True, executor=_Refuses(),
                            figures=False)
    assert json.load(open(again["json"]))["rows"] == record["rows"]
    with pytest.raises(AssertionError, match="trained again"):
        rp.reproduce(quick=True, out=str(tmp_path), lstm=False, progress=False, overrides=over,
                     executor=_Refuses(), figures=False)
    with pytest.raises(ValueError, match="unknown settings"):
        rp.reproduce(quick=True, overrides={"hiden_size": 3})


class _Refuses:
    """An executor that must not be asked: every run is already in the journal."""

    def submit(self, *args, **kwargs):
        raise AssertionError("a journalled run was trained again")


def test_journal_makes_an_interrupted_sweep_continue(tmp_path):
    journal = tmp_path / "sweep.jsonl"
    specs = [_tiny("A", "A"), _tiny("D", "D")]
    first = run_sweep(specs[:1], journal=journal, workers=1, progress=False)
    with open(journal, "a") as f:
        f.write('{"torn": ')                                  # a crash mid-line is ignored
    both = run_sweep(specs, journal=journal, workers=1, progress=False)
    assert both[0] == first[0] and both[1]["spec"]["row"] == "D"
    again = run_sweep(specs, journal=journal, executor=_Refuses(), progress=False)
    assert again == both


def test_an_lstm_row_runs_and_counts_its_parameters():
    r = run_one(_tiny("LSTM D", "D", cell="lstm", hidden_size=4, scale=1.0))
    H, D = 4, 2
    assert r["n_params"] == 2 * 4 * H * H + 4 * H * D + 4 * H + H + 1
    assert r["steps"] == 8 and r["diverged_step"] is None
