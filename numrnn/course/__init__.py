"""The student track: seven tasks in which students write the BPTT themselves, and a grader.

- :func:`write_course` (``numrnn course init DIR``): the starter files, generated from the
  solutions in ``templates/`` (one source of truth), with their pytest tests.
- :func:`grade_task` (``numrnn check --task N FILE.py``) and :func:`grade_cell`
  (``numrnn check FILE.py:NAME``): every check, with a diagnosis in words when one fails.
- The student's code never runs in the grader's process: :class:`~numrnn.course.runner.ChildRunner`
  runs it in a child, in a scratch copy of its folder, under deadlines the grader enforces. It is
  not a sandbox: the code runs with the permissions of whoever runs the grader.
- :mod:`numrnn.course.plugin`: the same under pytest (``--numrnn-cell FILE.py:NAME``, the
  ``numrnn_check`` fixture).
"""
import os

from .cellcheck import check_cell
from .report import Check, Report
from .runner import CannotUse, StudentCodeError, parse_target, student_runner
from .starter import TASKS, write_course
from .tasks import grade_task


def grade_cell(path, name, time_limit=20.0, max_examples=20, seed=0):
    """Every check of the cell class ``name`` in the file ``path``; returns a :class:`Report`.

    The class runs in a child process, in a scratch copy of its folder, under deadlines this process
    enforces; the checks and the verdict are computed here from the arrays it returns.
    """
    report = Report(f"{os.path.basename(path)}:{name}")
    if not os.path.isfile(path):
        report.unusable = f"check: no file {os.path.abspath(path)}"
        return report
    with student_runner("check", time_limit, os.path.dirname(os.path.abspath(path))) as run:
        try:
            module = run.load(path)
            cls = run.get(module, name, kind="class")
            report.checks = check_cell(cls, name, "check", time_limit, max_examples, seed, runner=run)
        except (CannotUse, StudentCodeError) as err:
            report.unusable = str(err)
    return report


__all__ = ["grade_cell", "grade_task", "write_course", "check_cell", "Check", "Report", "TASKS",
           "parse_target"]
