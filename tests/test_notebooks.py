"""The course notebooks: each runs top to bottom at small sizes, and is committed without outputs.

Every notebook reads ``NUMRNN_NOTEBOOK_QUICK`` in its first parameters cell; set to 1 here, it
shrinks sizes so that all notebooks together run in well under three minutes on 2 cores.
"""
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))
IDS = [path.name for path in NOTEBOOKS]


def test_notebooks_are_numbered_in_order():
    assert NOTEBOOKS, f"no notebooks in {HERE}"
    assert [path.name[:3] for path in NOTEBOOKS] == [f"{i:02d}_" for i in range(1, len(NOTEBOOKS) + 1)], IDS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has outputs; strip them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_listed_in_readme_and_answered(path):
    assert path.name in (HERE / "README.md").read_text(), f"{path.name} is not listed in notebooks/README.md"
    assert path.name in (HERE / "ANSWERS.md").read_text(), f"{path.name} has no answers in notebooks/ANSWERS.md"


def execute(path, folder):
    """Run a notebook top to bottom with ``folder`` as its working directory; return its outputs."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute()                              # raises CellExecutionError on the first failing cell
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    return "".join(out.get("text", "") for out in outputs if out.output_type == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.setenv("NUMRNN_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("NUMRNN_NOTEBOOK_FIGURES", raising=False)
    execute(path, HERE)


SST_NOTEBOOK = HERE / "06_sst.ipynb"


@pytest.mark.slow
def test_sst_notebook_skips_cleanly_without_the_data(tmp_path, monkeypatch):
    """Run from a folder with no data nearby and NUMRNN_SST_DIR naming an empty folder."""
    folder = tmp_path / "course" / "notebooks"
    folder.mkdir(parents=True)
    shutil.copy(SST_NOTEBOOK, folder)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("NUMRNN_SST_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("NUMRNN_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("NUMRNN_NOTEBOOK_FIGURES", raising=False)
    printed = execute(folder / SST_NOTEBOOK.name, folder)
    assert "SST not found in" in printed and "NUMRNN_SST_DIR" in printed
    assert "parameters" not in printed           # no model was trained
