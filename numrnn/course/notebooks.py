"""The course's notebooks as handed out: where they install numrnn from, and the graded versions.

**Where numrnn comes from.** Every notebook's first code cell installs what that notebook needs
when it is missing (on Colab, in a fresh Jupyter) and prints what it did: numrnn from
:data:`COURSE_SOURCE`, hypothesis where graded checks run (:mod:`numrnn.course.notebook`),
ipywidgets where the explorer runs, and only when ``import`` would fail, so a preinstalled
ipywidgets (Colab's 7.x) is never upgraded. :data:`COURSE_SOURCE` is the one place the course sets
its source; ``numrnn course notebooks OUT --source SRC`` writes every notebook with ``SRC`` stamped
into that cell and into the "Open in Colab" line that opens the first markdown cell (a link to the
notebook on Colab when ``SRC`` is a GitHub ``git+https`` URL, else how to upload it there).

**The graded versions.** The solution notebooks mark each blank with nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` inside cells whose metadata says
``nbgrader.solution = true``; after each blank comes a check cell (``nbgrader.grade = true``,
locked) that runs :mod:`numrnn.course.notebook`. :func:`student_notebook` runs nbgrader's own
``ClearSolutions`` (each region becomes ``raise NotImplementedError()``) and ``ClearOutput``
preprocessors; nothing is stripped by hand. The same notebooks work in a full nbgrader course.

**A student's work is never overwritten.** Each written notebook records a hash of its cells
(``metadata.numrnn.cells_sha256``). Writing again over a notebook whose cells no longer match its
record (or that numrnn did not write) is refused; ``force=True`` first moves such files to a
timestamped backup folder beside ``OUT`` (:func:`numrnn._io.back_up`).
"""
import copy
import glob
import hashlib
import json
import os
import re

import nbformat

from .. import __version__
from .._io import atomic_write_text, back_up
from .starter import Written

#: Where every notebook installs numrnn from: anything ``pip install`` accepts (a package index
#: name with its version, a ``git+https://...@tag`` URL, a wheel's URL). numrnn is not on PyPI yet:
#: an instructor stamps the notebooks with the course's own source (notebooks/README.md).
COURSE_SOURCE = f"numrnn=={__version__}"
#: The solution notebooks that have graded student versions.
GRADED = ("02_bptt_by_hand.ipynb", "05_lstm.ipynb")
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
#: Text that marks a source nobody filled in; never written into a notebook.
PLACEHOLDERS = ("YOUR-ACCOUNT", "YOUR_ACCOUNT", "YOUR-NAME", "<your", "your-account", "USERNAME")
COLAB_LINK = "Open in Colab"

INSTALL_CELL = '''\
# Setup: install what this notebook needs when it is missing (Colab, a fresh Jupyter), and say so.
# NUMRNN_SOURCE is set by `numrnn course notebooks OUT --source ...` (notebooks/README.md);
# NEEDS maps each module to what pip installs when `import` would fail.
NUMRNN_SOURCE = {source!r}
NEEDS = {needs}
import importlib, importlib.util, subprocess, sys

missing = [name for module, name in NEEDS.items() if importlib.util.find_spec(module) is None]
if missing:
    print("installing with pip:", ", ".join(missing), "...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"pip could not install {{', '.join(missing)}}:\\n{{pip.stderr.strip()[-1500:]}}\\n"
                           "If NUMRNN_SOURCE is numrnn==<version>: numrnn is not on PyPI yet; ask your "
                           "instructor for notebooks made with `numrnn course notebooks OUT --source ...`.")
    importlib.invalidate_caches()
import numrnn
done = f"installed {{', '.join(missing)}}" if missing else "all installed already, nothing to do"
print(f"numrnn {{numrnn.__version__}}: {{done}}")
'''


def check_source(source):
    """``source`` as the install cell will give it to pip; a ValueError naming what is wrong.

    An existing local path (a wheel, a clone) becomes absolute, since the notebook's kernel runs
    in the notebook's folder.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"course notebooks: --source must name where pip finds numrnn, got {source!r}")
    source = source.strip()
    if any(mark.lower() in source.lower() for mark in PLACEHOLDERS):
        raise ValueError(f"course notebooks: --source {source!r} is a placeholder; give the real "
                         "git URL (git+https://host/you/numrnn.git@TAG), a wheel's URL or numrnn==VERSION")
    if re.search(r"[\s'\"\\]", source):
        raise ValueError(f"course notebooks: --source {source!r} holds spaces, quotes or backslashes")
    if re.match(r"https?://(www\.)?github\.com/", source) and not source.endswith(".whl"):
        raise ValueError(f"course notebooks: --source {source!r} is a GitHub page, which pip cannot "
                         f"install; write it as git+{source}")
    if os.path.exists(source):
        source = os.path.abspath(source)
    return source


def needs(nb, source):
    """module -> pip argument of what the notebook's code needs beyond the Python standard library."""
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    out = {"numrnn": source}
    if re.search(r"\bnumrnn\.course\.notebook\b|^\s*(import|from) hypothesis\b", code, re.M):
        out["hypothesis"] = "hypothesis"            # the graded check cells draw settings with it
    if re.search(r"\bnumrnn\.analysis\.explorer\b|^\s*(import|from) ipywidgets\b", code, re.M):
        out["ipywidgets"] = "ipywidgets"            # the explorer's sliders (only when missing)
    return out


def install_cell_source(nb, source):
    """The text of the install cell for ``nb`` with numrnn from ``source``."""
    return INSTALL_CELL.format(source=source, needs=repr(needs(nb, source)))


def colab_url(source, path):
    """The Colab address of the notebook at ``path`` in the repository ``source`` names, or None
    when ``source`` is not a GitHub ``git+https`` URL. A ``@ref`` picks the tag or branch (main)."""
    match = re.fullmatch(r"(?:numrnn(?:\[[^\]]*\])?\s*@\s*)?git\+https://github\.com/([\w.-]+)/([\w.-]+?)"
                         r"(?:\.git)?(?:@([\w./-]+))?(?:#.*)?", source)
    if not match:
        return None
    owner, repo, ref = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{ref or 'main'}/{path}"


def colab_line(source, path):
    """The first line of the first markdown cell: open the notebook on Colab."""
    url = colab_url(source, path)
    if url:
        return f"[{COLAB_LINK}]({url}) (its first code cell installs numrnn from `{source}`)"
    return (f"{COLAB_LINK}: upload this file at https://colab.research.google.com (File → Upload notebook); "
            f"its first code cell installs numrnn from `{source}`.")


def is_install_cell(cell):
    return cell.cell_type == "code" and ("NUMRNN_SOURCE" in cell.source or "%pip install" in cell.source)


def stamp(nb, source=COURSE_SOURCE, path="notebooks/notebook.ipynb"):
    """A copy of ``nb`` whose install cell and Colab line name ``source``; ``path`` is where the
    notebook sits in the repository (for the Colab link). Stamping twice changes nothing."""
    source = check_source(source)
    nb = copy.deepcopy(nb)
    first_code = next((cell for cell in nb.cells if cell.cell_type == "code"), None)
    if first_code is None or not is_install_cell(first_code):
        raise ValueError(f"course notebooks: {os.path.basename(path)}: the first code cell must be the "
                         "install cell (it sets NUMRNN_SOURCE)")
    first_code.source = install_cell_source(nb, source).rstrip("\n")
    first_md = next((cell for cell in nb.cells if cell.cell_type == "markdown"), None)
    if first_md is None:
        raise ValueError(f"course notebooks: {os.path.basename(path)} has no markdown cell for the Colab line")
    lines = first_md.source.split("\n")
    if lines and COLAB_LINK in lines[0]:
        lines = lines[2:] if len(lines) > 1 and not lines[1].strip() else lines[1:]
    first_md.source = "\n".join([colab_line(source, path), ""] + lines)
    return nb


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


def is_graded(nb):
    """True when the notebook has nbgrader solution cells (it has a student version)."""
    return any(cell.metadata.get("nbgrader", {}).get("solution") for cell in nb.cells)


def cells_hash(nb):
    """sha256 of the notebook's cell types and sources: what a student's edit changes."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def _recorded(nb):
    nb = copy.deepcopy(nb)
    nb.metadata["numrnn"] = {"cells_sha256": cells_hash(nb), "written_by": "numrnn course notebooks"}
    return nb


def is_unedited(path, new):
    """True when the notebook at ``path`` may be replaced by ``new``: same cells, or its cells
    still match the hash numrnn recorded when it wrote it."""
    try:
        old = nbformat.read(path, as_version=4)
    except Exception:                                   # not a notebook: someone's file
        return False
    record = old.metadata.get("numrnn", {}).get("cells_sha256")
    return cells_hash(old) in (cells_hash(new), record)


def course_notebooks(src_dir, source=COURSE_SOURCE):
    """relative path in OUT -> (input path, notebook) for the whole course stamped with ``source``:
    every ``src_dir/*.ipynb``, the student version of each graded one in ``student/``, and any
    other ``src_dir/student/*.ipynb``."""
    source = check_source(source)
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(src_dir, "*.ipynb")))
    if not names:
        raise ValueError(f"course notebooks: no notebooks in {src_dir}")
    out = {}
    for name in names:
        path = os.path.join(src_dir, name)
        nb = stamp(nbformat.read(path, as_version=4), source, f"notebooks/{name}")
        out[name] = (path, nb)
        if is_graded(nb):
            student = name.replace(".ipynb", "_student.ipynb")
            out[f"student/{student}"] = (None, stamp(student_notebook(nb), source, f"notebooks/student/{student}"))
    for path in sorted(glob.glob(os.path.join(src_dir, "student", "*.ipynb"))):
        rel = f"student/{os.path.basename(path)}"
        if rel not in out:
            out[rel] = (path, stamp(nbformat.read(path, as_version=4), source, f"notebooks/{rel}"))
    return out


def write_course_notebooks(src_dir, out_dir, source=COURSE_SOURCE, force=False):
    """Write the course's notebooks from ``src_dir`` into ``out_dir`` with numrnn from ``source``.

    A notebook already in ``out_dir`` that a person edited (its cells match neither the new ones
    nor numrnn's record of what it wrote) is refused with a ValueError naming it; with ``force`` it
    is first moved to a backup folder beside ``out_dir``. ``out_dir`` may be ``src_dir`` itself
    (restamping the repository's notebooks): an input is never counted as someone's edit.
    Returns the paths written (:class:`numrnn.course.starter.Written`; ``.backup``).
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"course notebooks: {out_dir} exists and is not a folder")
    if os.path.realpath(out_dir) == os.path.realpath(os.path.join(src_dir, "student")):
        raise ValueError(f"course notebooks: {out_dir} is the student/ folder of {src_dir}; the command "
                         f"writes the whole course, student/ included: numrnn course notebooks {src_dir}")
    notebooks = course_notebooks(src_dir, source)
    edited = []
    for rel, (origin, nb) in notebooks.items():
        path = os.path.join(out_dir, rel)
        if not os.path.lexists(path):
            continue
        if origin is not None and os.path.exists(origin) and os.path.samefile(origin, path):
            continue
        if not is_unedited(path, nb):
            edited.append(rel)
    if edited and not force:
        listed = ", ".join(os.path.join(out_dir, rel) for rel in edited)
        raise ValueError(f"course notebooks: {listed} changed since numrnn wrote them (or numrnn did not "
                         "write them); choose another folder, or pass --force to move them to a backup "
                         "folder first")
    written = Written()
    written.backup = back_up(out_dir, edited)
    for rel, (_, nb) in notebooks.items():
        path = os.path.join(out_dir, rel)
        atomic_write_text(path, nbformat.writes(_recorded(nb)) + "\n")
        written.append(path)
    return written

