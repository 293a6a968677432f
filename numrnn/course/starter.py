"""The student's package, generated from the solution files: one source of truth.

The files in ``numrnn/course/templates/`` are the instructor's solutions. Each blank is a block

.. code-block:: python

    ### BEGIN SOLUTION task 3: what to write
    ... the solution ...
    ### END SOLUTION

which the starter replaces by ``raise NotImplementedError("task 3: what to write")`` at the same
indentation (the markers are nbgrader's, so the notebooks and the files read alike).
:func:`write_course` writes either version with its pytest tests into a folder.
"""
import os
import re

from .._io import atomic_write_text, back_up

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

#: The student's files, in course order, and the tasks each holds.
FILES = {"rnn_step.py": (1, 2), "rnn_sequence.py": (3, 4), "lstm_step.py": (5,), "grad_lag.py": (6,),
         "truncated.py": (7,)}
#: task -> (file, what it asks for)
TASKS = {
    1: ("rnn_step.py", "one step forward of version A (rnn_step_forward)"),
    2: ("rnn_step.py", "its backward (rnn_step_backward)"),
    3: ("rnn_sequence.py", "the sequence forward with K matrices and skip S (rnn_forward)"),
    4: ("rnn_sequence.py", "BPTT with the skip line and the per-matrix sums (rnn_backward)"),
    5: ("lstm_step.py", "the LSTM step backward, gate by gate (lstm_step_backward)"),
    6: ("grad_lag.py", "gradient norm against lag with your own backward (grad_norm_by_lag)"),
    7: ("truncated.py", "truncated BPTT with a carried state (truncated_bptt)"),
}

STUDENT_README = """# numrnn course: write the RNN's backpropagation through time yourself

Fill in the blanks (each raises `NotImplementedError("task N: ...")`) in course order:

| task | file | what |
|---|---|---|
""" + "".join(f"| {n} | `{f}` | {what} |\n" for n, (f, what) in TASKS.items()) + """
Every docstring gives the shapes and the equations. Then, in this folder:

    pytest                                   # every task and the whole cell; stop at the first: pytest -x
    numrnn check --task 4 rnn_sequence.py    # one task, with a diagnosis when it fails
    numrnn check rnn_sequence.py:SkipRNN     # your cell under every check

A failing check says which gradient is wrong, the first time step at which dL/dh(t) goes wrong
(going back in time), what kind of step that is, and the likely cause. Done when pytest says passed.
"""

_BLOCK = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?P<label>[^\n]*)\n.*?^[ \t]*### END SOLUTION[^\n]*\n",
                    re.S | re.M)


def strip_solutions(source):
    """The starter version of a solution file's text: each marked block becomes a raise."""
    def blank(match):
        label = match.group("label").strip() or "write this part"
        return f"{match.group('indent')}raise NotImplementedError({label!r})\n"
    out = _BLOCK.sub(blank, source)
    if "### BEGIN SOLUTION" in out or "### END SOLUTION" in out:
        raise ValueError("unbalanced ### BEGIN SOLUTION / ### END SOLUTION markers")
    return out


def keep_solutions(source):
    """The instructor's version: the solution code without the marker lines."""
    return re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n", "", source, flags=re.M)


def course_files(solutions=False):
    """name -> text of every file of the student's folder."""
    sources = {name: name for name in FILES}
    sources.update({"test_tasks.py": "tests_template.py", "conftest.py": "conftest_template.py"})
    files = {}
    for name, source in sources.items():
        with open(os.path.join(TEMPLATES, source)) as f:
            text = f.read()
        files[name] = keep_solutions(text) if solutions else strip_solutions(text)
    files["README.md"] = STUDENT_README
    return files


class Written(list):
    """The paths a command wrote (a list), with ``backup``: the folder ``--force`` moved the old
    versions of edited files into (None when nothing was moved)."""
    backup = None


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_course(folder, solutions=False, force=False):
    """Write the course files into ``folder``; refuse a non-empty folder unless ``force``.

    With ``force``, every course file already there whose text differs from the new one (the
    student's work) is first moved to a timestamped backup folder beside ``folder``
    (:func:`numrnn._io.back_up`); other files in the folder are left alone.
    Returns the paths written (a :class:`Written` list; ``.backup`` names the backup folder).
    """
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"course init: {folder} exists and is not a folder")
    if os.path.isdir(folder) and os.listdir(folder) and not force:
        raise ValueError(f"course init: {folder} is not empty; choose a new folder or pass --force "
                         "(files you changed are moved to a backup folder first)")
    files = course_files(solutions)
    changed = [name for name, text in files.items()
               if os.path.lexists(os.path.join(folder, name)) and _read(os.path.join(folder, name)) != text]
    written = Written()
    written.backup = back_up(folder, changed)
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        path = os.path.join(folder, name)
        atomic_write_text(path, text)
        written.append(path)
    return written
