"""Truncated BPTT inside the Trainer: shorter windows make more, truncated updates; bad settings are
refused by name. (A window as long as the batch is plain BPTT for every cell: the cell contract,
tests/test_cells.py.)"""
import numpy as np
import pytest

from numrnn.training.model import SequenceModel
from numrnn.training.optim import SGD
from numrnn.training.trainer import Trainer


def _stream(seed=0, N=8, T=12, D=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    return x, np.cumsum(x[..., :1], axis=1) / 4      # a target at every step


def _model(cell="rnn"):
    return SequenceModel(3, 5, 1, cell=cell, version="D", readout="all", loss="mse", seed=1)


def test_shorter_windows_make_one_update_per_window_and_differ_from_full_bptt():
    x, y = _stream()
    model = _model()
    trainer = Trainer(model, SGD(0.05), batch_size=4, seed=0, progress=False, tbptt=(4, 6))
    trainer.fit(x, y, epochs=1)
    assert trainer.step == 2 * 3                       # 2 batches x 3 windows of k1 = 4 steps
    assert len(trainer.history["loss"]) == 6
    full = _model()
    Trainer(full, SGD(0.05), batch_size=4, seed=0, progress=False).fit(x, y, epochs=1)
    assert not np.allclose(model.params["layer.W1"], full.params["layer.W1"])


@pytest.mark.parametrize("tbptt,word", [(0, r"^k1 \(window\) must be >= 1, got 0"),
                                        ((5, 3), "^k2 must be >= k1"),
                                        (2.5, r"^k1 \(window\) must be an integer"),
                                        ((1, 2, 3), r"^tbptt must be k or a pair \(k1, k2\), got 3 values")])
def test_bad_tbptt_settings(tbptt, word):
    with pytest.raises((ValueError, TypeError), match=word):
        Trainer(_model(), SGD(0.1), tbptt=tbptt)


def test_tbptt_needs_a_loss_at_every_step():
    model = SequenceModel(3, 5, 1, version="A", readout="last", seed=0)
    with pytest.raises(ValueError, match="readout='all'"):
        Trainer(model, SGD(0.1), tbptt=4)
