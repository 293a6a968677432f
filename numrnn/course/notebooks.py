"""The graded notebooks: student versions of notebooks 02 and 05, made with nbgrader.

The solution notebooks (``notebooks/02_bptt_by_hand.ipynb``, ``notebooks/05_lstm.ipynb``) mark each
blank with nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` inside cells whose metadata
says ``nbgrader.solution = true``; after each blank comes a check cell (``nbgrader.grade = true``,
locked) that runs :mod:`numrnn.course.notebook` and shows its expected output as a comment.
:func:`student_notebook` runs nbgrader's own ``ClearSolutions`` (each region becomes
``raise NotImplementedError()``) and ``ClearOutput`` preprocessors; nothing is stripped by hand.
The same notebooks work in a full nbgrader course (``nbgrader generate_assignment``).

``numrnn course notebooks OUT`` writes the student versions (the instructor's hand-out).
"""
import copy
import os

import nbformat

from .._io import atomic_write_text

#: The solution notebooks that have graded student versions.
GRADED = ("02_bptt_by_hand.ipynb", "05_lstm.ipynb")
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def _preprocessors():
    try:
        from nbgrader.preprocessors import ClearOutput, ClearSolutions
    except ImportError:
        raise ValueError("course notebooks: the student notebooks are made with nbgrader: "
                         "pip install 'numrnn[course]'") from None
    return ClearSolutions(code_stub={"python": STUB}, enforce_metadata=True), ClearOutput()


def student_notebook(solution):
    """The student version of a solution notebook (a new NotebookNode)."""
    clear_solutions, clear_output = _preprocessors()
    nb = copy.deepcopy(solution)
    resources = {}
    nb, resources = clear_solutions.preprocess(nb, resources)
    nb, resources = clear_output.preprocess(nb, resources)
    return nb


def fill_solutions(student, solution):
    """The student notebook with every blank filled back from the solution (cells matched by id)."""
    by_id = {cell.get("id"): cell for cell in solution.cells}
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        if cell.cell_type == "code" and "# YOUR CODE HERE" in cell.source:
            source = by_id[cell.get("id")].source
            cell.source = "\n".join(line for line in source.splitlines()
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


def write_student_notebooks(source_dir, out_dir):
    """Write the student versions of :data:`GRADED` from ``source_dir`` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in GRADED:
        path = os.path.join(source_dir, name)
        if not os.path.isfile(path):
            raise ValueError(f"course notebooks: no solution notebook {path}")
        nb = student_notebook(nbformat.read(path, as_version=4))
        out = os.path.join(out_dir, name.replace(".ipynb", "_student.ipynb"))
        atomic_write_text(out, nbformat.writes(nb) + "\n")
        written.append(out)
    return written
