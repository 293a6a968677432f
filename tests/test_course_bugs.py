"""The catalogue of student bugs: each a plain student-style cell (not a numrnn class), and the
grader must fail it with a diagnosis that names the right place, and pass the correct cell.

``StudentRNN`` is the correct cell as a student writes it. Each bug is that cell with one of its
methods edited the way a student gets it wrong: ``mutant`` takes the correct method's source,
replaces the lines named (each must occur exactly once) and compiles the result, so a bug reads
as the lines a student changed. The assertions read the diagnosis a student reads.
"""
import inspect
import textwrap

import numpy as np
import pytest

from numrnn.course import check_cell


class StudentRNN:
    """A correct cell, written as a student would from the course's equations."""

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.K, self.S = n_matrices, skip
        self.params = {f"W{k + 1}": 0.1 * rng.standard_normal((hidden_size, hidden_size)).astype(dtype)
                       for k in range(n_matrices)}
        self.params["Wx"] = 0.1 * rng.standard_normal((hidden_size, input_size)).astype(dtype)
        self.params["b"] = np.zeros(hidden_size, dtype=dtype)

    def forward(self, x, h0=None):
        B, T, _ = x.shape
        p, K, S = self.params, self.K, self.S
        h = {t: np.zeros((B, len(p["b"])), dtype=x.dtype) for t in range(-max(1, S), 0)}
        if h0 is not None:
            h[-1] = h0
        a = {}
        for t in range(T):
            W = p[f"W{t % K + 1}"]
            a[t] = h[t - 1] @ W.T + x[:, t] @ p["Wx"].T + p["b"]
            h[t] = np.maximum(a[t], 0)
            if S >= 2 and (t + 1) % S == 0:
                h[t] = h[t] + h[t - S]
        return np.stack([h[t] for t in range(T)], axis=1), {"x": x, "h": h, "a": a}

    def backward(self, dhs, cache):
        x, h, a = cache["x"], cache["h"], cache["a"]
        p, K, S = self.params, self.K, self.S
        B, T, H = dhs.shape
        dh = {t: np.zeros((B, H), dtype=dhs.dtype) for t in range(-max(1, S), T)}
        for t in range(T):
            dh[t] = dh[t] + dhs[:, t]
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        dx = np.zeros_like(x)
        for t in reversed(range(T)):
            if S >= 2 and (t + 1) % S == 0:
                dh[t - S] = dh[t - S] + dh[t]
            da = dh[t] * (a[t] > 0)
            W = p[f"W{t % K + 1}"]
            dh[t - 1] = dh[t - 1] + da @ W
            grads[f"W{t % K + 1}"] += da.T @ h[t - 1]
            grads["Wx"] += da.T @ x[:, t]
            grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ p["Wx"]
        return dx, grads


# ------------------------------------------------------------------------- the bugs
def mutant(name, method, *edits, doc):
    """StudentRNN with ``method`` rewritten: each (old, new) edit replaces text found exactly once."""
    source = textwrap.dedent(inspect.getsource(getattr(StudentRNN, method)))
    for old, new in edits:
        assert source.count(old) == 1, f"{name}: {old!r} occurs {source.count(old)} times in {method}"
        source = source.replace(old, new)
    namespace = {"np": np}
    exec(compile(source, f"<{name}.{method}>", "exec"), namespace)
    return type(name, (StudentRNN,), {method: namespace[method], "__doc__": doc})


SKIP_LINE = "if S >= 2 and (t + 1) % S == 0:\n            dh[t - S] = dh[t - S] + dh[t]"
RELU_MASK = "da = dh[t] * (a[t] > 0)"
W_GRAD = 'grads[f"W{t % K + 1}"] += da.T @ h[t - 1]'

SkipDropped = mutant("SkipDropped", "backward", (SKIP_LINE + "\n        ", ""), doc="Forgot the skip line.")
ReluOnSkip = mutant(
    "ReluOnSkip", "backward",
    (SKIP_LINE + "\n        " + RELU_MASK,
     RELU_MASK + "\n        " + SKIP_LINE.replace("+ dh[t]", "+ da")),
    doc="relu' applied on the skip path: dh(t-S) += da(t).")
AllIntoW1 = mutant("AllIntoW1", "backward", (W_GRAD, 'grads["W1"] += da.T @ h[t - 1]'),
                   doc="Every step's term added into W1.")
WrongMatrix = mutant("WrongMatrix", "backward",
                     ('W = p[f"W{t % K + 1}"]', 'W = p[f"W{(t + 1) % K + 1}"]'),
                     doc="The next step's matrix used in the recurrent path of the backward.")
SkipOffByOne = mutant("SkipOffByOne", "backward",
                      ("if S >= 2 and (t + 1) % S == 0:\n            dh[t - S]",
                       "if S >= 2 and t % S == 0:\n            dh[t - S]"),
                      doc="The skip line on steps t % S == 0 instead of (t + 1) % S == 0.")
Accumulating = mutant(
    "Accumulating", "backward",
    ("grads = {name: np.zeros_like(value) for name, value in p.items()}",
     "if not hasattr(self, 'grads'):  # made once, kept across calls\n"
     "        self.grads = {name: np.zeros_like(value) for name, value in p.items()}\n"
     "    grads = self.grads"),
    ("return dx, grads", "return dx, {name: g.copy() for name, g in grads.items()}"),
    doc="The gradient buffers live on the cell and are never zeroed.")
MutatesCache = mutant(
    "MutatesCache", "backward",
    ("dx = np.zeros_like(x)",
     "dx = np.zeros_like(x)\n"
     "    for t in range(T):\n"
     "        a[t] = (a[t] > 0).astype(float)  # 'saves memory': a becomes relu'(a)"),
    (RELU_MASK, "da = dh[t] * a[t]"),
    doc="The cache's pre-activations overwritten by relu'(a).")
DWxMissingStep = mutant("DWxMissingStep", "backward",
                        ('grads["Wx"] += da.T @ x[:, t]',
                         'if t > 0:  # off-by-one: step 0 never added\n'
                         '            grads["Wx"] += da.T @ x[:, t]'),
                        doc="dWx misses step 0.")
ReluFromH = mutant("ReluFromH", "backward", (RELU_MASK, "da = dh[t] * (h[t] > 0)"),
                   doc="relu' taken from h(t) instead of a(t).")
OnlyLastStep = mutant("OnlyLastStep", "backward",
                      ("for t in range(T):\n        dh[t] = dh[t] + dhs[:, t]",
                       "dh[T - 1] = dhs[:, -1]  # only the last step's loss"),
                      doc="Only the last step's dL/dh fed in.")
DxFromDh = mutant("DxFromDh", "backward", ('dx[:, t] = da @ p["Wx"]', 'dx[:, t] = dh[t] @ p["Wx"]'),
                  doc="dx(t) = dh(t) Wx: relu' forgotten in dx only; every parameter gradient is right.")

SkipBeforeRelu = mutant("SkipBeforeRelu", "forward",
                        ("h[t] = h[t] + h[t - S]", "h[t] = np.maximum(a[t] + h[t - S], 0)  # inside the ReLU"),
                        doc="The skip added before the ReLU.")
ScheduleStartsAtW2 = mutant("ScheduleStartsAtW2", "forward",
                            ('W = p[f"W{t % K + 1}"]', 'W = p[f"W{(t + 1) % K + 1}"]  # counts from 1'),
                            doc="The schedule counts steps from 1: W2 at step 0.")
RecurrentDroppedOnSkip = mutant(
    "RecurrentDroppedOnSkip", "forward",
    ('a[t] = h[t - 1] @ W.T + x[:, t] @ p["Wx"].T + p["b"]',
     'a[t] = x[:, t] @ p["Wx"].T + p["b"]  # "the skip replaces the recurrence"\n'
     '        if not (S >= 2 and (t + 1) % S == 0):\n'
     '            a[t] = a[t] + h[t - 1] @ W.T'),
    doc="The recurrent term W_k h(t-1) dropped on skip steps.")
HardcodedK2 = mutant("HardcodedK2", "forward",
                     ('W = p[f"W{t % K + 1}"]', 'W = p[f"W{t % 2 + 1}"] if K > 1 else p["W1"]'),
                     doc="The schedule written for K = 2 (W1, W2, W1, W2, ...) whatever K is.")


def failed(cls):
    """{check name: diagnosis} of the checks the cell fails."""
    checks = check_cell(cls, cls.__name__, max_examples=5)
    return {c.name: c.diagnosis for c in checks if not c.passed}


BACKWARD, MATRICES = "backward = reference BPTT", "each W_k collects only the steps that use it"
FORWARD, LOSSES = "forward = specification", "every step's loss reaches the gradients"
TWICE, CALLS = "backward twice: same answer, cache and dhs unchanged", "no accumulation across calls"

#: bug -> (the check that must fail, the words its diagnosis must contain)
CATALOGUE = {
    SkipDropped: (BACKWARD, ["dL/dh(t) first differs at t=5", "the skip path from the skip step 7",
                             "the gradient through the skip path to h(t-S) is missing", "version C"]),
    ReluOnSkip: (BACKWARD, ["first differs at t=5", "skip path is multiplied by relu'(a(t))",
                            "version C"]),
    AllIntoW1: (MATRICES, ["dW1 holds the terms of steps 0, 1, 2", "it should hold the term of step 0",
                           "dW2 holds 0"]),
    WrongMatrix: (BACKWARD, ["the recurrent path uses the wrong matrix", "version B",
                             "dL/dh(t) first differs at t=7"]),
    SkipOffByOne: (BACKWARD, ["skip line runs on the wrong steps (off by one)", "version C"]),
    Accumulating: (TWICE, ["accumulate across calls"]),
    MutatesCache: (TWICE, ["changed the cache", "cache['a']"]),
    DWxMissingStep: (BACKWARD, ["dWx is wrong", "dWx misses the term of step 0",
                                "dL/dh(t) is right at every step", "version A"]),
    SkipBeforeRelu: (FORWARD, ["h(t) first differs at t=1, a skip step of W1",
                               "the skip is added before the ReLU", "version C"]),
    ScheduleStartsAtW2: (FORWARD, ["h(t) first differs at t=0, a step of W1",
                                   "the schedule starts at W2", "version B"]),
    RecurrentDroppedOnSkip: (FORWARD, ["h(t) first differs at t=1, a skip step",
                                       "the recurrent term W_k h(t-1) is dropped on skip steps"]),
    ReluFromH: (BACKWARD, ["relu' is taken from h(t) instead of a(t)", "a skip step", "version C"]),
    OnlyLastStep: (LOSSES, ["a loss at steps 0..7 alone gives zero gradients",
                            "must be added at every step"]),
}


def test_the_correct_student_cell_passes_every_check():
    checks = check_cell(StudentRNN, "StudentRNN", max_examples=5)
    assert [c.name for c in checks if not c.passed] == []
    assert len(checks) == 13


@pytest.mark.parametrize("bug", list(CATALOGUE), ids=lambda c: c.__name__)
def test_each_bug_fails_with_a_diagnosis_naming_the_place(bug):
    assert_fails_naming(bug, *CATALOGUE[bug])


def assert_fails_naming(bug, check, words):
    """``bug`` fails ``check``, and that check's diagnosis contains every one of ``words``."""
    found = failed(bug)
    assert check in found, f"{bug.__name__} should fail {check!r}; failed: {list(found)}"
    for w in words:
        assert w in found[check], f"{bug.__name__}: {w!r} not in the diagnosis:\n{found[check]}"


def test_accumulation_is_named_in_both_checks():
    found = failed(Accumulating)
    assert "twice the first" in found[TWICE]
    assert "include the first call's" in found[CALLS]


def test_only_last_step_also_fails_the_reference_with_its_cause():
    found = failed(OnlyLastStep)
    assert "only the last step's dL/dh is used" in found[BACKWARD]


class TransposedViews(StudentRNN):
    """Stores each W_k as the transpose of an array it keeps: params hold non-contiguous views."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in [n for n in self.params if n.startswith("W") and n != "Wx"]:
            self.params[name] = np.ascontiguousarray(self.params[name].T).T


def test_parameters_that_cannot_be_perturbed_are_named_not_a_crash():
    found = failed(TransposedViews)
    diagnosis = found["backward = centred finite differences of your forward"]
    assert "params['W1'] cannot be perturbed in place" in diagnosis


# ------------------------------------------------- the blind spots of the earlier checks (issue 21)
class ReadsSelf(StudentRNN):
    """The backward reads what it needs from the cell (stored by the last forward), not its cache."""

    def forward(self, x, h0=None):
        hs, cache = super().forward(x, h0)
        self._last = cache
        return hs, {"note": "see self._last"}

    def backward(self, dhs, cache):
        return super().backward(dhs, self._last)


class WritesIntoH0(StudentRNN):
    """Right numbers, but the caller's h0 is used as a buffer and left changed."""

    def forward(self, x, h0=None):
        hs, cache = super().forward(x, None if h0 is None else h0.copy())
        if h0 is not None:
            h0 *= 2
        return hs, cache


class IgnoresDtype(StudentRNN):
    """Every array made in float64 whatever dtype it is given."""

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64):
        super().__init__(input_size, hidden_size, n_matrices, skip, seed, np.float64)


class BackwardUpdatesParams(StudentRNN):
    """An SGD step inside the backward: the parameters change under every later call."""

    def backward(self, dhs, cache):
        dx, grads = super().backward(dhs, cache)
        self.params["W1"] -= 0.1 * grads["W1"]
        return dx, grads


CACHE = "backward uses its cache argument (two forwards, then the backwards in reverse order)"
INPUTS, PARAMS = "forward leaves its arguments x and h0 unchanged", "backward leaves the parameters unchanged"
FLOAT32 = "dtype=np.float32: params, hs and gradients in float32"

BLIND_SPOTS = {
    ReadsSelf: (CACHE, ["reads what it needs from the cell", "instead of from its cache argument"]),
    WritesIntoH0: (INPUTS, ["your forward wrote into the caller's h0"]),
    IgnoresDtype: (FLOAT32, ["params['W1'] must be a float32 array", "with dtype=np.float32"]),
    BackwardUpdatesParams: (PARAMS, ["your backward changed the cell's params['W1']"]),
}


@pytest.mark.parametrize("bug", list(BLIND_SPOTS), ids=lambda c: c.__name__)
def test_each_blind_spot_is_a_named_check(bug):
    assert_fails_naming(bug, *BLIND_SPOTS[bug])


def test_a_backward_that_changes_the_params_is_named_in_every_check_it_fails():
    found = failed(BackwardUpdatesParams)
    assert {"backward = centred finite differences of your forward", TWICE, CALLS, CACHE, PARAMS} <= set(found)
    for name, diagnosis in found.items():
        assert "your backward changed the cell's params['W1']" in diagnosis, (name, diagnosis)
        assert "relu'" not in diagnosis


def test_a_hard_coded_k2_is_not_blamed_on_a_schedule_starting_at_w2():
    found = failed(HardcodedK2)
    text = "\n".join(found.values())
    assert "h(t) first differs at t=2, a step of W3" in found[FORWARD]
    assert "the schedule starts at W2" not in text and "likely cause" not in found[FORWARD]


def test_a_wrong_dx_alone_is_not_blamed_on_relu_or_dhs():
    diagnosis = failed(DxFromDh)[BACKWARD]
    assert "dx is wrong while every parameter gradient is right" in diagnosis
    assert "dx(t) first differs at t=0" in diagnosis
    assert "relu'(a(t)) and that dhs" not in diagnosis and "likely cause" not in diagnosis


def test_a_likely_cause_is_stated_only_when_the_injected_mistake_reproduces_every_version():
    # the skip dropped reproduces spec_backward(mistake="no_skip") on A..special: a cause is given
    assert "likely cause: the gradient through the skip path" in failed(SkipDropped)[BACKWARD]
