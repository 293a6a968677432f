r"""The grader's specification of the skip RNN, and the student mistakes it can recognise.

:func:`spec_forward` and :func:`spec_backward` compute the paper's recurrence (as
:mod:`numrnn.nn.reference`, which the grader uses as the oracle) and, given ``mistake``, the same
computation with one known student mistake. Matching a student's output against these variants
turns a wrong number into a likely cause in words.
"""
import numpy as np

# -------------------------------------------------------------- mistakes, in words
FORWARD_MISTAKES = {
    "skip_before_relu": "the skip is added before the ReLU; it must come after it: "
                        "h(t) = relu(a(t)) + h(t-S)",
    "schedule_w2": "the schedule starts at W2: step t uses W_{(t mod K)+1}, so step 0 uses W1",
    "schedule_k": "step t uses W_{k(t)} with the wrong index: k(t) = (t mod K) + 1",
    "no_recurrent_on_skip": "the recurrent term W_k h(t-1) is dropped on skip steps; a skip step "
                            "has both: a(t) = W_k h(t-1) + Wx x(t) + b, then + h(t-S)",
    "no_skip": "the skip h(t-S) is never added",
    "skip_early": "the skip steps are off by one: skip steps are those with (t+1) mod S == 0 "
                  "(your code adds it one step early)",
    "skip_late": "the skip steps are off by one: skip steps are those with (t+1) mod S == 0 "
                 "(your code adds it one step late, at t mod S == 0)",
    "skip_reads_next": "the skip reads h(t-S+1) instead of h(t-S)",
    "skip_reads_prev": "the skip reads h(t-S-1) instead of h(t-S)",
    "h0_ignored": "h0 is ignored: h(-1) = h0 when it is given",
    "no_relu": "the ReLU is missing: h(t) = relu(a(t)) (+ the skip)",
    "tanh": "tanh is used instead of the ReLU",
    "no_bias": "the bias b is missing from a(t)",
}

BACKWARD_MISTAKES = {
    "no_skip": "the gradient through the skip path to h(t-S) is missing: on skip steps add "
               "dh(t-S) += dh(t)",
    "skip_relu": "the gradient through the skip path is multiplied by relu'(a(t)); the skip is added "
                 "after the ReLU, so dh(t-S) += dh(t) unchanged",
    "skip_early": "the skip line runs on the wrong steps (off by one): skip steps are those with "
                  "(t+1) mod S == 0",
    "skip_late": "the skip line runs on the wrong steps (off by one): skip steps are those with "
                 "(t+1) mod S == 0",
    "skip_into_next": "the skip line adds into dh(t-S+1) instead of dh(t-S)",
    "skip_into_prev": "the skip line adds into dh(t-S-1) instead of dh(t-S)",
    "matrix_next": "the recurrent path uses the wrong matrix: dh(t-1) += W_{k(t)}^T da(t) with the "
                   "matrix step t used in the forward",
    "matrix_prev": "the recurrent path uses the wrong matrix: dh(t-1) += W_{k(t)}^T da(t) with the "
                   "matrix step t used in the forward",
    "matrix_w1": "the recurrent path always uses W1: dh(t-1) += W_{k(t)}^T da(t)",
    "dW_all_W1": "every step's dW goes into dW1: dW_k must sum da(t) h(t-1)^T over the steps that "
                 "used W_k only",
    "dW_next": "the dW terms go to the wrong matrix: step t's term belongs to W_{(t mod K)+1}",
    "dW_prev": "the dW terms go to the wrong matrix: step t's term belongs to W_{(t mod K)+1}",
    "dWx_no_first": "dWx misses the term of step 0: sum da(t) x(t)^T over every step",
    "dWx_no_last": "dWx misses the term of the last step: sum da(t) x(t)^T over every step",
    "db_no_first": "db misses the term of step 0",
    "db_no_last": "db misses the term of the last step",
    "relu_from_h": "relu' is taken from h(t) instead of a(t); on skip steps h(t) = relu(a(t)) + "
                   "h(t-S) can be positive where a(t) is not",
    "only_last": "only the last step's dL/dh is used: add dhs[:, t] to dh(t) at every step t",
    "no_recurrent_on_skip": "the recurrent path is dropped on skip steps: a skip step still passes "
                            "dh(t-1) += W_k^T da(t)",
    "no_relu": "relu' is missing: da(t) = dh(t) * relu'(a(t))",
    "dh_prev_transposed": "dh(t-1) uses W_k instead of its transpose: dh(t-1) += W_k^T da(t)",
}


def _k(t, K):
    return t % K + 1


def _is_skip(t, S):
    return S >= 2 and (t + 1) % S == 0


def spec_forward(params, x, K, S, h0=None, mistake=None, start=0):
    """hs (B, T, H) and the pre-activations a (dict t -> (B, H)), h (dict t -> (B, H), from -P)."""
    B, T, _ = x.shape
    H = params["b"].shape[0]
    P = max(1, S)
    h = {t: np.zeros((B, H)) for t in range(-P - 1, 0)}
    if h0 is not None and mistake != "h0_ignored":
        h[-1] = np.asarray(h0, dtype=np.float64)
    a = {}
    for t in range(T):
        g = start + t
        k = {"schedule_w2": (g + 1) % K + 1, "schedule_k": (g + K - 1) % K + 1}.get(mistake, _k(g, K))
        skip = {"skip_early": S >= 2 and (g + 2) % S == 0,
                "skip_late": S >= 2 and g % S == 0,
                "no_skip": False}.get(mistake, _is_skip(g, S))
        back = {"skip_reads_next": S - 1, "skip_reads_prev": S + 1}.get(mistake, S)
        inp = x[:, t] @ params["Wx"].T
        rec = h[t - 1] @ params[f"W{k}"].T
        if mistake == "no_recurrent_on_skip" and skip:
            rec = 0
        a[t] = rec + inp + (0 if mistake == "no_bias" else params["b"])
        phi = {"no_relu": lambda v: v, "tanh": np.tanh}.get(mistake, lambda v: np.maximum(v, 0))
        if skip and mistake == "skip_before_relu":
            h[t] = phi(a[t] + h[t - back])
        else:
            h[t] = phi(a[t]) + (h[t - back] if skip and t - back >= -P - 1 else 0)
    return np.stack([h[t] for t in range(T)], axis=1), a, h


def spec_backward(params, x, K, S, dhs, h0=None, mistake=None, start=0):
    """dx (B, T, D), grads (dict), dh (dict t -> (B, H) for t = -P .. T-1): BPTT, or a mistake of it."""
    hs, a, h = spec_forward(params, x, K, S, h0, start=start)
    B, T, H = dhs.shape
    P = max(1, S)
    dh = {t: np.zeros((B, H)) for t in range(-P - 1, T)}
    for t in range(T):
        if mistake != "only_last" or t == T - 1:
            dh[t] = dh[t] + dhs[:, t]
    grads = {n: np.zeros_like(v, dtype=np.float64) for n, v in params.items()}
    dx = np.zeros(x.shape)
    for t in reversed(range(T)):
        g = start + t
        skip = {"skip_early": S >= 2 and (g + 2) % S == 0,
                "skip_late": S >= 2 and g % S == 0}.get(mistake, _is_skip(g, S))
        relu_grad = (h[t] > 0) if mistake == "relu_from_h" else (a[t] > 0)
        if mistake == "no_relu":
            relu_grad = 1.0
        if skip and mistake != "no_skip":
            into = {"skip_into_next": t - S + 1, "skip_into_prev": t - S - 1}.get(mistake, t - S)
            if into >= -P - 1:
                dh[into] = dh[into] + (dh[t] * relu_grad if mistake == "skip_relu" else dh[t])
        da = dh[t] * relu_grad
        k = {"matrix_next": _k(g + 1, K), "matrix_prev": _k(g - 1, K), "matrix_w1": 1}.get(mistake, _k(g, K))
        W = params[f"W{k}"]
        if not (mistake == "no_recurrent_on_skip" and skip):
            dh[t - 1] = dh[t - 1] + (da @ W.T if mistake == "dh_prev_transposed" else da @ W)
        k_dW = {"dW_all_W1": 1, "dW_next": _k(g + 1, K), "dW_prev": _k(g - 1, K)}.get(mistake, _k(g, K))
        grads[f"W{k_dW}"] += da.T @ h[t - 1]
        if not ((mistake == "dWx_no_first" and t == 0) or (mistake == "dWx_no_last" and t == T - 1)):
            grads["Wx"] += da.T @ x[:, t]
        if not ((mistake == "db_no_first" and t == 0) or (mistake == "db_no_last" and t == T - 1)):
            grads["b"] += da.sum(axis=0)
        dx[:, t] = da @ params["Wx"]
    return dx, grads, {t: dh[t] for t in range(-P, T)}


def describe_step(t, K, S, start=0):
    """'t=3, a skip step of W2 (adds h(1))' or 't=2, a step of W1'."""
    g = start + t
    if _is_skip(g, S):
        return f"t={t}, a skip step of W{_k(g, K)} (it adds h({t - S}))"
    return f"t={t}, a step of W{_k(g, K)}" + (" (no skip)" if S >= 2 else "")


def feeds(t, K, S, T, start=0):
    """What dL/dh(t) collects, in words."""
    parts = [f"the loss at t={t}"]
    if t + 1 < T:
        parts.append(f"the recurrent path from step {t + 1} (W{_k(start + t + 1, K)}^T da({t + 1}))")
    if t + S < T and _is_skip(start + t + S, S):
        parts.append(f"the skip path from the skip step {t + S} (dh({t}) += dh({t + S}))")
    return ", ".join(parts)
