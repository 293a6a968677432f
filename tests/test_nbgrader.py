"""The graded notebooks under nbgrader and on their own (issue 21).

- ``numrnn course nbgrader OUT`` writes a course folder with which ``nbgrader generate_assignment`` and
  ``nbgrader autograde`` grade submissions under the names students receive (*_student.ipynb):
  the solutions get full marks, a blank gets zero for its task only.
- Notebook 02's task 2 checks h_skip on a skip step, so the notebook's headline bug (relu' on the
  skip path) fails; the hints and the return contract survive in the student version; without
  hypothesis task 4 runs its other checks and says which one it skipped; the student copy does not
  print the reference solution of task 4.
"""
import contextlib
import io
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from numrnn.cli import main
from numrnn.course.notebooks import fill_solutions, student_notebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


def solution(name):
    return nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def namespace_with(*sources):
    """Run notebook cell sources (no magics) in one fresh namespace, as the kernel would."""
    space = {"__name__": "__main__"}
    exec("import numpy as np\nfrom numrnn.nn.schedule import is_skip_step, matrix_index", space)
    for source in sources:
        exec(compile(source, "<cell>", "exec"), space)
    return space


def quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        report = fn(*args, **kwargs)
    return report, out.getvalue()


# ------------------------------------------------------------------- the graded cells
def test_the_notebooks_headline_bug_fails_task_2():
    from numrnn.course.notebook import check_step_backward

    source = cell(solution("02_bptt_by_hand.ipynb"), "c05").source
    assert source.count('"h_skip": dh,') == 1
    good = namespace_with(source)
    report, _ = quiet(check_step_backward, good["step_forward"], good["step_backward"])
    assert report.passed and len(report.checks) == 4
    bad = namespace_with(source.replace('"h_skip": dh,', '"h_skip": da,'))      # relu' on the skip path
    report, printed = quiet(check_step_backward, bad["step_forward"], bad["step_backward"])
    assert not report.passed
    assert "FAIL  the skip: d['h_skip'] = dh (no relu' on it)" in printed
    assert "likely cause: relu' is applied on the skip path" in printed


def test_the_hints_and_the_contract_survive_in_the_student_version():
    student02 = student_notebook(solution("02_bptt_by_hand.ipynb"))
    task2 = cell(student02, "c05").source
    assert "# Task 2: da from dh and relu'(a)" in task2
    assert '{"h_skip", "h_prev", "x", "W", "Wx", "b"}: the same contract as the course\'s rnn_step_backward' in task2
    assert "raise NotImplementedError()" in task2 and "da = dh * (a > 0)" not in task2
    task4 = cell(student02, "c09").source
    assert "# Task 4, the skip line" in task4 and "# Task 4, the per-matrix sum" in task4
    task5 = cell(student_notebook(solution("05_lstm.ipynb")), "task5-lstm-step").source
    assert "# Task 5: dc_total" in task5 and "dc_prev = dc_total * f" not in task5


def test_without_hypothesis_task_4_runs_the_other_checks_and_says_which_was_skipped(monkeypatch):
    from numrnn.course.notebook import check_sequence_backward

    nb = solution("02_bptt_by_hand.ipynb")
    space = namespace_with(cell(nb, "c05").source, cell(nb, "c09").source)
    monkeypatch.setitem(sys.modules, "hypothesis", None)          # import hypothesis -> ImportError
    report, printed = quiet(check_sequence_backward, space["sequence_forward"], space["sequence_backward"])
    assert report.passed, printed
    skipped = [c for c in report.checks if c.skipped]
    assert [c.name for c in skipped] == ["random K, S, T (hypothesis)"]
    assert "SKIP  random K, S, T (hypothesis)" in printed
    assert "hypothesis is not installed (pip install hypothesis)" in printed
    assert report.summary().startswith("pass: all 7 checks of task 4 in notebook 02 passed (1 skipped")


def test_the_student_copy_does_not_print_the_reference_backward():
    student = student_notebook(solution("02_bptt_by_hand.ipynb"))
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    os.environ["NUMRNN_NOTEBOOK_QUICK"] = "1"
    space, printed = {"__name__": "__main__"}, io.StringIO()
    for c in student.cells:
        if c.cell_type != "code":
            continue
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(transform(c.source), "<cell>", "exec"), space)
            except Exception:                     # the blanks raise, as in a student's kernel
                pass
        if c.get("id") == "c15":
            break
    assert "def rnn_backward" not in printed.getvalue()
    # the instructor's copy shows it once the loop equals the reference
    assert "print(inspect.getsource(reference.rnn_backward))" in cell(solution("02_bptt_by_hand.ipynb"), "c15").source


# -------------------------------------------------------------------- nbgrader end to end
def nbgrader(*argv, cwd):
    out = subprocess.run([sys.executable, "-m", "nbgrader", *argv], capture_output=True, text=True,
                         cwd=cwd, timeout=900, env=dict(os.environ, OPENBLAS_NUM_THREADS="1",
                                                        NUMRNN_NOTEBOOK_QUICK="1"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_nbgrader_grades_the_released_names_solutions_full_a_blank_zero(tmp_path):
    course = tmp_path / "course"
    assert main(["course", "nbgrader", str(course)]) == 0
    assert (course / "nbgrader_config.py").exists()
    nbgrader("generate_assignment", "hw", cwd=course)
    released = sorted(os.listdir(course / "release" / "hw"))
    assert released == ["02_bptt_by_hand_student.ipynb", "05_lstm_student.ipynb"]
    # alice hands in the solutions; carol does task 2, leaves task 4 and notebook 05 blank
    alice, carol = course / "submitted" / "alice" / "hw", course / "submitted" / "carol" / "hw"
    alice.mkdir(parents=True)
    carol.mkdir(parents=True)
    for name in released:
        shutil.copy(course / "source" / "hw" / name, alice / name)
        shutil.copy(course / "release" / "hw" / name, carol / name)
    sol = nbformat.read(course / "source" / "hw" / "02_bptt_by_hand_student.ipynb", as_version=4)
    mine = nbformat.read(carol / "02_bptt_by_hand_student.ipynb", as_version=4)
    filled = fill_solutions(mine, sol)
    for c in mine.cells:                         # only task 2's cell filled in
        if c.get("id") == "c05":
            c.source = cell(filled, "c05").source
    nbformat.write(mine, carol / "02_bptt_by_hand_student.ipynb")
    nbgrader("autograde", "hw", cwd=course)

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {student: {g.name: g.score for nb in gb.find_submission("hw", student).notebooks
                            for g in nb.grades} for student in ("alice", "carol")}
    assert scores["alice"] == {"check_task2": 1.0, "check_task4": 1.0, "check_task5": 1.0}
    assert scores["carol"] == {"check_task2": 1.0, "check_task4": 0.0, "check_task5": 0.0}
