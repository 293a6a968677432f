r"""``numrnn check --task N FILE.py``: the graders of the seven course tasks.

Each grader loads the student's file, calls the task's function(s) on float64 data drawn away from
the ReLU kink, compares with numrnn's own code (:mod:`numrnn.nn.reference`) and with centred finite differences, and explains a failure in words.
"""
import os

import numpy as np

from ..nn import reference
from ..nn.gradcheck import numerical_gradient
from .cellcheck import (VERSIONS, Case, CellChecks, FunctionCell, SkipCheck, _first_difference, _kind,
                        diagnose_forward, drawn, version_cases)
from .report import TOL, Check, Report, rel_error
from .runner import CannotUse, StudentCodeError, student_runner
from .spec import describe_step, feeds
from .starter import TASKS

NAMES = {1: "rnn_step_forward", 2: "rnn_step_backward", 3: "rnn_forward", 4: "rnn_backward",
         5: "lstm_step_backward", 6: "grad_norm_by_lag", 7: "truncated_bptt"}


def _rng(seed):
    return np.random.default_rng(seed)


def _checked(task, what, value, shape):
    if not isinstance(value, np.ndarray):
        raise StudentCodeError(f"task {task}: {what} must be a float64 array of shape {shape}, "
                               f"got {_kind(value)}")
    if value.shape != tuple(shape):
        raise StudentCodeError(f"task {task}: {what} has shape {value.shape}, expected {tuple(shape)}")
    if value.dtype != np.float64:
        raise StudentCodeError(f"task {task}: {what} has dtype {value.dtype}, expected float64")
    if not np.all(np.isfinite(value)):
        raise StudentCodeError(f"task {task}: {what} contains NaN or inf")
    return value


def _tuple(task, what, value, n):
    if not (isinstance(value, (tuple, list)) and len(value) == n):
        got = _kind(value)
        raise StudentCodeError(f"task {task}: {what} must return a tuple of {n}, got {got}")
    return value


def _guarded(name, fn, run=None):
    """A check: fn() -> Check, with the student's failures turned into a failed Check."""
    if run is not None:
        run.start_check()
    try:
        return fn()
    except StudentCodeError as err:
        return Check(name, False, diagnosis=str(err))
    except SkipCheck as why:
        return Check(name, True, skipped=str(why))


# ------------------------------------------------------------------ tasks 1 and 2: one step
def _step_data(seed, B=3, D=5, H=4):
    rng = _rng(seed)
    for _ in range(200):
        x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
        W, Wx, b = rng.normal(0, 0.6, (H, H)), rng.normal(0, 0.5, (H, D)), rng.normal(0, 0.2, H)
        a = h @ W.T + x @ Wx.T + b
        if np.min(np.abs(a)) > 1e-3:
            break
    return x, h, W, Wx, b, a


STEP_FORWARD_MISTAKES = {
    "the ReLU is missing: h = max(a, 0)": lambda x, h, W, Wx, b: h @ W.T + x @ Wx.T + b,
    "tanh is used instead of the ReLU": lambda x, h, W, Wx, b: np.tanh(h @ W.T + x @ Wx.T + b),
    "W is used without its transpose: with rows as examples, W h(t-1) is h_prev @ W.T":
        lambda x, h, W, Wx, b: np.maximum(h @ W + x @ Wx.T + b, 0),
    "the bias b is missing": lambda x, h, W, Wx, b: np.maximum(h @ W.T + x @ Wx.T, 0),
}


def grade_step_forward(module, run, max_examples=10):
    fn = run.get(module, "rnn_step_forward")
    checks = []

    def compare():
        worst = 0.0
        for seed, (B, D, H) in enumerate([(3, 5, 4), (1, 2, 3), (2, 4, 4)]):
            x, h, W, Wx, b, a = _step_data(seed, B, D, H)
            out, args, _ = run.call_full("your rnn_step_forward", fn, [v.copy() for v in (x, h, W, Wx, b)],
                                         {}, return_args=True)
            out = _tuple(1, "rnn_step_forward", out, 2)
            got = _checked(1, "h (the first thing rnn_step_forward returns)", out[0], (B, H))
            for name, before, after in zip(("x_t", "h_prev", "W", "Wx", "b"), (x, h, W, Wx, b), args):
                if not (isinstance(after, np.ndarray) and np.array_equal(before, after)):
                    return Check("h(t) = relu(W h(t-1) + Wx x(t) + b)", False,
                                 diagnosis=f"task 1: rnn_step_forward changed its argument {name}")
            err = rel_error(got, np.maximum(a, 0))
            worst = max(worst, err)
            if err > TOL:
                cause = next((text for text, f in STEP_FORWARD_MISTAKES.items()
                              if rel_error(got, f(x, h, W, Wx, b)) < TOL),
                             "compare with a = h_prev @ W.T + x_t @ Wx.T + b, h = max(a, 0)")
                return Check("h(t) = relu(W h(t-1) + Wx x(t) + b)", False, err,
                             diagnosis=f"task 1: h is wrong (B={B}, D={D}, H={H}): {cause}")
        return Check("h(t) = relu(W h(t-1) + Wx x(t) + b)", True, worst,
                     detail="three shapes (B, D, H), inputs left unchanged")

    checks.append(_guarded("h(t) = relu(W h(t-1) + Wx x(t) + b)", compare, run))
    return checks


STEP_BACKWARD_MISTAKES = {
    "relu' is missing: da = dh * (a > 0)": "no_relu",
    "dh_prev uses W.T where it needs W: with rows as examples, W^T da is da @ W": "dh_T",
    "dW is transposed: dW = da.T @ h_prev, shape (H, H)": "dW_T",
    "relu' is taken from h instead of a (the same here) or with the wrong sign": "relu_neg",
}


def _step_backward_reference(dh, x, h, W, Wx, b, a, mistake=None):
    da = dh * (a > 0) if mistake not in ("no_relu", "relu_neg") else (dh if mistake == "no_relu" else dh * (a < 0))
    dh_prev = da @ W.T if mistake == "dh_T" else da @ W
    dW = h.T @ da if mistake == "dW_T" else da.T @ h
    return da @ Wx, dh_prev, dW, da.T @ x, da.sum(axis=0)


#: What rnn_step_backward returns: a dict of gradients named after what they are gradients of, as
#: numrnn.nn.reference.rnn_step_backward and notebook 02's step_backward (one contract for both).
STEP_KEYS = ("x", "h_prev", "W", "Wx", "b")


def grade_step_backward(module, run, max_examples=10, fn_names=("rnn_step_forward", "rnn_step_backward")):
    fwd = run.get(module, fn_names[0])
    bwd = run.get(module, fn_names[1])
    names = ("dx", "dh_prev", "dW", "dWx", "db")

    def as_dict(d, B, D, H):
        if not isinstance(d, dict) or not set(STEP_KEYS) <= set(d):
            got = (f"a dict with the keys {sorted(map(str, d))}" if isinstance(d, dict) else _kind(d))
            raise StudentCodeError(f"task 2: rnn_step_backward must return a dict with the keys "
                                   f"{', '.join(STEP_KEYS)} (the gradients with respect to x_t, h_prev, "
                                   f"W, Wx, b), got {got}")
        shapes = ((B, D), (B, H), (H, H), (H, D), (H,))
        return [_checked(2, f"d[{k!r}] (of what rnn_step_backward returns)", d[k], sh)
                for k, sh in zip(STEP_KEYS, shapes)]

    def student(x, h, W, Wx, b, dh):
        out = _tuple(2, "rnn_step_forward", run.call("your rnn_step_forward (task 1, for the cache)",
                                                     fwd, x, h, W, Wx, b), 2)
        d = run.call("your rnn_step_backward", bwd, dh.copy(), out[1])
        return as_dict(d, x.shape[0], x.shape[1], h.shape[1]), out[1]

    def compare():
        worst = 0.0
        for seed, (B, D, H) in enumerate([(3, 5, 4), (1, 2, 3), (2, 4, 4)]):
            x, h, W, Wx, b, a = _step_data(seed + 10, B, D, H)
            dh = _rng(seed).standard_normal((B, H))
            got, _ = student(x, h, W, Wx, b, dh)
            ref = _step_backward_reference(dh, x, h, W, Wx, b, a)
            errs = {n: rel_error(g, r) for n, g, r in zip(names, got, ref)}
            worst = max(worst, *errs.values())
            wrong = [n for n, e in errs.items() if e > TOL]
            if wrong:
                cause = next((f"likely cause: {text}" for text, m in STEP_BACKWARD_MISTAKES.items()
                              if all(rel_error(g, r) < TOL for g, r in
                                     zip(got, _step_backward_reference(dh, x, h, W, Wx, b, a, m)))),
                             "compare with da = dh * (a > 0), d['x'] = da @ Wx, d['h_prev'] = da @ W, "
                             "d['W'] = da.T @ h_prev, d['Wx'] = da.T @ x_t, d['b'] = da.sum(axis=0)")
                return Check("backward = reference", False, max(errs.values()),
                             diagnosis=f"task 2: {', '.join(wrong)} wrong "
                                       f"({', '.join(f'{n} {errs[n]:.1e}' for n in wrong)}): {cause}")
        return Check("backward = reference", True, worst, detail="three shapes (B, D, H)")

    def finite_differences():
        x, h, W, Wx, b, a = _step_data(5)
        dh = _rng(5).standard_normal(h.shape)
        arrays = {"dx": x, "dh_prev": h, "dW": W, "dWx": Wx, "db": b}
        got, _ = student(x, h, W, Wx, b, dh)
        worst, wrong = 0.0, []
        for n, g in zip(names, got):
            num = numerical_gradient(lambda: float(np.sum(dh * np.maximum(h @ W.T + x @ Wx.T + b, 0))), arrays[n])
            err = rel_error(g, num)
            worst = max(worst, err)
            if err > 1e-6:
                wrong.append(f"{n} {err:.1e}")
        if wrong:
            return Check("backward = centred finite differences", False, worst,
                         diagnosis="task 2: against finite differences of h = relu(a): " + ", ".join(wrong))
        return Check("backward = centred finite differences", True, worst, detail="every entry, eps 1e-6")

    def twice():
        x, h, W, Wx, b, a = _step_data(7)
        dh = _rng(7).standard_normal(h.shape)
        out = _tuple(2, "rnn_step_forward", run.call("your rnn_step_forward", fwd, x, h, W, Wx, b), 2)
        cache = out[1]
        saved = run.mirror(cache)
        g1 = [np.array(v) for v in as_dict(run.call("your rnn_step_backward", bwd, dh.copy(), cache), *x.shape, h.shape[1])]
        changed = _first_difference(saved, run.mirror(cache), "cache")
        if changed:
            return Check("backward twice: same answer, cache unchanged", False,
                         diagnosis=f"task 2: rnn_step_backward changed the cache ({changed})")
        g2 = as_dict(run.call("your rnn_step_backward", bwd, dh.copy(), cache), *x.shape, h.shape[1])
        err = max(rel_error(p, q) for p, q in zip(g1, g2))
        return Check("backward twice: same answer, cache unchanged", err <= TOL, err,
                     diagnosis="task 2: a second call gave a different answer")

    return [_guarded("backward = reference", compare, run),
            _guarded("backward = centred finite differences", finite_differences, run),
            _guarded("backward twice: same answer, cache unchanged", twice, run)]


# ------------------------------------------------------------- tasks 3 and 4: a sequence
def function_cell(module, task, run):
    """A protocol cell around the student's rnn_forward and rnn_backward (the grader holds the params)."""
    fwd = run.get(module, "rnn_forward")
    bwd = run.get(module, "rnn_backward") if task >= 4 else None
    name = "rnn_backward" if task >= 4 else "rnn_forward"
    return FunctionCell(fwd, bwd, run, name, "your rnn_forward", "your rnn_backward", 3), fwd, bwd


def grade_sequence_forward(module, run, max_examples=10):
    cell, fwd, _ = function_cell(module, 3, run)
    checks = CellChecks(cell, "task 3", max_examples)
    out = [_guarded("forward = specification", checks.check_forward, run),
           _guarded("forward leaves its arguments x and h0 unchanged", checks.check_inputs, run)]

    def continuation():
        worst = 0.0
        for case in version_cases(3):
            P, m = max(1, case.S), 3
            full = reference.rnn_forward(case.params, case.x, case.K, case.S, h0=case.h0)[0]
            hist = np.concatenate([np.zeros((P - 1, case.B, case.H)), case.h0[None],
                                   full[:, :m].transpose(1, 0, 2)])[-P:]
            got = run.call("your rnn_forward with history and start", fwd, case.x[:, m:].copy(),
                           case.params, case.K, case.S, history=hist.copy(), start=m)
            hs = _checked(3, "hs", _tuple(3, "rnn_forward", got, 2)[0], (case.B, case.T - m, case.H))
            err = rel_error(hs, full[:, m:])
            worst = max(worst, err)
            if err > TOL:
                t = next(t for t in range(case.T - m) if rel_error(hs[:, t], full[:, m + t]) > TOL)
                return Check("continuing with history and start", False, err,
                             diagnosis=f"task 3: continuing from step {m} (history = h({m - P})..h({m - 1}), "
                                       f"start={m}), h first differs at local step {t} = "
                                       f"{describe_step(m + t, case.K, case.S)}: step t uses "
                                       "W_{((start+t) mod K)+1} and is a skip step when (start+t+1) mod S == 0, "
                                       f"and history[-S] is h(start-S) (version {case.label})")
        return Check("continuing with history and start", True, worst,
                     detail="second half from the first half's last P states, versions " + ", ".join(VERSIONS))

    def random():
        seen = {}

        def one(K, S, T, B, D, H, seed):
            case = Case("drawn", K, S, B, T, D, H, seed)
            try:
                hs = _checked(3, "hs", _tuple(3, "rnn_forward", run.call(
                    "your rnn_forward", fwd, case.x.copy(), case.params, K, S, h0=case.h0.copy()), 2)[0],
                    (B, T, H))
            except StudentCodeError as err:
                seen.update(case=case, text=f"{err} (at {case.settings()})", err=None)
                raise AssertionError from None
            err = rel_error(hs, case.reference()[0])
            seen["worst"] = max(seen.get("worst", 0.0), err)
            if err > TOL:
                seen.update(case=case, hs=hs, err=err)
                raise AssertionError

        if drawn(max_examples, one, "task 3", seen):
            text = seen.get("text") or diagnose_forward(seen["case"], seen["hs"], checks.confirm_forward)
            return Check("random K, S, T (hypothesis)", False, seen.get("err"), diagnosis=text)
        return Check("random K, S, T (hypothesis)", True, seen.get("worst", 0.0),
                     detail=f"{max_examples} drawn settings")

    return out + [_guarded("continuing with history and start", continuation, run),
                  _guarded("random K, S, T (hypothesis)", random, run)]


def grade_sequence_backward(module, run, max_examples=10):
    cell, fwd, bwd = function_cell(module, 4, run)

    def dh_of(case):
        try:
            _, cache = run.call("your rnn_forward", fwd, case.x.copy(), case.params, case.K, case.S,
                                h0=case.h0.copy())
            dh = run.call("your rnn_backward", bwd, case.G.copy(), cache)[2]
        except (StudentCodeError, TypeError, IndexError):
            return None
        P = max(1, case.S)
        ok = isinstance(dh, dict) and all(isinstance(dh.get(t), np.ndarray) and dh[t].shape == (case.B, case.H)
                                          for t in range(-P, case.T))
        return dh if ok else None

    checks = CellChecks(cell, "task 4", max_examples, dh_fn=dh_of)
    found = checks.run(("backward", "gradcheck", "hypothesis", "matrices", "losses", "twice", "calls",
                        "cache"))

    def complete_dh():
        worst = 0.0
        for case in checks.cases:
            P = max(1, case.S)
            _, cache = _tuple(4, "rnn_forward", run.call("your rnn_forward", fwd, case.x.copy(),
                                                         case.params, case.K, case.S, h0=case.h0.copy()), 2)
            dh = _tuple(4, "rnn_backward", run.call("your rnn_backward", bwd, case.G.copy(), cache), 3)[2]
            if not isinstance(dh, dict):
                return Check("dh = the complete dL/dh(t) for t = -P .. T-1", False,
                             diagnosis=f"task 4: the third thing rnn_backward returns must be a dict "
                                       f"t -> (B, H) array, got {_kind(dh)}")
            ref_dh = case.reference()[3]
            for t in sorted(ref_dh, reverse=True):
                got = dh.get(t)
                if not isinstance(got, np.ndarray) or got.shape != (case.B, case.H):
                    return Check("dh = the complete dL/dh(t) for t = -P .. T-1", False,
                                 diagnosis=f"task 4: dh[{t}] is missing or not a ({case.B}, {case.H}) "
                                           f"array (keys must run from -P = {-P} to T-1 = {case.T - 1})")
                err = rel_error(got, ref_dh[t])
                worst = max(worst, err)
                if err > TOL:
                    return Check("dh = the complete dL/dh(t) for t = -P .. T-1", False, err,
                                 diagnosis=f"task 4: dL/dh(t) is right for t > {t} and first differs at "
                                           + (f"{describe_step(t, case.K, case.S)}; it collects "
                                              f"{feeds(t, case.K, case.S, case.T)}" if t >= 0 else
                                              f"t={t} (before the first step)")
                                           + f" (version {case.label})")
        return Check("dh = the complete dL/dh(t) for t = -P .. T-1", True, worst,
                     detail="versions " + ", ".join(VERSIONS))

    return found[:1] + [_guarded("dh = the complete dL/dh(t) for t = -P .. T-1", complete_dh, run)] + found[1:]


# --------------------------------------------------------------------- task 5: LSTM step
def _lstm_forward(x, h, c, W, Wx, b):
    """h(t), c(t) of numrnn.nn.reference's LSTM step (gate order i, f, g, o)."""
    h_new, c_new, _ = reference.lstm_step_forward(x, h, c, W, Wx, b)
    return h_new, c_new, None


def _lstm_reference(dh, dc, x, h, c, W, Wx, b):
    """numrnn.nn.reference's LSTM step backward: dx, dh_prev, dc_prev, dW, dWx, db."""
    _, _, cache = reference.lstm_step_forward(x, h, c, W, Wx, b)
    d = reference.lstm_step_backward(dh, dc, cache)
    return d["x"], d["h_prev"], d["c_prev"], d["W"], d["Wx"], d["b"]


def grade_lstm_step(module, run, max_examples=10):
    fwd = run.get(module, "lstm_step_forward")
    bwd = run.get(module, "lstm_step_backward")
    names = ("dx", "dh_prev", "dc_prev", "dW", "dWx", "db")

    def data(seed, B=3, D=3, H=4):
        rng = _rng(seed)
        return (rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
                rng.normal(0, 0.5, (4 * H, H)), rng.normal(0, 0.5, (4 * H, D)), rng.normal(0, 0.3, 4 * H),
                rng.standard_normal((B, H)), rng.standard_normal((B, H)))

    def student(x, h, c, W, Wx, b, dh, dc):
        out = _tuple(5, "lstm_step_forward", run.call("lstm_step_forward", fwd, x, h, c, W, Wx, b), 3)
        ref_h, ref_c, _ = _lstm_forward(x, h, c, W, Wx, b)
        if rel_error(out[0], ref_h) > TOL or rel_error(out[1], ref_c) > TOL:
            raise StudentCodeError("task 5: lstm_step_forward (given) no longer computes the LSTM step; "
                                   "restore it from a fresh `numrnn course init`")
        got = _tuple(5, "lstm_step_backward", run.call("your lstm_step_backward", bwd, dh.copy(), dc.copy(), out[2]), 6)
        B, D = x.shape
        H = h.shape[1]
        shapes = ((B, D), (B, H), (B, H), (4 * H, H), (4 * H, D), (4 * H,))
        return [_checked(5, n, g, s) for n, g, s in zip(names, got, shapes)]

    def compare():
        worst = 0.0
        for seed, (B, D, H) in enumerate([(3, 3, 4), (1, 2, 2), (2, 5, 3)]):
            args = data(seed, B, D, H)
            got = student(*args)
            x, h, c, W, Wx, b, dh, dc = args
            ref = _lstm_reference(dh, dc, x, h, c, W, Wx, b)
            errs = {n: rel_error(g, r) for n, g, r in zip(names, got, ref)}
            worst = max(worst, *errs.values())
            wrong = [n for n, e in errs.items() if e > TOL]
            if wrong:
                return Check("backward = numrnn's LSTM step backward", False, max(errs.values()),
                             diagnosis=_lstm_diagnosis(got, ref, wrong, errs, H))
        return Check("backward = numrnn's LSTM step backward", True, worst, detail="three shapes (B, D, H)")

    def finite_differences():
        x, h, c, W, Wx, b, dh, dc = data(9)
        got = student(x, h, c, W, Wx, b, dh, dc)

        def loss():
            h_new, c_new, _ = _lstm_forward(x, h, c, W, Wx, b)
            return float(np.sum(dh * h_new) + np.sum(dc * c_new))

        worst, wrong = 0.0, []
        for n, g, arr in zip(names, got, (x, h, c, W, Wx, b)):
            err = rel_error(g, numerical_gradient(loss, arr))
            worst = max(worst, err)
            if err > 1e-6:
                wrong.append(f"{n} {err:.1e}")
        return Check("backward = centred finite differences (L = sum(dh h) + sum(dc c))", not wrong, worst,
                     diagnosis="task 5: " + ", ".join(wrong))

    return [_guarded("backward = numrnn's LSTM step backward", compare, run),
            _guarded("backward = centred finite differences (L = sum(dh h) + sum(dc c))", finite_differences, run)]


def _lstm_diagnosis(got, ref, wrong, errs, H):
    db, ref_db = got[5], ref[5]
    gates = [g for k, g in enumerate("ifgo") if rel_error(db[k * H:(k + 1) * H], ref_db[k * H:(k + 1) * H]) > TOL]
    text = [f"task 5: {', '.join(wrong)} wrong ({', '.join(f'{n} {errs[n]:.1e}' for n in wrong)})"]
    hints = {"i": "dz_i = dc_total * g * i(1-i)", "f": "dz_f = dc_total * c(t-1) * f(1-f)",
             "g": "dz_g = dc_total * i * (1-g^2)", "o": "dz_o = dh * tanh(c) * o(1-o)"}
    if gates:
        text.append("the gate gradients (the blocks of db) differ for gate" + ("s " if len(gates) > 1 else " ")
                    + ", ".join(gates) + ": " + "; ".join(hints[g] for g in gates))
        if set(gates) == {"i", "f", "g"}:
            text.append("i, f and g all go through dc_total = dc + dh * o * (1 - tanh^2 c): check it")
    elif "dc_prev" in wrong:
        text.append("the gates are right but the cell path is not: dc(t-1) = dc_total * f")
    else:
        text.append("the gates are right: check dx = dz @ Wx, dh_prev = dz @ W, dW = dz.T @ h_prev, "
                    "dWx = dz.T @ x_t")
    return "; ".join(text)


# --------------------------------------------------------------------- task 6: lag norms
def _reference_lag_norms(case, dlast):
    dhs = np.zeros((case.B, case.T, case.H))
    dhs[:, -1] = dlast
    _, _, _, dh = case.reference(dhs)
    return np.array([np.linalg.norm(dh[case.T - 1 - lag]) for lag in range(case.T)])


def grade_grad_lag(module, run, max_examples=10):
    fn = run.get(module, "grad_norm_by_lag")

    def compare():
        worst = 0.0
        for case in version_cases(6):
            dlast = _rng(1).standard_normal((case.B, case.H))
            got = run.call("your grad_norm_by_lag", fn, case.params, case.x.copy(), dlast.copy(),
                           case.K, case.S, h0=case.h0.copy())
            got = _checked(6, "norms", np.asarray(got, dtype=np.float64) if isinstance(got, (list, tuple)) else got,
                           (case.T,))
            ref = _reference_lag_norms(case, dlast)
            err = rel_error(got, ref)
            worst = max(worst, err)
            if err > TOL:
                lag = next(l for l in range(case.T) if rel_error(got[l], ref[l]) > TOL)
                t = case.T - 1 - lag
                why = (f"norms[{lag}] (lag {lag}: ||dL/dh({t})||) is the first that differs, "
                       f"{describe_step(t, case.K, case.S)}")
                if rel_error(got, ref[::-1]) < TOL:
                    why = "the norms are in reverse order: norms[lag] is ||dL/dh(T-1-lag)||, lag 0 is the last step"
                return Check("norm of dL/dh(T-1-lag) against the lag", False, err,
                             diagnosis=f"task 6: {why} (version {case.label}, T={case.T}); it uses your "
                                       "rnn_backward, so pass task 4 first")
        return Check("norm of dL/dh(T-1-lag) against the lag", True, worst,
                     detail="versions " + ", ".join(VERSIONS))

    return [_guarded("norm of dL/dh(T-1-lag) against the lag", compare, run)]


# ------------------------------------------------------------------- task 7: truncated
def _reference_truncated(case, dhs, window, P_override=None, restart=False):
    """(hs, grads) of truncated BPTT by the reference; ``P_override`` carries fewer states and
    ``restart`` restarts the schedule in every window (two mistakes, for the diagnosis)."""
    P = max(1, case.S) if P_override is None else P_override
    history = np.zeros((max(1, case.S), case.B, case.H))
    history[-1] = case.h0
    grads = {n: np.zeros_like(v) for n, v in case.params.items()}
    outputs = []
    for start in range(0, case.T, window):
        stop = min(start + window, case.T)
        hist = history.copy()
        if P < max(1, case.S):
            hist[:-P] = 0
        hs, cache = reference.rnn_forward(case.params, case.x[:, start:stop], case.K, case.S,
                                          history=hist, step0=0 if restart else start)
        _, g, _ = reference.rnn_backward(dhs[:, start:stop], cache)
        for n in grads:
            grads[n] += g[n]
        outputs.append(hs)
        history = np.concatenate([history, hs.transpose(1, 0, 2)])[-max(1, case.S):]
    return np.concatenate(outputs, axis=1), grads


def grade_truncated(module, run, max_examples=10):
    fn = run.get(module, "truncated_bptt")

    def compare():
        worst = 0.0
        for case in version_cases(7):
            for window in (4, 3, 1, case.T):
                got = _tuple(7, "truncated_bptt", run.call(
                    "your truncated_bptt", fn, case.x.copy(), case.G.copy(), case.params, case.K, case.S,
                    window=window, h0=case.h0.copy()), 2)
                hs = _checked(7, "hs", got[0], (case.B, case.T, case.H))
                if not isinstance(got[1], dict) or set(got[1]) != set(case.params):
                    raise StudentCodeError(f"task 7: grads must be a dict with keys {sorted(case.params)}")
                ref_hs, ref_grads = _reference_truncated(case, case.G, window)
                err = max([rel_error(hs, ref_hs)] + [rel_error(got[1][n], ref_grads[n]) for n in ref_grads])
                worst = max(worst, err)
                if err > TOL:
                    return Check("truncated BPTT = reference", False, err,
                                 diagnosis=_truncated_diagnosis(case, window, hs, got[1], ref_hs, ref_grads))
        return Check("truncated BPTT = reference", True, worst,
                     detail="windows 4, 3, 1 and T, versions " + ", ".join(VERSIONS))

    return [_guarded("truncated BPTT = reference", compare, run)]


def _truncated_diagnosis(case, window, hs, grads, ref_hs, ref_grads):
    where = f"(version {case.label}, T={case.T}, window={window})"
    bad = [t for t in range(case.T) if rel_error(hs[:, t], ref_hs[:, t]) > TOL]
    if bad:
        t = bad[0]
        text = f"task 7: h(t) first differs at {describe_step(t, case.K, case.S)}, in window {t // window + 1}"
        short = _reference_truncated(case, case.G, window, P_override=1)[0]
        restart = _reference_truncated(case, case.G, window, restart=True)[0]
        if rel_error(hs, restart) < TOL:
            text += ": the schedule restarts in every window; pass start so step t keeps W_{(t mod K)+1} and its skips"
        elif rel_error(hs, short) < TOL:
            text += (f": the carried state holds only h(t-1); a skip step reads h(t-S), so carry the last "
                     f"P = max(1, S) = {max(1, case.S)} states")
        else:
            text += ": check the state carried from the window before (history, start)"
        return f"{text} {where}"
    full = {n: v for n, v in case.reference()[2].items()}
    if window < case.T and all(rel_error(grads[n], full[n]) < TOL for n in grads):
        return (f"task 7: the gradients equal full BPTT: they flow into earlier windows; each window's "
                f"backward must see its own dhs only and stop at the window's start {where}")
    last_start = ((case.T - 1) // window) * window
    _, last_cache = reference.rnn_forward(case.params, case.x[:, last_start:], case.K, case.S,
                                          history=ref_hs_history(case, ref_hs, last_start), step0=last_start)
    last = reference.rnn_backward(case.G[:, last_start:], last_cache)[1]
    if all(rel_error(grads[n], last[n]) < TOL for n in grads):
        return f"task 7: only the last window's gradients are kept: add up the windows' gradients {where}"
    wrong = [n for n in grads if rel_error(grads[n], ref_grads[n]) > TOL]
    return f"task 7: the states are right but d{', d'.join(wrong)} differ from the sum of the windows' gradients {where}"


def ref_hs_history(case, ref_hs, start):
    P = max(1, case.S)
    states = np.concatenate([np.zeros((P - 1, case.B, case.H)), case.h0[None], ref_hs[:, :start].transpose(1, 0, 2)])
    return states[-P:]


# ------------------------------------------------------------------------------- entry
GRADERS = {1: grade_step_forward, 2: grade_step_backward, 3: grade_sequence_forward,
           4: grade_sequence_backward, 5: grade_lstm_step, 6: grade_grad_lag, 7: grade_truncated}


def grade_task(task, path, time_limit=20.0, max_examples=20):
    """Grade task ``task`` (1-7) in ``path`` (the task's file, or the folder holding it).

    The student's code runs in a child process (:class:`~numrnn.course.runner.ChildRunner`) in a
    scratch copy of its folder; every verdict is computed here. Returns a :class:`Report`; never
    raises for anything wrong in the student's code.
    """
    if task not in GRADERS:
        return Report(f"task {task}", unusable=f"there is no task {task}; the tasks are 1-7")
    if os.path.isdir(path):
        path = os.path.join(path, TASKS[task][0])
    report = Report(f"task {task} in {os.path.basename(path)}", title=TASKS[task][1])
    if not os.path.isfile(path):
        report.unusable = f"task {task}: no file {path}"
        return report
    with student_runner(f"task {task}", time_limit, os.path.dirname(os.path.abspath(path))) as run:
        try:
            module = run.load(path)
            report.checks = GRADERS[task](module, run, max_examples)
        except CannotUse as err:
            report.unusable = str(err)
        except StudentCodeError as err:      # the process could not even start or load the file
            report.unusable = str(err)
    return report
