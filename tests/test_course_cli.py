"""The student track through the command line, reading what a person reads: ``numrnn course init``,
``numrnn check`` on good and bad input (exit 0 / 1 / 2, a message naming the task and what is
wrong, never a traceback from numrnn's insides), the pytest plugin and the instructor's CSV."""
import csv
import os
import subprocess
import sys
import textwrap

import pytest

from numrnn.cli import main

GOOD_CELL = os.path.join(os.path.dirname(__file__), "test_course_bugs.py")


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """The instructor's copy (solutions filled in)."""
    folder = tmp_path_factory.mktemp("key")
    assert main(["course", "init", str(folder), "--solutions", "--force"]) == 0
    return folder


# ------------------------------------------------------------------------ course init
def test_init_writes_the_starter_and_refuses_a_non_empty_folder(tmp_path, capsys):
    folder = tmp_path / "hw"
    code, text = run(capsys, "course", "init", str(folder))
    assert code == 0 and "wrote the starter" in text
    assert sorted(os.listdir(folder)) == ["README.md", "conftest.py", "grad_lag.py", "lstm_step.py",
                                          "rnn_sequence.py", "rnn_step.py", "test_tasks.py", "truncated.py"]
    step = (folder / "rnn_step.py").read_text()
    assert 'raise NotImplementedError("task 2: ' in step and "dh_prev = da @ W\n" not in step
    code, text = run(capsys, "course", "init", str(folder))
    assert code == 2 and "is not empty" in text and "--force" in text
    code, _ = run(capsys, "course", "init", str(folder), "--force")
    assert code == 0


def test_the_starter_fails_every_task_naming_it(tmp_path, capsys):
    run(capsys, "course", "init", str(tmp_path / "hw"))
    for task, name in [(1, "rnn_step.py"), (4, "rnn_sequence.py"), (5, "lstm_step.py"), (7, "truncated.py")]:
        code, text = run(capsys, "check", "--task", str(task), str(tmp_path / "hw" / name))
        assert code == 1
        assert f"task {task}: your " in text            # later tasks name the earlier blank they call
        assert "is not written yet (NotImplementedError: task " in text
        assert text.rstrip().splitlines()[-1].startswith("fail:")


def test_the_solutions_pass_every_task_and_the_cell(key, capsys):
    code, text = run(capsys, "check", str(key), "--examples", "5")
    assert code == 0, text
    assert text.rstrip().endswith("pass: 8 of 8 parts passed")
    code, text = run(capsys, "check", f"{key}/rnn_sequence.py:SkipRNN", "--examples", "5")
    assert code == 0 and "pass: all 13 checks" in text


# ------------------------------------------------------------------------- bad input
def test_a_file_that_does_not_import(tmp_path, capsys):
    path = write(tmp_path, "cell.py", "class MyRNN:\n    def forward(self x):\n        pass\n")
    code, text = run(capsys, "check", f"{path}:MyRNN")
    assert code == 2 and "cell.py does not import: SyntaxError" in text and "line 2" in text
    path = write(tmp_path, "cell2.py", "import numpyy\n")
    code, text = run(capsys, "check", "--task", "1", path)
    assert code == 2 and "task 1: cell2.py does not import: ModuleNotFoundError" in text


def test_a_missing_file_class_or_task(tmp_path, capsys):
    path = write(tmp_path, "cell.py", "class Other:\n    pass\n")
    code, text = run(capsys, "check", f"{path}:MyRNN")
    assert code == 2 and "cell.py has no class 'MyRNN' (it defines: Other)" in text
    code, text = run(capsys, "check", f"{tmp_path}/nothere.py:MyRNN")
    assert code == 2 and "no file" in text
    code, text = run(capsys, "check", "--task", "9", path)
    assert code == 2 and "there is no task 9" in text
    code, text = run(capsys, "check", path)
    assert code == 2 and "FILE.py:NAME" in text


def test_a_wrong_signature(tmp_path, capsys):
    path = write(tmp_path, "cell.py", """
        class MyRNN:
            def __init__(self, D, H):
                pass
            def forward(self, x, h0=None):
                pass
            def backward(self, dhs, cache):
                pass
        """)
    code, text = run(capsys, "check", f"{path}:MyRNN")
    assert code == 2 and "MyRNN(D, H) has the wrong signature" in text
    assert "MyRNN(input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64)" in text


BROKEN = """
    import numpy as np
    import sys
    sys.path.insert(0, {tests!r})
    from test_course_bugs import StudentRNN

    class MyRNN(StudentRNN):
        def forward(self, x, h0=None):
            hs, cache = super().forward(x, h0)
            {forward}
            return hs, cache

        def backward(self, dhs, cache):
            dx, grads = super().backward(dhs, cache)
            {backward}
            return dx, grads
    """


@pytest.mark.parametrize("forward, backward, words", [
    ("hs = hs.transpose(1, 0, 2)", "pass",
     ["your forward returned hs of shape (9, 2, 4), expected (2, 9, 4)"]),
    ("hs = hs.astype(np.float32)", "pass", ["your forward returned hs of dtype float32, expected float64"]),
    ("pass", "dx = dx * np.nan", ["your backward returned dx with NaN or inf (first at index (0, 0, 0))"]),
    ("pass", "grads.pop('b')", ["backward must return grads, a dict with the keys ['W1', 'Wx', 'b']"]),
    ("pass", "return dx", ["backward must return (dx, grads), got ndarray"]),
    ("pass", "dx = dx[cache['x'].shape[1] + 5]",
     ["your backward raised IndexError", "cell.py line 15, in backward: dx = dx[cache['x'].shape[1] + 5]"]),
    ("__import__('time').sleep(0.3)", "pass",                 # slow, not endless: the check's budget ends
     ["time limit of 1 s"]),        # inside a forward (the line is named) or between two calls
    ("while True: pass", "pass",
     ["your forward did not finish within the check's time limit of 1 s (stopped at cell.py line 10, in forward",
      "an endless loop?"]),
])
def test_the_student_code_misbehaving_is_a_failed_check_in_words(tmp_path, capsys, forward, backward, words):
    path = write(tmp_path, "cell.py", BROKEN.format(tests=os.path.dirname(GOOD_CELL), forward=forward,
                                                    backward=backward))
    code, text = run(capsys, "check", f"{path}:MyRNN", "--time-limit", "1", "--examples", "3")
    assert code == 1
    assert "FAIL  interface" in text
    for w in words:
        assert w in text, text
    if forward.startswith("__import__('time')"):
        assert "(stopped at cell.py line 10, in forward" in text or "the code is too slow" in text, text


def test_an_endless_loop_in_a_task_through_the_real_command(tmp_path):
    path = write(tmp_path, "rnn_step.py", """
        def rnn_step_forward(x_t, h_prev, W, Wx, b):
            while True:
                pass
        """)
    out = subprocess.run([sys.executable, "-m", "numrnn", "check", "--task", "1", path, "--time-limit", "1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "task 1: your rnn_step_forward did not finish within the check's time limit of 1 s (stopped at rnn_step.py line 3, in rnn_step_forward: while True:): an endless loop?" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


# ------------------------------------------------------------------ pytest and grading
def test_the_pytest_plugin_reports_each_check(tmp_path, key):
    path = write(tmp_path, "cell.py", BROKEN.format(tests=os.path.dirname(GOOD_CELL), forward="pass",
                                                    backward="grads['W1'] = 2 * grads['W1']"))
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "numrnn.course.plugin", "-q", "-p", "no:cacheprovider",
                          "--numrnn-cell", f"{path}:MyRNN", "--numrnn-examples", "3", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 1
    assert "FAIL  backward = reference BPTT" in out.stdout
    assert "dW1 is wrong; dL/dh(t) is right at every step" in out.stdout, out.stdout
    assert "4 failed, 9 passed" in out.stdout   # reference, finite differences, hypothesis, W_k sums
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
                         capture_output=True, text=True, timeout=300, cwd=key)
    assert out.returncode == 0 and "8 passed" in out.stdout, out.stdout[-2000:]


def test_the_fixture(key, pytester=None):
    from numrnn.course.plugin import numrnn_check
    check = numrnn_check.__wrapped__()
    assert check(f"{key}/rnn_sequence.py:SkipRNN", max_examples=3).passed
    report = check(f"{key}/rnn_step.py", task=2)
    assert report.passed and report.score == 1.0


def test_batch_grading_writes_one_csv_of_scores_per_task(tmp_path, key, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    run(capsys, "course", "init", str(subs / "ann"), "--solutions")
    run(capsys, "course", "init", str(subs / "bob"))
    text = (subs / "bob" / "rnn_step.py").read_text()
    solved = (key / "rnn_step.py").read_text()
    (subs / "bob" / "rnn_step.py").write_text(solved)          # bob did tasks 1 and 2 only
    (subs / "cid").mkdir()
    (subs / "cid" / "rnn_step.py").write_text("def rnn_step_forward(:\n")
    code, text = run(capsys, "check", "--batch", str(subs), "--csv", str(tmp_path / "scores.csv"),
                     "--examples", "3")
    assert code == 0 and "wrote" in text
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "scores.csv"))}
    assert list(rows) == ["ann", "bob", "cid"]
    assert all(rows["ann"][f"task{n}"] == "1.000" for n in range(1, 8)) and rows["ann"]["cell"] == "1.000"
    assert rows["bob"]["task1"] == rows["bob"]["task2"] == "1.000"
    assert rows["bob"]["task4"] == "0.000" and float(rows["bob"]["total"]) == 2.0
    assert rows["cid"]["total"] == "0.000"


@pytest.mark.parametrize("init, words", [
    ("self.params = {'W1': np.zeros((H, H)), 'Wx': np.zeros((H, D))}",
     "with n_matrices=1, MyRNN.params must have the keys ['W1', 'Wx', 'b'], got ['W1', 'Wx']"),
    ("self.params = {'W1': np.zeros((H, H), np.float32), 'Wx': np.zeros((H, D)), 'b': np.zeros(H)}",
     "MyRNN.params['W1'] must be a float64 array of shape (4, 4) (with dtype=np.float64), got shape (4, 4), dtype float32"),
    ("self.params = [np.zeros((H, H))]", "MyRNN.params must be a dict of arrays, got list"),
])
def test_wrong_parameters_are_named(tmp_path, capsys, init, words):
    path = write(tmp_path, "cell.py", f"""
        import numpy as np

        class MyRNN:
            def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64):
                D, H = input_size, hidden_size
                {init}
            def forward(self, x, h0=None):
                return x, None
            def backward(self, dhs, cache):
                return dhs, {{}}
        """)
    code, text = run(capsys, "check", f"{path}:MyRNN")
    assert code == 1 and words in text, text


def test_bad_options_are_named(tmp_path, capsys, key):
    code, text = run(capsys, "check", str(key), "--examples", "0")
    assert code == 2 and "numrnn check: error: argument --examples: must be >= 1, got 0" in text
    code, text = run(capsys, "check", str(key), "--time-limit", "-1")
    assert code == 2 and "numrnn check: error: argument --time-limit: must lie in (0, inf), got -1" in text
    code, text = run(capsys, "check", "--batch", str(tmp_path / "none"))
    assert code == 2 and "is not a folder" in text
    code, text = run(capsys, "check", "--task", "2", f"{key}/rnn_step.py:Whatever")
    assert code == 0 and "pass: all 3 checks of task 2 in rnn_step.py passed" in text
