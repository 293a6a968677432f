"""``numrnn course nbgrader OUT``: an nbgrader course folder for the graded notebooks 02 and 05.

nbgrader grades by file name: ``nbgrader autograde`` looks in ``submitted/STUDENT/ASSIGNMENT/`` for
the notebooks named as in ``source/ASSIGNMENT/``. Students receive ``*_student.ipynb`` (what
``numrnn course notebooks`` hands out and ``nbgrader generate_assignment`` releases from here), so
the source notebooks carry those names; a submission keeps them and is graded as it is.

The folder holds ``nbgrader_config.py`` (the course root, the same code stub as
``numrnn course notebooks``, a generous cell timeout, the notebooks' quick sizes) and
``source/ASSIGNMENT/`` with the solution notebooks, whose cells already carry nbgrader's metadata
(solution cells between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, locked check cells worth one
point each). Autograde runs each notebook in a kernel of its own.
"""
import os
import shutil

from .._io import atomic_write_text

#: solution notebook -> the name students receive (and submit)
RELEASED = {"02_bptt_by_hand.ipynb": "02_bptt_by_hand_student.ipynb", "05_lstm.ipynb": "05_lstm_student.ipynb"}

CONFIG = '''"""nbgrader's configuration for numrnn's graded notebooks (written by `numrnn course nbgrader`).

Run nbgrader from this folder: nbgrader generate_assignment {assignment}; nbgrader autograde {assignment}.
"""
import os

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "numrnn"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
# the stub that replaces each solution: the same as `numrnn course notebooks`
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.enforce_metadata = True
# the notebooks train small models in their later sections: allow each cell time, grade at quick sizes
c.ExecutePreprocessor.timeout = 600
os.environ.setdefault("NUMRNN_NOTEBOOK_QUICK", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
'''


def write_nbgrader_course(source_dir, out, assignment="hw"):
    """Write ``out/nbgrader_config.py`` and ``out/source/ASSIGNMENT/*_student.ipynb``; returns the paths."""
    if not assignment.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"course nbgrader: --assignment {assignment!r} must be letters, digits, - or _")
    if os.path.isdir(out) and os.listdir(out):
        raise ValueError(f"course nbgrader: {out} is not empty; choose a new folder")
    folder = os.path.join(out, "source", assignment)
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, released in RELEASED.items():
        path = os.path.join(source_dir, name)
        if not os.path.isfile(path):
            raise ValueError(f"course nbgrader: no solution notebook {path}")
        target = os.path.join(folder, released)
        shutil.copyfile(path, target)
        written.append(target)
    config = os.path.join(out, "nbgrader_config.py")
    atomic_write_text(config, CONFIG.format(assignment=assignment))
    return [config] + written
