"""Activations and their derivatives, written from the pre-activation a.

    relu(a) = max(a, 0),    relu'(a) = [a > 0]
    tanh(a),                tanh'(a) = 1 - tanh(a)^2
"""
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
