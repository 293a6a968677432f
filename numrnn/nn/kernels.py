"""The fast kernels numrnn's cells share: chunked BPTT windows and the products done once per chunk.

Nothing here knows a cell's equations; each function is one shape-checked NumPy idiom that makes
the cells' loops fast (see each "Performance" note). The cells (:mod:`~numrnn.nn.rnn`,
:mod:`~numrnn.nn.lstm`, :mod:`~numrnn.nn.gru`) and :class:`~numrnn.nn.base.RecurrentLayer` import
them; :mod:`~numrnn.nn.reference` computes the same numbers without them.

- :func:`bptt_chunks`: the backward's chunks of steps, last first, with the gradient window carried;
- :func:`chunk_steps`: how many steps a chunk holds;
- :func:`input_part`, :func:`input_grad`: Wx x(t) + b and Wx^T d(t) for a chunk, one product each;
- :func:`sum_outer`: sum over steps and batch of d(t) v(t)^T, one product;
- :func:`transposed_matrices`: [W_1^T .. W_K^T], contiguous.
"""
import numpy as np


def bptt_chunks(dhs, P, dtype):
    """The chunks of a fast backward, last first: yields (s, e, dh_window) for steps [s, e).

    ``dh_window`` (P + e - s, B, H) holds ``dh_window[P + t - s]`` = dL/dh(t) for t in [s, e),
    started from the loss's direct part ``dhs[t]`` plus what the chunk after sent back, and
    ``dh_window[:P]`` = dh(s-P .. s-1), zero, for the caller's loop to fill. When the caller asks
    for the next chunk, ``dh_window[:P]`` is carried into it. After the last chunk (s = 0),
    ``dh_window[:P]`` of the last one yielded is the gradient on the entering history.

    Performance: only a window of C steps of gradients is held (memory ~ C/T of the activations),
    and a chunk of about 2048 rows (steps x batch) keeps the per-chunk products (dW_k, dWx, db,
    dx) cache-sized and few. C >= P, so the P rows carried back fit in one chunk.
    """
    T, B, H = dhs.shape
    C = chunk_steps(T, B, P)
    buffer = np.empty((P + C, B, H), dtype=dtype)
    carry = np.zeros((P, B, H), dtype=dtype)          # dh(e-P .. e-1) from the chunk after
    for s in reversed(range(0, T, C)):
        e = min(s + C, T)
        dh_window = buffer[:P + e - s]
        dh_window[:P] = 0
        dh_window[P:] = dhs[s:e]                      # the loss's direct part
        dh_window[-P:] += carry                       # + what steps >= e sent back (C >= P)
        yield s, e, dh_window
        carry = dh_window[:P].copy()


def chunk_steps(T, B, P, rows=2048):
    """Steps per BPTT chunk: about ``rows`` rows (steps x batch) per product, at least P, at most T."""
    return max(P, min(T, -(-rows // B)))


def sum_outer(da, v, rows, cols):
    """sum over steps and batch of da(t) v(t)^T as one matrix product; zeros if no step used it.

    Performance: computed as (V^T dA)^T with dA (steps*batch, rows), V (steps*batch, cols): the
    same numbers; OpenBLAS is faster with the long axis of both operands contiguous. Returns a
    C-ordered array.
    """
    if da.shape[0] == 0:
        return np.zeros((rows, cols), dtype=da.dtype)
    return np.ascontiguousarray((v.reshape(-1, cols).T @ da.reshape(-1, rows)).T)


def input_part(x, Wx, b, out):
    """Wx x(t) + b for a chunk of steps, one product: x (n, B, D) -> out (n, B, G H).

    Performance: one product per chunk of about 2048 rows (steps x batch) instead of one per step;
    computed just before the chunk's steps run, the chunk's rows of ``out`` are still in cache.
    """
    n, B, D = x.shape
    np.matmul(x.reshape(n * B, D), Wx.T, out=out.reshape(n * B, -1))
    out += b
    return out


def input_grad(d_in, Wx, out):
    """dx(t) = Wx^T d_in(t) for a chunk of steps, one product: d_in (n, B, G H) -> out (n, B, D)."""
    n, B, rows = d_in.shape
    np.matmul(d_in.reshape(n * B, rows), Wx, out=out.reshape(n * B, -1))
    return out


def transposed_matrices(params, K):
    """[W_1^T .. W_K^T] as C-contiguous arrays (performance: h @ W^T with a contiguous W^T is faster)."""
    return [np.ascontiguousarray(params[f"W{k + 1}"].T) for k in range(K)]


__all__ = ["bptt_chunks", "chunk_steps", "sum_outer", "input_part", "input_grad", "transposed_matrices"]
