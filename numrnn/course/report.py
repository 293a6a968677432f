"""What a check found, in words: one :class:`Check` per property, a :class:`Report` per run.

The relative error of two arrays is max|a - b| / max(max|a|, max|b|), and 0 when both are all
zero (so it is defined everywhere). Exit status: 0 every check passed, 1 a check failed,
2 the file could not be loaded or used. A report is computed by the grader from the arrays the
student's code returned; the student's code never holds it.
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
    skipped: str = ""            # set when the check could not run here: why (it counts for nothing)

    def lines(self):
        if self.skipped:
            return [f"SKIP  {self.name}", f"      not run: {self.skipped}"]
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
    def run_checks(self):
        """The checks that ran (not the skipped ones)."""
        return [c for c in self.checks if not c.skipped]

    @property
    def status(self):
        if self.unusable:
            return 2
        return 0 if self.run_checks and all(c.passed for c in self.run_checks) else 1

    @property
    def passed(self):
        return self.status == 0

    @property
    def score(self):
        """Fraction of checks passed (0 when unusable)."""
        if self.unusable or not self.run_checks:
            return 0.0
        return sum(c.passed for c in self.run_checks) / len(self.run_checks)

    def summary(self):
        if self.unusable:
            return f"cannot check {self.target}: {self.unusable}"
        failed = [c for c in self.run_checks if not c.passed]
        skipped = [c for c in self.checks if c.skipped]
        skip = (f" ({len(skipped)} skipped: {skipped[0].name}: {skipped[0].skipped})" if skipped else "")
        if not failed:
            return f"pass: all {len(self.run_checks)} checks of {self.target} passed" + skip
        first = failed[0]
        cause = [line for line in first.diagnosis.splitlines() if line.startswith("likely cause: ")]
        return (f"fail: {len(failed)} of {len(self.run_checks)} checks of {self.target} failed "
                f"(first: {first.name})" + (f"; {cause[0]}" if cause else "") + skip)

    def text(self):
        out = [f"numrnn check {self.target}" + (f": {self.title}" if self.title else "")]
        for c in self.checks:
            out += c.lines()
        out.append(self.summary())
        return "\n".join(out)
