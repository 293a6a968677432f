r"""``numrnn check FILE.py:NAME``: every check of a whole cell that follows the minimal protocol.

The protocol: ``NAME(input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64)``,
``.params`` with W1..WK (H, H), Wx (H, D), b (H,), ``forward(x, h0=None) -> (hs, cache)`` and
``backward(dhs, cache) -> (dx, grads)``, for the recurrence

.. math::

    a(t) = W_{(t \bmod K)+1}\, h(t-1) + W_x\, x(t) + b, \qquad
    h(t) = \mathrm{relu}(a(t)) + [(t+1) \bmod S = 0]\; h(t-S)

The checks run versions A, B, C, D and special and hypothesis-drawn K, S, T, in float64, with data
drawn away from the ReLU kink (every |a(t)| > 1e-3), and compare against
:mod:`numrnn.nn.reference`. A failed check comes with a diagnosis from :mod:`numrnn.course.spec`.
"""
import copy
import inspect
import itertools

import numpy as np

from ..nn import reference
from ..nn.gradcheck import numerical_gradient
from .report import TOL, Check, rel_error
from .runner import CannotUse, Runner, StudentCodeError
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
class StudentCell:
    """Builds the student's cell for a case and calls it with every result checked for form."""

    def __init__(self, cls, runner, name):
        self.cls, self.run, self.name = cls, runner, name
        signature = self._signature()
        try:
            signature.bind(5, 4, n_matrices=2, skip=2, seed=0, dtype=np.float64)
        except TypeError:
            raise CannotUse(f"{runner.task}: {name}{signature} has the wrong signature; the protocol "
                            f"is {name}(input_size, hidden_size, n_matrices=1, skip=0, seed=None, "
                            "dtype=np.float64)") from None
        for method in ("forward", "backward"):
            if not callable(getattr(cls, method, None)):
                raise CannotUse(f"{runner.task}: {name} has no method {method}(); the protocol needs "
                                "forward(x, h0=None) -> (hs, cache) and backward(dhs, cache) -> (dx, grads)")

    def _signature(self):
        try:
            return inspect.signature(self.cls)
        except (TypeError, ValueError):
            raise CannotUse(f"{self.run.task}: {self.name} is not a class that can be called") from None

    def make(self, case):
        cell = self.run.call(f"{self.name}({case.D}, {case.H}, n_matrices={case.K}, skip={case.S}, "
                             "seed=0, dtype=np.float64)", self.cls, case.D, case.H,
                             n_matrices=case.K, skip=case.S, seed=0, dtype=np.float64)
        params = getattr(cell, "params", None)
        if not isinstance(params, dict):
            raise StudentCodeError(f"{self.run.task}: {self.name}.params must be a dict of arrays, "
                                   f"got {type(params).__name__}")
        want = {f"W{k + 1}" for k in range(case.K)} | {"Wx", "b"}
        if set(params) != want:
            raise StudentCodeError(f"{self.run.task}: with n_matrices={case.K}, {self.name}.params "
                                   f"must have the keys {sorted(want)}, got {sorted(map(str, params))}")
        for key, value in case.params.items():
            p = params[key]
            if not isinstance(p, np.ndarray) or p.shape != value.shape or p.dtype != np.float64:
                got = (f"{type(p).__name__}" if not isinstance(p, np.ndarray)
                       else f"shape {p.shape}, dtype {p.dtype}")
                raise StudentCodeError(f"{self.run.task}: {self.name}.params[{key!r}] must be a float64 "
                                       f"array of shape {value.shape} (with dtype=np.float64), got {got}")
            p[...] = value                      # in place: the cell keeps its own arrays
        return cell

    def forward(self, cell, case, x=None, h0="case"):
        x = case.x if x is None else x
        h0 = case.h0 if isinstance(h0, str) else h0
        out = self.run.call("your forward", cell.forward, x.copy(), h0=None if h0 is None else h0.copy())
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise StudentCodeError(f"{self.run.task}: forward must return (hs, cache), got "
                                   f"{_kind(out)}")
        _array(self.run.task, "forward", "hs", out[0], (case.B, x.shape[1], case.H))
        return out

    def backward(self, cell, case, dhs, cache):
        out = self.run.call("your backward", cell.backward, dhs, cache)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise StudentCodeError(f"{self.run.task}: backward must return (dx, grads), got "
                                   f"{_kind(out)}")
        dx, grads = out
        _array(self.run.task, "backward", "dx", dx, (case.B, dhs.shape[1], case.D))
        if not isinstance(grads, dict) or set(grads) != set(case.params):
            got = sorted(map(str, grads)) if isinstance(grads, dict) else type(grads).__name__
            raise StudentCodeError(f"{self.run.task}: backward must return grads, a dict with the keys "
                                   f"{sorted(case.params)}, got {got}")
        for key, value in case.params.items():
            _array(self.run.task, "backward", f"grads[{key!r}]", grads[key], value.shape)
        return dx, grads

    def both(self, case, dhs=None, x=None):
        """A fresh cell: forward then backward; returns (hs, dx, grads)."""
        cell = self.make(case)
        hs, cache = self.forward(cell, case, x=x)
        dx, grads = self.backward(cell, case, (case.G if dhs is None else dhs).copy(), cache)
        return hs, dx, grads


def _kind(value):
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return type(value).__name__


def _array(task, where, name, value, shape):
    if not isinstance(value, np.ndarray):
        raise StudentCodeError(f"{task}: your {where} returned {name} as {type(value).__name__}, "
                               f"expected a float64 array of shape {shape}")
    if value.shape != tuple(shape):
        raise StudentCodeError(f"{task}: your {where} returned {name} of shape {value.shape}, "
                               f"expected {tuple(shape)}")
    if value.dtype != np.float64:
        raise StudentCodeError(f"{task}: your {where} returned {name} of dtype {value.dtype}, "
                               "expected float64")
    if not np.all(np.isfinite(value)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise StudentCodeError(f"{task}: your {where} returned {name} with NaN or inf "
                               f"(first at index {bad})")


# ----------------------------------------------------------------------------- diagnosis
def _match(candidates, student, compute):
    """Names of the mistakes whose variant equals the student's output."""
    found = []
    for name in candidates:
        try:
            variant = compute(name)
        except (IndexError, KeyError):
            continue
        if all(rel_error(s, v) < TOL for s, v in zip(student, variant)):
            found.append(name)
    return found


def diagnose_forward(case, hs):
    """Which step of the forward first differs, what kind of step, and the likely cause."""
    ref = case.reference()[0]
    bad = [t for t in range(case.T) if rel_error(hs[:, t], ref[:, t]) > TOL]
    if not bad:
        return ""
    t = bad[0]
    text = f"h(t) first differs at {describe_step(t, case.K, case.S)}"
    causes = _match(FORWARD_MISTAKES, [hs], lambda m: [spec_forward(case.params, case.x, case.K,
                                                                    case.S, case.h0, mistake=m)[0]])
    if causes:
        text += f": {FORWARD_MISTAKES[causes[0]]}"
    else:
        text += (": compare a(t) = W_k h(t-1) + Wx x(t) + b and the skip at this step with the "
                 "equations")
    return text + f" ({case.where()})"


def diagnose_backward(case, dx, grads, dh=None, dhs=None):
    """Which gradient is wrong, where dL/dh(t) first goes wrong going back in time, and why."""
    G = case.G if dhs is None else dhs
    _, ref_dx, ref_grads, ref_dh = case.reference(G)
    errors = {f"d{n}": rel_error(grads[n], ref_grads[n]) for n in ref_grads}
    errors["dx"] = rel_error(dx, ref_dx)
    wrong = [n for n, e in errors.items() if e > TOL]
    if not wrong:
        return ""
    head = ", ".join(wrong) + (" is" if len(wrong) == 1 else " are") + " wrong"
    K, S, T = case.K, case.S, case.T
    if dh is not None:
        late = [t for t in sorted(ref_dh, reverse=True) if rel_error(dh[t], ref_dh[t]) > TOL]
        where = (f"dL/dh(t) first differs at t={late[0]} (going back from t={T - 1})" if late else "")
        t_bad = late[0] if late else None
    else:
        late = [t for t in reversed(range(T)) if rel_error(dx[:, t], ref_dx[:, t]) > TOL]
        t_bad = late[0] if late else None
        where = (f"dL/dh(t) first differs at t={t_bad} (going back from t={T - 1}; seen in "
                 f"dx(t) = Wx^T (dL/dh(t) * relu'(a(t))), so relu'(a({t_bad})) may be the wrong part)"
                 if late else "")
    causes = _match(BACKWARD_MISTAKES, [dx] + [grads[n] for n in ref_grads],
                    lambda m: _flat(spec_backward(case.params, case.x, K, S, G, case.h0, mistake=m)))
    step = ""
    if t_bad is None:
        where = "dL/dh(t) is right at every step, so the sums into the parameter gradients are wrong"
        guess = ("check which steps add into each dW_k (step t into W_{(t mod K)+1}) and that "
                 "dWx and db sum over every step")
    elif t_bad < 0:
        where = f"dL/dh(t) is right for t >= 0 and first differs at t={t_bad} (the initial state)"
        guess = "check what the first steps pass back to h(-1) .. h(-S)"
    else:
        step = f"\n{describe_step(t_bad, K, S)}; dL/dh({t_bad}) collects {feeds(t_bad, K, S, T)}."
        if t_bad + S < T and S >= 2 and (t_bad + S + 1) % S == 0:
            guess = f"check the skip line of step {t_bad + S}: dh({t_bad}) += dh({t_bad + S})"
        elif t_bad == T - 1:
            guess = "check da(t) = dh(t) * relu'(a(t)) and that dhs[:, t] is added at the last step"
        else:
            guess = (f"check the recurrent path dh({t_bad}) += W{(t_bad + 1) % K + 1}^T "
                     f"da({t_bad + 1}) and that dhs[:, {t_bad}] is added")
    cause = BACKWARD_MISTAKES[causes[0]] if causes else guess
    errs = ", ".join(f"{n} {errors[n]:.1e}" for n in wrong)
    return f"{head}; {where}.{step}\nlikely cause: {cause}.\nrelative errors: {errs} ({case.where()})"


def _flat(result):
    dx, grads, _ = result
    return [dx] + [grads[n] for n in grads]


# ---------------------------------------------------------------------------- the checks
class CellChecks:
    """Runs every check of a protocol cell; :meth:`run` returns the list of :class:`Check`."""

    def __init__(self, cell, task="cell", max_examples=20, seed=0, dh_fn=None):
        self.cell, self.task = cell, task
        self.max_examples, self.seed = max_examples, seed
        self.cases = version_cases(seed)
        self.dh_fn = dh_fn     # optional: (case) -> student's complete dh dict, for exact localisation

    def run(self, which=("interface", "forward", "backward", "gradcheck", "hypothesis", "matrices",
                         "losses", "twice", "calls")):
        checks = []
        for name in which:
            method = getattr(self, f"check_{name}")
            if checks and checks[0].name.startswith("interface") and not checks[0].passed:
                checks.append(Check(method.__doc__.splitlines()[0], False,
                                    detail="not run: the interface check failed"))
                continue
            self.cell.run.start_check()
            try:
                checks.append(method())
            except StudentCodeError as err:
                checks.append(Check(method.__doc__.splitlines()[0], False, diagnosis=str(err)))
        return checks

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
                return Check("forward = specification", False, err, diagnosis=diagnose_forward(case, hs))
            cell = self.cell.make(case)
            hs0, _ = self.cell.forward(cell, case, h0=None)
            ref0 = reference.rnn_forward(case.params, case.x, case.K, case.S)[0]
            if rel_error(hs0, ref0) > TOL:
                return Check("forward = specification", False, rel_error(hs0, ref0),
                             diagnosis=f"with h0=None the forward must start from h(-1) = 0 "
                                       f"(version {case.label})")
        return Check("forward = specification", True, worst, detail="versions " + ", ".join(VERSIONS))

    def check_backward(self):
        """backward = reference BPTT"""
        worst = 0.0
        for case in self.cases:
            _, dx, grads = self.cell.both(case)
            _, ref_dx, ref_grads, _ = case.reference()
            err = max([rel_error(dx, ref_dx)] + [rel_error(grads[n], ref_grads[n]) for n in ref_grads])
            worst = max(worst, err)
            if err > TOL:
                dh = self.dh_fn(case) if self.dh_fn else None
                return Check("backward = reference BPTT", False, err,
                             diagnosis=diagnose_backward(case, dx, grads, dh))
        return Check("backward = reference BPTT", True, worst, detail="versions " + ", ".join(VERSIONS))

    def check_gradcheck(self):
        """backward = centred finite differences of your forward"""
        worst, failed = 0.0, []
        for case in self.cases:
            cell = self.cell.make(case)
            hs, cache = self.cell.forward(cell, case)
            dx, grads = self.cell.backward(cell, case, case.G.copy(), cache)
            x = case.x.copy()

            def loss():
                return float(np.sum(case.G * self.cell.forward(cell, case, x=x)[0]))

            for name, analytic in list(grads.items()) + [("x", dx)]:
                array = x if name == "x" else cell.params[name]
                try:
                    numeric = numerical_gradient(loss, array)
                except ValueError as err:        # not a contiguous float64 array: cannot perturb it
                    failed.append(f"d{name}: your params[{name!r}] cannot be perturbed in place ({err})")
                    continue
                err = rel_error(analytic, numeric)
                worst = max(worst, err)
                if err > 1e-6:
                    failed.append(f"d{name} {err:.1e} (version {case.label})")
            if failed:
                return Check("backward = centred finite differences of your forward", False, worst,
                             diagnosis="your backward is not the derivative of your forward: "
                                       + ", ".join(failed))
        return Check("backward = centred finite differences of your forward", True, worst,
                     detail="every entry of every parameter and of x, eps 1e-6, versions "
                            + ", ".join(VERSIONS))

    def check_hypothesis(self):
        """random K, S, T (hypothesis)"""
        HealthCheck, Phase, given, settings, st = _hypothesis(self.task)
        failure = {}

        @settings(max_examples=self.max_examples, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
                  report_multiple_bugs=False)
        @given(K=st.integers(1, 4), S=st.integers(0, 5), T=st.integers(1, 10), B=st.integers(1, 3),
               D=st.integers(1, 4), H=st.integers(1, 5), seed=st.integers(0, 2**16))
        def random_settings(K, S, T, B, D, H, seed):
            case = Case("drawn", K, S, B, T, D, H, seed)
            hs, dx, grads = self.cell.both(case)
            ref_hs, ref_dx, ref_grads, _ = case.reference()
            if rel_error(hs, ref_hs) > TOL:
                failure.update(case=case, text=diagnose_forward(case, hs))
                raise AssertionError
            errs = [rel_error(dx, ref_dx)] + [rel_error(grads[n], ref_grads[n]) for n in ref_grads]
            failure["worst"] = max(failure.get("worst", 0.0), *errs)
            if max(errs) > TOL:
                dh = self.dh_fn(case) if self.dh_fn else None
                failure.update(case=case, text=diagnose_backward(case, dx, grads, dh), err=max(errs))
                raise AssertionError

        try:
            random_settings()
        except AssertionError:
            return Check("random K, S, T (hypothesis)", False, failure.get("err"),
                         diagnosis=f"fails at {failure['case'].settings()}:\n{failure['text']}")
        except StudentCodeError as err:
            case = failure.get("case")
            raise StudentCodeError(str(err) + (f" (at {case.settings()})" if case else "")) from None
        return Check("random K, S, T (hypothesis)", True, failure.get("worst", 0.0),
                     detail=f"{self.max_examples} drawn settings, K 1-4, S 0-5, T 1-10 "
                            "(forward and backward against the reference)")

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
        saved = _snapshot(cache)
        dhs = case.G.copy()
        dx1, g1 = self.cell.backward(cell, case, dhs, cache)
        dx1, g1 = dx1.copy(), {n: v.copy() for n, v in g1.items()}
        if not np.array_equal(dhs, case.G):
            return Check("backward twice: same answer, cache and dhs unchanged", False,
                         diagnosis="your backward changed its argument dhs; copy it before adding "
                                   "into it (dh = dhs.copy())")
        changed = _first_difference(saved, cache, "cache")
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
            return Check("backward twice: same answer, cache and dhs unchanged", False, err, diagnosis=why)
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
            return Check("no accumulation across calls", False, err, diagnosis=why)
        return Check("no accumulation across calls", True, err,
                     detail="two inputs one after the other on the same cell equal a new cell's (version D)")


def _hypothesis(task):
    """hypothesis's pieces, or CannotUse saying how to install it."""
    try:
        from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    except ImportError:
        raise CannotUse(f"{task}: the checks need hypothesis: pip install 'numrnn[course]'") from None
    return HealthCheck, Phase, given, settings, st


def _ranges(steps):
    if len(steps) > 2 and steps == list(range(steps[0], steps[-1] + 1)):
        return f"{steps[0]}..{steps[-1]}"
    return ", ".join(map(str, steps))


def _snapshot(obj):
    try:
        return copy.deepcopy(obj)
    except Exception:                       # an uncopyable cache: compare what can be copied
        return None


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
    if hasattr(now, "__dict__") and not isinstance(now, type):
        return _first_difference(getattr(saved, "__dict__", None), vars(now), path, depth + 1)
    try:
        return "" if bool(saved == now) else path
    except Exception:
        return ""


def check_cell(cls, name, task="cell", time_limit=20.0, max_examples=20, seed=0, which=None,
               dh_fn=None):
    """All checks of a protocol cell class; returns a list of :class:`Check`.

    Raises :class:`CannotUse` when the class cannot be used at all (wrong signature).
    """
    cell = StudentCell(cls, Runner(task, time_limit), name)
    checks = CellChecks(cell, task, max_examples, seed, dh_fn)
    return checks.run(which) if which else checks.run()
