"""SequenceModel: whole-model gradient checks, padding, masks, carried state, config, bad input."""
import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numrnn.nn.gradcheck import check_gradients
from numrnn.training.model import SequenceModel, make_layer
from numrnn.nn.rnn import RNN


def _data(model, rng, B, T, D, tokens=False):
    if tokens:
        x = rng.integers(0, model.vocab_size, size=(B, T))
    else:
        x = rng.uniform(-1, 1, size=(B, T, D))
    shape = (B, T) if model.readout_mode == "all" else (B,)
    if model.loss_name == "ce":
        y = rng.integers(0, model.output_size, size=shape)
    else:
        y = rng.standard_normal(shape + (model.output_size,))
    return x, y


@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), version=st.sampled_from(["A", "B", "C", "D", "special"]),
       readout=st.sampled_from(["last", "all"]), loss=st.sampled_from(["mse", "ce"]),
       tokens=st.booleans(), dropout=st.sampled_from([0.0, 0.3]), padded=st.booleans(),
       B=st.integers(1, 3), T=st.integers(1, 7), seed=st.integers(0, 2**16))
@settings(max_examples=25)
def test_whole_model_gradients_match_finite_differences(cell, version, readout, loss, tokens,
                                                        dropout, padded, B, T, seed):
    rng = np.random.default_rng(seed)
    D, H, O = 3, 4, 2
    model = SequenceModel(D, H, O, cell=cell, version=version, readout=readout, loss=loss,
                          vocab_size=5 if tokens else None, dropout=dropout, seed=seed)
    x, y = _data(model, rng, B, T, D, tokens)
    lengths = mask = None
    if padded and readout == "last":
        lengths = rng.integers(1, T + 1, size=B)
    if padded and readout == "all":
        mask = (rng.random((B, T)) < 0.7).astype(float)
        mask[0, 0] = 1.0

    def loss_fn():
        model.dropout_rng = np.random.default_rng(seed)   # the same dropout masks every call
        pred, _ = model.forward(x, lengths=lengths)
        return model.loss(pred, y, mask)[0]

    model.dropout_rng = np.random.default_rng(seed)
    _, cache = model.forward(x, lengths=lengths)
    if cell == "rnn":
        assume(np.min(np.abs(cache["layer"].a)) > 1e-3)   # away from the ReLU kink
    model.dropout_rng = np.random.default_rng(seed)
    _, grads, _ = model.loss_and_grads(x, y, lengths=lengths, mask=mask)
    report = check_gradients(loss_fn, model.params, grads, eps=1e-5)
    assert report.passed(1e-7), str(report)


def test_padded_batch_gives_the_same_loss_and_gradients_as_unpadded():
    rng = np.random.default_rng(0)
    model = SequenceModel(2, 5, 3, version="D", loss="ce", seed=1)
    short, long_ = rng.uniform(-1, 1, (1, 3, 2)), rng.uniform(-1, 1, (1, 6, 2))
    y = np.array([2, 0])
    padded = np.zeros((2, 6, 2))
    padded[0, :3], padded[1] = short[0], long_[0]
    loss_pad, g_pad, _ = model.loss_and_grads(padded, y, lengths=np.array([3, 6]))
    # Unpadded: each sequence alone; the batch mean is the mean of the two.
    l0, g0, _ = model.loss_and_grads(short, y[:1])
    l1, g1, _ = model.loss_and_grads(long_, y[1:])
    assert loss_pad == pytest.approx((l0 + l1) / 2, rel=1e-12)
    for name in g_pad:
        np.testing.assert_allclose(g_pad[name], (g0[name] + g1[name]) / 2, rtol=1e-10, atol=1e-14)


def test_all_ones_mask_equals_no_mask():
    rng = np.random.default_rng(1)
    for loss in ("mse", "ce"):
        model = SequenceModel(3, 4, 2, version="C", readout="all", loss=loss, seed=2)
        x, y = _data(model, rng, 2, 5, 3)
        a, ga, _ = model.loss_and_grads(x, y)
        b, gb, _ = model.loss_and_grads(x, y, mask=np.ones((2, 5)))
        assert a == pytest.approx(b, rel=1e-12)
        for name in ga:
            np.testing.assert_allclose(ga[name], gb[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("version", ["A", "D", "special"])
def test_carried_state_makes_chunks_equal_the_whole_sequence(version, cell):
    rng = np.random.default_rng(2)
    model = SequenceModel(3, 4, 2, cell=cell, version=version, readout="all", loss="ce", seed=3)
    x, y = _data(model, rng, 2, 11, 3)
    whole = model.predict(x)
    state, parts = None, []
    for start in range(0, 11, 3):                 # chunks of 3, 3, 3, 2: shorter than S=4 too
        sl = slice(start, start + 3)
        _, _, info = model.loss_and_grads(x[:, sl], y[:, sl], state=state, train=False)
        parts.append(info["pred"])
        state = info["state"]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_params_are_the_arrays_the_model_computes_with():
    model = SequenceModel(2, 3, 1, version="B", seed=0)
    x = np.ones((1, 4, 2))
    before = model.predict(x).copy()
    model.params["readout.b"] += 1.0              # an in-place update, as an optimiser does
    np.testing.assert_allclose(model.predict(x), before + 1.0)
    assert model.params["layer.W2"] is model.layer.params["W2"]
    assert sorted(model.params) == ["layer.W1", "layer.W2", "layer.Wx", "layer.b", "readout.W", "readout.b"]


def test_grads_are_fresh_each_call_and_match_params():
    rng = np.random.default_rng(3)
    model = SequenceModel(2, 3, 1, version="D", vocab_size=4, seed=0)
    x, y = _data(model, rng, 2, 5, 2, tokens=True)
    _, g1, _ = model.loss_and_grads(x, y)
    _, g2, _ = model.loss_and_grads(x, y)
    assert set(g1) == set(model.params)
    for name in g1:
        assert g1[name] is not g2[name]
        np.testing.assert_array_equal(g1[name], g2[name])
        assert g1[name].shape == model.params[name].shape


def test_same_seed_same_bits_and_config_rebuilds():
    a = SequenceModel(3, 4, 2, version="special", readout="all", loss="ce", vocab_size=7,
                      dropout=0.2, seed=5, init="identity", scale=0.5)
    b = SequenceModel.from_config(json.loads(json.dumps(a.config)), seed=5)
    assert a.config == b.config
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    x = np.random.default_rng(0).integers(0, 7, (2, 6))
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    assert a.n_params() == sum(v.size for v in a.params.values())


def test_dropout_only_in_training_and_seeded():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 5, 3))
    a = SequenceModel(3, 6, 1, version="A", dropout=0.5, seed=1)
    b = SequenceModel(3, 6, 1, version="A", dropout=0.5, seed=1)
    np.testing.assert_array_equal(a.predict(x), a.predict(x))
    train_a, _ = a.forward(x, train=True)
    train_b, _ = b.forward(x, train=True)
    np.testing.assert_array_equal(train_a, train_b)
    assert not np.allclose(train_a, a.predict(x))


def test_float32_model_stays_float32():
    model = SequenceModel(2, 3, 1, version="D", seed=0, dtype=np.float32)
    x = np.zeros((2, 4, 2), dtype=np.float32)
    loss, grads, info = model.loss_and_grads(x, np.zeros((2, 1)))
    assert info["pred"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_make_layer_by_version_and_by_numbers():
    layer = make_layer("rnn", "D", input_size=2, hidden_size=3, seed=0)
    assert isinstance(layer, RNN) and (layer.n_matrices, layer.skip) == (2, 2)
    layer = make_layer(input_size=2, hidden_size=3, n_matrices=3, skip=5, activation="tanh")
    assert (layer.n_matrices, layer.skip, layer.activation) == (3, 5, "tanh")
    lstm = make_layer("lstm", "special", input_size=2, hidden_size=3, seed=0)
    assert type(lstm).__name__ == "LSTM" and (lstm.n_matrices, lstm.skip) == (4, 4)
    assert lstm.params["W1"].shape == (12, 3)
    with pytest.raises(ValueError, match="either version or n_matrices"):
        make_layer("rnn", "A", input_size=2, hidden_size=3, skip=2)
    gru = make_layer("gru", "D", input_size=2, hidden_size=3, seed=0)
    assert type(gru).__name__ == "GRU" and (gru.n_matrices, gru.skip) == (2, 2)
    with pytest.raises(ValueError, match="cell"):
        make_layer("elman", input_size=2, hidden_size=3)
    with pytest.raises(ValueError, match="version"):
        make_layer("rnn", "E", input_size=2, hidden_size=3)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="readout"):
        SequenceModel(2, 3, 1, readout="first")
    with pytest.raises(ValueError, match="loss"):
        SequenceModel(2, 3, 1, loss="l1")
    with pytest.raises(ValueError, match="dropout"):
        SequenceModel(2, 3, 1, dropout=1.0)
    with pytest.raises(ValueError, match="output_size"):
        SequenceModel(2, 3, 0)
    model = SequenceModel(2, 3, 1, version="A", seed=0)
    x = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match="y"):
        model.loss_and_grads(x, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x"):
        model.loss_and_grads(np.zeros((2, 4, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="mask"):
        model.loss_and_grads(x, np.zeros((2, 1)), mask=np.ones((2, 4)))
    with pytest.raises(ValueError, match="lengths"):
        model.loss_and_grads(x, np.zeros((2, 1)), lengths=np.array([0, 4]))
    with pytest.raises(ValueError, match="parameter names"):
        model.set_params({"readout.W": np.zeros((1, 3))})
    bad = {k: np.zeros((9,)) for k in model.params}
    with pytest.raises(ValueError, match="shape"):
        model.set_params(bad)
    tok = SequenceModel(2, 3, 4, loss="ce", vocab_size=5, seed=0)
    with pytest.raises(ValueError, match="tokens"):
        tok.loss_and_grads(np.array([[0, 5]]), np.array([1]))
    with pytest.raises(ValueError, match="labels"):
        tok.loss_and_grads(np.array([[0, 4]]), np.array([4]))


def test_zero_readout_starts_at_the_baseline_and_only_the_readout_moves_first():
    rng = np.random.default_rng(4)
    model = SequenceModel(3, 5, 1, version="D", readout_init="zeros", seed=0)
    x, y = rng.uniform(-1, 1, (4, 6, 3)), rng.standard_normal((4, 1))
    loss, grads, _ = model.loss_and_grads(x, y)
    assert loss == pytest.approx(np.mean(y ** 2))                 # prediction b = 0
    assert np.all(grads["layer.W1"] == 0) and np.any(grads["readout.W"] != 0)
    assert model.config["readout_init"] == "zeros"
    with pytest.raises(ValueError, match="readout_init"):
        SequenceModel(3, 5, 1, readout_init="ones")


# ------------------------------------------------------------- your own layer (issue 12)
def _scratch_twin(version="D", seed=0, outputs=2):
    """A SequenceModel on numrnn's RNN and one on tests/scratch_cell.py with the same numbers."""
    from scratch_cell import ScratchCell
    from numrnn.nn.schedule import version as version_of
    K, S = version_of(version)
    ours = SequenceModel(3, 5, outputs, version=version, seed=seed, scale=0.5)
    cell = ScratchCell(3, 5, n_matrices=K, skip=S, seed=seed)
    theirs = SequenceModel(output_size=outputs, layer=cell, seed=seed)
    theirs.set_params({k: v for k, v in ours.params.items()})
    return ours, theirs


@pytest.mark.parametrize("version", ["A", "B", "C", "D"])
def test_a_from_scratch_cell_plugs_in_and_equals_numrnns_rnn(version):
    ours, theirs = _scratch_twin(version)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-1, 1, (4, 7, 3)), rng.standard_normal((4, 2))
    loss_a, grads_a, _ = ours.loss_and_grads(x, y)
    loss_b, grads_b, info = theirs.loss_and_grads(x, y)
    assert loss_b == pytest.approx(loss_a, rel=1e-12) and info["state"] is None
    for name, g in grads_a.items():
        np.testing.assert_allclose(grads_b[name], g, rtol=1e-10, atol=1e-13, err_msg=name)


def test_a_from_scratch_cell_trains_with_the_trainer_and_passes_the_model_gradcheck():
    from numrnn.data.tasks import first_element
    from numrnn.training.optim import Adam
    from numrnn.training.trainer import Trainer
    ours, theirs = _scratch_twin("D", outputs=1)
    task = first_element(T=4, D=3, n_train=64, n_test=16, seed=0)
    histories = []
    for model in (ours, theirs):
        trainer = Trainer(model, Adam(lr=1e-2), batch_size=16, seed=0, progress=False)
        histories.append(trainer.fit(task.x_train, task.y_train, epochs=3, x_test=task.x_test,
                                     y_test=task.y_test))
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-9)
    assert histories[1]["loss"][-1] < histories[1]["loss"][0]
    x, y = task.x_test[:3], task.y_test[:3]
    _, grads, _ = theirs.loss_and_grads(x, y)
    report = check_gradients(lambda: theirs.loss(theirs.forward(x)[0], y)[0], theirs.params, grads)
    assert report.passed(1e-7), str(report)


def test_what_a_minimal_cell_lacks_is_named():
    from scratch_cell import ScratchCell
    from numrnn.training.optim import Adam
    from numrnn.training.trainer import Trainer
    model = SequenceModel(output_size=1, layer=ScratchCell(2, 3, seed=0), readout="all")
    with pytest.raises(TypeError, match=r"tbptt.*ScratchCell lacks forward\(x, h0=None, state=None\)"):
        Trainer(model, Adam(), tbptt=4)
    with pytest.raises(TypeError, match=r"your own layer scratch_cell\.ScratchCell can be saved only if the "
                                        r"layer has a `config` property"):
        model.config
    with pytest.raises(TypeError, match=r"layer protocol; Half lacks forward\(x, h0=None\), backward\(dhs, cache\) "):
        SequenceModel(output_size=1, layer=type("Half", (), {"params": {}, "input_size": 2,
                                                           "hidden_size": 3, "dtype": np.float64,
                                                           "forward": lambda self, x: None})())
    with pytest.raises(TypeError, match="version"):
        SequenceModel(output_size=1, layer=ScratchCell(2, 3), version="D")
    with pytest.raises(ValueError, match="hidden_size=4 differs"):
        SequenceModel(2, 4, 1, layer=ScratchCell(2, 3))


def test_layer_options_come_from_the_cell_class():
    from numrnn.training.model import layer_options
    assert set(layer_options("rnn")) == {"activation", "init", "scale", "skip_scale", "learn_skip_scale"}
    assert "forget_bias" in layer_options("lstm") and "activation" not in layer_options("lstm")
    with pytest.raises(TypeError, match="'activation' is not an option of the lstm cell"):
        make_layer("lstm", "A", input_size=2, hidden_size=3, activation="tanh")


def test_evaluate_checks_its_data_and_skips_batches_without_positions():
    model = SequenceModel(2, 3, 1, seed=0, readout="all")
    x, y = np.zeros((4, 3, 2)), np.zeros((4, 3, 1))
    with pytest.raises(ValueError, match="x holds no sequences"):
        model.evaluate(x[:0], y[:0])
    with pytest.raises(ValueError, match="mask must be >= 0"):
        model.evaluate(x, y, mask=-np.ones((4, 3)))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.evaluate(x, y, batch_size=0)
    mask = np.zeros((4, 3))
    mask[3] = 1                                          # the first batch of 2 has no position
    y = np.random.default_rng(0).standard_normal((4, 3, 1))
    assert model.evaluate(x, y, mask=mask, batch_size=2) == pytest.approx(
        model.evaluate(x[3:], y[3:]), rel=1e-12)
    with pytest.raises(ValueError, match="mask must hold finite weights"):
        model.loss_and_grads(x, y, mask=np.full((4, 3), np.nan))


def test_targets_that_are_not_numbers_are_named():
    model = SequenceModel(2, 3, 1, seed=0)
    with pytest.raises(TypeError, match="y must be real numbers"):
        model.loss_and_grads(np.zeros((4, 3, 2)), np.array([["a"]] * 4))


# ------------------------------------------------------ mean pooling and the bidirectional read
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), version=st.sampled_from(["A", "B", "C", "D", "special"]),
       readout=st.sampled_from(["last", "mean"]), bidirectional=st.booleans(),
       loss=st.sampled_from(["mse", "ce"]), tokens=st.booleans(), dropout=st.sampled_from([0.0, 0.3]),
       padded=st.booleans(), B=st.integers(1, 3), T=st.integers(1, 7), seed=st.integers(0, 2**16))
@settings(max_examples=30)
def test_pooled_and_bidirectional_models_match_finite_differences(cell, version, readout, bidirectional,
                                                                  loss, tokens, dropout, padded, B, T, seed):
    rng = np.random.default_rng(seed)
    D, H, O = 3, 4, 2
    model = SequenceModel(D, H, O, cell=cell, version=version, readout=readout, loss=loss,
                          vocab_size=5 if tokens else None, dropout=dropout, seed=seed,
                          bidirectional=bidirectional)
    x, y = _data(model, rng, B, T, D, tokens)
    lengths = rng.integers(1, T + 1, size=B) if padded else None

    def loss_fn():
        model.dropout_rng = np.random.default_rng(seed)   # the same dropout masks every call
        return model.loss(model.forward(x, lengths=lengths)[0], y)[0]

    model.dropout_rng = np.random.default_rng(seed)
    _, cache = model.forward(x, lengths=lengths)
    if cell == "rnn":                                     # away from the ReLU kink, both layers
        for key in ("layer", "layer_rev") if bidirectional else ("layer",):
            assume(np.min(np.abs(cache[key].a)) > 1e-3)
    model.dropout_rng = np.random.default_rng(seed)
    loss, grads, info = model.loss_and_grads(x, y, lengths=lengths)
    assert set(grads) == set(model.params)
    assert any(k.startswith("layer_rev.") for k in grads) == bidirectional
    # the loss adds up the predictions' magnitudes: that sets the round-off floor of a difference
    # quotient (an LSTM gradient of 1e-5 is otherwise judged on its last digits)
    report = check_gradients(loss_fn, model.params, grads, eps=1e-5,
                             loss_scale=abs(loss) + float(np.abs(info["pred"]).sum()))
    assert report.passed(1e-7), str(report)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("readout, bidirectional", [("last", True), ("mean", False), ("mean", True)])
def test_padding_changes_nothing_with_mean_pooling_or_the_bidirectional_read(cell, readout, bidirectional):
    """A right-padded batch = each sequence alone, for loss and every gradient (padding is exact)."""
    rng = np.random.default_rng(3)
    model = SequenceModel(2, 5, 3, cell=cell, version="D", readout=readout, loss="ce", vocab_size=9,
                          bidirectional=bidirectional, seed=1)
    sequences = [rng.integers(1, 9, size=n) for n in (3, 6, 1, 4)]
    y = np.array([2, 0, 1, 2])
    padded = np.zeros((4, 6), dtype=np.int64)             # token 0 at the padding: a real embedding row
    for i, s in enumerate(sequences):
        padded[i, :len(s)] = s
    loss_pad, g_pad, _ = model.loss_and_grads(padded, y, lengths=np.array([3, 6, 1, 4]))
    singles = [model.loss_and_grads(s[None], y[i:i + 1]) for i, s in enumerate(sequences)]
    assert loss_pad == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-12)
    for name in g_pad:
        np.testing.assert_allclose(g_pad[name], np.mean([s[1][name] for s in singles], axis=0),
                                   rtol=1e-10, atol=1e-14, err_msg=name)
    assert np.all(g_pad["embed.E"][0] == 0)               # the padding token got no gradient


def test_mean_pool_and_reverse_padded_by_hand():
    from numrnn.nn import layers
    hs = np.arange(2 * 4 * 1, dtype=float).reshape(2, 4, 1)   # h_b(t) = 4b + t
    lengths = np.array([2, 4])
    r, cache = layers.mean_pool_forward(hs, lengths)
    np.testing.assert_array_equal(r[:, 0], [0.5, 5.5])        # mean(0, 1), mean(4, 5, 6, 7)
    np.testing.assert_array_equal(layers.mean_pool_backward(np.array([[2.0], [4.0]]), cache)[..., 0],
                                  [[1, 1, 0, 0], [1, 1, 1, 1]])
    rev = layers.reverse_padded(hs, lengths)
    np.testing.assert_array_equal(rev[..., 0], [[1, 0, 2, 3], [7, 6, 5, 4]])   # padding stays put
    np.testing.assert_array_equal(layers.reverse_padded(rev, lengths), hs)      # its own inverse
    with pytest.raises(ValueError, match="lengths must lie in 1..4"):
        layers.mean_pool_forward(hs, np.array([0, 4]))


def test_the_reverse_layer_reads_the_sentence_backwards():
    rng = np.random.default_rng(4)
    model = SequenceModel(3, 4, 2, cell="lstm", version="C", loss="ce", bidirectional=True, seed=5)
    x = rng.standard_normal((2, 5, 3))
    lengths = np.array([3, 5])
    _, cache = model.forward(x, lengths=lengths, train=False)
    r = cache["readout"][0]                                    # the readout's input, (B, 2H)
    for b, n in enumerate(lengths):
        forward, _ = model.layer.forward(x[b:b + 1, :n])
        backward, _ = model.layer_reverse.forward(x[b:b + 1, :n][:, ::-1])
        np.testing.assert_allclose(r[b], np.concatenate([forward[0, -1], backward[0, -1]]), rtol=1e-12)
    assert model.readout["W"].shape == (2, 8)


def test_mean_and_bidirectional_round_trip_through_config_and_checkpoint(tmp_path):
    from numrnn.training.checkpoint import load_checkpoint, save_checkpoint
    model = SequenceModel(3, 4, 5, cell="gru", version="B", readout="mean", loss="ce", vocab_size=7,
                          bidirectional=True, seed=0)
    assert model.config["readout"] == "mean" and model.config["bidirectional"] is True
    assert "bidirectional" not in SequenceModel(3, 4, 5, seed=0).config    # one-way configs unchanged
    save_checkpoint(tmp_path / "m", model)
    loaded = load_checkpoint(tmp_path / "m").model
    x = np.array([[1, 2, 3, 0], [4, 5, 6, 6]])
    np.testing.assert_array_equal(loaded.predict(x, np.array([3, 4])), model.predict(x, np.array([3, 4])))


def test_bidirectional_refusals_name_the_reason():
    with pytest.raises(ValueError, match='bidirectional needs readout="last" or "mean"'):
        SequenceModel(3, 4, 2, readout="all", bidirectional=True)
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        SequenceModel(3, 4, 2, bidirectional="yes")
    with pytest.raises(TypeError, match="cannot copy your own layer"):
        SequenceModel(output_size=2, layer=RNN(3, 4, seed=0), bidirectional=True)
    model = SequenceModel(3, 4, 2, version="D", bidirectional=True, seed=0)
    x = np.zeros((1, 3, 3))
    state = SequenceModel(3, 4, 2, version="D", readout="all", seed=0).loss_and_grads(
        x, np.zeros((1, 3, 2)))[2]["state"]
    with pytest.raises(ValueError, match="cannot carry a state"):
        model.forward(x, state=state)
    with pytest.raises(ValueError, match='use lengths with readout="mean"'):
        SequenceModel(3, 4, 2, readout="mean").loss_and_grads(x, np.zeros((1, 2)), mask=np.ones((1, 3)))
