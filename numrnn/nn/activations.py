r"""Activations and their derivatives, written from the pre-activation a; and the gates' host path.

    relu(a) = max(a, 0),    relu'(a) = [a > 0]
    tanh(a),                tanh'(a) = 1 - tanh(a)^2

The gated cells (LSTM, GRU) compute their sigmoids and tanh's in one of two algebraically equal
forms, chosen once per process for the host (:data:`GATE_PATH`, see :func:`choose_gate_path`):

.. math::

    \text{"tanh"}:\quad \sigma(z) = \tfrac12\,(1 + \tanh(z/2)), \qquad \tanh(z) \text{ as it is} \\
    \text{"exp"}:\quad \sigma(z) = \frac{1}{1 + e^{-z}}, \qquad \tanh(z) = \frac{2}{1 + e^{-2z}} - 1
"""
import os

import numpy as np


def relu(a, out=None):
    return np.maximum(a, 0, out=out)


def relu_grad(a, out=None):
    """[a > 0] as 1.0 / 0.0 in a's dtype, into ``out`` if given (e.g. a whole chunk of steps)."""
    return np.greater(a, 0, out=np.empty_like(a) if out is None else out)


def tanh(a, out=None):
    return np.tanh(a, out=out)


def tanh_grad(a, out=None):
    """1 - tanh(a)^2, into ``out`` if given."""
    y = np.tanh(a, out=out)
    np.multiply(y, y, out=y)
    return np.subtract(1, y, out=y)


def sigmoid(a):
    """Numerically stable logistic function: never evaluates exp of a large positive number."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


#: name -> (function, derivative from the pre-activation); both take ``out=``
ACTIVATIONS = {"relu": (relu, relu_grad), "tanh": (tanh, tanh_grad)}


# ----------------------------------------------------------------------- the gates' host path
#: The environment variable that overrides the host's choice of :data:`GATE_PATH`.
GATE_PATH_ENV = "NUMRNN_SIGMOID"
GATE_PATHS = ("tanh", "exp")


def choose_gate_path(cpu_features=None, environ=None):
    """("tanh" or "exp", why): how the gated cells compute sigmoid and tanh on this host.

    Parameters
    ----------
    cpu_features : dict, optional
        numpy's CPU-feature table (``numpy._core._multiarray_umath.__cpu_features__``, by default
        this process's): a feature is True when the CPU has it and numpy may dispatch to it.
    environ : mapping, optional
        ``$NUMRNN_SIGMOID`` ("tanh" or "exp") overrides the table (default: ``os.environ``).

    Performance: numpy vectorises tanh only with AVX-512 (its AVX512_SKX loops); elsewhere tanh is
    the C library's scalar one, 1.5-3x slower than numpy's exp (float64 on an AMD EPYC with AVX2:
    tanh 0.07 Gelem/s, exp 0.20; float32: 0.38 and 0.69). With AVX-512 tanh is as fast as exp or
    faster, and the "tanh" form needs fewer passes. The choice is made from the table, not from a
    timing, so that it is the same in every run on one host: the two forms agree to a few ulp, not
    to the bit, and "same seed, same bits on one host" must hold on a loaded machine too.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(GATE_PATH_ENV, "").strip()
    if chosen:
        if chosen not in GATE_PATHS:
            raise ValueError(f"{GATE_PATH_ENV} must be one of {', '.join(GATE_PATHS)}, got {chosen!r}")
        return chosen, f"${GATE_PATH_ENV}={chosen}"
    if cpu_features is None:
        cpu_features = _numpy_cpu_features()
    if cpu_features.get("AVX512_SKX"):
        return "tanh", "numpy dispatches AVX512_SKX loops (vectorised tanh)"
    return "exp", "numpy has no AVX512_SKX loops here (tanh is scalar, exp faster)"


def _numpy_cpu_features():
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:                               # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return __cpu_features__


#: "tanh" or "exp", chosen once per process when numrnn is imported (:func:`choose_gate_path`).
GATE_PATH, GATE_PATH_REASON = choose_gate_path()


def sigmoid_(z, path=None):
    """sigmoid(z) in place in the host's form (``path``, default :data:`GATE_PATH`); returns z.

    For arrays whose sign cannot be folded into the weights (the GRU's u + a); the LSTM folds it.
    """
    if (path or GATE_PATH) == "tanh":
        z *= 0.5
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5
        return z
    np.negative(z, out=z)
    return reciprocal_one_plus_exp_(z)


def tanh_into(a, out, path=None):
    """tanh(a) into ``out`` (may be ``a``) in the host's form (``path``, default :data:`GATE_PATH`)."""
    if (path or GATE_PATH) == "tanh":
        return np.tanh(a, out=out)
    np.multiply(a, -2, out=out)                       # -2a: exact
    reciprocal_one_plus_exp_(out)                     # sigmoid(2a)
    out *= 2                                          # tanh(a) = 2 sigmoid(2a) - 1
    out -= 1
    return out


def reciprocal_one_plus_exp_(y):
    """1 / (1 + exp(y)) in place, i.e. sigmoid(-y); returns y.

    Overflow-safe: where exp(y) overflows to inf (y > 709.78 in float64, 88.7 in float32), 1 / inf
    is 0, sigmoid's value there to within the smallest normal number, and where it underflows to 0,
    1 / 1 is 1; these two warnings are silenced for this one call only (a NaN still propagates).
    No branch, no ``abs(y)``: 3 passes.
    """
    with np.errstate(over="ignore", under="ignore"):
        np.exp(y, out=y)
    y += 1
    return np.reciprocal(y, out=y)
