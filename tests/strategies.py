"""Hypothesis strategies shared by the tests: one vocabulary.

``settings_cases`` draws one case by the letters of the equations (K, S, T, B, D, H, init, seed);
``draw_inputs`` makes its seeded arrays. ``schedules`` (K and S under the constructor's keyword
names), ``seeds`` and ``random_inputs`` are the same draws under the names some tests pass on.
"""
import numpy as np
from hypothesis import strategies as st

# ------------------------------------------------------------ the cell-contract vocabulary
#: Relative error bound of every finite-difference check of a cell.
TOL = 1e-7
# Finite-difference step of the gated cells: truncation error grows as EPS^2, round-off as 1e-16 / EPS;
# 1e-5 balances them (worst relative error 2e-8 over 1000 random LSTM settings, against 1.7e-7 with
# 1e-6). An array whose whole gradient has nearly vanished (dL/dh0 ~ 5e-5 with H = B = 1 and small
# weights) is judged against the round-off floor of numrnn.nn.gradcheck instead, via `loss_scale`.
EPS = 1e-5
# The ReLU RNN is piecewise linear, so a smaller step costs no truncation error and keeps a
# perturbation from crossing the kink: 1e-6 with pre-activations at least KINK_MARGIN from 0.
EPS_RELU = 1e-6
KINK_MARGIN = 1e-3
# |a| above this and tanh'(a) < 1.4e-3: the gradient sinks towards the rounding noise of a
# difference quotient (~1e-16 |L| / 1e-6), so the check would measure noise.
SATURATION = 4.0

#: Keyword strategies of one drawn case: K, S (S > T included), T, B, D, H, init, seed.
settings_cases = dict(K=st.integers(1, 4), S=st.integers(0, 5), T=st.integers(1, 10),
                      B=st.integers(1, 3), D=st.integers(1, 4), H=st.integers(1, 4),
                      init=st.sampled_from(["normal", "orthogonal", "identity"]),
                      seed=st.integers(0, 2**16))


def draw_inputs(seed, B, T, D, H, P=1):
    """Seeded float64 x (B, T, D), h0 (B, H), c0 (B, H), a history (P, B, H) and G = dL/dhs (B, T, H)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
            rng.standard_normal((P, B, H)), rng.standard_normal((B, T, H)))


def loss_scale(G, hs):
    """Sum of the magnitudes of the terms of L = sum G * hs: sets gradcheck's round-off floor."""
    return float(np.sum(np.abs(G * hs)))


#: K and S of ``settings_cases`` under the layer constructor's names, for ``Layer(D, H, **schedule)``.
schedules = st.fixed_dictionaries({"n_matrices": settings_cases["K"], "skip": settings_cases["S"]})

#: Any 32-bit seed (``settings_cases`` draws from a smaller range to keep examples readable).
seeds = st.integers(0, 2**32 - 1)


def random_inputs(seed, B, T, D, H):
    """x (B, T, D) and h0 (B, H): the first two arrays of :func:`draw_inputs`."""
    return draw_inputs(seed, B, T, D, H)[:2]
