"""Activations and their derivatives, written from the pre-activation a.

    relu(a) = max(a, 0),    relu'(a) = [a > 0]
    tanh(a),                tanh'(a) = 1 - tanh(a)^2
"""
import numpy as np


def relu(a, out=None):
    return np.maximum(a, 0, out=out)


def relu_grad(a):
    return (a > 0).astype(a.dtype)


def tanh(a, out=None):
    return np.tanh(a, out=out)


def tanh_grad(a):
    y = np.tanh(a)
    return 1 - y * y


def sigmoid(a):
    """Numerically stable logistic function: never evaluates exp of a large positive number."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


#: name -> (function, derivative from the pre-activation)
ACTIVATIONS = {"relu": (relu, relu_grad), "tanh": (tanh, tanh_grad)}
