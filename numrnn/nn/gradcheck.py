r"""Gradient checks by centred finite differences, in float64.

For a scalar loss L and one entry :math:`\theta_i`,

.. math:: \frac{\partial L}{\partial \theta_i} \approx \frac{L(\theta + \epsilon e_i) - L(\theta - \epsilon e_i)}{2\epsilon}

with error :math:`O(\epsilon^2)`. The directional check compares
:math:`(L(\theta + \epsilon v) - L(\theta - \epsilon v)) / 2\epsilon` with :math:`\langle \nabla L, v \rangle`
for a random unit direction v: two evaluations instead of two per entry, so it stays cheap for large
matrices.

The relative error of two arrays is

.. math:: \operatorname{rel}(g, n) = \frac{\max_i |g_i - n_i|}{\max(\max_i |g_i|, \max_i |n_i|)}

and 0 when both are all zero, so it is defined everywhere. It is taken over a whole array, so an
entry whose true gradient is 0 does not blow it up.

A difference quotient cannot resolve a gradient smaller than its own rounding noise,
about :math:`\epsilon_{\text{mach}} \sum_i |\ell_i| / \epsilon` for a loss that sums terms
:math:`\ell_i`. When a gradient has vanished below that (dL/dh0 after many steps of version A,
say), its relative error measures noise. Given ``loss_scale`` (the sum of the terms' magnitudes),
the report counts an array as passed when its relative error is within the tolerance *or* its
largest absolute difference is below that noise floor; it shows both numbers.
"""
import numpy as np

from .protocol import accepts, require_protocol
from .init import as_generator


def relative_error(a, b):
    r"""Relative error of two arrays (or scalars): :math:`\max|a - b| / \max(\max|a|, \max|b|)`.

    Defined everywhere: 0 exactly when the arrays are equal (both zero included), at most 2, and
    never 0 for arrays that differ, even by less than float64 can show next to their size (then the
    smallest positive float). Both sides are divided by the scale before subtracting, so values near
    float64's largest do not overflow.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if np.array_equal(a, b):
        return 0.0
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    error = float(np.max(np.abs(a / scale - b / scale), initial=0.0))
    return error if np.isnan(error) or error > 0 else float(np.nextafter(0.0, 1.0))


def numerical_gradient(loss, array, eps=1e-6):
    """Centred differences of ``loss()`` with respect to every entry of ``array``.

    ``array`` is perturbed in place, one entry at a time, and restored exactly afterwards.
    """
    _require_float64("array", array)
    grad = np.zeros_like(array)
    flat, out = array.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("array must be contiguous so it can be perturbed in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = loss()
        flat[i] = saved - eps
        minus = loss()
        flat[i] = saved
        out[i] = (plus - minus) / (2 * eps)
    return grad


def directional_derivative(loss, array, direction, eps=1e-6):
    """(loss(array + eps v) - loss(array - eps v)) / (2 eps); array is restored afterwards."""
    _require_float64("array", array)
    saved = array.copy()
    array += eps * direction
    plus = loss()
    array[...] = saved - eps * direction
    minus = loss()
    array[...] = saved
    return (plus - minus) / (2 * eps)


class GradcheckReport(dict):
    """name -> relative error, with :meth:`passed` and a readable table.

    ``abs_errors`` holds each array's largest absolute difference and ``noise`` the rounding noise
    floor of the difference quotients (0 when no loss scale was given).
    """

    def __init__(self, errors, mode, abs_errors=None, noise=0.0):
        super().__init__(errors)
        self.mode = mode
        self.abs_errors = dict(abs_errors or {})
        self.noise = noise

    @property
    def max_error(self):
        return max(self.values(), default=0.0)

    def passed(self, tol=1e-7):
        """Every array within ``tol`` relative error, or below the noise floor in absolute terms."""
        return all(err <= tol or self.abs_errors.get(name, np.inf) <= self.noise
                   for name, err in self.items())

    def __str__(self):
        rows = [f"{name:>10}  {err:.2e}  {self.abs_errors.get(name, np.nan):.1e}"
                for name, err in self.items()]
        return (f"gradient check ({self.mode}); per array: relative error, absolute error "
                f"(noise floor {self.noise:.1e})\n" + "\n".join(rows))


def check_gradients(loss, arrays, grads, eps=1e-6, directional=False, seed=0, loss_scale=None):
    """Compare analytic ``grads`` with finite differences of ``loss()`` for each named array.

    Parameters
    ----------
    loss : callable () -> float
        Recomputes the loss from the current contents of ``arrays``.
    arrays : dict name -> float64 ndarray
        Perturbed in place (and restored).
    grads : dict name -> ndarray
        The analytic gradients, same shapes.
    directional : bool
        Check along one random unit direction per array instead of entry by entry.
    seed : int or Generator
        For the random directions.
    loss_scale : float, optional
        Sum of the magnitudes of the terms the loss adds up; sets the noise floor
        ``4 eps_mach loss_scale / eps`` below which an absolute difference is not evidence.

    Returns
    -------
    GradcheckReport
    """
    rng = as_generator(seed)
    errors, abs_errors = {}, {}
    missing = [name for name in arrays if name not in grads]
    if missing:
        raise ValueError(f"grads has no gradient for {', '.join(map(repr, missing))}: give one gradient "
                         f"per checked array (grads holds {sorted(grads)})")
    for name, array in arrays.items():
        if grads[name].shape != array.shape:
            raise ValueError(f"gradient of {name} has shape {grads[name].shape}, array {array.shape}")
        if directional:
            v = rng.standard_normal(array.shape)
            v /= np.linalg.norm(v)
            analytic, numeric = np.sum(grads[name] * v), directional_derivative(loss, array, v, eps)
        else:
            analytic, numeric = grads[name], numerical_gradient(loss, array, eps)
        errors[name] = relative_error(analytic, numeric)
        abs_errors[name] = float(np.max(np.abs(np.subtract(analytic, numeric)), initial=0.0))
    noise = 0.0 if loss_scale is None else 4 * np.finfo(np.float64).eps * loss_scale / eps
    return GradcheckReport(errors, "directional" if directional else "entrywise", abs_errors, noise)


def gradcheck_layer(layer, x, h0=None, seed=0, eps=1e-6, directional=False):
    """Check a recurrent layer's backward over a whole sequence: every parameter, x and h0.

    The loss is :math:`L = \\sum_{b,t,j} G_{btj}\\, h_{btj}` with a fixed random G, so dL/dhs = G
    and every step's output matters.

    Parameters
    ----------
    layer : any layer with the minimal protocol (:class:`numrnn.nn.protocol.Layer`), in float64
        ``params``, ``forward(x, h0=None) -> (hs, cache)`` and
        ``backward(dhs, cache) -> (dx, grads)``. If its backward also takes ``return_dinit``
        (numrnn's RNN, LSTM, GRU), dL/dh0 is checked too; otherwise only the parameters and x.
    x : ndarray, shape (B, T, D), float64
    h0 : ndarray, shape (B, H), optional (zeros are used, and checked when the layer returns
        dL/dh0, when omitted)

    Returns
    -------
    GradcheckReport with one entry per parameter, "x", and "h0" when checked.
    """
    _, H, dtype = require_protocol(layer, "numrnn.gradcheck_layer")
    _require_float64("layer dtype", np.empty(0, dtype))
    x = np.array(x, dtype=np.float64)
    B, T, _ = x.shape
    h0 = np.zeros((B, H)) if h0 is None else np.array(h0, dtype=np.float64)
    G = as_generator(seed).standard_normal((B, T, H))

    def loss():
        hs, _ = layer.forward(x, h0=h0)
        return float(np.sum(G * hs))

    hs, cache = layer.forward(x, h0=h0)
    arrays = dict(layer.params, x=x)
    if accepts(layer.backward, "return_dinit"):
        dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
        arrays["h0"], analytic = h0, dict(grads, x=dx, h0=dinit["h0"])
    else:                                             # the minimal protocol: no gradient on h0
        dx, grads = layer.backward(G, cache)
        analytic = dict(grads, x=dx)
    missing = set(arrays) - set(analytic)
    if missing:
        raise ValueError(f"{type(layer).__name__}.backward returned no gradient for "
                         f"{sorted(missing)}: grads must be keyed like params")
    return check_gradients(loss, arrays, analytic, eps=eps, directional=directional, seed=seed,
                           loss_scale=float(np.sum(np.abs(G * hs))))


def _require_float64(name, array):
    if array.dtype != np.float64:
        raise TypeError(f"{name} must be float64 for a finite-difference check, got {array.dtype}")
