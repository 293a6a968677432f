"""The reproduction: plans, runs, clipping as a factor, sweeps through executors, tables, figures, CLI."""
import dataclasses
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from numrnn import cli
from numrnn.experiments import reproduce as rp
from numrnn.experiments.reproduce import RunSpec, run_one, run_sweep

TINY = dict(D=2, n_train=64, n_test=32, epochs=2, batch_size=16, hidden_size=8)
#: Settings of a whole (tiny) reproduction: every part, a few runs each.
TINY_SETTINGS = dict(TINY, T=5, special_T=8, lstm_hidden_size=4, seeds=(0, 1), lstm_seeds=(0,),
                     clips=(None, 1.0), readouts=("zeros",), scales=(0.25,), lengths=(5, 7),
                     length_seeds=(0,), long_epochs=3, task_seeds=(0,), adding_T=(6,), copy_T=(3,))


def _tiny(row, version, seed=0, T=5, **kw):
    return RunSpec(row=row, version=version, T=T, seed=seed, **dict(TINY, **kw))


def test_run_one_records_what_happened():
    r = run_one(_tiny("D", "D"))
    assert r["steps"] == 8 and len(r["loss"]) == 8 and len(r["grad_norm"]) == 8
    assert r["diverged_step"] is None and r["n_params"] == 2 * 64 + 8 * 2 + 8 + 9
    assert r["normalised_mse"] == pytest.approx(r["test_mse"] / r["baseline_mse"], rel=1e-5)
    assert r["test"][-1][0] == 8 and r["test"][-1][1] == pytest.approx(r["test_mse"], rel=1e-5)
    assert len(r["test"]) == 2 and r["accuracy"] is None and r["cpu_seconds"] > 0
    json.dumps(r)                                             # the record is JSON-able


def test_a_diverging_run_is_a_result():
    r = run_one(_tiny("A", "A", T=20, optimizer="sgd", lr=1e6, scale=2.0))
    assert r["diverged_step"] is not None and r["success"] is False
    assert r["steps"] == r["diverged_step"] - 1 == len(r["loss"])
    json.dumps(r)                                             # nan/inf test MSE stays JSON-able


def test_the_standard_tasks_report_their_own_accuracy_and_chance():
    adding = run_one(_tiny("C", "C", T=6, task="adding", clip=1.0))
    copy = run_one(_tiny("LSTM D", "D", T=3, task="copy", cell="lstm", hidden_size=4, clip=1.0))
    assert 0 <= adding["accuracy"] <= 1 and 0.1 < adding["accuracy_trivial"] < 0.6
    assert 0 <= copy["accuracy"] <= 1 and copy["accuracy_trivial"] == pytest.approx(1 / 8, rel=1e-4)
    assert copy["baseline_mse"] == pytest.approx(10 * np.log(8) / (3 + 20))   # Arjovsky et al.
    # the criteria: H&S's "every sequence right" for adding, 99 % of the symbols for copy
    assert rp.is_success("adding", 0.02, 1.0, None) and not rp.is_success("adding", 0.0, 0.999, None)
    assert rp.is_success("copy", 0.5, 0.99, None) and not rp.is_success("copy", 0.0, 0.98, None)
    assert rp.is_success("first-element", 0.009, None, None)
    assert not rp.is_success("first-element", 0.009, None, {"step": 3})


def test_process_pool_and_thread_pool_give_the_same_bits_as_serial():
    specs = [_tiny("A", "A", seed=1), _tiny("C", "C", seed=2, clip=1.0),
             _tiny("special", "special", T=9)]
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


def test_the_factorial_crosses_versions_clipping_readout_and_scale_over_five_seeds():
    specs = rp.factorial_plan(rp.FULL)
    plain = [s for s in specs if s.row in rp.VERSIONS]
    cells = {(s.version, s.clip, s.readout_init, s.scale) for s in plain}
    assert cells == {(v, c, r, sc) for v in "ABCD" for c in (None, 1.0, 10.0)
                     for r in ("zeros", "normal") for sc in (0.25, 1.0)}
    assert len(plain) == 48 * 5 and {s.seed for s in plain} == {0, 1, 2, 3, 4}
    assert all(s.T == 100 and s.n_train == 10000 and s.epochs == 10 for s in plain)
    lstm = [s for s in specs if s.cell == "lstm"]
    assert {(s.version, s.clip) for s in lstm} == {(v, c) for v in "ABCD" for c in (None, 1.0, 10.0)}
    assert all(s.lr == rp.FULL["lstm_lr"] and s.hidden_size == 16 for s in lstm) and len(lstm) == 60
    irnn = [s for s in specs if s.row == "IRNN"]
    assert {s.clip for s in irnn} == {None, 1.0, 10.0} and all(s.init == "identity" for s in irnn)
    special = [s for s in specs if s.row == "special"]
    assert {(s.T, s.clip) for s in special} == {(500, None), (500, 1.0)} and len(special) == 10
    assert len({rp.run_key(s) for s in specs}) == len(specs)            # no run twice
    assert not any(s.cell == "lstm" for s in rp.factorial_plan(rp.FULL, lstm=False))
    # the quick plan still has a clipped row
    assert any(s.clip == 1.0 and s.row in rp.VERSIONS for s in rp.factorial_plan(rp.QUICK))


def test_the_length_sweep_the_standard_tasks_and_the_lstm_tuning_plans():
    lengths = rp.length_plan(rp.FULL)
    main = {(s.version, s.T, s.clip) for s in lengths if s.epochs == 10}
    assert main == {(v, T, c) for v in ("C", "D", "special") for T in (100, 200, 500, 1000)
                    for c in (None, 1.0)}
    assert {s.seed for s in lengths if s.version == "C"} == {0, 1, 2}
    assert {s.seed for s in lengths if s.version == "special" and s.T == 500 and s.epochs == 10} \
        == {0, 1, 2, 3, 4}                                 # special at T = 500 on every seed
    longer = [s for s in lengths if s.epochs == 30]
    assert {(s.version, s.T, s.clip) for s in longer} == {("special", 500, 1.0)}
    tasks = rp.task_plan(rp.FULL)
    assert {(s.task, s.T) for s in tasks} == {("adding", 100), ("adding", 200), ("adding", 400),
                                               ("copy", 100), ("copy", 200)}
    assert {s.row for s in tasks} == {"A", "B", "C", "D", "special", "IRNN", "tanh RNN",
                                      "LSTM A", "LSTM B", "LSTM C", "LSTM D"}
    assert all(s.clip == 1.0 for s in tasks)
    assert [s.activation for s in tasks if s.row == "tanh RNN"][0] == "tanh"
    tune = rp.tune_plan(rp.FULL)
    assert {(s.version, s.lr) for s in tune} == {(v, lr) for v in "CD" for lr in rp.TUNE_LRS}
    assert all(s.seed == 100 and s.cell == "lstm" for s in tune)
    rnn_tuning = rp.tuning_plan()                # the runs behind results/tuning.md
    assert len(rnn_tuning) == len(rp.TUNING) == 16
    assert all(s.hidden_size == 64 and s.seed == 100 and s.T == 100 for s in rnn_tuning)


def test_run_key_names_the_training_not_the_table():
    a = _tiny("C", "C")
    assert rp.run_key(a) == rp.run_key(dataclasses.replace(a, row="other", group="lengths"))
    assert rp.run_key(a) != rp.run_key(dataclasses.replace(a, clip=1.0))
    old = {k: v for k, v in dataclasses.asdict(a).items() if k != "task"}   # a record from before
    assert rp.run_key(old) == rp.run_key(a)                                  # "task" existed
    assert rp.run_key(a, seed=False) == rp.run_key(dataclasses.replace(a, seed=3), seed=False)


def test_a_clip_that_never_acts_gives_the_same_run_bit_for_bit():
    plain = run_one(_tiny("A", "A"))
    high = max(plain["grad_norm"]) * 2
    trained = run_one(_tiny("A", "A", clip=high))
    derived = rp.derive_clipped(_tiny("A", "A", clip=high), plain)
    assert derived["derived_from_unclipped"] and derived["spec"]["clip"] == high
    for field in ("loss", "grad_norm", "test", "test_mse", "normalised_mse"):
        assert derived[field] == trained[field], field
    low = min(plain["grad_norm"]) / 2
    assert rp.derive_clipped(_tiny("A", "A", clip=low), plain) is None     # clipping acts: train
    clipped = run_one(_tiny("A", "A", clip=low))
    assert clipped["loss"][0] == plain["loss"][0] and clipped["loss"][1:] != plain["loss"][1:]
    assert rp.clipped_fraction(clipped) == 1.0 and rp.clipped_fraction(plain) is None


def test_run_plan_derives_what_it_can_and_trains_the_rest(tmp_path):
    base = _tiny("A", "A")
    plain = run_one(base)
    specs = [base, dataclasses.replace(base, clip=1e6), dataclasses.replace(base, clip=1e-6)]
    journal = str(tmp_path / "j.jsonl")
    run_sweep(specs[:1], journal=journal, workers=1, progress=False)
    submitted = []

    class Serial:
        def submit(self, fn, spec):
            from concurrent.futures import Future
            submitted.append(spec["clip"])
            future = Future()
            future.set_result(fn(spec))
            return future

    results = rp.run_plan(specs, executor=Serial(), progress=False, journal=journal)
    assert submitted == [1e-6]                                 # only the clip that acts is trained
    assert results[0]["loss"] == results[1]["loss"] == plain["loss"]
    assert results[1]["derived_from_unclipped"] and results[1]["spec"]["clip"] == 1e6
    assert not results[2].get("derived_from_unclipped")


def test_the_most_telling_cells_are_trained_first():
    key = rp.priority("factorial", rp.FULL)
    order = sorted(rp.factorial_plan(rp.FULL), key=key)
    first = [s for s in order if key(s) == key(order[0])]
    assert {(s.readout_init, s.scale) for s in first if s.row in rp.VERSIONS} == {("zeros", 0.25)}
    assert {s.seed for s in first} == {0, 1, 2, 3, 4} and {"IRNN", "special"} <= {s.row for s in first}
    assert order[-1].readout_init == "normal" and order[-1].scale == 1.0
    lengths = sorted(rp.length_plan(rp.FULL), key=rp.priority("lengths", rp.FULL))
    assert [s.T for s in lengths] == sorted(s.T for s in lengths if s.epochs == 10) + [500] * 3
    order = []

    class Serial:
        def submit(self, fn, spec):
            from concurrent.futures import Future
            order.append(spec["T"])
            future = Future()
            future.set_result(fn(spec))
            return future

    specs = [_tiny("C", "C", T=7), _tiny("C", "C", T=5), _tiny("C", "C", T=7, clip=0.01),
             _tiny("C", "C", T=5, clip=0.01)]
    results = rp.run_blocks(specs, lambda s: s.T, executor=Serial(), progress=False)
    assert order == [5, 5, 7, 7] and [r["spec"]["T"] for r in results] == [7, 5, 7, 5]


def _record(row, seed, nmse, diverged=None, T=100, clip=None, test=None, norms=(1.0, 1.0)):
    spec = dataclasses.asdict(RunSpec(row=row, version=row, T=T, seed=seed, clip=clip))
    return {"spec": spec, "baseline_mse": 0.33, "test_mse": nmse * 0.33, "normalised_mse": nmse,
            "success": diverged is None and nmse < 0.01, "diverged_step": diverged,
            "diverged_reason": None, "n_params": 100, "wall_seconds": 2.0, "cpu_seconds": 2.0,
            "seconds_per_epoch": 1.0, "steps": 10, "loss": [1.0, 0.5],
            "test": test or [[5, 0.33], [10, nmse * 0.33]], "grad_norm": list(norms)}


def test_summary_medians_rates_clipped_steps_and_the_markdown_table():
    results = [_record("A", 0, 1.0), _record("A", 1, 1.2, diverged=7), _record("A", 2, 0.9),
               _record("C", 0, 0.001, clip=1.0, norms=(3.0, 0.5, 2.0, 0.1)),
               _record("C", 1, 0.02, clip=1.0, norms=(1e5, 0.5)),
               _record("C", 2, 0.005, clip=1.0, norms=(0.5, 0.5),
                       test=[[5, 0.002], [10, 0.005 * 0.33]])]
    a, c = rp.summarise(results)
    assert a["row"] == "A" and a["normalised_mse_median"] == pytest.approx(1.0)
    assert (a["normalised_mse_min"], a["normalised_mse_max"]) == (0.9, 1.2)
    assert a["divergence_rate"] == pytest.approx(1 / 3) and a["diverged_steps"] == [7]
    assert c["success_rate"] == pytest.approx(2 / 3) and a["success_rate"] == 0
    assert c["clipped_fraction_mean"] == pytest.approx((2 / 4 + 1 / 2 + 0) / 3)
    assert a["clipped_fraction_mean"] is None
    assert c["epochs_to_success_median"] == pytest.approx(1.5)      # seeds 0 (epoch 2), 2 (epoch 1)
    assert c["grad_norm_max_median"] == 3.0 and c["grad_norm_max_max"] == 1e5
    assert c["still_falling"] == 3 and a["still_falling"] == 0      # A's last epoch did not fall
    md = rp.markdown_table([a, c], "t", "numrnn reproduce --x", {"epochs": 3, "clips": (None, 1.0)})
    assert "`numrnn reproduce --x`" in md and "epochs=3" in md and "clips=(none, 1)" in md
    assert "| clip |" in md and "| clipped |" in md and "| epochs to success |" in md
    assert "| A | 100 | none | normal | 0.25 | 100 | 1 [0.9 - 1.2] | 0% | – | 33% (7) | 1 [1] | – |" in md
    assert "| C | 100 | 1 | normal | 0.25 | 100 |" in md and "| 67% | 1.5 |" in md and "| 33% |" in md


def _tiny_reproduce(tmp_path, **kw):
    args = dict(out=str(tmp_path), progress=False, overrides=TINY_SETTINGS, command="numrnn test")
    args.update(kw)
    return rp.reproduce(**args)


def test_reproduce_writes_every_table_and_figure_with_the_command(tmp_path):
    with ThreadPoolExecutor(2) as ex:
        written = _tiny_reproduce(tmp_path, executor=ex, figures=False)
        drawn = _tiny_reproduce(tmp_path / "drawn", executor=ex, parts=["lengths"])["lengths"]
    assert set(written) == set(rp.DEFAULT_PARTS)       # the issue-24 parts run only when named
    record = json.load(open(written["factorial"]["json"]))
    assert record["command"] == "numrnn test" and record["settings"]["n_train"] == 64
    assert record["wall_seconds"] > 0
    rows = {(r["row"], r["clip"]) for r in record["rows"]}
    assert {("A", None), ("A", 1.0), ("D", 1.0), ("IRNN", 1.0), ("LSTM C", 1.0),
            ("special", 1.0)} <= rows
    assert all(r["seeds"] == [0, 1] for r in record["rows"] if r["cell"] == "rnn")
    md = open(written["factorial"]["md"]).read()
    assert "numrnn test" in md and "| clipped |" in md
    assert "derived from their unclipped twin" in md and "CPU minutes" in md
    for key in ("length", "curves", "final"):
        assert os.path.getsize(drawn[key]) > 10_000, key
    assert "reproduce_lengths_loss_curves.png" in open(drawn["md"]).read()
    tasks = open(written["tasks"]["md"]).read()
    assert "| adding |" in tasks and "| copy |" in tasks and "accuracy (trivial)" in tasks
    lengths = json.load(open(written["lengths"]["json"]))
    assert {(r["row"], r["T"]) for r in lengths["rows"]} >= {("C", 5), ("special", 7), ("D", 7)}
    # a run shared by two tables is the same run (trained once: the journal holds it once)
    shared = [r for r in lengths["runs"] if r["spec"]["T"] == 5 and r["spec"]["row"] == "C"
              and r["spec"]["clip"] is None]
    again = [r for r in record["runs"] if r["spec"]["row"] == "C" and r["spec"]["clip"] is None
             and r["spec"]["seed"] == 0]
    assert shared[0]["loss"] == again[0]["loss"]
    keys = [rp.run_key(json.loads(line)["spec"])
            for line in open(tmp_path / "results" / "journal" / "reproduce.jsonl")]
    assert len(keys) == len(set(keys))


def test_resume_and_reuse_train_nothing_again(tmp_path):
    first = _tiny_reproduce(tmp_path, parts=["factorial"], workers=2, figures=False)
    rows = json.load(open(first["factorial"]["json"]))["rows"]
    again = _tiny_reproduce(tmp_path, parts=["factorial"], resume=True, executor=_Refuses(),
                            figures=False)
    assert json.load(open(again["factorial"]["json"]))["rows"] == rows
    with pytest.raises(AssertionError, match="trained again"):           # without --resume: fresh
        _tiny_reproduce(tmp_path, parts=["factorial"], executor=_Refuses(), figures=False)
    # --reuse takes the runs of an earlier report (another folder), counted and named in the table
    other = tmp_path / "other"
    reused = _tiny_reproduce(other, parts=["factorial"], executor=_Refuses(), figures=False,
                             reuse=[first["factorial"]["json"]])
    md = open(reused["factorial"]["md"]).read()
    assert "reused from " + first["factorial"]["json"] + " (numrnn test)" in md
    assert [r["normalised_mse_median"] for r in json.load(open(reused["factorial"]["json"]))["rows"]] \
        == [r["normalised_mse_median"] for r in rows]
    with pytest.raises(ValueError, match="unknown settings"):
        rp.reproduce(quick=True, overrides={"hiden_size": 3})
    with pytest.raises(ValueError, match="unknown part"):
        rp.reproduce(quick=True, parts=["factorial", "everything"])
    with pytest.raises(ValueError, match="no such file"):
        _tiny_reproduce(other, reuse=[str(tmp_path / "missing.json")])


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


def test_the_figures_show_clipping_as_panels_on_a_limited_normalised_axis():
    from numrnn.experiments import reproduce_plots as plots
    results = [_record(v, s, 1e3 if v == "C" else 0.5, clip=c, norms=(1e9, 2.0))
               for v in ("A", "C") for s in (0, 1) for c in (None, 1.0, 10.0)]
    for r in results:
        r["loss"] = [0.33, 1e14, float("nan")] * 5                  # a blow-up stays on the axis
    fig = plots.plot_loss_curves(results, title="t")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert [ax.get_title().split("\n")[0] for ax in visible] == [
        "first-element T=100, no clipping", "first-element T=100, clipping at 1",
        "first-element T=100, clipping at 10"]
    assert visible[0].get_ylim() == pytest.approx((1e-4, 10))
    assert visible[0].get_ylabel() == "train loss / baseline"
    fig = plots.plot_final(results, 0.01)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "no clipping", "clipping at 1", "clipping at 10"]
    fig = plots.plot_length_sweep(results, 0.01)
    assert len(fig.axes) == 3 and fig.axes[0].get_ylim() == pytest.approx((1e-4, 100))
    import matplotlib.pyplot as plt
    plt.close("all")


def test_the_command_line_prints_the_table_and_says_what_it_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rp, "QUICK", dict(rp.QUICK, **TINY_SETTINGS))
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path), "--seeds", "0", "1",
                     "--quiet", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "Command: `numrnn reproduce --quick --out " + str(tmp_path) in out
    assert "| C | 5 | 1 | zeros | 0.25 |" in out and "| C | 5 | none | zeros | 0.25 |" in out
    assert "wrote " + str(tmp_path / "results" / "reproduce_quick.json") in out
    assert "numrnn reproduce: 1 table(s) in" in out
    assert os.path.getsize(tmp_path / "figures" / "reproduce" / "reproduce_quick_loss_curves.png") > 10_000


def test_the_command_line_refuses_bad_input_with_a_clear_message(tmp_path, capsys):
    afile = tmp_path / "a_file"
    afile.write_text("x")
    for argv, message in ((["--out", str(afile)], f"--out: {str(afile)!r} must be a folder"),
                          (["--parts", "factorial", "all"], "argument --parts: invalid choice: 'all'"),
                          (["--lengths", "100,abc"], "argument --lengths: must be an integer, got 'abc'"),
                          (["--lengths", "0"], "argument --lengths: must be >= 1"),
                          (["--seeds", "-1"], "argument --seeds: must be >= 0"),
                          (["--workers", "0"], "argument --workers: must be >= 1"),
                          (["--adding-lengths", "0"], "argument --adding-lengths: must be >= 1"),
                          (["--reuse", str(tmp_path / "nothing.json")], "no such file")):
        assert cli.main(["reproduce", "--quiet", "--out", str(tmp_path / "o"), *argv]) == 2, argv
        err = capsys.readouterr().err
        assert "numrnn reproduce: error: " in err and message in err and "Traceback" not in err, (argv, err)
