"""The course notebooks: each runs top to bottom at small sizes, every figure shows as a picture,
and each is committed without outputs.

Every notebook reads ``NUMRNN_NOTEBOOK_QUICK`` in its parameters cell; set to 1 here, it shrinks
sizes so that all notebooks together run in about a minute on 2 cores. What a student sees is
checked: each figure output carries ``image/png`` (a figure made without pyplot shows in a fresh
kernel as the text ``<Figure size ...>``, issue 14), with the number of pictures each notebook
draws, and nothing is written to stderr (e.g. tqdm's "IProgress not found" warning).
"""
import re
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


#: Pictures each notebook shows in the quick run. 06 draws its two only when it finds the treebank.
EXPECTED_IMAGES = {"01_forward_by_hand.ipynb": 2,          # schedule, state size
                   "02_bptt_by_hand.ipynb": 3,             # skip-step graph, skip line, per-matrix bars
                   "03_vanishing_exploding.ipynb": 5,      # by lag, sweep, paths, per-matrix, explorer
                   "04_synthetic_task.ipynb": 2,           # loss curves, divergence
                   "05_lstm.ipynb": 2,                     # by lag, accuracy and cost
                   "06_sst.ipynb": 2,                      # labels, dev accuracy (with the data)
                   "07_truncated_bptt.ipynb": 1,           # what truncation cuts
                   "08_your_cell_at_work.ipynb": 2}        # training beside numrnn.RNN, by lag


def execute(path, folder):
    """Run a notebook top to bottom with ``folder`` as its working directory; return its outputs."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute()                              # raises CellExecutionError on the first failing cell
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    return outputs


def printed(outputs, stream="stdout"):
    return "".join(out.get("text", "") for out in outputs if out.output_type == "stream" and out.name == stream)


def shown(outputs):
    """The display outputs (pictures, widgets, repr text), in order."""
    return [out for out in outputs if out.output_type in ("display_data", "execute_result")]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_top_to_bottom_with_every_figure_rendered(path, monkeypatch):
    monkeypatch.setenv("NUMRNN_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("NUMRNN_NOTEBOOK_FIGURES", raising=False)
    outputs = execute(path, HERE)
    as_text = [out.data.get("text/plain", "") for out in shown(outputs) if "image/png" not in out.data]
    assert not [text for text in as_text if re.search(r"<(matplotlib\.figure\.)?Figure", text)], \
        f"{path.name}: a figure shows as text, not as a picture: {as_text}"
    images = sum("image/png" in out.data for out in shown(outputs))
    expected = EXPECTED_IMAGES[path.name]
    if path == SST_NOTEBOOK and "SST not found" in printed(outputs):
        expected = 0                              # no data here: the notebook skips its figures
    assert images == expected, f"{path.name}: {images} pictures shown, expected {expected}"
    assert printed(outputs, "stderr") == "", f"{path.name} wrote to stderr:\n{printed(outputs, 'stderr')}"


@pytest.mark.slow
def test_saved_figures_go_to_a_folder_that_did_not_exist(tmp_path, monkeypatch):
    folder = tmp_path / "not" / "yet"
    monkeypatch.setenv("NUMRNN_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("NUMRNN_NOTEBOOK_FIGURES", str(folder))
    execute(HERE / "02_bptt_by_hand.ipynb", HERE)
    assert sorted(p.name for p in folder.iterdir()) == ["nb02_per_matrix.png", "nb02_skip_line.png",
                                                        "nb02_skip_step_graph.png"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_are_saved_through_numrnn(path):
    """fig.savefig fails on a missing folder; numrnn's save_figure creates it (and writes atomically)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            assert ".savefig(" not in cell.source, f"{path.name}: use numrnn.analysis.plots.save_figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_installs_numrnn_when_missing(path):
    """On Colab or a fresh Jupyter the first code cell installs numrnn (tests/test_install_cell.py
    runs it); where numrnn imports, it installs nothing."""
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert first.source.startswith("# Setup: install what this notebook needs"), first.source[:200]
    assert "NUMRNN_SOURCE = " in first.source and "NUMRNN_SOURCE" in (HERE / "README.md").read_text()


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
    outputs = execute(folder / SST_NOTEBOOK.name, folder)
    text = printed(outputs)
    assert "SST not found in" in text and "NUMRNN_SST_DIR" in text
    assert "parameters" not in text              # no model was trained
    assert not shown(outputs)                    # and nothing drawn
