"""The benchmark script: rows, targets, load marking, with and without PyTorch (no timing asserted).

CI installs only ``.[test]``: there the PyTorch tests skip with a reason (``-ra`` shows it) and the
no-torch path runs. With ``.[bench]`` installed, the PyTorch contenders are checked to compute what
numrnn computes, and the eager contender's backward to be O(T), by counting allocations.
"""
import importlib.util
import json
import os
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "benchmarks", "bench_bptt.py")
TOY = ["--quick", "--peak-size", "64", "--config", "3,4,2,5", "--dtype", "float64"]
IDLE, BUSY = (0.1, 0.1, 0.1), (9.0, 9.0, 9.0)


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_bptt", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(monkeypatch):
    """The script as if PyTorch were not installed (as in CI), on an idle machine."""
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(os, "getloadavg", lambda: IDLE)
    return load_bench()


@pytest.fixture
def bench_torch(monkeypatch):
    """The script with PyTorch; skipped, visibly, where the bench extra is not installed."""
    pytest.importorskip("torch", reason="PyTorch is the optional bench extra: pip install -e '.[bench]'")
    monkeypatch.setattr(os, "getloadavg", lambda: IDLE)
    return load_bench()


def test_quick_run_without_torch_gives_one_row_per_layer_and_says_what_it_skipped(bench, capsys, tmp_path):
    rows, summary = bench.main(TOY + ["--layer", "rnn-A", "--layer", "rnn-D", "--layer", "lstm-A",
                                      "--save", str(tmp_path / "toy")])
    out = capsys.readouterr().out
    assert "skipped: PyTorch contenders (torch not importable" in out
    assert [r["layer"] for r in rows] == ["RNN A", "RNN D", "LSTM A"]
    keep = {"RNN A": 8 * 3 * 5 * ((1 + 4) + 4), "RNN D": 8 * 3 * 5 * ((2 + 4) + 4),   # h(-P..T-1), a
            "LSTM A": 8 * 3 * 5 * ((1 + 4) + (1 + 4) + 4 * 4)}                        # h, c, 4 gates
    for r in rows:
        assert set(r["wall_s"]) == set(r["cpu_s"]) == {"numrnn"}   # no torch contenders
        assert r["wall_s"]["numrnn"] > 0 and r["cpu_s"]["numrnn"] > 0
        assert r["bound_s"] > 0 and r["gflop"] > 0
        assert r["keep_bytes"] == keep[r["layer"]]
        assert r["peak_bytes"] >= r["keep_bytes"]            # the activations are at least allocated
        parts = r["breakdown_s"]                             # BLAS + Python + kernel + rest = the time
        assert set(parts) == {"blas", "python", "kernel", "rest"}
        assert sum(parts.values()) == pytest.approx(r["seconds"]["numrnn"])
        assert parts["blas"] == r["bound_s"] and parts["python"] >= 0 and parts["kernel"] >= 0
    lines = out.rstrip().splitlines()
    assert lines[-1].startswith("SUMMARY (wall clock) geomean numrnn/eager = nan over 0 rows")
    assert "  geomean numrnn / eager       nan over  0 all rows" in out and "n/a (no rows)" in out
    assert "BUSY" not in out and summary["busy"] is False
    assert "load average at start 0.10 (busy above 1.5)" in out
    saved = json.loads((tmp_path / "toy.json").read_text())
    assert len(saved["rows"]) == 3 and saved["summary"]["n_eager"] == 0
    assert saved["machine"]["busy"] is False and saved["machine"]["threads"] == 1
    text = (tmp_path / "toy.txt").read_text()
    assert text.count("\nRNN ") == 2 and text.count("\nLSTM ") == 1 and "BUSY" not in text


def test_targets_name_the_rows_over_the_bound_with_where_their_time_goes(bench, capsys):
    _, summary = bench.main(TOY + ["--layer", "rnn-A"])
    out = capsys.readouterr().out
    # at a toy size Python's per-step cost dwarfs the arithmetic: the row is far above 2.5x its bound
    assert summary["rows_over_bound"] == ["RNN A B=3 T=4 H=5 float64"]
    assert "1 of 1 rows over 2.5  target <= 2.5: MISSED" in out
    line = next(l for l in out.splitlines() if l.startswith("    RNN A B=3 T=4 H=5 float64"))
    for part in ("x bound: BLAS", "Python", "kernel", "elementwise+rest"):
        assert part in line


def test_a_busy_machine_marks_the_table_and_the_saved_files(bench, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: BUSY)
    _, summary = bench.main(TOY + ["--layer", "rnn-A", "--save", str(tmp_path / "busy")])
    out = capsys.readouterr().out
    assert summary["busy"] is True
    assert ("BUSY: the machine was busy during this run (1-minute load above 1.5 at 3 of 3 readings: "
            "load average start 9.00") in out
    assert "SUMMARY (wall clock, BUSY)" in out
    text = (tmp_path / "busy.txt").read_text()
    assert text.startswith("BUSY: the machine was busy")
    assert "mem   agree   [BUSY]\n" in text                 # the table header itself says so
    saved = json.loads((tmp_path / "busy.json").read_text())
    assert saved["machine"]["busy"] is True and saved["machine"]["busy_reasons"]


def test_require_idle_refuses_to_report_on_a_busy_machine(bench, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: BUSY)
    with pytest.raises(SystemExit) as exit_:
        bench.main(TOY + ["--layer", "rnn-A", "--require-idle", "--save", str(tmp_path / "r")])
    assert exit_.value.code == 3
    assert "REFUSED: the machine is busy (1-minute load above 1.5 at 1 of 1 readings" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())                     # nothing saved


def test_require_idle_refuses_when_the_machine_became_busy_during_the_run(bench, capsys, tmp_path,
                                                                        monkeypatch):
    loads = iter([IDLE] + [BUSY] * 10)
    monkeypatch.setattr(os, "getloadavg", lambda: next(loads))
    with pytest.raises(SystemExit):
        bench.main(TOY + ["--layer", "rnn-A", "--require-idle", "--save", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert "REFUSED (--require-idle): BUSY" in out and "SUMMARY" not in out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["--config", "3,4,2"], ["--config", "3,0,2,5"], ["--reps", "0"],
                                  ["--clock", "cpu", "--threads", "2"], ["--layer", "gru-A"]])
def test_bad_arguments_are_refused(bench, argv):
    with pytest.raises(SystemExit):
        bench.main(argv)


# ----------------------------------------------------------------------------- with PyTorch
def test_torch_contenders_compute_what_numrnn_computes(bench_torch, capsys):
    rows, summary = bench_torch.main(TOY + ["--layer", "rnn-A", "--layer", "rnn-D", "--layer", "lstm-A",
                                            "--layer", "lstm-D", "--no-eager-check"])
    contenders = [set(r["seconds"]) for r in rows]
    assert contenders == [{"numrnn", "eager", "nn.RNN"}, {"numrnn", "eager"},
                          {"numrnn", "eager", "nn.LSTM"}, {"numrnn", "eager"}]
    for r in rows:                                   # hs, dx and every gradient, incl. bias_hh's
        assert r["agrees"] and r["max_rel_diff"] < 1e-12, (r["layer"], r["max_rel_diff"])
    assert (summary["n_eager"], summary["n_nn_rnn"], summary["n_nn_lstm"]) == (4, 1, 1)
    assert "DISAGREE" not in capsys.readouterr().out


def test_the_agreement_check_can_fail(bench_torch):
    """A wrong weight mapping (LSTM gates f and i swapped) must show as a disagreement."""
    import numpy as np
    import torch
    layer = bench_torch.make_layer("lstm", "A", 2, 5, np.float64)
    rng = np.random.default_rng(0)
    x, dhs = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 5))
    reference = bench_torch.numrnn_contender(layer, x, dhs)()
    assert bench_torch.disagreement(reference, bench_torch.fused_contender(torch, "lstm", layer, x, dhs)()) < 1e-12
    for name in ("W1", "Wx", "b"):
        i, f = np.split(layer.params[name], 4)[:2]
        layer.params[name] = np.concatenate([f, i] + np.split(layer.params[name], 4)[2:])
    assert bench_torch.disagreement(reference, bench_torch.fused_contender(torch, "lstm", layer, x, dhs)()) > 1e-3


@pytest.mark.parametrize("family", ["rnn", "lstm"])
@pytest.mark.parametrize("K, S", [(1, 0), (2, 2)])
def test_eager_backward_allocates_the_same_per_step_at_every_length(bench_torch, family, K, S):
    """O(T) backward: the bytes torch allocates per step (profiler) do not grow with T."""
    import torch
    short, long_ = (bench_torch.backward_bytes_per_step(torch, family, T, K=K, S=S) for T in (16, 64))
    assert short > 0 and long_ == pytest.approx(short, rel=0.1)


def test_the_per_step_allocation_check_catches_an_O_T2_backward(bench_torch):
    """The old contender the issue describes (``u[t]`` inside the loop) allocates ~T times more per step."""
    import torch
    short, long_ = (bench_torch.backward_bytes_per_step(torch, "rnn", T, loop=bench_torch.torch_rnn_loop_indexed)
                    for T in (16, 64))
    assert long_ > 2 * short


# ------------------------------------------------------------------ the kind of host
@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"),
                    reason="the AVX2 emulation is of an x86-64 host (OpenBLAS's Haswell kernel)")
def test_the_emulated_avx2_host_takes_effect_and_says_so(tmp_path):
    """--host-kind emulate-avx2 reruns the script in a child that sees no AVX-512: the saved header
    names the kind of host, numpy without AVX-512 targets, OpenBLAS's Haswell kernel and numrnn's
    "exp" gate path (no torch: CI has none; with torch, its AVX2 capability is checked too)."""
    import subprocess
    env = {k: v for k, v in os.environ.items() if k not in ("NUMRNN_SIGMOID", "NPY_DISABLE_CPU_FEATURES")}
    run = subprocess.run([sys.executable, SCRIPT, *TOY, "--layer", "lstm-A", "--no-torch",
                          "--host-kind", "emulate-avx2", "--save", str(tmp_path / "emu")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    text = (tmp_path / "emu.txt").read_text()
    assert "host kind: EMULATED AVX2 host" in text
    assert "AVX512_SKX False" in text and "of which enabled: X86_V3 (" in text
    assert "kernel=Haswell" in text
    assert "numrnn gate path: exp" in text
    machine = json.loads((tmp_path / "emu.json").read_text())["machine"]
    assert machine["host_kind"] == "emulate-avx2" and machine["gate_path"] == "exp"
    assert [lib["architecture"] for lib in machine["blas"] if lib["internal_api"] == "openblas"] == ["Haswell"]


def test_an_emulation_that_did_not_take_effect_is_refused(bench, monkeypatch):
    """What emulation_problems reads: a process that still dispatches AVX-512 or SkylakeX is named."""
    monkeypatch.delenv("NUMRNN_SIGMOID", raising=False)
    info = {"numpy_cpu": {"AVX512_SKX": True, "dispatch_enabled": ["X86_V3", "X86_V4"]},
            "blas": [{"internal_api": "openblas", "architecture": "SkylakeX"}], "torch": "2.13.0",
            "torch_cpu_capability": "AVX512", "gate_path": "tanh"}
    problems = " ".join(bench.emulation_problems(info))
    for word in ("AVX-512 loops", "SkylakeX", "AVX512, not AVX2", "gate path is tanh"):
        assert word in problems
    fine = {"numpy_cpu": {"AVX512_SKX": False, "dispatch_enabled": ["X86_V3"]},
            "blas": [{"internal_api": "openblas", "architecture": "Haswell"}], "torch": None,
            "torch_cpu_capability": None, "gate_path": "exp"}
    assert bench.emulation_problems(fine) == []
