"""Running a student's code safely: loading a file, a time limit per call, errors in words.

Everything that can go wrong in the student's code becomes a :class:`StudentCodeError` whose message
names what was being run and the student's own file and line, never a frame of numrnn's insides.
:class:`CannotUse` means the file or class cannot be used at all (exit status 2).
"""
import contextlib
import importlib.util
import os
import signal
import sys
import threading
import time
import traceback
import uuid

import numpy as np


class CannotUse(Exception):
    """The file cannot be loaded, or the named object is missing or has the wrong signature."""


class StudentCodeError(Exception):
    """The student's code raised, looped past the time limit, or returned something unusable."""


class _TimeLimit(BaseException):
    """Raised by the alarm inside the student's code (a BaseException so `except Exception` in
    the student's code cannot swallow it)."""

    def __init__(self, where):
        super().__init__(where)
        self.where = where


_NUMRNN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_student_frame(filename):
    if filename.startswith("<"):                   # a notebook cell is the student's; <frozen ...> is not
        return not filename.startswith(("<frozen", "<string>"))
    filename = os.path.abspath(filename)
    return not (filename.startswith(_NUMRNN_DIR) or "site-packages" in filename
                or f"{os.sep}lib{os.sep}python" in filename)


def _where(tb_or_frames):
    """'rnn_sequence.py line 42, in backward' for the deepest frame in the student's files."""
    frames = [f for f in tb_or_frames if _is_student_frame(f.filename)]
    if not frames:
        return None
    f = frames[-1]
    return f"{os.path.basename(f.filename)} line {f.lineno}, in {f.name}: {(f.line or '').strip()}"


@contextlib.contextmanager
def deadline(seconds):
    """Raise :class:`_TimeLimit` in the main thread after ``seconds`` (no limit elsewhere)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit(_where(traceback.extract_stack(frame)))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Runner:
    """Calls into the student's code with a time limit per check, turning every failure into words.

    :meth:`start_check` opens a budget of ``time_limit`` seconds for one check; every call into the
    student's code in that check gets what is left of it (an endless loop stops at the limit).
    """

    def __init__(self, task, time_limit=20.0):
        self.task = task
        self.time_limit = time_limit
        self._ends = None

    def start_check(self):
        self._ends = time.monotonic() + self.time_limit if self.time_limit else None

    def call(self, what, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``; ``what`` says in words what is being called ("your forward")."""
        left = self.time_limit
        if self._ends is not None:
            left = self._ends - time.monotonic()
            if left <= 0:
                raise StudentCodeError(f"{self.task}: this check ran out of its {self.time_limit:g} s "
                                       f"before {what} could run: the code is too slow")
        try:
            with deadline(left), np.errstate(all="ignore"):
                return fn(*args, **kwargs)
        except _TimeLimit as stop:
            where = f" (stopped at {stop.where})" if stop.where else ""
            raise StudentCodeError(f"{self.task}: {what} did not finish within the check's time limit "
                                   f"of {self.time_limit:g} s{where}: an endless loop?") from None
        except NotImplementedError as err:
            said = f": {err}" if str(err) else ""
            frames = [f for f in traceback.extract_tb(err.__traceback__) if _is_student_frame(f.filename)]
            inside = f" in {frames[-1].name}" if frames else ""
            raise StudentCodeError(f"{self.task}: {what} is not written yet "
                                   f"(NotImplementedError{said}{inside})") from None
        except (KeyboardInterrupt, StudentCodeError, CannotUse):
            raise
        except BaseException as err:        # the student's code may raise anything, SystemExit too
            where = _where(traceback.extract_tb(err.__traceback__))
            at = f" at {where}" if where else ""
            raise StudentCodeError(f"{self.task}: {what} raised {type(err).__name__}: {err}{at}") from None


def load_module(path, task="check", time_limit=20.0):
    """Import the student's file ``path`` under a fresh name; its folder goes on sys.path first.

    Raises :class:`CannotUse` when the file is missing or does not import.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise CannotUse(f"{task}: no file {path}")
    if not path.endswith(".py"):
        raise CannotUse(f"{task}: {path} is not a Python file (.py)")
    folder = os.path.dirname(path)
    name = f"numrnn_student_{os.path.splitext(os.path.basename(path))[0]}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.path.insert(0, folder)
    try:
        with deadline(time_limit):
            spec.loader.exec_module(module)
    except _TimeLimit:
        raise CannotUse(f"{task}: importing {os.path.basename(path)} did not finish within "
                        f"{time_limit:g} s") from None
    except KeyboardInterrupt:
        raise
    except SyntaxError as err:
        raise CannotUse(f"{task}: {os.path.basename(err.filename or path)} does not import: "
                        f"SyntaxError: {err.msg} (line {err.lineno})") from None
    except BaseException as err:
        where = _where(traceback.extract_tb(err.__traceback__))
        at = f" at {where}" if where else ""
        raise CannotUse(f"{task}: {os.path.basename(path)} does not import: "
                        f"{type(err).__name__}: {err}{at}") from None
    finally:
        sys.path.remove(folder)
        # forget the student's sibling modules (rnn_step, ...) so the next student's are loaded fresh
        for key in set(sys.modules) - before:
            mod_file = getattr(sys.modules[key], "__file__", None) or ""
            if os.path.dirname(os.path.abspath(mod_file)) == folder:
                del sys.modules[key]
    return module


def get_object(module, name, task, kind="function"):
    """``module.name`` or :class:`CannotUse` naming what is missing."""
    if not hasattr(module, name):
        found = sorted(n for n in vars(module) if not n.startswith("_"))
        raise CannotUse(f"{task}: {os.path.basename(module.__file__)} has no {kind} {name!r} "
                        f"(it defines: {', '.join(found) or 'nothing'})")
    obj = getattr(module, name)
    if not callable(obj):
        raise CannotUse(f"{task}: {name!r} in {os.path.basename(module.__file__)} is not a {kind}")
    return obj


def parse_target(target):
    """'FILE.py:NAME' -> (FILE.py, NAME); 'FILE.py' -> (FILE.py, None)."""
    path, sep, name = target.rpartition(":")
    if not sep or not name or os.sep in name or name.endswith(".py"):
        return target, None
    if not name.isidentifier():
        raise CannotUse(f"check: {name!r} after ':' in {target!r} is not a Python name")
    return path, name
