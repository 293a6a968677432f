"""What a check found, in words: one :class:`Check` per property, a :class:`Report` per run.

The relative error of two arrays is max|a - b| / max(max|a|, max|b|), and 0 when both are all
zero (so it is defined everywhere). Exit status: 0 every check passed, 1 a check failed,
2 the file could not be loaded or used.
"""
from dataclasses import dataclass, field

import numpy as np

from ..nn.gradcheck import relative_error

#: Relative error below which two float64 arrays count as equal.
TOL = 1e-7


def rel_error(a, b):
    """numrnn's :func:`~numrnn.nn.gradcheck.relative_error` (0 when both are zero), made total for a
    grader: inf for different shapes or NaN, so a student's wrong answer is a failed check, not an error."""
    try:
        err = relative_error(a, b)
    except ValueError:
        return float("inf")
    return float("inf") if np.isnan(err) else err


@dataclass
class Check:
    """One property of the student's code: passed or not, its relative error and, if failed, why."""
    name: str
    passed: bool
    error: float = None          # the largest relative error seen (None: not a numeric check)
    detail: str = ""             # what was compared ("versions A, B, C, D, special")
    diagnosis: str = ""          # in words: which gradient, which step, the likely cause

    def lines(self):
        mark = "PASS" if self.passed else "FAIL"
        err = "" if self.error is None else f"   rel. error {self.error:.1e}"
        out = [f"{mark}  {self.name}{err}"]
        if self.detail:
            out.append(f"      {self.detail}")
        if self.diagnosis and not self.passed:
            out += [f"      {line}" for line in self.diagnosis.splitlines()]
        return out


@dataclass
class Report:
    """All checks of one target (a task or a cell), with the exit status and a one-line summary."""
    target: str
    checks: list = field(default_factory=list)
    unusable: str = ""           # set when the file or class cannot be used (exit 2)
    title: str = ""              # what the target is, for the first line

    @property
    def status(self):
        if self.unusable:
            return 2
        return 0 if self.checks and all(c.passed for c in self.checks) else 1

    @property
    def passed(self):
        return self.status == 0

    @property
    def score(self):
        """Fraction of checks passed (0 when unusable)."""
        if self.unusable or not self.checks:
            return 0.0
        return sum(c.passed for c in self.checks) / len(self.checks)

    def summary(self):
        if self.unusable:
            return f"cannot check {self.target}: {self.unusable}"
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return f"pass: all {len(self.checks)} checks of {self.target} passed"
        first = failed[0]
        cause = [line for line in first.diagnosis.splitlines() if line.startswith("likely cause: ")]
        return (f"fail: {len(failed)} of {len(self.checks)} checks of {self.target} failed "
                f"(first: {first.name})" + (f"; {cause[0]}" if cause else ""))

    def text(self):
        out = [f"numrnn check {self.target}" + (f": {self.title}" if self.title else "")]
        for c in self.checks:
            out += c.lines()
        out.append(self.summary())
        return "\n".join(out)
