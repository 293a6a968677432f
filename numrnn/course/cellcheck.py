r"""``numrnn check FILE.py:NAME``: every check of a whole cell that follows the minimal protocol.

The protocol is numrnn's own minimal layer protocol, declared once in :mod:`numrnn.nn.protocol`
(:class:`~numrnn.nn.protocol.Layer`: ``.params``, ``forward(x, h0=None) -> (hs, cache)``,
``backward(dhs, cache) -> (dx, grads)``), so a cell that passes here also trains through
``SequenceModel(layer=...)`` and ``Trainer`` and passes ``gradcheck_layer`` (notebook 08). The grader
adds what it needs to build cells itself: the constructor ``NAME(input_size, hidden_size,
n_matrices=1, skip=0, seed=None, dtype=np.float64)`` and the parameter names W1..WK (H, H),
Wx (H, D), b (H,), for the recurrence

.. math::

    a(t) = W_{(t \bmod K)+1}\, h(t-1) + W_x\, x(t) + b, \qquad
    h(t) = \mathrm{relu}(a(t)) + [(t+1) \bmod S = 0]\; h(t-S)

The checks run versions A, B, C, D and special and hypothesis-drawn K, S, T, in float64 (and one
in float32), with data drawn away from the ReLU kink (every :math:`|a(t)| > 10^{-3}`), and compare
against :mod:`numrnn.nn.reference`. A failed check comes with a diagnosis from :mod:`numrnn.course.spec`;
a likely cause only when one known mistake reproduces the student's numbers on every version.

The student's class is reached through a runner (:mod:`numrnn.course.runner`): in a child process
for ``numrnn check`` (only arrays come back), or in this process for a notebook's functions. Every
comparison here is made on the returned arrays, in the grader.
"""
import copy
import itertools

import numpy as np

from ..nn import reference
from .report import TOL, Check, rel_error
from .runner import (MISSING, CannotPerturb, CannotUse, LocalRunner, RArray, RDict, RList, RObject,
                     StudentCodeError)
from .spec import (BACKWARD_MISTAKES, FORWARD_MISTAKES, describe_step, feeds, spec_backward,
                   spec_forward)

#: The paper's versions: name -> (K matrices, skip S).
VERSIONS = {"A": (1, 0), "B": (2, 0), "C": (1, 2), "D": (2, 2), "special": (4, 4)}
#: Sizes of the fixed cases: D = H + 1 so that dx(t) = Wx^T da(t) shows every wrong da(t).
SIZES = {"B": 2, "T": 9, "D": 5, "H": 4}
KINK = 1e-3


class Case:
    """One setting with its data: params, x, h0, dhs (G), away from the ReLU kink."""

    def __init__(self, label, K, S, B, T, D, H, seed):
        rng = np.random.default_rng(seed)
        for _ in range(200):
            params = {f"W{k + 1}": rng.normal(0, 0.6 / np.sqrt(H), (H, H)) for k in range(K)}
            params["Wx"] = rng.normal(0, 1 / np.sqrt(D), (H, D))
            params["b"] = rng.normal(0, 0.2, H)
            x = rng.standard_normal((B, T, D))
            h0 = 0.5 * rng.standard_normal((B, H))
            _, a, _ = spec_forward(params, x, K, S, h0)
            if min(np.min(np.abs(v)) for v in a.values()) > KINK:
                break
        self.label, self.K, self.S, self.B, self.T, self.D, self.H = label, K, S, B, T, D, H
        self.params, self.x, self.h0 = params, x, h0
        self.G = rng.standard_normal((B, T, H))

    def settings(self):
        return f"K={self.K}, S={self.S}, T={self.T}, B={self.B}, D={self.D}, H={self.H}"

    def where(self):
        """'version C, K=1, S=2, ...' or, for a drawn setting, 'K=1, S=2, ...'."""
        return (f"version {self.label}, " if self.label in VERSIONS else "") + self.settings()

    def reference(self, dhs=None, x=None):
        """hs, dx, grads and dh (dict) of the reference BPTT (numrnn.nn.reference)."""
        x = self.x if x is None else x
        hs, cache = reference.rnn_forward(self.params, x, self.K, self.S, h0=self.h0)
        dx, grads, dh = reference.rnn_backward(self.G if dhs is None else dhs, cache)
        return hs, dx, grads, dh


def version_cases(seed=0):
    return [Case(name, K, S, SIZES["B"], SIZES["T"], SIZES["D"], SIZES["H"], seed + i)
            for i, (name, (K, S)) in enumerate(VERSIONS.items())]


# ------------------------------------------------------------------ the student's cell
class Made:
    """One built cell: the handle the runner gives back, its params (name -> array) and its methods."""

    def __init__(self, handle, params, forward=None, backward=None, K=1, S=0):
        self.handle, self.params, self.fwd, self.bwd, self.K, self.S = handle, params, forward, backward, K, S


class StudentCell:
    """The student's cell class, wherever the runner runs code, and its calls, each result checked
    for form. The arrays come back as values; comparisons are made here, by the grader."""

    def __init__(self, cls, runner, name):
        self.cls, self.run, self.name = cls, runner, name
        info = runner.inspect(cls, 5, 4, n_matrices=2, skip=2, seed=0, dtype=np.float64)
        if not info.get("callable") or info.get("signature") is None:
            raise CannotUse(f"{runner.task}: {name} is not a class that can be called")
        if not info.get("binds"):
            raise CannotUse(f"{runner.task}: {name}{info['signature']} has the wrong signature; the protocol "
                            f"is {name}(input_size, hidden_size, n_matrices=1, skip=0, seed=None, "
                            "dtype=np.float64)")
        for method in ("forward", "backward"):
            if not info["methods"].get(method):
                raise CannotUse(f"{runner.task}: {name} has no method {method}(); the protocol needs "
                                "forward(x, h0=None) -> (hs, cache) and backward(dhs, cache) -> (dx, grads)")

    def make(self, case, dtype=np.float64):
        dname = np.dtype(dtype).name
        cell = self.run.call(f"{self.name}({case.D}, {case.H}, n_matrices={case.K}, skip={case.S}, "
                             f"seed=0, dtype=np.{dname})", self.cls, case.D, case.H,
                             n_matrices=case.K, skip=case.S, seed=0, dtype=dtype)
        params, fwd, bwd = self.run.attrs(cell, ("params", "forward", "backward"))
        if not isinstance(params, dict):
            got = "nothing" if params is MISSING else _kind(params)
            raise StudentCodeError(f"{self.run.task}: {self.name}.params must be a dict of arrays, "
                                   f"got {got}")
        want = {f"W{k + 1}" for k in range(case.K)} | {"Wx", "b"}
        if set(params) != want:
            raise StudentCodeError(f"{self.run.task}: with n_matrices={case.K}, {self.name}.params "
                                   f"must have the keys {sorted(want)}, got {sorted(map(str, params))}")
        for key, value in case.params.items():
            p = params[key]
            if not isinstance(p, np.ndarray) or p.shape != value.shape or p.dtype != dtype:
                got = (f"{_kind(p)}" if not isinstance(p, np.ndarray)
                       else f"shape {p.shape}, dtype {p.dtype}")
                raise StudentCodeError(f"{self.run.task}: {self.name}.params[{key!r}] must be a {dname} "
                                       f"array of shape {value.shape} (with dtype=np.{dname}), got {got}")
        # in place: the cell keeps its own arrays
        self.run.assign_items(params, {k: v.astype(dtype) for k, v in case.params.items()})
        return Made(cell, params, fwd, bwd, case.K, case.S)

    def forward(self, made, case, x=None, h0="case", dtype=np.float64, return_args=False):
        x = case.x if x is None else x
        h0 = case.h0 if isinstance(h0, str) else h0
        args = [x.astype(dtype)]
        kwargs = {"h0": None if h0 is None else h0.astype(dtype)}
        out, args_after, kwargs_after = self.run.call_full("your forward", made.fwd, args, kwargs,
                                                           return_args=return_args)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise StudentCodeError(f"{self.run.task}: forward must return (hs, cache), got "
                                   f"{_kind(out)}")
        _array(self.run.task, "forward", "hs", out[0], (case.B, x.shape[1], case.H), dtype)
        if return_args:
            return out, args_after[0], kwargs_after.get("h0")
        return out

    def backward(self, made, case, dhs, cache, dtype=np.float64, return_args=False):
        out, args_after, _ = self.run.call_full("your backward", made.bwd, [dhs.astype(dtype), cache], {},
                                                return_args=return_args)
        return self._backward_answer(out, case, dhs, dtype, 2, "backward", args_after, return_args)

    def _backward_answer(self, out, case, dhs, dtype, n, fn_name, args_after, return_args):
        if not (isinstance(out, (tuple, list)) and len(out) == n):
            what = "(dx, grads)" if n == 2 else f"a tuple of {n}"
            raise StudentCodeError(f"{self.run.task}: {fn_name} must return {what}, got {_kind(out)}")
        dx, grads = out[0], out[1]
        _array(self.run.task, "backward", "dx", dx, (case.B, dhs.shape[1], case.D), dtype)
        if not isinstance(grads, dict) or set(grads) != set(case.params):
            got = sorted(map(str, grads)) if isinstance(grads, dict) else _kind(grads)
            raise StudentCodeError(f"{self.run.task}: {fn_name} must return grads, a dict with the keys "
                                   f"{sorted(case.params)}, got {got}")
        for key, value in case.params.items():
            _array(self.run.task, "backward", f"grads[{key!r}]", grads[key], value.shape, dtype)
        return (dx, grads, args_after[0]) if return_args else (dx, grads)

    def outputs_moved(self, made, case, x, name):
        """hs of the forward with each entry of params[name] (or of x) moved by +-1e-6: (2n, B, T, H)."""
        target = ("arg", 0) if name == "x" else made.params[name]
        return self.run.perturbed("your forward (finite differences)", made.fwd, [x],
                                  {"h0": case.h0.copy()}, target)

    def both(self, case, dhs=None, x=None):
        """A fresh cell: forward then backward; returns (hs, dx, grads)."""
        made = self.make(case)
        hs, cache = self.forward(made, case, x=x)
        dx, grads = self.backward(made, case, (case.G if dhs is None else dhs).copy(), cache)
        return hs, dx, grads


class FunctionCell(StudentCell):
    """A cell made of the student's functions ``forward(x, params, K, S, h0=None) -> (hs, cache)`` and
    ``backward(dhs, cache) -> (dx, grads, ...)``: the params live in the grader and are passed in."""

    def __init__(self, forward, backward, runner, name, forward_name="your forward",
                 backward_name="your backward", n_backward=3):
        self.fn_fwd, self.fn_bwd, self.run, self.name = forward, backward, runner, name
        self.forward_name, self.backward_name, self.n_backward = forward_name, backward_name, n_backward

    def make(self, case, dtype=np.float64):
        return Made(None, {n: v.astype(dtype) for n, v in case.params.items()}, K=case.K, S=case.S)

    def forward(self, made, case, x=None, h0="case", dtype=np.float64, return_args=False):
        x = case.x if x is None else x
        h0 = case.h0 if isinstance(h0, str) else h0
        args = [x.astype(dtype), {n: v.copy() for n, v in made.params.items()}, made.K, made.S]
        kwargs = {"h0": None if h0 is None else h0.astype(dtype)}
        out, args_after, kwargs_after = self.run.call_full(self.forward_name, self.fn_fwd, args, kwargs,
                                                           return_args=return_args)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise StudentCodeError(f"{self.run.task}: {self.forward_name.replace('your ', '')} must "
                                   f"return (hs, cache), got {_kind(out)}")
        _array(self.run.task, "forward", "hs", out[0], (case.B, x.shape[1], case.H), dtype)
        if return_args:
            return out, args_after[0], kwargs_after.get("h0")
        return out

    def backward(self, made, case, dhs, cache, dtype=np.float64, return_args=False):
        out, args_after, _ = self.run.call_full(self.backward_name, self.fn_bwd, [dhs.astype(dtype), cache],
                                                {}, return_args=return_args)
        return self._backward_answer(out, case, dhs, dtype, self.n_backward,
                                     self.backward_name.replace("your ", ""), args_after, return_args)

    def outputs_moved(self, made, case, x, name):
        target = ("arg", 0) if name == "x" else ("arg", 1, name)
        return self.run.perturbed(f"{self.forward_name} (finite differences)", self.fn_fwd,
                                  [x, {n: v.copy() for n, v in made.params.items()}, made.K, made.S],
                                  {"h0": case.h0.copy()}, target)


def _kind(value):
    """What a value is, in words ('a tuple of 3', 'float', 'your Cache')."""
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, RObject):
        return value.typename
    if isinstance(value, (RDict, RList, RArray)):
        return type(value).__mro__[1].__name__
    return type(value).__name__


def _array(task, where, name, value, shape, dtype=np.float64):
    dname = np.dtype(dtype).name
    if not isinstance(value, np.ndarray):
        raise StudentCodeError(f"{task}: your {where} returned {name} as {_kind(value)}, "
                               f"expected a {dname} array of shape {shape}")
    if value.shape != tuple(shape):
        raise StudentCodeError(f"{task}: your {where} returned {name} of shape {value.shape}, "
                               f"expected {tuple(shape)}")
    if value.dtype != dtype:
        raise StudentCodeError(f"{task}: your {where} returned {name} of dtype {value.dtype}, "
                               f"expected {dname}")
    if not np.all(np.isfinite(value)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise StudentCodeError(f"{task}: your {where} returned {name} with NaN or inf "
                               f"(first at index {bad})")


# ----------------------------------------------------------------------------- diagnosis
def _match(candidates, student, compute, confirm=None):
    """Names of the mistakes whose variant equals the student's output here and, when ``confirm`` is
    given, on every other setting too (only then does the evidence isolate the mistake)."""
    found = []
    for name in candidates:
        try:
            variant = compute(name)
        except (IndexError, KeyError):
            continue
        if all(rel_error(s, v) < TOL for s, v in zip(student, variant)):
            if confirm is None or confirm(name):
                found.append(name)
    return found


def diagnose_forward(case, hs, confirm=None):
    """Which step of the forward first differs, what kind of step, and (when the student's numbers
    match one known mistake on every setting tried) the likely cause."""
    ref = case.reference()[0]
    bad = [t for t in range(case.T) if rel_error(hs[:, t], ref[:, t]) > TOL]
    if not bad:
        return ""
    t = bad[0]
    text = f"h(t) first differs at {describe_step(t, case.K, case.S)}"
    causes = _match(FORWARD_MISTAKES, [hs], lambda m: [spec_forward(case.params, case.x, case.K,
                                                                    case.S, case.h0, mistake=m)[0]],
                    confirm)
    if causes:
        text += f": {FORWARD_MISTAKES[causes[0]]}"
    else:
        text += (": compare a(t) = W_k h(t-1) + Wx x(t) + b and the skip at this step with the "
                 "equations")
    return text + f" ({case.where()})"


def diagnose_backward(case, dx, grads, dh=None, dhs=None, confirm=None):
    """Which gradient is wrong, where dL/dh(t) first goes wrong going back in time, and why (a
    likely cause only when one known mistake reproduces the student's numbers everywhere)."""
    G = case.G if dhs is None else dhs
    _, ref_dx, ref_grads, ref_dh = case.reference(G)
    errors = {f"d{n}": rel_error(grads[n], ref_grads[n]) for n in ref_grads}
    errors["dx"] = rel_error(dx, ref_dx)
    wrong = [n for n, e in errors.items() if e > TOL]
    if not wrong:
        return ""
    head = ", ".join(wrong) + (" is" if len(wrong) == 1 else " are") + " wrong"
    K, S, T = case.K, case.S, case.T
    errs = ", ".join(f"{n} {errors[n]:.1e}" for n in wrong)
    tail = f"\nrelative errors: {errs} ({case.where()})"
    causes = _match(BACKWARD_MISTAKES, [dx] + [grads[n] for n in ref_grads],
                    lambda m: _flat(spec_backward(case.params, case.x, K, S, G, case.h0, mistake=m)),
                    confirm)
    if wrong == ["dx"] and dh is None:
        # every parameter gradient is right, so da(t) = dL/dh(t) relu'(a(t)) is right at every step:
        # only the last product dx(t) = da(t) Wx can be wrong; say where, blame nothing else
        bad = [t for t in range(T) if rel_error(dx[:, t], ref_dx[:, t]) > TOL]
        text = (f"dx is wrong while every parameter gradient is right, so dL/dh(t) and da(t) are right "
                f"at every step; dx(t) first differs at t={bad[0]} (of {', '.join(map(str, bad))}): "
                "compare dx(t) = da(t) Wx, shape (B, D)")
        if causes:
            text += f".\nlikely cause: {BACKWARD_MISTAKES[causes[0]]}"
        return text + "." + tail
    if dh is not None:
        late = [t for t in sorted(ref_dh, reverse=True) if rel_error(dh[t], ref_dh[t]) > TOL]
        where = (f"dL/dh(t) first differs at t={late[0]} (going back from t={T - 1})" if late else "")
        t_bad = late[0] if late else None
    else:
        late = [t for t in reversed(range(T)) if rel_error(dx[:, t], ref_dx[:, t]) > TOL]
        t_bad = late[0] if late else None
        where = (f"dL/dh(t) first differs at t={t_bad} (going back from t={T - 1}; seen in dx(t) = "
                 f"Wx^T (dL/dh(t) * relu'(a(t))), so it is dL/dh({t_bad}), relu'(a({t_bad})) or that "
                 "product)" if late else "")
    step = ""
    if t_bad is None:
        where = "dL/dh(t) is right at every step, so the sums into the parameter gradients are wrong"
        guess = ("which steps add into each dW_k (step t into W_{(t mod K)+1}) and that "
                 "dWx and db sum over every step")
    elif t_bad < 0:
        where = f"dL/dh(t) is right for t >= 0 and first differs at t={t_bad} (the initial state)"
        guess = "what the first steps pass back to h(-1) .. h(-S)"
    else:
        step = f"\n{describe_step(t_bad, K, S)}; dL/dh({t_bad}) collects {feeds(t_bad, K, S, T)}."
        guess = "the lines of step " + str(t_bad) + " and of the steps it feeds, listed above"
    if causes:
        return f"{head}; {where}.{step}\nlikely cause: {BACKWARD_MISTAKES[causes[0]]}.{tail}"
    return f"{head}; {where}.{step}\nto check: {guess} (no single known mistake reproduces your numbers).{tail}"


def _flat(result):
    dx, grads, _ = result
    return [dx] + [grads[n] for n in grads]


def centred_differences(moved, G, shape):
    """(L(+eps) - L(-eps)) / (2 eps) per entry, L = sum(G * hs), from the forward's outputs ``moved``
    (2n, B, T, H) with each entry moved up then down: numrnn.nn.gradcheck.numerical_gradient's formula."""
    n = int(np.prod(shape))
    if moved.shape != (2 * n,) + G.shape:
        return None
    losses = np.array([float(np.sum(G * m)) for m in moved])
    return ((losses[0::2] - losses[1::2]) / (2 * 1e-6)).reshape(shape)


class SkipCheck(Exception):
    """A check that cannot run here (says why, and how to make it run)."""


# ---------------------------------------------------------------------------- the checks
#: The checks of a whole cell, in the order they are run and reported.
CELL_CHECKS = ("interface", "forward", "inputs", "backward", "gradcheck", "hypothesis", "matrices",
               "losses", "twice", "calls", "cache", "params", "float32")


class CellChecks:
    """Runs every check of a protocol cell; :meth:`run` returns the list of :class:`Check`."""

    def __init__(self, cell, task="cell", max_examples=20, seed=0, dh_fn=None):
        self.cell, self.task = cell, task
        self.max_examples, self.seed = max_examples, seed
        self.cases = version_cases(seed)
        self.dh_fn = dh_fn     # optional: (case) -> student's complete dh dict, for exact localisation
        self._outputs = {}

    def run(self, which=CELL_CHECKS):
        checks = []
        for name in which:
            method = getattr(self, f"check_{name}")
            title = method.__doc__.splitlines()[0]
            if checks and checks[0].name.startswith("interface") and not checks[0].passed:
                checks.append(Check(title, False, detail="not run: the interface check failed"))
                continue
            self.cell.run.start_check()
            try:
                checks.append(method())
            except StudentCodeError as err:
                checks.append(Check(title, False, diagnosis=str(err)))
            except SkipCheck as why:
                checks.append(Check(title, True, skipped=str(why)))
        return checks

    # -- the student's answers on the versions, for confirming a likely cause
    def _student(self, case):
        if case.label not in self._outputs:
            try:
                self._outputs[case.label] = self.cell.both(case)
            except StudentCodeError:
                self._outputs[case.label] = None
        return self._outputs[case.label]

    def _student_hs(self, case):
        key = ("hs", case.label)
        if key not in self._outputs:
            try:
                self._outputs[key] = (self.cell.forward(self.cell.make(case), case)[0],)
            except StudentCodeError:
                self._outputs[key] = None
        return self._outputs[key]

    def confirm_forward(self, mistake):
        for case in self.cases:
            got = self._student_hs(case)
            try:
                variant = spec_forward(case.params, case.x, case.K, case.S, case.h0, mistake=mistake)[0]
            except (IndexError, KeyError):
                return False
            if got is None or rel_error(got[0], variant) > TOL:
                return False
        return True

    def confirm_backward(self, mistake):
        for case in self.cases:
            got = self._student(case)
            try:
                variant = _flat(spec_backward(case.params, case.x, case.K, case.S, case.G, case.h0,
                                              mistake=mistake))
            except (IndexError, KeyError):
                return False
            if got is None:
                return False
            mine = [got[1]] + [got[2][n] for n in sorted(case.params, key=list(case.params).index)]
            if any(rel_error(a, b) > TOL for a, b in zip(mine, variant)):
                return False
        return True

    # each check's first docstring line is its name in the report
    def check_interface(self):
        """interface: constructor, .params, shapes and dtypes of forward and backward"""
        for case in self.cases:
            cell = self.cell.make(case)
            hs, cache = self.cell.forward(cell, case, h0=None)
            self.cell.backward(cell, case, case.G.copy(), cache)
        return Check("interface: constructor, .params, shapes and dtypes of forward and backward", True,
                     detail="versions " + ", ".join(VERSIONS) + ", h0=None")

    def check_forward(self):
        """forward = specification"""
        worst = 0.0
        for case in self.cases:
            cell = self.cell.make(case)
            hs, _ = self.cell.forward(cell, case)
            err = rel_error(hs, case.reference()[0])
            worst = max(worst, err)
            if err > TOL:
                return Check("forward = specification", False, err,
                             diagnosis=diagnose_forward(case, hs, self.confirm_forward))
            cell = self.cell.make(case)
            hs0, _ = self.cell.forward(cell, case, h0=None)
            ref0 = reference.rnn_forward(case.params, case.x, case.K, case.S)[0]
            if rel_error(hs0, ref0) > TOL:
                return Check("forward = specification", False, rel_error(hs0, ref0),
                             diagnosis=f"with h0=None the forward must start from h(-1) = 0 "
                                       f"(version {case.label})")
        return Check("forward = specification", True, worst, detail="versions " + ", ".join(VERSIONS))

    def check_inputs(self):
        """forward leaves its arguments x and h0 unchanged"""
        for case in self.cases:
            made = self.cell.make(case)
            _, x_after, h0_after = self.cell.forward(made, case, return_args=True)
            for name, before, after in (("h0", case.h0, h0_after), ("x", case.x, x_after)):
                if not (isinstance(after, np.ndarray) and after.shape == before.shape
                        and np.array_equal(after, before)):
                    return Check("forward leaves its arguments x and h0 unchanged", False,
                                 diagnosis=f"your forward wrote into the caller's {name} (version "
                                           f"{case.label}): the caller's array must stay as it was; "
                                           f"copy it first (h = {name}.copy()) or build new arrays")
        return Check("forward leaves its arguments x and h0 unchanged", True,
                     detail="versions " + ", ".join(VERSIONS))

    def _params_changed(self, made, case):
        """The first parameter the student's code changed since the cell was made, or ''."""
        if made.handle is None:
            return ""
        now = self.cell.run.attr(made.handle, "params")
        if not isinstance(now, dict):
            return "params (no longer a dict)"
        for name, value in case.params.items():
            got = self.cell.run.mirror(now.get(name))
            if not (isinstance(got, np.ndarray) and got.shape == value.shape and np.array_equal(got, value)):
                return f"params[{name!r}]"
        return ""

    def _params_note(self, made, case, text):
        """``text``, led by the parameter the backward changed when it did (that is then the cause)."""
        changed = self._params_changed(made, case)
        if not changed:
            return text
        return (f"your backward changed the cell's {changed}, so every later call sees other "
                f"parameters (a backward only computes gradients; the optimiser updates them). {text}")

    def check_backward(self):
        """backward = reference BPTT"""
        worst = 0.0
        for case in self.cases:
            made = self.cell.make(case)
            _, cache = self.cell.forward(made, case)
            dx, grads = self.cell.backward(made, case, case.G.copy(), cache)
            _, ref_dx, ref_grads, _ = case.reference()
            err = max([rel_error(dx, ref_dx)] + [rel_error(grads[n], ref_grads[n]) for n in ref_grads])
            worst = max(worst, err)
            if err > TOL:
                changed = self._params_changed(made, case)
                if changed:
                    return Check("backward = reference BPTT", False, err,
                                 diagnosis=f"your backward changed the cell's {changed} (version "
                                           f"{case.label}): a backward only computes gradients; the "
                                           "optimiser updates the parameters. Every check after a "
                                           "backward then sees other parameters")
                dh = self.dh_fn(case) if self.dh_fn else None
                return Check("backward = reference BPTT", False, err,
                             diagnosis=diagnose_backward(case, dx, grads, dh, confirm=self.confirm_backward))
        return Check("backward = reference BPTT", True, worst, detail="versions " + ", ".join(VERSIONS))

    def check_gradcheck(self):
        """backward = centred finite differences of your forward"""
        worst, failed = 0.0, []
        for case in self.cases:
            cell = self.cell.make(case)
            hs, cache = self.cell.forward(cell, case)
            dx, grads = self.cell.backward(cell, case, case.G.copy(), cache)
            for name, analytic in list(grads.items()) + [("x", dx)]:
                try:
                    moved = self.cell.outputs_moved(cell, case, case.x.copy(), name)
                except CannotPerturb as err:     # not a contiguous float64 array: cannot perturb it
                    failed.append(f"d{name}: your params[{name!r}] cannot be perturbed in place ({err})")
                    continue
                numeric = centred_differences(moved, case.G, np.shape(analytic))
                if numeric is None:
                    failed.append(f"d{name}: your forward returned hs of another shape when "
                                  f"{name} was moved")
                    continue
                err = rel_error(analytic, numeric)
                worst = max(worst, err)
                if err > 1e-6:
                    failed.append(f"d{name} {err:.1e} (version {case.label})")
            if failed:
                return Check("backward = centred finite differences of your forward", False, worst,
                             diagnosis=self._params_note(cell, case, "your backward is not the derivative "
                                                         "of your forward: " + ", ".join(failed)))
        return Check("backward = centred finite differences of your forward", True, worst,
                     detail="every entry of every parameter and of x, eps 1e-6, versions "
                            + ", ".join(VERSIONS))

    def check_hypothesis(self):
        """random K, S, T (hypothesis)"""
        failure = {}

        def one(K, S, T, B, D, H, seed):
            case = Case("drawn", K, S, B, T, D, H, seed)
            try:
                hs, dx, grads = self.cell.both(case)
            except StudentCodeError as err:
                failure.update(case=case, text=str(err), err=None, raised=True)
                raise AssertionError from None
            ref_hs, ref_dx, ref_grads, _ = case.reference()
            if rel_error(hs, ref_hs) > TOL:
                failure.update(case=case, hs=hs, err=rel_error(hs, ref_hs), raised=False, kind="forward")
                raise AssertionError
            errs = [rel_error(dx, ref_dx)] + [rel_error(grads[n], ref_grads[n]) for n in ref_grads]
            failure["worst"] = max(failure.get("worst", 0.0), *errs)
            if max(errs) > TOL:
                failure.update(case=case, out=(dx, grads), err=max(errs), raised=False, kind="backward")
                raise AssertionError

        if not drawn(self.max_examples, one, self.task, failure):
            return Check("random K, S, T (hypothesis)", True, failure.get("worst", 0.0),
                         detail=f"{self.max_examples} drawn settings, K 1-4, S 0-5, T 1-10 "
                                "(forward and backward against the reference)")
        case = failure["case"]
        if failure.get("raised"):
            return Check("random K, S, T (hypothesis)", False,
                         diagnosis=f"{failure['text']} (at {case.settings()})")
        if failure["kind"] == "forward":
            text = diagnose_forward(case, failure["hs"], self.confirm_forward)
        else:
            dh = self.dh_fn(case) if self.dh_fn else None
            text = diagnose_backward(case, *failure["out"], dh, confirm=self.confirm_backward)
        return Check("random K, S, T (hypothesis)", False, failure.get("err"),
                     diagnosis=f"fails at {case.settings()}:\n{text}")

    def check_matrices(self):
        """each W_k collects only the steps that use it"""
        case = Case("K=4, S=3, T=3", 4, 3, 2, 3, 3, 4, self.seed + 11)
        _, _, grads = self.cell.both(case)
        _, _, ref_grads, ref_dh = case.reference()
        hs, a, h = spec_forward(case.params, case.x, case.K, case.S, case.h0)
        da = {t: ref_dh[t] * (a[t] > 0) for t in range(case.T)}
        terms = {t: da[t].T @ h[t - 1] for t in range(case.T)}
        problems, worst = [], 0.0
        for k in range(1, case.K + 1):
            err = rel_error(grads[f"W{k}"], ref_grads[f"W{k}"])
            worst = max(worst, err)
            if err <= TOL:
                continue
            own = [t for t in range(case.T) if t % case.K + 1 == k]
            subset = next((list(c) for r in range(case.T + 1) for c in itertools.combinations(range(case.T), r)
                           if rel_error(grads[f"W{k}"], sum((terms[t] for t in c), np.zeros((case.H, case.H))))
                           < TOL), None)
            should = (f"the term of step{'s' if len(own) > 1 else ''} {', '.join(map(str, own))}" if own
                      else "0 (no step uses it)")
            has = ("the terms of steps " + ", ".join(map(str, subset)) if subset
                   else "something else" if subset is None else "0")
            problems.append(f"dW{k} holds {has}; it should hold {should}")
        if problems:
            return Check("each W_k collects only the steps that use it", False, worst,
                         diagnosis="; ".join(problems) + f" (K=4, S=3, T=3: steps 0, 1, 2 use W1, "
                                   "W2, W3; W4 is unused)")
        return Check("each W_k collects only the steps that use it", True, worst,
                     detail="K=4, S=3, T=3: dW1..dW3 one step each, dW4 exactly 0")

    def check_losses(self):
        """every step's loss reaches the gradients"""
        case = self.cases[3]                          # version D
        _, dx_all, g_all = self.cell.both(case)
        ignored, total_dx = [], np.zeros_like(dx_all)
        total = {n: np.zeros_like(v) for n, v in g_all.items()}
        _, ref_dx, ref_grads, _ = case.reference()
        for s in range(case.T):
            dhs = np.zeros_like(case.G)
            dhs[:, s] = case.G[:, s]
            _, dx, grads = self.cell.both(case, dhs=dhs)
            if not np.any(dx) and not any(np.any(g) for g in grads.values()):
                ignored.append(s)
            total_dx += dx
            for n in total:
                total[n] += grads[n]
        linear = max([rel_error(total_dx, dx_all)] + [rel_error(total[n], g_all[n]) for n in total])
        if ignored:
            return Check("every step's loss reaches the gradients", False, linear,
                         diagnosis=f"a loss at step{'s' if len(ignored) > 1 else ''} {_ranges(ignored)} "
                                   "alone gives zero gradients: dL/dh(t) from the loss (dhs[:, t]) must "
                                   f"be added at every step t (version D, T={case.T})")
        if linear > TOL:
            return Check("every step's loss reaches the gradients", False, linear,
                         diagnosis="the gradients of the whole loss are not the sum of the gradients of "
                                   "each step's loss alone: the backward must be linear in dhs "
                                   f"(version D, T={case.T})")
        return Check("every step's loss reaches the gradients", True, linear,
                     detail=f"dhs nonzero at one step only, each of the {case.T} steps, sums to the whole "
                            "(version D)")

    def check_twice(self):
        """backward twice: same answer, cache and dhs unchanged"""
        case = self.cases[3]
        cell = self.cell.make(case)
        _, cache = self.cell.forward(cell, case)
        saved = self.cell.run.mirror(cache)
        dx1, g1, dhs_after = self.cell.backward(cell, case, case.G.copy(), cache, return_args=True)
        dx1, g1 = np.array(dx1), {n: np.array(v) for n, v in g1.items()}
        if not np.array_equal(np.asarray(dhs_after), case.G):
            return Check("backward twice: same answer, cache and dhs unchanged", False,
                         diagnosis="your backward changed its argument dhs; copy it before adding "
                                   "into it (dh = dhs.copy())")
        changed = _first_difference(saved, self.cell.run.mirror(cache), "cache")
        if changed:
            return Check("backward twice: same answer, cache and dhs unchanged", False,
                         diagnosis=f"your backward changed the cache ({changed} differs after the call): "
                                   "the backward must only read what the forward stored; a second "
                                   "backward would then be wrong")
        dx2, g2 = self.cell.backward(cell, case, case.G.copy(), cache)
        err = max([rel_error(dx2, dx1)] + [rel_error(g2[n], g1[n]) for n in g1])
        if err > TOL:
            doubled = all(rel_error(g2[n], 2 * g1[n]) < TOL for n in g1)
            why = ("the second call returned twice the first: the gradients accumulate across calls "
                   "(start every backward from zeros, not from the last call's sums)" if doubled
                   else "the second call gave a different answer from the first")
            return Check("backward twice: same answer, cache and dhs unchanged", False, err,
                         diagnosis=self._params_note(cell, case, why))
        return Check("backward twice: same answer, cache and dhs unchanged", True, err,
                     detail="version D")

    def check_calls(self):
        """no accumulation across calls"""
        case = self.cases[3]
        other = Case("D, second input", case.K, case.S, case.B, case.T, case.D, case.H, self.seed + 99)
        other.params = case.params
        cell = self.cell.make(case)
        answers = []
        for data in (case, other):
            _, cache = self.cell.forward(cell, case, x=data.x)
            answers.append(self.cell.backward(cell, case, data.G.copy(), cache))
            answers[-1] = (answers[-1][0].copy(), {n: v.copy() for n, v in answers[-1][1].items()})
        (_, g1), (dx, grads) = answers
        _, fresh_dx, fresh = self.cell.both(case, dhs=other.G, x=other.x)   # a new cell, same data
        err = max([rel_error(dx, fresh_dx)] + [rel_error(grads[n], fresh[n]) for n in grads])
        if err > TOL:
            summed = all(rel_error(grads[n], fresh[n] + g1[n]) < TOL for n in grads)
            why = ("the second call's gradients include the first call's: they accumulate across "
                   "calls (create the grads dict with zeros inside backward)" if summed
                   else "a second forward/backward on new data gives other gradients than a new cell "
                        "on the same data: the cell keeps something from the first call")
            return Check("no accumulation across calls", False, err, diagnosis=self._params_note(cell, case, why))
        return Check("no accumulation across calls", True, err,
                     detail="two inputs one after the other on the same cell equal a new cell's (version D)")

    def check_cache(self):
        """backward uses its cache argument (two forwards, then the backwards in reverse order)"""
        case = self.cases[3]
        other = Case("D, second input", case.K, case.S, case.B, case.T, case.D, case.H, self.seed + 99)
        other.params = case.params
        first, second = self.cell.both(case), self.cell.both(case, dhs=other.G, x=other.x)
        made = self.cell.make(case)
        _, cache1 = self.cell.forward(made, case, x=case.x)
        _, cache2 = self.cell.forward(made, case, x=other.x)
        dx2, g2 = self.cell.backward(made, case, other.G.copy(), cache2)
        dx2, g2 = np.array(dx2), {n: np.array(v) for n, v in g2.items()}
        dx1, g1 = self.cell.backward(made, case, case.G.copy(), cache1)
        err = max([rel_error(dx1, first[1])] + [rel_error(g1[n], first[2][n]) for n in g1]
                  + [rel_error(dx2, second[1])] + [rel_error(g2[n], second[2][n]) for n in g2])
        if err > TOL:
            # the gradients of the first input's dhs, computed at the *second* input's state?
            swapped = self.cell.both(case, dhs=case.G, x=other.x)
            reads_self = max([rel_error(dx1, swapped[1])] + [rel_error(g1[n], swapped[2][n]) for n in g1]) < TOL
            why = ("after forward(x1) and forward(x2), backward(dhs1, cache1) gave the gradients at x2: "
                   "your backward reads what it needs from the cell (self....) instead of from its cache "
                   "argument; keep what the backward needs in the cache the forward returns"
                   if reads_self else
                   "after forward(x1) and forward(x2), backward(dhs2, cache2) then backward(dhs1, cache1) "
                   "differ from the same calls on a new cell each: the backward must depend on dhs and "
                   "its cache only")
            return Check("backward uses its cache argument (two forwards, then the backwards in reverse "
                         "order)", False, err, diagnosis=self._params_note(made, case, why + " (version D)"))
        return Check("backward uses its cache argument (two forwards, then the backwards in reverse order)",
                     True, err, detail="version D, two inputs")

    def check_params(self):
        """backward leaves the parameters unchanged"""
        for case in self.cases:
            made = self.cell.make(case)
            _, cache = self.cell.forward(made, case)
            self.cell.backward(made, case, case.G.copy(), cache)
            changed = self._params_changed(made, case)
            if changed:
                return Check("backward leaves the parameters unchanged", False,
                             diagnosis=f"your backward changed the cell's {changed} (version {case.label}): "
                                       "a backward only computes gradients; the optimiser updates the "
                                       "parameters")
        return Check("backward leaves the parameters unchanged", True, detail="versions " + ", ".join(VERSIONS))

    def check_float32(self):
        """dtype=np.float32: params, hs and gradients in float32"""
        case = self.cases[3]
        c32 = copy.copy(case)
        c32.params = {n: v.astype(np.float32).astype(np.float64) for n, v in case.params.items()}
        c32.x = case.x.astype(np.float32).astype(np.float64)
        c32.h0 = case.h0.astype(np.float32).astype(np.float64)
        c32.G = case.G.astype(np.float32).astype(np.float64)
        try:
            made = self.cell.make(c32, dtype=np.float32)
            hs, cache = self.cell.forward(made, c32, dtype=np.float32)
            dx, grads = self.cell.backward(made, c32, c32.G.copy(), cache, dtype=np.float32)
        except StudentCodeError as err:
            raise StudentCodeError(f"{err} (with dtype=np.float32: the cell must make its params and "
                                   "compute in the dtype it is given)") from None
        # against the student's own float64 answers on the same (rounded) data: this check is about
        # the dtype only; whether the numbers are right is the other checks' business
        ref_hs, ref_dx, ref_grads = self.cell.both(c32)
        err = max([rel_error(hs, ref_hs), rel_error(dx, ref_dx)] + [rel_error(grads[n], ref_grads[n])
                                                                     for n in ref_grads])
        if err > 1e-4:
            return Check("dtype=np.float32: params, hs and gradients in float32", False, err,
                         diagnosis="in float32 your answers differ from your own float64 answers by more "
                                   "than float32 rounding (1e-4): the float32 path computes something "
                                   "else (version D)")
        return Check("dtype=np.float32: params, hs and gradients in float32", True, err,
                     detail="version D in float32, against your float64 answers within 1e-4")


def drawn(max_examples, one, task, failure):
    """Run ``one(K, S, T, B, D, H, seed)`` on hypothesis-drawn settings (derandomized, so a run
    repeats); True when one failed (``one`` raises AssertionError, after recording the failure),
    shrunk to a small failing setting. Without hypothesis the check is skipped, saying so."""
    try:
        from hypothesis import HealthCheck, Phase, given, settings, strategies as st
        from hypothesis.errors import HypothesisException
    except ImportError:
        raise SkipCheck("hypothesis is not installed (pip install hypothesis); the other checks ran") from None

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
              report_multiple_bugs=False)
    @given(K=st.integers(1, 4), S=st.integers(0, 5), T=st.integers(1, 10), B=st.integers(1, 3),
           D=st.integers(1, 4), H=st.integers(1, 5), seed=st.integers(0, 2**16))
    def random_settings(K, S, T, B, D, H, seed):
        one(K, S, T, B, D, H, seed)

    try:
        random_settings()
    except AssertionError:
        return True
    except (HypothesisException, Exception):
        if failure.get("case") is None:
            raise
        return True                  # e.g. a flaky student: the recorded failure still says what failed
    return False


def _ranges(steps):
    if len(steps) > 2 and steps == list(range(steps[0], steps[-1] + 1)):
        return f"{steps[0]}..{steps[-1]}"
    return ", ".join(map(str, steps))


def _first_difference(saved, now, path, depth=0):
    """The path of the first entry of ``now`` that differs from ``saved``, or ''."""
    if saved is None or depth > 6:
        return ""
    if isinstance(now, np.ndarray):
        same = isinstance(saved, np.ndarray) and saved.shape == now.shape and np.array_equal(saved, now)
        return "" if same else path
    if isinstance(now, dict):
        if not isinstance(saved, dict) or set(saved) != set(now):
            return path
        for key in now:
            found = _first_difference(saved[key], now[key], f"{path}[{key!r}]", depth + 1)
            if found:
                return found
        return ""
    if isinstance(now, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(now):
            return path
        for i, (s, n) in enumerate(zip(saved, now)):
            found = _first_difference(s, n, f"{path}[{i}]", depth + 1)
            if found:
                return found
        return ""
    if isinstance(now, RObject):
        if not isinstance(saved, RObject) or saved.typename != now.typename:
            return path
        return _first_difference(saved.attrs, now.attrs, path, depth + 1) if now.attrs is not None else ""
    if hasattr(now, "__dict__") and not isinstance(now, type):
        return _first_difference(getattr(saved, "__dict__", None), vars(now), path, depth + 1)
    try:
        return "" if bool(saved == now) else path
    except Exception:
        return ""


def check_cell(cls, name, task="cell", time_limit=20.0, max_examples=20, seed=0, which=None,
               dh_fn=None, runner=None):
    """All checks of a protocol cell class; returns a list of :class:`Check`.

    ``cls`` is a class of this process (run with a :class:`~numrnn.course.runner.LocalRunner`) or the
    handle of one in a child process (with its ``runner``). Raises :class:`CannotUse` when the class
    cannot be used at all (wrong signature).
    """
    runner = runner or LocalRunner(task, time_limit)
    cell = StudentCell(cls, runner, name)
    checks = CellChecks(cell, task, max_examples, seed, dh_fn)
    return checks.run(which) if which else checks.run()
