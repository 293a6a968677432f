"""Your cell is a numrnn cell: the course's finished SkipRNN and a from-scratch cell with only the
minimal protocol (params, forward(x, h0=None), backward(dhs, cache)) train through SequenceModel +
Trainer and pass gradcheck_layer; numrnn reads their sizes and dtype from params."""
import sys

import numpy as np
import pytest

import numrnn
from numrnn.analysis.gradients import grad_norm_by_lag, last_step_dhs
from numrnn.course.starter import write_course
from numrnn.nn.protocol import Layer, StatefulLayer, layer_sizes, missing_members, protocol_table
from scratch_cell import ScratchCell


@pytest.fixture
def course_skip_rnn(tmp_path, monkeypatch):
    """SkipRNN from a course folder written with the solutions (``numrnn course init DIR --solutions``)."""
    write_course(tmp_path, solutions=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("rnn_step", "rnn_sequence"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import rnn_sequence
    yield rnn_sequence.SkipRNN
    for name in ("rnn_step", "rnn_sequence"):
        sys.modules.pop(name, None)


def _train(layer, task):
    model = numrnn.SequenceModel(output_size=1, layer=layer, readout_init="zeros", seed=0)
    history = numrnn.Trainer(model, numrnn.Adam(3e-3), batch_size=50, clip=1.0, seed=0, progress=False).fit(
        task.x_train, task.y_train, epochs=3, x_test=task.x_test, y_test=task.y_test)
    return model, history


@pytest.mark.parametrize("make", ["course", "scratch"])
def test_a_minimal_cell_trains_through_sequence_model_and_trainer_and_passes_gradcheck(make, request):
    D, H = 4, 6
    cls = request.getfixturevalue("course_skip_rnn") if make == "course" else ScratchCell
    cell = cls(D, H, n_matrices=2, skip=2, seed=0)
    assert not any(hasattr(cell, name) for name in ("input_size", "hidden_size", "dtype"))
    assert missing_members(cell, Layer) == []
    assert missing_members(cell, StatefulLayer) == ["forward(x, h0=None, state=None)",
                                                    "backward(dhs, cache, return_dinit=False)"]
    assert layer_sizes(cell) == (D, H, np.float64)
    report = numrnn.gradcheck_layer(cell, np.random.default_rng(1).standard_normal((3, 7, D)))
    assert report.passed(1e-7) and set(report) == {"W1", "W2", "Wx", "b", "x"}, str(report)
    task = numrnn.make_task("first-element", T=12, D=D, n_train=200, n_test=50, seed=0, dtype=np.float64)
    # numrnn's RNN from the same weights is the same computation: the same losses, update by update
    same = numrnn.RNN(D, H, n_matrices=2, skip=2)
    for name in same.params:
        same.params[name][...] = cell.params[name]
    model, history = _train(cell, task)
    _, theirs = _train(same, task)
    assert len(history["loss"]) == 12 and history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(history["loss"], theirs["loss"], rtol=1e-9)
    np.testing.assert_allclose(model.params["layer.W1"], same.params["W1"], rtol=1e-9, atol=1e-12)
    assert repr(model).startswith(f"SequenceModel({cls.__name__}(input_size={D}, hidden_size={H}), ")


def test_the_gradient_by_lag_comes_from_the_course_cells_own_backward(course_skip_rnn):
    cell = course_skip_rnn(3, 5, skip=2, seed=0)
    rnn = numrnn.RNN(3, 5, skip=2)
    for name in rnn.params:
        rnn.params[name][...] = cell.params[name]
    rng = np.random.default_rng(0)
    x, dhs = rng.standard_normal((4, 10, 3)), last_step_dhs(rng.standard_normal((4, 5)), 10)
    calls = []
    backward = cell.backward
    cell.backward = lambda dhs, cache: calls.append(1) or backward(dhs, cache)
    lags, norms = grad_norm_by_lag(cell, x, dhs, wrt="x")
    assert calls == [1]
    np.testing.assert_allclose(norms, grad_norm_by_lag(rnn, x, dhs, wrt="x")[1], rtol=1e-12)


def test_the_readme_shows_the_protocol_table_the_protocol_module_makes():
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start, end = "<!-- protocol table: numrnn.nn.protocol.protocol_table() -->\n", "\n<!-- end of the protocol table -->"
    assert start in readme and end in readme
    assert readme.split(start, 1)[1].split(end, 1)[0] == protocol_table()
