"""What is particular to the GRU: the update path and the reset gate, with planted mistakes
(mutation tests), and the gate blocks of its matrices.

The contract every cell shares (finite differences from h0 and from a carried state, fast ==
reference, chunked == whole, float32, S=0 == S=1, K=1, named errors, truncated BPTT) is in
tests/test_cells.py.
"""
import numpy as np
import pytest

import numrnn.nn.gru as gru_module
from numrnn.nn.gradcheck import check_gradients
from numrnn.nn.gru import GRU

from strategies import EPS, TOL, draw_inputs, loss_scale

correct_cell_backward = gru_module._cell_backward


def wrong_cell_backward_no_update_path(dh, h_prev, gates, a_n, du, da):
    """Forgets the direct path dh(t-1) += dh z (wrong)."""
    correct_cell_backward(dh, h_prev, gates, a_n, du, da)
    return np.zeros_like(dh)


def wrong_cell_backward_reset_outside(dh, h_prev, gates, a_n, du, da):
    """Treats the reset gate as if it multiplied h(t-1) before W_k, not the product (wrong)."""
    dh_prev = correct_cell_backward(dh, h_prev, gates, a_n, du, da)
    H = dh.shape[1]
    da[:, 2 * H:] = du[:, 2 * H:]
    return dh_prev


@pytest.mark.parametrize("bug, patch", [
    ("update path dropped", ("_cell_backward", wrong_cell_backward_no_update_path)),
    ("reset gate misplaced", ("_cell_backward", wrong_cell_backward_reset_outside)),
    ("skip path dropped", ("is_skip_step", lambda t, S: False)),
])
def test_a_wrong_backward_fails_the_check(bug, patch, monkeypatch):
    gru = GRU.from_version("D", 2, 3, seed=3)
    x, h0, _, _, G = draw_inputs(3, 2, 7, 2, 3)

    def loss():
        return float(np.sum(G * gru.forward(x, h0=h0)[0]))

    hs, cache = gru.forward(x, h0=h0)
    with monkeypatch.context() as m:
        m.setattr(gru_module, *patch)                # the bug is in the backward only
        dx, grads, dinit = gru.backward(G, cache, return_dinit=True)
    arrays = dict(gru.params, x=x, h0=h0)
    report = check_gradients(loss, arrays, dict(grads, x=dx, h0=dinit["h0"]), eps=EPS,
                             loss_scale=loss_scale(G, hs))
    assert not report.passed(TOL), f"{bug} went unnoticed:\n{report}"
    assert report.max_error > 1e-3


# ------------------------------------------------------------------ the gate blocks
def test_construction_and_config():
    gru = GRU.from_version("D", 5, 3, init="orthogonal", scale=0.9, seed=10, dtype=np.float32)
    assert {k: v.shape for k, v in gru.params.items()} == {
        "W1": (9, 3), "W2": (9, 3), "Wx": (9, 5), "b": (9,)}
    rebuilt = GRU(**gru.config, seed=10)
    for name in gru.params:
        np.testing.assert_array_equal(gru.params[name], rebuilt.params[name])
    for block in np.split(GRU(2, 5, init="orthogonal", seed=1).params["W1"], 3):
        np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-12)
