"""Argument checks shared by every module: each error names the argument it is about."""
import numbers

import numpy as np


class NonFiniteError(ValueError):
    """A value that must be finite holds NaN or inf.

    A ValueError, so callers that check input see an ordinary input error; the trainer catches this
    one class inside a training step and records it as a divergence (the inputs were checked before).
    """


def check_int(name, value, minimum=None):
    """Return ``value`` as an int, or raise naming ``name`` if it is not a whole number >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_seed(name, seed):
    """Return ``seed`` if it is None, a numpy Generator or an integer >= 0; else raise naming ``name``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_int(name, seed, 0)


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(choices)}")
    return value


def check_finite(name, value):
    """Return ``value`` as a float, or raise naming ``name`` if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_real(name, value, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite float in the given range, or raise naming ``name``.

    ``low``/``high`` are bounds (None: none); ``low_open``/``high_open`` exclude them. NaN and inf
    are always refused.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if (low is not None and (value < low or (low_open and value == low))) or \
            (high is not None and (value > high or (high_open and value == high))):
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {lo}, {hi}, got {value:g}")
    return value


def check_dtype(name, dtype):
    """Return ``dtype`` as a numpy float32/float64 dtype, or raise naming ``name``."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from err
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {dtype}")
    return dtype


def check_array(name, value, ndim, shape=None, dtype=None):
    """Check a floating array's rank, shape and finiteness; return it cast to ``dtype``.

    ``shape`` may hold None for "any size" in a position.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype, got {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(value.shape, shape)):
            if want is not None and got != want:
                raise ValueError(f"{name} has shape {value.shape}; expected {_shape_str(shape)} (axis {axis})")
    if not np.all(np.isfinite(value)):
        raise NonFiniteError(f"{name} contains NaN or inf")
    return value if dtype is None else value.astype(dtype, copy=False)


def _shape_str(shape):
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
