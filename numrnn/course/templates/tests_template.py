"""Your tests: run ``pytest`` in this folder. One test per task, in course order, and the whole cell.

Each test runs numrnn's grader on your file (the same as ``numrnn check --task N FILE.py``) and, when
a check fails, prints what is wrong, where, and the likely cause. Work in order: tasks 3-7 use
your earlier functions.
"""
import os

import pytest

from numrnn.course import grade_cell, grade_task

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("task", [1, 2, 3, 4, 5, 6, 7])
def test_task(task):
    report = grade_task(task, HERE, max_examples=10)
    if not report.passed:
        pytest.fail(report.text(), pytrace=False)


def test_whole_cell():
    """SkipRNN in rnn_sequence.py, your tasks 3 and 4 as a cell: every check of numrnn check."""
    report = grade_cell(os.path.join(HERE, "rnn_sequence.py"), "SkipRNN", max_examples=10)
    if not report.passed:
        pytest.fail(report.text(), pytrace=False)
