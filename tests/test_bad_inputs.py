"""The nine bad inputs of issue 23, each answered by a message that names the argument, file or
parameter (never a bare KeyError, a NumPy broadcast error or a silent success)."""
import json

import numpy as np
import pytest

import numrnn
from numrnn.analysis.gradients import as_float64
from numrnn.data import sst
from numrnn.nn.gradcheck import check_gradients
from numrnn.training import checkpoint
from numrnn.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _model(**kwargs):
    return numrnn.SequenceModel(2, 3, 1, version="C", seed=0, **kwargs)


def test_set_params_refuses_nan_naming_the_parameter_and_changes_nothing():
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    values = {k: np.full_like(v, np.nan) for k, v in model.params.items()}
    with pytest.raises(ValueError, match=r"^parameter layer\.W1 contains NaN or inf \(9 of 9 entries\)"):
        model.set_params(values)
    values = dict(before, **{"readout.b": np.array([np.inf])})
    with pytest.raises(ValueError, match=r"^parameter readout\.b contains NaN or inf"):
        model.set_params(values)
    for name, value in model.params.items():                       # checked before any is copied
        np.testing.assert_array_equal(value, before[name])


def test_a_model_with_a_nan_weight_is_not_saved_and_not_loaded(tmp_path, monkeypatch):
    model = _model()
    model.params["layer.Wx"][1, 0] = np.nan
    with pytest.raises(ValueError, match=r"^model parameter layer\.Wx contains NaN or inf: .*nothing was "
                                         r"written to .*nan\.npz"):
        save_checkpoint(tmp_path / "nan", model)
    assert list(tmp_path.iterdir()) == []
    # a file written without the check (an older numrnn) is refused on load, naming file and parameter
    monkeypatch.setattr(checkpoint, "_require_finite_params", lambda model, path: None)
    save_checkpoint(tmp_path / "nan", model)
    with pytest.raises(CheckpointError, match=r"nan\.npz cannot be loaded: .*parameter layer\.Wx "
                                              r"contains NaN or inf"):
        load_checkpoint(tmp_path / "nan")


def test_a_glove_row_with_a_number_too_many_is_an_error_naming_file_and_line(tmp_path):
    vocab = sst.Vocab(["film", "lovely"], lower=True)
    path = tmp_path / "vectors.txt"
    path.write_text("film 1 2 3\nlovely 0.5 -1 2e-1 4\n")
    with pytest.raises(ValueError, match=r"vectors\.txt, line 2: 4 numbers after the word 'lovely', "
                                         r"expected 3 \(as on the first row\)"):
        sst.load_glove(path, vocab)
    path.write_text("film 1 2 3\nlovely 0.5 -1 2e-1\n")             # the same file, well formed
    assert sst.load_glove(path, vocab)[1].tolist() == [False, False, True, True]


def test_trainer_tbptt_with_three_values_is_named():
    model = _model(readout="all")
    with pytest.raises(TypeError, match=r"^tbptt must be k or a pair \(k1, k2\), got 3 values \(1, 2, 3\)"):
        numrnn.Trainer(model, numrnn.SGD(0.1), tbptt=(1, 2, 3))


def test_trainer_load_state_dict_names_what_the_state_lacks():
    trainer = numrnn.Trainer(_model(), numrnn.SGD(0.1), progress=False)
    with pytest.raises(ValueError, match=r"^trainer state lacks 'step', 'epoch', 'rng', 'dropout_rng', "
                                         r"'history': give the dict of Trainer.state_dict\(\)"):
        trainer.load_state_dict({})
    state = trainer.state_dict()
    del state["history"]["grad_norms"]
    with pytest.raises(ValueError, match="trainer state lacks 'history' with 'grad_norms'"):
        trainer.load_state_dict(state)
    with pytest.raises(TypeError, match="trainer state must be the dict of Trainer.state_dict"):
        trainer.load_state_dict([1, 2])


def test_adam_loaded_with_slots_of_the_wrong_shape_names_slot_and_parameter():
    model = _model()
    grads = {k: np.ones_like(v) for k, v in model.params.items()}
    adam = numrnn.Adam(1e-3)
    adam.step(model.params, grads)
    state = adam.state_dict()
    state["slots"]["m"]["layer.W1"] = np.zeros((2, 2))
    fresh = numrnn.Adam(1e-3)
    fresh.load_state_dict(state)
    before = model.params["layer.W1"].copy()
    with pytest.raises(ValueError, match=r"^Adam state m\['layer\.W1'\] has shape \(2, 2\), but parameter "
                                         r"layer\.W1 has shape \(3, 3\): the optimiser state was loaded "
                                         r"from another model"):
        fresh.step(model.params, grads)
    np.testing.assert_array_equal(model.params["layer.W1"], before)  # nothing changed


def test_check_gradients_with_a_missing_gradient_names_it():
    a, b = np.ones(3), np.ones(2)
    with pytest.raises(ValueError, match=r"^grads has no gradient for 'a': give one gradient per checked "
                                         r"array \(grads holds \['b'\]\)"):
        check_gradients(lambda: float(np.sum(a * a) + np.sum(b)), {"a": a, "b": b}, {"b": np.ones(2)})


def test_as_float64_of_something_else_than_a_model_is_named():
    with pytest.raises(TypeError, match="^as_float64 takes a numrnn SequenceModel, got str"):
        as_float64("model")


def test_sst_resume_on_a_truncated_results_file_names_the_file(tmp_path):
    """``numrnn sst --resume`` reads the results file with sst_report.read_results."""
    from numrnn.experiments.sst_report import read_results
    path = tmp_path / "sst.json"
    path.write_text('{"runs": [{"name": "rnn-A"')
    with pytest.raises(ValueError, match=r"^--resume: .*sst\.json is not a readable results file"):
        read_results(path)
    path.write_text(json.dumps({"runs": []}))
    assert read_results(path) == {"runs": []}


def test_k1_is_checked_by_one_function_with_one_message():
    from numrnn.training.tbptt import check_tbptt, check_window, windows
    messages = set()
    for call in (lambda: check_window(0), lambda: check_tbptt(0), lambda: windows(10, 0),
                 lambda: numrnn.Trainer(_model(readout="all"), numrnn.SGD(0.1), tbptt=0)):
        with pytest.raises(ValueError) as err:
            call()
        messages.add(str(err.value))
    assert messages == {"k1 (window) must be >= 1, got 0"}
