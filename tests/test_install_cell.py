"""The notebooks' install cell and ``numrnn course notebooks OUT --source``: what a student on Colab
or a fresh Jupyter runs first.

The cell's logic is run here with pip replaced by a recorder (what it would install, and what it
says when pip fails); the whole path is run for real in a fresh virtual environment: the
notebooks stamped with a wheel built from this tree, notebook 01 executed in that environment's
own kernel from its install cell on.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from numrnn import __version__
from numrnn.cli import main
from numrnn.course.notebooks import COURSE_SOURCE, PLACEHOLDERS, colab_url, stamp

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "student").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]


def install_cell(path):
    return next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source


@pytest.fixture
def run_cell(monkeypatch, capsys):
    """Execute an install cell's text with only the modules ``present`` found by find_spec and
    pip replaced by a recorder; returns (pip calls, printed text, the exception or None)."""
    def run_it(source, present, pip_returncode=0, pip_stderr=""):
        calls = []

        def run(args, **kwargs):
            calls.append(args)
            return types.SimpleNamespace(returncode=pip_returncode, stderr=pip_stderr, stdout="")

        monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name in present else None)
        monkeypatch.setattr(subprocess, "run", run)
        try:
            exec(compile(source, "install cell", "exec"), {"__name__": "__main__"})
            error = None
        except Exception as err:                   # what the student would see
            error = err
        finally:
            monkeypatch.undo()
        return calls, capsys.readouterr().out, error
    return run_it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_placeholder_ships(path):
    text = path.read_text()
    assert not [mark for mark in PLACEHOLDERS if mark in text], f"{path.name} holds a placeholder source"


def test_the_readmes_name_no_placeholder():
    """notebooks/README.md and the main README's notebooks section, where students look for the source."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The course: notebooks"):]
    section = section[:section.index("\n## ", 1)]
    for name, text in (("notebooks/README.md", (ROOT / "notebooks" / "README.md").read_text()),
                       ("README.md, The course: notebooks", section)):
        assert not [mark for mark in PLACEHOLDERS if mark in text], name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_notebooks_carry_the_course_source(path):
    """Every notebook is stamped with COURSE_SOURCE, numrnn pinned to this version."""
    assert COURSE_SOURCE == f"numrnn=={__version__}"
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(ROOT).as_posix()
    assert [c.source for c in stamp(nb, COURSE_SOURCE, rel).cells] == [c.source for c in nb.cells], \
        f"{path.name} is not stamped with {COURSE_SOURCE}: run `numrnn course notebooks notebooks`"
    assert f"NUMRNN_SOURCE = {COURSE_SOURCE!r}" in install_cell(path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("Open in Colab")


#: what each notebook's install cell may install beyond numrnn (only when missing)
EXTRA = {"02": {"hypothesis"}, "05": {"hypothesis"}, "03": {"ipywidgets"}}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_installs_what_the_notebook_needs_and_no_more(path, run_cell):
    calls, text, error = run_cell(install_cell(path), present=set())
    assert error is None, error
    assert len(calls) == 1 and calls[0][:5] == [sys.executable, "-m", "pip", "install", "--quiet"]
    wanted = {COURSE_SOURCE} | EXTRA.get(path.name[:2], set())
    assert set(calls[0][5:]) == wanted, f"{path.name} installs {calls[0][5:]}"
    assert f"installing with pip: {', '.join(calls[0][5:])}" in text
    assert f"installed {', '.join(calls[0][5:])}" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_nothing_is_installed_where_everything_imports(path, run_cell):
    calls, text, error = run_cell(install_cell(path), present={"numrnn", "hypothesis", "ipywidgets"})
    assert error is None and calls == []
    assert f"numrnn {__version__}: all installed already, nothing to do" in text


def test_a_preinstalled_ipywidgets_is_not_upgraded(run_cell):
    """Colab ships ipywidgets 7; installing 8 there breaks its widgets."""
    calls, _, error = run_cell(install_cell(ROOT / "notebooks" / "03_vanishing_exploding.ipynb"),
                               present={"ipywidgets"})
    assert error is None and calls[0][5:] == [COURSE_SOURCE]


def test_a_failed_install_says_why_and_what_to_do(run_cell):
    stderr = "ERROR: No matching distribution found for numrnn==0.1.0"
    calls, _, error = run_cell(install_cell(ROOT / "notebooks" / "01_forward_by_hand.ipynb"), present=set(),
                               pip_returncode=1, pip_stderr=stderr)
    assert isinstance(error, RuntimeError)
    assert f"pip could not install {COURSE_SOURCE}" in str(error) and stderr in str(error)
    assert "not on PyPI yet" in str(error) and "numrnn course notebooks OUT --source" in str(error)


# ------------------------------------------------------------------- the stamping command
def test_stamping_sets_the_source_and_the_colab_link(tmp_path, capsys):
    source = "git+https://github.com/someone/numrnn.git@v0.1.0"
    assert main(["course", "notebooks", str(tmp_path / "out"), "--source", source]) == 0
    assert "installing numrnn from " + source in capsys.readouterr().out
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.ipynb"))
    assert written == sorted(p.relative_to(ROOT / "notebooks").as_posix() for p in NOTEBOOKS)
    for rel in written:
        nb = nbformat.read(tmp_path / "out" / rel, as_version=4)
        nbformat.validate(nb)
        assert f"NUMRNN_SOURCE = {source!r}" in next(c for c in nb.cells if c.cell_type == "code").source
        url = f"https://colab.research.google.com/github/someone/numrnn/blob/v0.1.0/notebooks/{rel}"
        assert nb.cells[0].source.startswith(f"[Open in Colab]({url})"), nb.cells[0].source[:200]
        assert nb.cells[0].source.count("Open in Colab") == 1


def test_stamping_twice_changes_nothing():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    once = stamp(nb, "git+https://github.com/a/b.git@v1", "notebooks/x.ipynb")
    again = stamp(stamp(once, "numrnn==9.9", "notebooks/x.ipynb"), "git+https://github.com/a/b.git@v1",
                  "notebooks/x.ipynb")
    assert [c.source for c in again.cells] == [c.source for c in once.cells]


@pytest.mark.parametrize("source,url", [
    ("git+https://github.com/a/numrnn.git@v0.2.0", "https://colab.research.google.com/github/a/numrnn/blob/v0.2.0/nb"),
    ("git+https://github.com/a/numrnn", "https://colab.research.google.com/github/a/numrnn/blob/main/nb"),
    ("numrnn @ git+https://github.com/a/b.git@dev", "https://colab.research.google.com/github/a/b/blob/dev/nb"),
    ("numrnn==0.1.0", None), ("https://host/numrnn-0.1.0-py3-none-any.whl", None)])
def test_colab_link_from_the_source(source, url):
    assert colab_url(source, "nb") == url


@pytest.mark.parametrize("source,words", [
    ("git+https://github.com/YOUR-ACCOUNT/numrnn.git", "placeholder"),
    ("https://github.com/a/numrnn", "write it as git+https://github.com/a/numrnn"),
    ("numrnn @ x", "spaces"), ("", "where pip finds numrnn")])
def test_a_bad_source_is_refused_by_name(tmp_path, capsys, source, words):
    assert main(["course", "notebooks", str(tmp_path / "out"), "--source", source]) == 2
    err = capsys.readouterr().err
    assert words in err and "--source" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------- the real thing, in a venv
def build_wheel(tmp_path):
    """A wheel of this tree (pip wheel --no-deps), built from a copy so the checkout stays clean."""
    tree = tmp_path / "numrnn-tree"
    tree.mkdir()
    for name in ("numrnn", "setup.cfg", "pyproject.toml", "README.md"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tree / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                          if (ROOT / name).is_dir() else {}))
    # Build in this environment when it can (no download); a fresh venv's old setuptools has no
    # bdist_wheel without the wheel package, and then pip builds in isolation from PyPI.
    here = all(importlib.util.find_spec(name) for name in ("setuptools", "wheel"))
    isolation = ["--no-build-isolation"] if here else []
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, "-w",
                    str(tmp_path / "wheels"), f"./{tree.name}"], cwd=tmp_path, check=True)
    (wheel,) = (tmp_path / "wheels").glob("numrnn-*.whl")
    return wheel


def fresh_kernel(tmp_path):
    """A new virtual environment with only a Jupyter kernel (ipykernel) in it, as a kernelspec."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    kernel = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "ipykernel"],
                            capture_output=True, text=True)
    assert kernel.returncode == 0, f"pip could not install ipykernel into the new venv:\n{kernel.stderr[-2000:]}"
    bare = subprocess.run([str(python), "-c", "import numrnn"], capture_output=True, text=True, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert "No module named 'numrnn'" in bare.stderr, "the new environment is not fresh"
    spec = tmp_path / "jupyter" / "kernels" / "fresh-venv"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv", "language": "python"}))
    return venv


def execute(path, folder):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint('numrnn from', numrnn.__file__, 'in', sys.prefix)"))
    NotebookClient(nb, timeout=600, kernel_name="fresh-venv", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def stdout(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


@pytest.mark.slow
def test_notebook_01_runs_in_a_fresh_venv_from_its_install_cell(tmp_path, monkeypatch):
    wheel = build_wheel(tmp_path)
    venv = fresh_kernel(tmp_path)
    out = tmp_path / "course"
    assert main(["course", "notebooks", str(out), "--source", str(wheel)]) == 0
    monkeypatch.delenv("PYTHONPATH", raising=False)        # the kernel sees only the venv
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("NUMRNN_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("NUMRNN_NOTEBOOK_FIGURES", raising=False)

    nb = execute(out / "01_forward_by_hand.ipynb", out)
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert f"installing with pip: {wheel}" in stdout(install), stdout(install)
    assert f"numrnn {__version__}: installed {wheel}" in stdout(install)
    assert f"numrnn from {venv}" in stdout(nb.cells[-1]) and f"in {venv}" in stdout(nb.cells[-1])
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images == 2, f"notebook 01 showed {images} pictures in the fresh venv, expected 2"

    again = execute(out / "01_forward_by_hand.ipynb", out)              # a second session: nothing to do
    assert f"numrnn {__version__}: all installed already, nothing to do" in stdout(
        next(c for c in again.cells if c.cell_type == "code"))
