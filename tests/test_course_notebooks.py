"""The graded notebooks: student versions of 02 and 05 made by nbgrader's ClearSolutions from the
solution notebooks. With the blanks, every check cell fails cleanly naming its task; with the
solutions filled back in, every check passes. The committed student versions are current."""
import contextlib
import io
import os

import nbformat
import pytest

from numrnn.course.notebooks import GRADED, fill_solutions, student_notebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")
STUDENT = os.path.join(NOTEBOOKS, "student")
#: notebook -> the tasks of its check cells, in order
TASKS = {"02_bptt_by_hand.ipynb": [2, 4], "05_lstm.ipynb": [5]}
#: solution lines that must not survive in the student version
SOLUTION_LINES = {"02_bptt_by_hand.ipynb": ['dh[t - S] += d["h_skip"]', 'grads[name] += d["W"]',
                                           "da = dh * (a > 0)"],
                  "05_lstm.ipynb": ["dc_prev = dc_total * f", "dz.T @ h_prev"]}


def solution(name):
    return nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)


def is_check(cell):
    return cell.metadata.get("nbgrader", {}).get("grade", False)


def run_until_last_check(nb):
    """Run the code cells up to the last check cell in one namespace, as a kernel would (magics
    through IPython's transformer); returns [(cell, printed text, exception or None)]."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    last = max(i for i, c in enumerate(nb.cells) if is_check(c))
    namespace, results = {"__name__": "__main__"}, []
    os.environ["NUMRNN_NOTEBOOK_QUICK"] = "1"
    for cell in nb.cells[:last + 1]:
        if cell.cell_type != "code":
            continue
        out, error = io.StringIO(), None
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(transform(cell.source), "<cell>", "exec"), namespace)
            except Exception as err:             # a student notebook runs on after an error
                error = err
        results.append((cell, out.getvalue(), error))
    return results


@pytest.mark.parametrize("name", GRADED)
def test_the_student_version_has_a_blank_where_each_solution_was(name):
    sol = solution(name)
    student = student_notebook(sol)
    assert len(student.cells) == len(sol.cells)
    blanks = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert blanks and all("# YOUR CODE HERE\n" in c.source and "raise NotImplementedError()" in c.source
                          for c in blanks)
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for line in SOLUTION_LINES[name]:
        assert line in "\n".join(c.source for c in sol.cells) and line not in text
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    checks = [c.source for c in student.cells if is_check(c)]
    assert checks == [c.source for c in sol.cells if is_check(c)] and len(checks) == len(TASKS[name])


@pytest.mark.parametrize("name", GRADED)
def test_the_committed_student_version_is_current(name):
    committed = nbformat.read(os.path.join(STUDENT, name.replace(".ipynb", "_student.ipynb")), as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in student_notebook(solution(name)).cells], \
        f"notebooks/student is behind notebooks/{name}: run `numrnn course notebooks notebooks`"


@pytest.mark.parametrize("name", GRADED)
def test_with_blanks_each_check_fails_cleanly_naming_its_task(name):
    results = [r for r in run_until_last_check(student_notebook(solution(name))) if is_check(r[0])]
    assert len(results) == len(TASKS[name])
    for (cell, printed, error), task in zip(results, TASKS[name]):
        assert isinstance(error, AssertionError), error
        assert str(error).startswith(f"fail: ") and f"task {task} in notebook" in str(error)
        assert f"numrnn check task {task} in notebook" in printed
        assert "is not written yet (NotImplementedError in " in printed
        tb = error.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        assert tb.tb_frame.f_code.co_filename == "<cell>"     # the cell's own assert, not numrnn's insides


@pytest.mark.parametrize("name", GRADED)
def test_with_the_solutions_filled_back_every_check_passes(name):
    sol = solution(name)
    filled = fill_solutions(student_notebook(sol), sol)
    results = [r for r in run_until_last_check(filled) if is_check(r[0])]
    assert len(results) == len(TASKS[name])
    for cell, printed, error in results:
        assert error is None, printed
        assert printed.rstrip().splitlines()[-1].startswith("pass: all")
        assert "FAIL" not in printed


@pytest.mark.slow
def test_in_jupyter_a_blank_shows_the_report_and_only_the_cells_assert():
    """The student's view: notebook 02's student version in a real kernel, up to its last check."""
    from nbclient import NotebookClient

    nb = student_notebook(solution("02_bptt_by_hand.ipynb"))
    nb.cells = nb.cells[:max(i for i, c in enumerate(nb.cells) if is_check(c)) + 1]
    os.environ["NUMRNN_NOTEBOOK_QUICK"] = "1"
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True).execute()
    checks = [c for c in nb.cells if is_check(c)]
    for cell, task in zip(checks, TASKS["02_bptt_by_hand.ipynb"]):
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert f"numrnn check task {task} in notebook 02" in printed and "FAIL" in printed
        assert len(errors) == 1 and errors[0].ename == "AssertionError"
        assert errors[0].evalue.startswith(f"fail: ") and f"task {task} in notebook 02" in errors[0].evalue
        assert "numrnn/course" not in "\n".join(errors[0].traceback)   # no frame of numrnn's insides
