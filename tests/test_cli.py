"""Command line: one vocabulary (--out, --resume, --checkpoint, the shared flags), where output
lands, the exit statuses on real subprocesses, deprecated spellings, and clear errors."""
import json
import os
import subprocess
import sys

import pytest

import numpy as np

from numrnn import cli
from numrnn.experiments import common
from numrnn.experiments import reproduce as rp
from numrnn.training.checkpoint import load_checkpoint

TINY = ["--steps", "6", "--input-size", "2", "--n-train", "64", "--n-test", "16", "--hidden-size", "8",
        "--batch-size", "16", "--quiet"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def numrnn(*argv, cwd=None):
    """``python -m numrnn ARGV`` in a fresh process: (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "numrnn", *argv], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)
    return done.returncode, done.stdout, done.stderr


# ------------------------------------------------------------------------------ train
def test_train_prints_the_result_with_its_baseline_and_saves_under_out(tmp_path, capsys):
    assert cli.main(["train", "--version", "C", "--epochs", "2", "--out", str(tmp_path), *TINY]) == 0
    out = capsys.readouterr().out
    assert "first-element T=6, seed 0, 8 steps, 2 epochs" in out
    assert "baseline" in out and "normalised" in out
    saved = tmp_path / "models" / "train"
    assert f"saved {saved}.npz and {saved}.json" in out
    assert load_checkpoint(saved).meta["task_args"]["T"] == 6


def test_resume_continues_out_and_checkpoint_reads_a_model_both_equal_one_longer_run(tmp_path, capsys):
    a, b, c = (tmp_path / n for n in "abc")
    assert cli.main(["train", "--version", "D", "--epochs", "2", "--out", str(a), *TINY]) == 0
    assert cli.main(["train", "--checkpoint", str(a), "--epochs", "1", "--out", str(b), "--quiet"]) == 0
    assert cli.main(["train", "--version", "D", "--epochs", "2", "--out", str(c), *TINY]) == 0
    assert cli.main(["train", "--resume", "--epochs", "1", "--out", str(c), "--quiet"]) == 0
    straight = tmp_path / "straight"
    assert cli.main(["train", "--version", "D", "--epochs", "3", "--out", str(straight), *TINY]) == 0
    reference = load_checkpoint(straight / "models" / "train")
    for folder in (b, c):
        resumed = load_checkpoint(folder / "models" / "train")
        for name, value in reference.model.params.items():
            np.testing.assert_array_equal(resumed.model.params[name], value)
        assert resumed.trainer_state["history"]["loss"] == reference.trainer_state["history"]["loss"]
    assert "--resume" in load_checkpoint(c / "models" / "train").meta["command"]


def test_old_train_spellings_still_work_and_each_says_its_new_name_in_one_line(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["train", "--epochs", "1", "--T", "6", "--D", "2", "--n-train", "32", "--n-test", "8",
                     "--hidden", "8", "--batch-size", "16", "--quiet", "--out", str(a)]) == 0
    assert capsys.readouterr().err.splitlines() == ["numrnn: --T is deprecated; use --steps",
                                                    "numrnn: --D is deprecated; use --input-size"]
    assert cli.main(["train", "--resume", str(a), "--epochs", "1", "--out", str(b), "--quiet"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "numrnn: --resume FOLDER is deprecated; use --checkpoint FOLDER (--resume is now a switch)"]
    assert cli.main(["train", *TINY, "--epochs", "1", "--save", str(tmp_path / "prefix")]) == 0
    assert capsys.readouterr().err == "numrnn: --save is deprecated; use --out (saves OUT/models/train)\n"
    assert load_checkpoint(tmp_path / "prefix").model.params


def test_lstm_cell_and_other_tasks_train(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    assert cli.main(["train", "--cell", "lstm", "--version", "B", "--epochs", "1", *TINY, *out]) == 0
    assert "LSTM" in capsys.readouterr().out
    assert cli.main(["train", "--task", "copy", "--version", "D", "--epochs", "1", "--steps", "3",
                     "--n-train", "32", "--n-test", "8", "--hidden-size", "8", "--batch-size", "8", "--quiet",
                     *out]) == 0
    assert "copy T=3" in capsys.readouterr().out
    assert cli.main(["train", "--cell", "gru", "--version", "special", "--epochs", "1", *TINY,
                     "--dtype", "float32", *out]) == 0
    assert "GRU" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "models" / "train").model.config["dtype"] == "float32"


@pytest.mark.parametrize("argv,message", [
    (["--clip", "0"], "argument --clip: must lie in (0, inf), got 0"),
    (["--clip", "nan"], "argument --clip: must be a finite number"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["--lr", "fast"], "argument --lr: must be a number, got 'fast'"),
    (["--weight-decay", "inf"], "argument --weight-decay: must be a finite number"),
    (["--hidden-size", "2.5"], "argument --hidden-size: must be an integer"),
    (["--steps", "0"], "argument --steps: must be >= 1, got 0"),
    (["--version", "E"], "argument --version: invalid choice: 'E'"),
    (["--task", "sorting"], "argument --task: invalid choice: 'sorting'"),
    (["--cell", "elman"], "argument --cell: invalid choice: 'elman'"),
    (["--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["--cell", "lstm", "--activation", "tanh"], "--activation does not apply to the lstm cell"),
    (["--cell", "gru", "--forget-bias", "2"], "--forget-bias does not apply to the gru cell"),
    (["--dtype", "float16"], "argument --dtype: invalid choice"),
    (["--checkpoint", "nowhere"], "nowhere"),
    (["--resume"], "train.npz"),
])
def test_every_train_flag_refuses_bad_values_by_name(argv, message, tmp_path, capsys):
    assert cli.main(["train", *TINY, "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_exits_1_says_where_and_saves_the_kept_parameters(tmp_path, capsys):
    code = cli.main(["train", "--version", "A", "--scale", "2", "--steps", "20", "--input-size", "2",
                     "--n-train", "200", "--n-test", "20", "--hidden-size", "8", "--batch-size", "10",
                     "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--quiet", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == common.EXIT_NO == 1
    assert "numrnn train: diverged at step 2 (loss is inf)" in captured.err
    assert "the model keeps its initial parameters" in captured.err
    ck = load_checkpoint(tmp_path / "models" / "train")
    assert ck.trainer_state["history"]["diverged"]["step"] == 2
    assert all(np.all(np.isfinite(v)) for v in ck.model.params.values())


def test_an_internal_error_is_one_line_that_says_so_and_exit_3(monkeypatch, capsys):
    def broken(args):
        raise KeyError("oops")
    monkeypatch.setattr(cli, "run_train", broken)
    monkeypatch.delenv("NUMRNN_DEBUG", raising=False)
    assert cli.main(["train", *TINY]) == 3
    err = capsys.readouterr().err
    assert "numrnn train: internal error in numrnn: KeyError" in err and "Traceback" not in err


# ------------------------------------------------------------------------ exit statuses, for real
def test_each_exit_status_on_a_real_subprocess(tmp_path):
    code, out, err = numrnn("demo")
    assert code == 0 and "-> FAIL" not in out and "version special" in out
    code, out, err = numrnn("train", "--version", "A", "--scale", "2", "--steps", "20", "--input-size", "2",
                            "--n-train", "100", "--n-test", "10", "--hidden-size", "4", "--batch-size", "10",
                            "--optimizer", "sgd", "--lr", "1e6", "--epochs", "1", "--quiet",
                            "--out", str(tmp_path))
    assert code == 1 and "diverged at step" in err and "Traceback" not in err
    code, out, err = numrnn("train", "--cell", "elman")
    assert code == 2 and "argument --cell: invalid choice: 'elman'" in err
    (tmp_path / "bad.npz").write_text("not a zip")
    code, out, err = numrnn("charlm-sample", "--checkpoint", str(tmp_path / "bad"))
    assert code == 2 and "bad.npz" in err and "Traceback" not in err
    code, out, err = numrnn("reproduce", "--quick", "--out", str(tmp_path / "bad.npz"))
    assert code == 2 and "must be a folder" in err
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    env.pop("NUMRNN_DEBUG", None)
    bug = ("import sys, numrnn.cli as cli\n"
           "def run_train(args): return {}['a key numrnn forgot']\n"
           "cli.run_train = run_train\n"
           "sys.exit(cli.main(['train']))")                     # a bug planted where train runs
    done = subprocess.run([sys.executable, "-c", bug], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert done.stderr.startswith("numrnn train: internal error in numrnn: KeyError")


def test_the_exit_statuses_are_in_numrnn_help_and_the_readme(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert common.EXIT_STATUSES in text
    readme = open(os.path.join(ROOT, "README.md")).read()
    for status, meaning in ((0, "did its job"), (1, "verdict is no"), (2, "bad input"), (3, "internal error")):
        assert f"| {status} | {meaning}" in readme, status


def test_help_and_every_command_s_parser_load_without_matplotlib():
    """matplotlib takes about a second to import; the commands load it only when they draw."""
    code = ("import sys; from numrnn import cli; cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"building numrnn's parser imported {done.stdout.strip()}"


# ------------------------------------------------------------------------- one vocabulary
#: Every command that trains or reads a model, with the shared flags it must show.
TRAINING = {"train": ["--out", "--resume", "--checkpoint", "--cell", "--dtype", "--quiet", "--seed"],
            "reproduce": ["--out", "--resume", "--cells", "--workers", "--dtype", "--quiet", "--seeds"],
            "sst": ["--out", "--resume", "--cells", "--versions", "--workers", "--dtype", "--quiet",
                    "--seeds", "--readout"],
            "charlm-train": ["--out", "--cell", "--dtype", "--quiet", "--seed", "--k1", "--k2",
                             "--sample-chars", "--text-chars"],
            "charlm-compare": ["--out", "--cell", "--versions", "--workers", "--dtype", "--quiet",
                               "--seeds", "--k1", "--text-chars"],
            "figures": ["--out", "--quiet"],
            # the commands that read a model
            "sst-predict": ["--checkpoint", "--sentence-only"],
            "charlm-sample": ["--checkpoint", "--sample-chars", "--seed"]}


@pytest.mark.parametrize("command", sorted(TRAINING))
def test_help_shows_the_shared_flags_and_hides_the_old_ones(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = capsys.readouterr().out
    for flag in TRAINING[command]:
        assert flag + " " in text or flag + "\n" in text, f"numrnn {command} --help lacks {flag}"
    for old in ("--jobs", "--hidden ", "--pool", "--no-lstm", "--window", "--generate-chars", "--T ",
                "--save-dir", "--figures", "--model ", "--chars "):
        assert old not in text, f"numrnn {command} --help shows the old {old}"
    if "--workers" in TRAINING[command]:
        assert f"(default: the number of cores, {common.DEFAULT_WORKERS} here)" in " ".join(text.split())


def test_one_cell_vocabulary_from_the_registry(capsys):
    from numrnn.nn import CELLS
    from numrnn.training.model import layer_options
    options = {"--" + o.replace("_", "-") for cell in CELLS for o in layer_options(cell)}
    for command in ("train", "charlm-train", "charlm-compare", "sst"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        flag = "--cells" if command == "sst" else "--cell"
        assert flag + " {" + ",".join(sorted(CELLS)) + "}" in text, command
        assert all(option + " " in text for option in options), command


def test_every_command_is_listed_and_every_module_has_one_entry_point(capsys):
    import importlib
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for command in ("train", "reproduce", "figures", "sst", "sst-predict", "charlm-train", "charlm-sample",
                    "charlm-compare", "demo", "course", "check"):
        assert command in text, f"numrnn --help does not list {command}"
    for name in ("reproduce", "figures", "sst", "sst_predict", "charlm", "demo"):
        module = importlib.import_module(f"numrnn.experiments.{name}")
        assert callable(module.add_parser) and callable(module.main), name
        assert f"numrnn.experiments.{name}" in cli.EXPERIMENTS


def test_no_experiment_module_calls_back_into_the_cli():
    import ast
    folder = os.path.join(ROOT, "numrnn", "experiments")
    for name in os.listdir(folder):
        if name.endswith(".py"):
            tree = ast.parse(open(os.path.join(folder, name)).read())
            for node in ast.walk(tree):                 # also imports inside functions
                if isinstance(node, ast.ImportFrom):
                    assert "cli" not in (node.module or "").split("."), (name, node.module)
                elif isinstance(node, ast.Import):
                    assert all(alias.name != "numrnn.cli" for alias in node.names), name


def test_python_dash_m_runs_a_module_as_numrnn_runs_it(tmp_path):
    code, out, err = numrnn("--help")
    assert code == 0 and "train" in out and "exit status:" in out
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "numrnn.experiments.demo", "--seed", "x"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "numrnn demo: error: argument --seed: must be an integer" in done.stderr


# ----------------------------------------------------------------------------- reproduce
def test_reproduce_refuses_bad_values_by_name_and_reads_the_old_spellings(monkeypatch, capsys):
    for argv, message in ((["--lengths", "100", "abc"], "argument --lengths: must be an integer, got 'abc'"),
                          (["--seeds", "-1"], "argument --seeds: must be >= 0, got -1"),
                          (["--workers", "0"], "argument --workers: must be >= 1"),
                          (["--parts", "everything"], "argument --parts: invalid choice: 'everything'"),
                          (["--copy-delays", "0"], "argument --copy-delays: must be >= 1"),
                          (["--cells", "lstm"], "--cells: the RNN rows are the experiment")):
        assert cli.main(["reproduce", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    seen = {}
    monkeypatch.setattr(rp, "reproduce", lambda **kw: seen.update(kw) or {})
    assert cli.main(["reproduce", "--no-lstm", "--lengths", "100,200", "--jobs", "1"]) == 0
    assert seen["lstm"] is False and seen["lengths"] == [100, 200] and seen["workers"] == 1
    assert capsys.readouterr().err.splitlines() == [
        "numrnn: --no-lstm is deprecated; use --cells rnn",
        "numrnn: --lengths 100,200 is deprecated; use --lengths 100 200",
        "numrnn: --jobs is deprecated; use --workers"]
    seen.clear()
    assert cli.main(["reproduce", "--cells", "rnn", "--lengths", "100", "200", "--out", "o", "--resume"]) == 0
    assert seen["lstm"] is False and seen["lengths"] == [100, 200] and seen["out"] == "o" and seen["resume"]
    assert seen["workers"] == common.DEFAULT_WORKERS and capsys.readouterr().err == ""
    # where a real reproduce lands under --out: tests/test_reproduce.py::
    # test_the_command_line_prints_the_table_and_says_what_it_wrote


# ------------------------------------------------------------------------------- figures, demo
def test_figures_writes_under_out_figures(tmp_path, monkeypatch, capsys):
    from numrnn.experiments import figures
    drawn = []
    monkeypatch.setattr(figures, "grad_norm_figures", lambda cfg, out, summary: drawn.append(out))
    for name in ("path_figure", "contribution_figure", "jacobian_figure", "lstm_figure", "sweep_figures"):
        monkeypatch.setattr(figures, name, lambda cfg, out, summary, trained: drawn.append(out))
    monkeypatch.setattr(figures, "tbptt_figure", lambda out, quick, summary: drawn.append(out))
    assert figures.main(["--quick", "--out", str(tmp_path), "--quiet"]) == 0
    diagnostics = str(tmp_path / "figures" / "diagnostics")
    assert drawn[:-1] == [diagnostics] * 6 and drawn[-1].rstrip(os.sep) == str(tmp_path / "figures")
    summary = json.load(open(os.path.join(diagnostics, "summary.json")))
    assert summary["command"] == "numrnn figures --quick"
    assert capsys.readouterr().out == f"wrote {diagnostics}/*.png and summary.json in 0 s\n"
