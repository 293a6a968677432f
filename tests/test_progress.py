"""The training progress bar in a notebook without ipywidgets (a plain ``pip install numrnn``):
tqdm.auto would warn "IProgress not found" on stderr; numrnn draws tqdm's text bar on stdout."""
import nbformat
import pytest
from nbclient import NotebookClient

TRAIN = """\
from numrnn.data.tasks import first_element
from numrnn.training.model import SequenceModel
from numrnn.training.optim import Adam
from numrnn.training.trainer import Trainer

task = first_element(T=4, D=2, n_train=64, n_test=16, seed=0)
model = SequenceModel(task.input_size, 8, task.output_size, version="C", seed=0)
Trainer(model, Adam(lr=1e-2), batch_size=32, seed=0, progress=True).fit(task.x_train, task.y_train, epochs=2)
print("trained")
"""


def run_in_kernel(*sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = [out for cell in nb.cells for out in cell.outputs]
    stream = {name: "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == name)
              for name in ("stdout", "stderr")}
    return outputs, stream


@pytest.mark.slow
def test_no_warning_and_a_text_bar_on_stdout_when_ipywidgets_is_missing():
    outputs, stream = run_in_kernel("import sys\nsys.modules['ipywidgets'] = None", TRAIN)
    assert stream["stderr"] == "", stream["stderr"]
    assert "trained" in stream["stdout"] and "train:" in stream["stdout"], stream["stdout"]   # tqdm's text bar
    assert not [o for o in outputs if o.output_type == "display_data"]                        # no widget


@pytest.mark.slow
def test_the_widget_bar_where_ipywidgets_is_installed():
    outputs, stream = run_in_kernel(TRAIN)
    assert stream["stderr"] == "", stream["stderr"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
