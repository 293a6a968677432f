"""The check cells of the graded notebooks: the course's grader on a notebook's own functions.

Notebook 02 (BPTT by hand) and notebook 05 (LSTM) have, after each blank, a check cell such as::

    report = check_step_backward(step_forward, step_backward)
    assert report.passed, report.summary()

Each function prints the report (every check, with the diagnosis of a failed one) and returns it;
the cell's own ``assert`` then fails with the one-line summary, so a student sees the task, what is
wrong and where, and no frame of numrnn's insides.

The functions live in the notebook's kernel, so these checks call them in that process (a
:class:`~numrnn.course.runner.LocalRunner`, with a deadline per call); nbgrader's autograde runs the
whole notebook in a kernel of its own. ``numrnn check`` and ``--batch`` run ``.py`` files in a child.
"""
import types

import numpy as np

from .cellcheck import CellChecks, StudentCell
from .report import TOL, Check, Report, rel_error
from .runner import CannotUse, LocalRunner, StudentCodeError
from .tasks import _checked, _guarded, _tuple, grade_lstm_step, grade_step_backward


def _namespace(label, **functions):
    space = types.SimpleNamespace(**functions)
    space.__file__ = label
    return space


def _report(target, title, grade, names=()):
    """Run ``grade``; the course's function names in the diagnoses become the notebook's."""
    report = Report(target, title=title)
    try:
        report.checks = grade()
    except CannotUse as err:
        report.unusable = str(err)
    for check in report.checks:
        for course_name, notebook_name in names:
            check.diagnosis = check.diagnosis.replace(course_name, notebook_name)
    print(report.text())
    return report


def _skip_check(step_forward, step_backward, run):
    """d["h_skip"] = dh: the skip is added after the ReLU, so its gradient is dh unchanged."""
    def check():
        rng = np.random.default_rng(21)
        B, D, H = 3, 4, 5
        for _ in range(200):
            h_prev, x = rng.standard_normal((B, H)), rng.standard_normal((B, D))
            W, Wx, b = rng.normal(0, 0.6, (H, H)), rng.normal(0, 0.5, (H, D)), rng.normal(0, 0.2, H)
            a = h_prev @ W.T + x @ Wx.T + b
            if np.min(np.abs(a)) > 1e-3 and (a < 0).any() and (a > 0).any():
                break
        h_skip, dh = rng.standard_normal((B, H)), rng.standard_normal((B, H))
        out = _tuple(2, "step_forward", run.call("your step_forward with h_skip", step_forward,
                                                 h_prev, x, W, Wx, b, h_skip=h_skip), 2)
        h = _checked(2, "h (with h_skip)", out[0], (B, H))
        if rel_error(h, np.maximum(a, 0) + h_skip) > TOL:
            return Check("the skip: d['h_skip'] = dh (no relu' on it)", False,
                         diagnosis="task 2: step_forward with h_skip must return relu(a) + h_skip")
        d = run.call("your step_backward on a skip step", step_backward, dh.copy(), out[1])
        if not isinstance(d, dict) or "h_skip" not in d:
            return Check("the skip: d['h_skip'] = dh (no relu' on it)", False,
                         diagnosis="task 2: on a skip step step_backward must return d['h_skip'], "
                                   "the gradient reaching h_skip")
        got = _checked(2, "d['h_skip']", d["h_skip"], (B, H))
        err = rel_error(got, dh)
        if err > TOL:
            why = ("likely cause: relu' is applied on the skip path; the skip is added after the ReLU, "
                   "so the gradient reaching h_skip is dh unchanged" if rel_error(got, dh * (a > 0)) < TOL
                   else "the gradient reaching h_skip must be dh unchanged (an addition passes it on)")
            return Check("the skip: d['h_skip'] = dh (no relu' on it)", False, err,
                         diagnosis=f"task 2: d['h_skip'] is wrong on a skip step with some a < 0: {why}")
        return Check("the skip: d['h_skip'] = dh (no relu' on it)", True, err,
                     detail="a skip step whose a(t) has entries of both signs")
    return _guarded("the skip: d['h_skip'] = dh (no relu' on it)", check, run)


def check_step_backward(step_forward, step_backward, time_limit=20.0):
    """Task 2 in notebook 02: ``step_forward(h_prev, x, W, Wx, b, h_skip=None) -> (h, cache)`` and
    ``step_backward(dh, cache) -> dict`` with "h_prev", "x", "W", "Wx", "b" and "h_skip" (the same
    dict contract as the course's ``rnn_step_backward`` and ``numrnn.nn.reference``)."""
    def forward(x_t, h_prev, W, Wx, b):
        return step_forward(h_prev, x_t, W, Wx, b)

    space = _namespace("notebook 02", rnn_step_forward=forward, rnn_step_backward=step_backward)
    run = LocalRunner("task 2", time_limit)
    return _report("task 2 in notebook 02", "step_backward, the backward of one step",
                   lambda: grade_step_backward(space, run) + [_skip_check(step_forward, step_backward, run)],
                   names=[("rnn_step_backward", "step_backward"), ("rnn_step_forward", "step_forward")])


def check_sequence_backward(sequence_forward, sequence_backward, max_examples=10, time_limit=20.0):
    """Task 4 in notebook 02: ``sequence_forward(params, x, h0, K, S) -> (h dict, caches)`` and
    ``sequence_backward(dhs, caches, K, S) -> (dx, grads, dh dict, dW_steps)``, graded as a cell."""
    task = "task 4"

    class NotebookCell:
        def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64):
            self.K, self.S, self.H = n_matrices, skip, hidden_size
            self.params = {f"W{k + 1}": np.zeros((hidden_size, hidden_size)) for k in range(n_matrices)}
            self.params.update(Wx=np.zeros((hidden_size, input_size)), b=np.zeros(hidden_size))

        def forward(self, x, h0=None):
            h0 = np.zeros((x.shape[0], self.H)) if h0 is None else h0
            h, caches = _tuple(4, "sequence_forward", sequence_forward(self.params, x, h0, self.K, self.S), 2)
            return np.stack([h[t] for t in range(x.shape[1])], axis=1), caches

        def backward(self, dhs, cache):
            out = _tuple(4, "sequence_backward", sequence_backward(dhs, cache, self.K, self.S), 4)
            return out[0], out[1]

    run = LocalRunner(task, time_limit)

    def dh_of(case):
        try:
            cell = NotebookCell(case.D, case.H, case.K, case.S)
            cell.params.update(case.params)
            _, caches = run.call("your sequence_forward", cell.forward, case.x.copy(), case.h0.copy())
            dh = run.call("your sequence_backward", sequence_backward, case.G.copy(), caches, case.K, case.S)[2]
        except (StudentCodeError, Exception):
            return None
        return dh if isinstance(dh, dict) else None

    checks = CellChecks(StudentCell(NotebookCell, run, "sequence_backward"), task, max_examples, dh_fn=dh_of)
    return _report("task 4 in notebook 02", "sequence_backward: the skip line and the per-matrix sums",
                   lambda: checks.run(("backward", "gradcheck", "hypothesis", "matrices", "losses", "twice",
                                       "calls", "cache")),
                   names=[("your backward", "your sequence_backward"), ("your forward", "your sequence_forward")])


def check_lstm_step_backward(lstm_step_forward, lstm_step_backward, time_limit=20.0):
    """Task 5 in notebook 05: the course's ``lstm_step_forward``/``lstm_step_backward`` pair."""
    space = _namespace("notebook 05", lstm_step_forward=lstm_step_forward,
                       lstm_step_backward=lstm_step_backward)
    return _report("task 5 in notebook 05", "lstm_step_backward, the gates",
                   lambda: grade_lstm_step(space, LocalRunner("task 5", time_limit)))
