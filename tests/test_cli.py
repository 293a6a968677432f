"""Command line: train, save and resume, reproduce, plugins, clear errors."""
import os
import subprocess
import sys

import pytest

import numpy as np

from numrnn import cli
from numrnn.experiments import reproduce as rp
from numrnn.training.checkpoint import load_checkpoint

TINY = ["--T", "6", "--D", "2", "--n-train", "64", "--n-test", "16", "--hidden-size", "8",
        "--batch-size", "16", "--quiet"]


def test_train_prints_the_result_with_its_baseline(capsys):
    assert cli.main(["train", "--version", "C", "--epochs", "2", *TINY]) == 0
    out = capsys.readouterr().out
    assert "first-element T=6, seed 0, 8 steps, 2 epochs" in out
    assert "baseline" in out and "normalised" in out


def test_save_and_resume_equal_one_longer_run(tmp_path, capsys):
    a, b, c = (str(tmp_path / n) for n in "abc")
    assert cli.main(["train", "--version", "D", "--epochs", "2", "--out", a, *TINY]) == 0
    assert cli.main(["train", "--resume", a, "--epochs", "1", "--out", b, "--quiet"]) == 0
    assert cli.main(["train", "--version", "D", "--epochs", "3", "--save", c, *TINY]) == 0   # old flag:
    resumed, straight = load_checkpoint(os.path.join(b, "model")), load_checkpoint(c)         # a path
    for name, value in straight.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)
    assert resumed.trainer_state["history"]["loss"] == straight.trainer_state["history"]["loss"]
    assert "--resume" in resumed.meta["command"]


def test_lstm_cell_and_other_tasks_train(capsys):
    assert cli.main(["train", "--cell", "lstm", "--version", "B", "--epochs", "1", *TINY]) == 0
    assert "LSTM" in capsys.readouterr().out
    assert cli.main(["train", "--task", "copy", "--version", "D", "--epochs", "1", "--T", "3",
                     "--n-train", "32", "--n-test", "8", "--hidden", "8", "--quiet"]) == 0   # old --hidden
    assert "copy T=3" in capsys.readouterr().out
    assert cli.main(["train", "--cell", "gru", "--version", "C", "--epochs", "1", *TINY]) == 0
    assert "GRU" in capsys.readouterr().out


def test_bad_input_is_a_clear_error_and_exit_status_2(tmp_path, capsys):
    assert cli.main(["train", "--version", "E", *TINY]) == 2
    assert "argument --version: invalid choice: 'E'" in capsys.readouterr().err
    assert cli.main(["train", "--task", "sorting", *TINY]) == 2
    assert "argument --task: invalid choice: 'sorting'" in capsys.readouterr().err
    assert cli.main(["train", "--T", "0", "--quiet"]) == 2
    assert "argument --T: must be >= 1, got 0" in capsys.readouterr().err
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


@pytest.mark.parametrize("argv,message", [
    (["--clip", "0"], "argument --clip: must lie in (0, inf), got 0"),
    (["--clip", "nan"], "argument --clip: must be a finite number"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["--lr", "fast"], "argument --lr: must be a number, got 'fast'"),
    (["--weight-decay", "inf"], "argument --weight-decay: must be a finite number"),
    (["--hidden-size", "2.5"], "argument --hidden-size: must be an integer"),
    (["--cell", "elman"], "argument --cell: invalid choice: 'elman'"),
    (["--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["--cell", "lstm", "--activation", "tanh"], "--activation does not apply to the lstm cell"),
    (["--cell", "gru", "--forget-bias", "2"], "--forget-bias does not apply to the gru cell"),
    (["--dtype", "float16"], "argument --dtype: invalid choice"),
    (["--resume", "."], "model"),
])
def test_every_train_flag_refuses_bad_values_by_name(argv, message, capsys):
    assert cli.main(["train", *TINY, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_exits_3_says_where_and_saves_the_kept_parameters(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "--version", "A", "--scale", "2", "--T", "20", "--D", "2",
                     "--n-train", "200", "--n-test", "20", "--hidden-size", "8", "--batch-size", "10",
                     "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--quiet", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 3
    assert "numrnn train: diverged at step 2 (loss is inf)" in captured.err
    assert "the model keeps its initial parameters" in captured.err
    ck = load_checkpoint(out / "model")
    assert ck.trainer_state["history"]["diverged"]["step"] == 2
    assert all(np.all(np.isfinite(v)) for v in ck.model.params.values())


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    def broken(args):
        raise KeyError("oops")
    monkeypatch.setattr(cli, "run_train", broken)
    monkeypatch.delenv("NUMRNN_DEBUG", raising=False)
    assert cli.main(["train", *TINY]) == 1
    err = capsys.readouterr().err
    assert "numrnn train: internal error: KeyError" in err and "Traceback" not in err


def test_every_experiment_module_has_add_parser_and_run():
    import importlib
    for name in ("reproduce", "figures", "sst", "charlm", "demo"):
        module = importlib.import_module(f"numrnn.experiments.{name}")
        assert callable(module.add_parser) and callable(module.run), name
        assert f"numrnn.experiments.{name}" in cli.EXPERIMENTS


def test_one_cell_vocabulary_from_the_registry(capsys):
    from numrnn.nn import CELLS
    for command in (["train"], ["charlm-train"], ["charlm-compare"]):
        with pytest.raises(SystemExit):
            cli.main([*command, "--help"])
        text = capsys.readouterr().out
        assert "--cell {" + ",".join(sorted(CELLS)) + "}" in text, command
        assert "--hidden-size" in text and "--hidden " not in text and "--jobs" not in text
    with pytest.raises(SystemExit):
        cli.main(["sst", "--help"])
    text = capsys.readouterr().out
    assert "--cells {" + ",".join(sorted(CELLS)) + "}" in text and "--workers" in text
    assert "--jobs" not in text
