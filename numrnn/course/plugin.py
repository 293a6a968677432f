"""numrnn's pytest plugin: the grader under pytest.

Load it with ``pytest -p numrnn.course.plugin`` or ``pytest_plugins = ["numrnn.course.plugin"]`` in a
conftest.py (``numrnn course init`` writes one). It gives

- ``--numrnn-cell FILE.py:NAME``: one test item per check of the cell class, named after the check,
  failing with the check's diagnosis (``pytest -p numrnn.course.plugin --numrnn-cell cell.py:MyRNN``);
- ``--numrnn-task N:FILE.py``: the same for one course task;
- the fixture ``numrnn_check``: ``numrnn_check("cell.py:MyRNN")`` or ``numrnn_check("rnn_step.py",
  task=2)`` returns the :class:`~numrnn.course.report.Report`; ``report.passed``, ``report.text()``.
"""
import pytest


def pytest_addoption(parser):
    group = parser.getgroup("numrnn", "numrnn's course grader")
    group.addoption("--numrnn-cell", action="append", default=[], metavar="FILE.py:NAME",
                    help="run every numrnn check on the cell class NAME in FILE.py")
    group.addoption("--numrnn-task", action="append", default=[], metavar="N:FILE.py",
                    help="run the checks of course task N on FILE.py")
    group.addoption("--numrnn-examples", type=int, default=20, help="hypothesis-drawn settings")


class CheckItem(pytest.Item):
    def __init__(self, *, report, check, **kwargs):
        super().__init__(**kwargs)
        self.report, self.check = report, check

    def runtest(self):
        if self.report.unusable:
            raise CheckFailed(self.report.summary())
        if not self.check.passed:
            raise CheckFailed("\n".join(self.check.lines()))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"numrnn check {self.name}"


class CheckFailed(Exception):
    pass


class TargetCollector(pytest.Collector):
    def __init__(self, *, target, task, examples, **kwargs):
        super().__init__(**kwargs)
        self.target, self.task, self.examples = target, task, examples

    def collect(self):
        from . import grade_cell, grade_task, parse_target
        if self.task is None:
            path, name = parse_target(self.target)
            report = grade_cell(path, name or "?", max_examples=self.examples)
        else:
            report = grade_task(self.task, self.target, max_examples=self.examples)
        if report.unusable:
            yield CheckItem.from_parent(self, name="load", report=report, check=None)
            return
        for check in report.checks:
            yield CheckItem.from_parent(self, name=check.name, report=report, check=check)


def pytest_collection_modifyitems(session, config, items):
    targets = [(t, None) for t in config.getoption("numrnn_cell")]
    for spec in config.getoption("numrnn_task"):
        number, _, path = spec.partition(":")
        if not number.isdigit() or not path:
            raise pytest.UsageError(f"--numrnn-task wants N:FILE.py, got {spec!r}")
        targets.append((path, int(number)))
    for target, task in targets:
        name = target if task is None else f"task {task} {target}"
        collector = TargetCollector.from_parent(session, name=name, target=target, task=task,
                                                examples=config.getoption("numrnn_examples"))
        items.extend(collector.collect())


@pytest.fixture
def numrnn_check():
    """``numrnn_check("FILE.py:NAME")`` or ``numrnn_check("FILE.py", task=N)`` -> Report."""
    from . import grade_cell, grade_task, parse_target

    def check(target, task=None, max_examples=10):
        if task is not None:
            return grade_task(task, target, max_examples=max_examples)
        path, name = parse_target(target)
        return grade_cell(path, name or "?", max_examples=max_examples)
    return check
