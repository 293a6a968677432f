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
    """SGD with lr 1e6: update 1 leaves finite weights whose loss is inf, so update 2 is refused and
    the model goes back to the last parameters whose loss was finite (here the initial ones)."""
    task = first_element(T=20, D=2, n_train=200, n_test=20, seed=0)
    model = SequenceModel(2, 8, 1, version="A", seed=0, scale=2.0)
    snapshots = {0: {k: v.copy() for k, v in model.params.items()}}
    trainer = Trainer(model, SGD(lr=1e6), batch_size=10, progress=False,
                      callback=lambda step, m: snapshots.__setitem__(step, {k: v.copy() for k, v in m.params.items()}))
    h = trainer.fit(task.x_train, task.y_train, epochs=3, x_test=task.x_test, y_test=task.y_test)
    d = h["diverged"]
    assert d is not None and str(d).startswith(f"diverged at step {d['step']}")
    assert "loss is inf" in d["reason"] and d["kept"] == d["step"] - 2
    assert trainer.step == d["step"] - 1 == len(h["loss"])
    assert trainer.step >= 1                                     # at least one update was made
    for name, value in model.params.items():
        assert np.all(np.isfinite(value))
        np.testing.assert_array_equal(value, snapshots[d["kept"]][name])
    assert np.isfinite(model.evaluate(task.x_train[:10], task.y_train[:10]))
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
    assert h["diverged"]["kept"] == 2                            # the loss of step 2's parameters was finite
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


# ------------------------------------------------------------ issue 17: divergence never crashes
def _overflowing_backward(cell, readout="last"):
    """A model whose loss is finite but whose gradient on the hidden states overflows to inf.

    Zero layer weights give h = 0 for every cell, so the prediction is the readout bias (100) and
    the loss is finite; the readout weights of +-1e308 make dL/dh = dL/dpred W overflow.
    """
    model = SequenceModel(2, 4, 1, cell=cell, version="B", readout=readout, seed=0)
    for value in model.layer.params.values():
        value[...] = 0.0
    model.readout["W"][...] = 1e308 * np.array([1.0, -1.0, 1.0, -1.0])
    model.readout["b"][...] = 100.0
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_backward_that_overflows_is_a_recorded_divergence(cell, optimizer):
    from numrnn.training.optim import make_optimizer
    task = first_element(T=4, D=2, n_train=40, n_test=8, seed=0)
    model = _overflowing_backward(cell)
    before = {k: v.copy() for k, v in model.params.items()}
    trainer = Trainer(model, make_optimizer(optimizer, lr=1e-3), batch_size=10, progress=False)
    h = trainer.fit(task.x_train, task.y_train, epochs=2, x_test=task.x_test, y_test=task.y_test)
    d = h["diverged"]
    assert d is not None and d["step"] == 1 and d["kept"] == 0 and trainer.step == 0
    assert "dhs" in d["reason"] or "gradient of layer" in d["reason"], d
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_backward_that_overflows_in_a_truncated_window_is_a_recorded_divergence(cell):
    x = np.random.default_rng(0).uniform(-1, 1, (10, 6, 2))
    y = np.random.default_rng(1).uniform(-1, 1, (10, 6, 1))
    model = _overflowing_backward(cell, readout="all")
    trainer = Trainer(model, Adam(), batch_size=10, progress=False, tbptt=3)
    h = trainer.fit(x, y, epochs=1)
    assert h["diverged"]["step"] == 1 and trainer.step == 0


def test_an_update_that_overflows_is_refused_and_the_parameters_kept():
    task = first_element(T=4, D=2, n_train=40, n_test=8, seed=0)
    model = SequenceModel(2, 4, 1, version="A", seed=0)
    model.readout["b"][...] = 100.0                      # dL/db = 200, finite; lr * 200 = inf
    before = {k: v.copy() for k, v in model.params.items()}
    trainer = Trainer(model, SGD(lr=1e308), batch_size=10, progress=False)
    with np.errstate(over="ignore"):
        h = trainer.fit(task.x_train, task.y_train, epochs=1)
    d = h["diverged"]
    assert d["step"] == 1 and "update" in d["reason"] and d["kept"] == 0
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


# ------------------------------------------------------------- issue 17: the data, checked up front
def _model(**kw):
    return SequenceModel(2, 4, 1, version="A", seed=0, **kw)


X, Y = np.zeros((8, 3, 2)), np.zeros((8, 1))


@pytest.mark.parametrize("fit_kwargs,match", [
    (dict(x=np.zeros((0, 3, 2)), y=np.zeros((0, 1))), "x holds no sequences"),
    (dict(x=X, y=None), "y is None"),
    (dict(x=X, y=Y.astype(complex)), "y must be real"),
    (dict(x=X, y=np.zeros((8, 2))), r"y has shape \(8, 2\)"),
    (dict(x=np.full((8, 3, 2), np.nan), y=Y), "x contains NaN or inf"),
    (dict(x=np.zeros((8, 3, 5)), y=Y), r"x must have shape \(N, T, 2\)"),
    (dict(x=np.zeros((8, 3)), y=Y), r"x must have shape \(N, T, 2\)"),
    (dict(x=X.astype(complex), y=Y), "x must be real"),
    (dict(x=X, y=Y, lengths=np.ones(5, dtype=int)), r"lengths has shape \(5,\)"),
    (dict(x=X, y=Y, lengths=np.full(8, 4)), "lengths must lie in 1..3"),
    (dict(x=X, y=Y, x_test=np.zeros((4, 3, 3)), y_test=np.zeros((4, 1))), "x_test must have shape"),
    (dict(x=X, y=Y, x_test=np.zeros((4, 3, 2))), "y_test is None"),
    (dict(x=X, y=Y, x_test=np.zeros((4, 3, 2)), y_test=np.full((4, 1), np.inf)), "y_test contains NaN"),
    (dict(x=X, y=Y, x_test=np.zeros((0, 3, 2)), y_test=np.zeros((0, 1))), "x_test holds no sequences"),
])
def test_fit_checks_the_data_before_training_and_names_it(fit_kwargs, match):
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    trainer = Trainer(model, Adam(), batch_size=4, progress=False)
    with pytest.raises((ValueError, TypeError), match=match):
        trainer.fit(**fit_kwargs)
    assert trainer.step == 0
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("mask,match", [(np.ones((5, 3)), r"mask has shape \(5, 3\)"),
                                        (np.full((8, 3), np.nan), "mask contains NaN"),
                                        (-np.ones((8, 3)), "mask must be >= 0"),
                                        (np.zeros((8, 3)), "mask selects no position")])
def test_a_bad_mask_is_named(mask, match):
    model = SequenceModel(2, 4, 1, version="A", seed=0, readout="all")
    with pytest.raises(ValueError, match=match):
        Trainer(model, Adam(), progress=False).fit(X, np.zeros((8, 3, 1)), mask=mask)


def test_token_labels_are_checked():
    model = SequenceModel(3, 4, 5, vocab_size=7, loss="ce", seed=0)
    trainer = Trainer(model, Adam(), progress=False)
    tokens = np.zeros((4, 3), dtype=int)
    with pytest.raises(ValueError, match="x holds tokens outside 0..6"):
        trainer.fit(tokens + 7, np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="y holds labels outside 0..4"):
        trainer.fit(tokens, np.full(4, 5))
    with pytest.raises(TypeError, match="y must hold integer labels"):
        trainer.fit(tokens, np.zeros(4))


def test_lists_are_accepted_as_arrays():
    task = first_element(T=3, D=2, n_train=20, n_test=4, seed=0)
    a, b = _model(), _model()
    Trainer(a, Adam(), batch_size=5, progress=False).fit(task.x_train, task.y_train)
    Trainer(b, Adam(), batch_size=5, progress=False).fit(task.x_train.tolist(), task.y_train.tolist())
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


@pytest.mark.parametrize("kwargs,match", [
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"), (dict(clip=float("nan")), "clip"),
    (dict(clip=float("inf")), "clip"), (dict(clip="5"), "clip"), (dict(clip=0), "clip"),
    (dict(eval_every=0), "eval_every"), (dict(callback=3), "callback"),
    (dict(max_updates=0), "max_updates"), (dict(reset_every=0), "reset_every"),
    (dict(on_epoch_end=3), "on_epoch_end"), (dict(tbptt=(5, 2)), "k2"),
    (dict(optimizer="adam"), "optimizer"), (dict(model="rnn"), "model"),
])
def test_every_trainer_argument_is_checked_and_named(kwargs, match):
    args = dict(model=_model(), optimizer=Adam())
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        Trainer(**args)


def test_a_negative_model_seed_is_named():
    with pytest.raises(ValueError, match="seed"):
        SequenceModel(2, 4, 1, seed=-3)


# --------------------------------------------------- one loop: the char-LM and SST options
def test_max_updates_and_reset_every_with_truncated_bptt():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (4, 25, 2)), rng.uniform(-1, 1, (4, 25, 1))
    model = SequenceModel(2, 4, 1, version="C", readout="all", seed=0)
    trainer = Trainer(model, Adam(), batch_size=4, progress=False, tbptt=(4, 6), reset_every=10,
                      shuffle=False)
    trainer.fit(x, y, epochs=2)
    assert trainer.step == 2 * (3 + 3 + 2)          # segments of 10, 10, 5 steps, an update every 4
    stopped = Trainer(SequenceModel(2, 4, 1, version="C", readout="all", seed=0), Adam(), batch_size=4,
                      progress=False, tbptt=4, max_updates=5, shuffle=False)
    stopped.fit(x, y, epochs=3)
    assert stopped.step == 5 and stopped.epoch == 1


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    from numrnn.training.trainer import EarlyStopping
    task = first_element(T=3, D=2, n_train=40, n_test=8, seed=0)
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.9])
    stopper = EarlyStopping(lambda model: next(scores), patience=2)
    snapshots = {}
    model = _model()
    trainer = Trainer(model, Adam(lr=1e-2), batch_size=10, progress=False, on_epoch_end=stopper,
                      callback=lambda step, m: snapshots.__setitem__(step, {k: v.copy() for k, v in m.params.items()}))
    trainer.fit(task.x_train, task.y_train, epochs=10)
    assert trainer.epoch == 4 and stopper.scores == [0.1, 0.5, 0.4, 0.3] and stopper.best_epoch == 2
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, snapshots[8][name])       # after epoch 2 (4 steps each)


def test_the_trainer_is_the_only_loop_that_updates_parameters():
    """charlm and SST train through Trainer's options; no other module calls optimizer.step."""
    import pathlib
    import re
    import numrnn
    root = pathlib.Path(numrnn.__file__).parent
    updating = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                      if re.search(r"\.step\([^)]*params", p.read_text(encoding="utf-8")))
    assert updating == ["training/trainer.py"], updating


def test_the_test_set_is_evaluated_with_its_own_lengths_and_checked_by_name():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (16, 5, 2)), rng.standard_normal((16, 1))
    lengths = rng.integers(1, 6, size=16)
    model = _model()
    trainer = Trainer(model, Adam(), batch_size=8, progress=False)
    h = trainer.fit(x, y, lengths=lengths, x_test=x[:6], y_test=y[:6], test_lengths=lengths[:6])
    assert h["test"][-1][1] == pytest.approx(model.evaluate(x[:6], y[:6], lengths=lengths[:6]))
    assert h["test"][-1][1] != pytest.approx(model.evaluate(x[:6], y[:6]))
    with pytest.raises(ValueError, match="test_lengths must lie in 1..5"):
        trainer.fit(x, y, x_test=x[:6], y_test=y[:6], test_lengths=np.full(6, 9))


def test_a_first_step_with_a_non_finite_loss_does_not_claim_finite_parameters():
    task = first_element(T=4, D=2, n_train=20, n_test=4, seed=0)
    model = _model()
    model.readout["W"][...] = np.nan
    h = Trainer(model, Adam(), batch_size=10, progress=False).fit(task.x_train, task.y_train)
    d = h["diverged"]
    assert (d["step"], d["kept"], d["kept_finite"]) == (1, 0, False)
    assert "whose loss is not finite either" in d.describe()
