"""Command line: train, save and resume, reproduce, plugins, clear errors."""
import os
import subprocess
import sys

import pytest

import numpy as np

from numrnn import cli
from numrnn.experiments import reproduce as rp
from numrnn.training.checkpoint import load_checkpoint

TINY = ["--T", "6", "--D", "2", "--n-train", "64", "--n-test", "16", "--hidden", "8",
        "--batch-size", "16", "--quiet"]


def test_train_prints_the_result_with_its_baseline(capsys):
    assert cli.main(["train", "--version", "C", "--epochs", "2", *TINY]) == 0
    out = capsys.readouterr().out
    assert "first-element T=6, seed 0, 8 steps, 2 epochs" in out
    assert "baseline" in out and "normalised" in out


def test_save_and_resume_equal_one_longer_run(tmp_path, capsys):
    a, b, c = (str(tmp_path / n) for n in "abc")
    assert cli.main(["train", "--version", "D", "--epochs", "2", "--save", a, *TINY]) == 0
    assert cli.main(["train", "--resume", a, "--epochs", "1", "--save", b, "--quiet"]) == 0
    assert cli.main(["train", "--version", "D", "--epochs", "3", "--save", c, *TINY]) == 0
    resumed, straight = load_checkpoint(b), load_checkpoint(c)
    for name, value in straight.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)
    assert resumed.trainer_state["history"]["loss"] == straight.trainer_state["history"]["loss"]
    assert "--resume" in resumed.meta["command"]


def test_lstm_cell_and_other_tasks_train(capsys):
    assert cli.main(["train", "--cell", "lstm", "--version", "B", "--epochs", "1", *TINY]) == 0
    assert "LSTM" in capsys.readouterr().out
    assert cli.main(["train", "--task", "copy", "--version", "D", "--epochs", "1", "--T", "3",
                     "--n-train", "32", "--n-test", "8", "--hidden", "8", "--quiet"]) == 0
    assert "copy T=3" in capsys.readouterr().out


def test_bad_input_is_a_clear_error_and_exit_status_2(tmp_path, capsys):
    assert cli.main(["train", "--version", "E", *TINY]) == 2
    assert "unknown version 'E'" in capsys.readouterr().err
    assert cli.main(["train", "--task", "sorting", *TINY]) == 2
    assert "unknown task" in capsys.readouterr().err
    assert cli.main(["train", "--T", "0", "--quiet"]) == 2
    assert "T must be >= 1" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(tmp_path / "nothing"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["reproduce", "--lengths", "100,abc"]) == 2
    assert "--lengths" in capsys.readouterr().err
    assert cli.main(["reproduce", "--seeds", "-1"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_reproduce_quick_end_to_end(tmp_path, monkeypatch, capsys):
    tiny = dict(rp.QUICK, T=5, special_T=7, D=2, n_train=32, n_test=16, epochs=1, batch_size=16,
                hidden_size=6, seeds=1)
    monkeypatch.setattr(rp, "QUICK", tiny)
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path), "--no-lstm", "--quiet",
                     "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "numrnn reproduce --quick --out" in out and "| special | 7 |" in out
    assert os.path.exists(tmp_path / "results" / "reproduce_quick.json")
    assert os.path.exists(tmp_path / "figures" / "reproduce" / "reproduce_quick_loss_curves.png")


def test_every_experiment_is_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for command in ("train", "reproduce", "figures", "sst", "sst-predict", "charlm-train", "demo"):
        assert command in text, f"numrnn --help does not list {command}"


def test_python_dash_m_numrnn_runs():
    done = subprocess.run([sys.executable, "-m", "numrnn", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    assert "train" in done.stdout and "reproduce" in done.stdout
