"""Seeded weight initialisations.

Every function takes ``rng``, a :class:`numpy.random.Generator`, so that the same seed gives the
same bits.

- ``normal`` (default): entries N(0, scale^2 / fan_in), i.e. standard deviation scale/sqrt(fan_in).
  For a square H x H matrix the spectral radius is then close to ``scale``.
- ``orthogonal``: scale times a random orthogonal matrix (QR of a Gaussian, signs fixed).
- ``identity``: scale times the identity, the IRNN of Le, Jaitly & Hinton (2015).
"""
import numpy as np

from .._checks import check_choice


def normal(rng, shape, scale=1.0):
    return rng.standard_normal(shape) * (scale / np.sqrt(shape[-1]))


def orthogonal(rng, shape, scale=1.0):
    rows, cols = shape
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))  # fix signs so the distribution is uniform (Haar)
    return scale * (q if rows >= cols else q.T)


def identity(rng, shape, scale=1.0):
    rows, cols = shape
    return scale * np.eye(rows, cols)


INITS = {"normal": normal, "orthogonal": orthogonal, "identity": identity}


def recurrent_matrix(init, rng, shape, scale=1.0):
    """Initialise one recurrent matrix by the name of its scheme."""
    check_choice("init", init, INITS)
    return INITS[init](rng, shape, scale)


def as_generator(seed):
    """Accept an int seed, None or a Generator; return a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int, None or a numpy Generator, got {type(seed).__name__}")
    return np.random.default_rng(seed)
