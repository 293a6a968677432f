"""The check cells of the graded notebooks: the course's grader on a notebook's own functions.

Notebook 02 (BPTT by hand) and notebook 05 (LSTM) have, after each blank, a check cell such as::

    report = check_step_backward(step_forward, step_backward)
    assert report.passed, report.summary()

Each function prints the report (every check, with the diagnosis of a failed one) and returns it;
the cell's own ``assert`` then fails with the one-line summary, so a student sees the task, what is
wrong and where, and no frame of numrnn's insides.
"""
import types

import numpy as np

from .cellcheck import CellChecks, StudentCell
from .report import Report
from .runner import CannotUse, Runner
from .tasks import _tuple, grade_lstm_step, grade_step_backward


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


def check_step_backward(step_forward, step_backward, time_limit=20.0):
    """Task 2 in notebook 02: ``step_forward(h_prev, x, W, Wx, b, h_skip=None) -> (h, cache)`` and
    ``step_backward(dh, cache) -> dict`` with "h_prev", "x", "W", "Wx", "b" (and "h_skip")."""
    def forward(x_t, h_prev, W, Wx, b):
        return step_forward(h_prev, x_t, W, Wx, b)

    def backward(dh, cache):
        d = step_backward(dh, cache)
        if not isinstance(d, dict) or not {"h_prev", "x", "W", "Wx", "b"} <= set(d):
            got = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise TypeError(f"step_backward must return a dict with h_prev, x, W, Wx, b; got {got}")
        return d["x"], d["h_prev"], d["W"], d["Wx"], d["b"]

    space = _namespace("notebook 02", rnn_step_forward=forward, rnn_step_backward=backward)
    return _report("task 2 in notebook 02", "step_backward, the backward of one step",
                   lambda: grade_step_backward(space, Runner("task 2", time_limit)),
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

    run = Runner(task, time_limit)

    def dh_of(case):
        try:
            cell = NotebookCell(case.D, case.H, case.K, case.S)
            cell.params.update(case.params)
            _, caches = run.call("your sequence_forward", cell.forward, case.x.copy(), case.h0.copy())
            dh = run.call("your sequence_backward", sequence_backward, case.G.copy(), caches, case.K, case.S)[2]
        except Exception:
            return None
        return dh if isinstance(dh, dict) else None

    checks = CellChecks(StudentCell(NotebookCell, run, "sequence_backward"), task, max_examples, dh_fn=dh_of)
    return _report("task 4 in notebook 02", "sequence_backward: the skip line and the per-matrix sums",
                   lambda: checks.run(("backward", "gradcheck", "hypothesis", "matrices", "losses", "twice",
                                       "calls")),
                   names=[("your backward", "your sequence_backward"), ("your forward", "your sequence_forward")])


def check_lstm_step_backward(lstm_step_forward, lstm_step_backward, time_limit=20.0):
    """Task 5 in notebook 05: the course's ``lstm_step_forward``/``lstm_step_backward`` pair."""
    space = _namespace("notebook 05", lstm_step_forward=lstm_step_forward,
                       lstm_step_backward=lstm_step_backward)
    return _report("task 5 in notebook 05", "lstm_step_backward, the gates",
                   lambda: grade_lstm_step(space, Runner("task 5", time_limit)))
