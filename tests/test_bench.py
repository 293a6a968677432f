"""The benchmark script runs and produces rows, with or without PyTorch and the LSTM (no timing asserted)."""
import importlib.util
import json
import os
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "benchmarks", "bench_bptt.py")
TOY = ["--quick", "--peak-size", "64", "--config", "3,4,2,5", "--dtype", "float64"]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)          # as if PyTorch were not installed
    spec = importlib.util.spec_from_file_location("bench_bptt", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_without_torch_gives_one_row_per_layer_and_says_what_it_skipped(bench, capsys, tmp_path):
    rows, summary = bench.main(TOY + ["--layer", "rnn-A", "--layer", "rnn-D",
                                      "--save", str(tmp_path / "toy")])
    out = capsys.readouterr().out
    assert "skipped: PyTorch contenders (torch not importable" in out
    assert [r["layer"] for r in rows] == ["RNN A", "RNN D"]
    keep = {"RNN A": 8 * 3 * 5 * ((1 + 4) + 4), "RNN D": 8 * 3 * 5 * ((2 + 4) + 4)}  # h(-P..T-1), a
    for r in rows:
        assert set(r["wall_s"]) == {"numrnn"}                 # no torch contenders
        assert r["wall_s"]["numrnn"] > 0 and r["bound_s"] > 0 and r["gflop"] > 0
        assert r["keep_bytes"] == keep[r["layer"]]
        assert r["peak_bytes"] >= r["keep_bytes"]            # the activations are at least allocated
    assert out.rstrip().splitlines()[-1].startswith("SUMMARY (wall clock) geomean numrnn/eager = nan over 0 rows")
    saved = json.loads((tmp_path / "toy.json").read_text())
    assert len(saved["rows"]) == 2 and saved["summary"]["n_eager"] == 0
    assert (tmp_path / "toy.txt").read_text().count("\nRNN ") == 2


def test_lstm_rows_are_skipped_with_a_reason_when_numrnn_lstm_is_missing(bench, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "numrnn.nn.lstm", None)
    rows, _ = bench.main(TOY + ["--layer", "rnn-A", "--layer", "lstm-D", "--clock", "cpu"])
    assert "skipped: LSTM rows (numrnn.nn.lstm not importable" in capsys.readouterr().out
    assert [r["layer"] for r in rows] == ["RNN A"]


@pytest.mark.parametrize("argv", [["--config", "3,4,2"], ["--config", "3,0,2,5"], ["--reps", "0"],
                                  ["--clock", "cpu", "--threads", "2"]])
def test_bad_arguments_are_refused(bench, argv):
    with pytest.raises(SystemExit):
        bench.main(argv)
