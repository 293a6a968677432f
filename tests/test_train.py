"""Trainer: solves tiny problems, same seed same bits, divergence as a result, records, hooks."""
import numpy as np
import pytest

from numrnn.training.model import SequenceModel
from numrnn.training.optim import SGD, Adam
from numrnn.data.tasks import adding, first_element
from numrnn.training.trainer import Trainer


def _fit(task, version="D", epochs=10, seed=0, lr=1e-2, **kw):
    model = SequenceModel(task.input_size, 16, task.output_size, version=version, seed=seed,
                          scale=0.5, readout=task.readout, loss=task.loss)
    trainer = Trainer(model, Adam(lr=lr), batch_size=32, seed=seed, progress=False, **kw)
    trainer.fit(task.x_train, task.y_train, epochs=epochs, x_test=task.x_test, y_test=task.y_test)
    return model, trainer


@pytest.mark.parametrize("make", [lambda: first_element(T=4, D=2, n_train=512, n_test=256, seed=0),
                                  lambda: adding(T=4, n_train=512, n_test=256, seed=1)],
                         ids=["first-element", "adding"])
def test_trainer_solves_tiny_regression_tasks(make):
    task = make()
    model, trainer = _fit(task)
    final = trainer.history["test"][-1][1]
    assert task.normalised(final) < 0.1, f"normalised test MSE {task.normalised(final):.3f}"
    assert final == pytest.approx(model.evaluate(task.x_test, task.y_test))
    assert trainer.history["loss"][-1] < trainer.history["loss"][0] / 5


def test_trainer_solves_a_tiny_token_task_with_per_step_softmax():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 5, size=(256, 6))
    model = SequenceModel(8, 16, 5, version="C", vocab_size=5, readout="all", loss="ce", seed=0)
    trainer = Trainer(model, Adam(lr=2e-2), batch_size=32, seed=0, progress=False)
    trainer.fit(tokens, tokens, epochs=8)                         # echo the current token
    accuracy = np.mean(model.predict(tokens).argmax(axis=-1) == tokens)
    assert accuracy > 0.99 and trainer.history["loss"][-1] < 0.1


def test_same_seed_same_bits():
    task = first_element(T=6, D=2, n_train=100, n_test=20, seed=0)
    a, ta = _fit(task, epochs=2, seed=3)
    b, tb = _fit(task, epochs=2, seed=3)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert ta.history["loss"] == tb.history["loss"]
    _, tc = _fit(task, epochs=2, seed=4)
    assert ta.history["loss"] != tc.history["loss"]


def test_history_records_each_parameter_norm_per_batch():
    task = first_element(T=5, D=2, n_train=64, n_test=16, seed=0)
    model = SequenceModel(2, 8, 1, version="D", seed=0)
    first_batch = np.random.default_rng(7).permutation(64)[:16]
    expected = model.loss_and_grads(task.x_train[first_batch], task.y_train[first_batch])[1]
    trainer = Trainer(model, Adam(lr=1e-3), batch_size=16, seed=7, progress=False, eval_every=2)
    h = trainer.fit(task.x_train, task.y_train, epochs=2, x_test=task.x_test, y_test=task.y_test)
    assert len(h["loss"]) == len(h["grad_norm"]) == 8 and trainer.step == 8 and trainer.epoch == 2
    assert set(h["grad_norms"]) == set(model.params)
    for name in ("layer.W1", "layer.W2", "readout.W"):
        assert len(h["grad_norms"][name]) == 8
        assert h["grad_norms"][name][0] == pytest.approx(np.linalg.norm(expected[name]), rel=1e-12)
    assert h["grad_norms"]["layer.W1"] != h["grad_norms"]["layer.W2"]
    total = np.sqrt(sum(np.linalg.norm(g) ** 2 for g in expected.values()))
    assert h["grad_norm"][0] == pytest.approx(total, rel=1e-12)
    assert [s for s, _ in h["test"]] == [2, 4, 6, 8]
    assert len(h["epoch_time"]) == 2 and h["diverged"] is None


def test_clipping_limits_the_update_to_lr_times_clip():
    task = first_element(T=5, D=2, n_train=32, n_test=8, seed=0)
    model = SequenceModel(2, 8, 1, version="A", seed=0, scale=3.0)   # large gradients
    before = {k: v.copy() for k, v in model.params.items()}
    trainer = Trainer(model, SGD(lr=0.1), batch_size=32, clip=0.5, progress=False)
    trainer.fit(task.x_train, task.y_train, epochs=1)
    assert trainer.history["grad_norm"][0] > 0.5
    moved = np.sqrt(sum(np.sum((model.params[k] - before[k]) ** 2) for k in before))
    assert moved == pytest.approx(0.1 * 0.5, rel=1e-9)


def test_divergence_stops_cleanly_with_the_step_and_last_good_parameters():
    task = first_element(T=20, D=2, n_train=200, n_test=20, seed=0)
    model = SequenceModel(2, 8, 1, version="A", seed=0, scale=2.0)
    snapshots = {}
    trainer = Trainer(model, SGD(lr=1e6), batch_size=10, progress=False,
                      callback=lambda step, m: snapshots.__setitem__(step, {k: v.copy() for k, v in m.params.items()}))
    h = trainer.fit(task.x_train, task.y_train, epochs=3, x_test=task.x_test, y_test=task.y_test)
    d = h["diverged"]
    assert d is not None and str(d).startswith(f"diverged at step {d['step']}")
    assert trainer.step == d["step"] - 1 == len(h["loss"])
    assert trainer.step >= 1                                     # at least one good update
    for name, value in model.params.items():
        assert np.all(np.isfinite(value))
        np.testing.assert_array_equal(value, snapshots[trainer.step][name])
    assert trainer.epoch < 3


def test_a_nan_gradient_is_refused_and_named():
    task = first_element(T=4, D=2, n_train=40, n_test=8, seed=0)
    model = SequenceModel(2, 4, 1, version="B", seed=0)
    real = model.loss_and_grads
    calls = []

    def poisoned(*args, **kwargs):
        loss, grads, info = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            grads["layer.W2"][0, 0] = np.inf
        return loss, grads, info

    model.loss_and_grads = poisoned
    trainer = Trainer(model, Adam(lr=1e-2), batch_size=10, progress=False)
    before_third = {}
    trainer.callback = lambda step, m: before_third.update({k: v.copy() for k, v in m.params.items()})
    h = trainer.fit(task.x_train, task.y_train, epochs=2)
    assert h["diverged"]["step"] == 3 and "layer.W2" in h["diverged"]["reason"]
    assert len(h["loss"]) == 2
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before_third[name])
    trainer.fit(task.x_train, task.y_train, epochs=1)             # a diverged run stays stopped
    assert trainer.step == 2


def test_callback_every_and_quiet_progress(capsys):
    task = first_element(T=3, D=2, n_train=50, n_test=8, seed=0)
    model = SequenceModel(2, 4, 1, version="C", seed=0)
    steps = []
    trainer = Trainer(model, Adam(lr=1e-3), batch_size=10, progress=False,
                      callback=lambda step, m: steps.append(step), callback_every=2)
    trainer.fit(task.x_train, task.y_train, epochs=2)
    assert steps == [2, 4, 6, 8, 10]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_batch_larger_than_the_data_set_uses_the_whole_set():
    task = first_element(T=3, D=2, n_train=12, n_test=4, seed=0)
    trainer = Trainer(SequenceModel(2, 4, 1, seed=0), Adam(), batch_size=100, progress=False)
    with pytest.warns(UserWarning, match="larger than the data set"):
        trainer.fit(task.x_train, task.y_train, epochs=2)
    assert trainer.step == 2


def test_bad_settings_name_the_argument():
    model = SequenceModel(2, 4, 1, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(model, Adam(), batch_size=0)
    with pytest.raises(ValueError, match="clip"):
        Trainer(model, Adam(), clip=-1.0)
    trainer = Trainer(model, Adam(), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(np.zeros((4, 3, 2)), np.zeros((4, 1)), epochs=0)
    with pytest.raises(ValueError, match="sequences"):
        trainer.fit(np.zeros((4, 3, 2)), np.zeros((5, 1)))
