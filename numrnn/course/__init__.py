"""The student track: seven tasks in which students write the BPTT themselves, and a grader.

- :func:`write_course` (``numrnn course init DIR``): the starter files, generated from the
  solutions in ``templates/`` (one source of truth), with their pytest tests.
- :func:`grade_task` (``numrnn check --task N FILE.py``) and :func:`grade_cell`
  (``numrnn check FILE.py:NAME``): every check, with a diagnosis in words when one fails.
- :mod:`numrnn.course.plugin`: the same under pytest (``--numrnn-cell FILE.py:NAME``, the
  ``numrnn_check`` fixture).
"""
import os

from .cellcheck import check_cell
from .report import Check, Report
from .runner import CannotUse, get_object, load_module, parse_target
from .starter import TASKS, write_course
from .tasks import grade_task


def grade_cell(path, name, time_limit=20.0, max_examples=20, seed=0):
    """Every check of the cell class ``name`` in the file ``path``; returns a :class:`Report`."""
    report = Report(f"{os.path.basename(path)}:{name}")
    try:
        module = load_module(path, "check", time_limit)
        cls = get_object(module, name, "check", kind="class")
        report.checks = check_cell(cls, name, "check", time_limit, max_examples, seed)
    except CannotUse as err:
        report.unusable = str(err)
    return report


__all__ = ["grade_cell", "grade_task", "write_course", "check_cell", "Check", "Report", "TASKS",
           "parse_target"]
