"""Running a student's code safely: loading a file, a time limit per call, errors in words.

Everything that can go wrong in the student's code becomes a :class:`StudentCodeError` whose message
names what was being run and the student's own file and line, never a frame of numrnn's insides.
:class:`CannotUse` means the file or class cannot be used at all (exit status 2).
"""
import atexit
import contextlib
import copy
import importlib.util
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

import numpy as np

from ._child import inspect_object, read_message, write_message


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


# ------------------------------------------------------------- what comes back from the child
class RArray(np.ndarray):
    """An array the student's code returned; ``_ref`` names the child's own array (None for copies
    and for anything computed from it in the grader)."""

    def __array_finalize__(self, obj):
        self._ref = None


class RTuple(tuple):
    _ref = None


class RList(list):
    _ref = None


class RDict(dict):
    _ref = None


class RObject:
    """Any other object of the student's: only its type's name (and its attributes' values) come back."""

    def __init__(self, typename, is_callable, attrs=None, ref=None, recipe=None):
        self.typename, self.is_callable, self.attrs = typename, is_callable, attrs
        self._ref, self._recipe = ref, recipe

    def __repr__(self):
        return f"<your {self.typename}>"


def _key(k):
    if isinstance(k, dict):
        return tuple(_key(v) for v in k["$t"]) if "$t" in k else k.get("$s", "?")
    return k


def decode(tree, arrays, gen):
    """The child's answer as parent-side values; only JSON and raw numeric arrays, nothing is unpickled."""
    if isinstance(tree, list):
        return [decode(v, arrays, gen) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "$missing" in tree:
        return MISSING
    ref = (gen, tree.get("id"))
    if "$a" in tree:
        out = np.asarray(arrays[tree["$a"]]).view(RArray)
        out._ref = ref if tree.get("id") is not None else None
        return out
    if "$t" in tree or "$l" in tree:
        cls = RTuple if "$t" in tree else RList
        out = cls(decode(v, arrays, gen) for v in tree.get("$t", tree.get("$l")))
    elif "$d" in tree:
        out = RDict((_key(k), decode(v, arrays, gen)) for k, v in tree["$d"])
    else:
        attrs = None
        if "attrs" in tree:
            attrs = RDict((k, decode(v, arrays, gen)) for k, v in tree["attrs"])
        return RObject(tree.get("$o", "object"), bool(tree.get("callable")), attrs, ref)
    out._ref = ref
    return out


class _Stale(Exception):
    pass


def encode(value, arrays, gen, resolve):
    """The grader's arguments for the child: arrays by value, the student's own objects by id."""
    ref = getattr(value, "_ref", None)
    if ref is not None:
        if ref[0] != gen:
            ref = resolve(value)
        return {"$r": ref[1]}
    if isinstance(value, np.ndarray):
        arrays.append(np.ascontiguousarray(np.asarray(value)))
        return {"$a": len(arrays) - 1}
    if isinstance(value, tuple):
        return {"$t": [encode(v, arrays, gen, resolve) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays, gen, resolve) for v in value]
    if isinstance(value, dict):
        return {"$d": [[k, encode(v, arrays, gen, resolve)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"$dtype": np.dtype(value).name}
    raise TypeError(f"the grader cannot send {type(value).__name__} to the student's process")


# ------------------------------------------------------------------------------- runners
class Runner:
    """Calls into the student's code with a time budget per check, turning every failure into words.

    :meth:`start_check` opens a budget of ``time_limit`` seconds for one check; every call into the
    student's code in that check gets what is left of it. Two kinds: :class:`ChildRunner` runs the
    code in its own process (``numrnn check``, ``--batch``, ``--gradescope``, the pytest plugin);
    :class:`LocalRunner` calls functions already living in this process (a notebook's check cells,
    classes handed to :func:`~numrnn.course.cellcheck.check_cell`).
    """

    def __init__(self, task, time_limit=20.0):
        self.task = task
        self.time_limit = time_limit
        self._ends = None
        self.hung = {}                  # what -> message: a call that ran out of time is not retried

    def start_check(self):
        self._ends = time.monotonic() + self.time_limit if self.time_limit else None

    def _left(self, what):
        if what in self.hung:
            raise StudentCodeError(self.hung[what])
        if self._ends is None:
            return self.time_limit
        left = self._ends - time.monotonic()
        if left <= 0:
            raise StudentCodeError(f"{self.task}: this check ran out of its time limit of "
                                   f"{self.time_limit:g} s before {what} could run: the code is too slow")
        return left

    def _timed_out(self, what, stopped_at="", stubborn=False):
        where = f" (stopped at {stopped_at})" if stopped_at else ""
        how = (" and did not stop when interrupted (it catches the interruption?), so the grader "
               "ended its process" if stubborn else "")
        message = (f"{self.task}: {what} did not finish within the check's time limit of "
                   f"{self.time_limit:g} s{where}{how}: an endless loop?")
        self.hung[what] = (f"{self.task}: {what} was not run again: it did not finish within "
                           f"{self.time_limit:g} s in an earlier check")
        return StudentCodeError(message)

    def _raised(self, what, kind, type_name, message, where, function=""):
        if kind == "notimpl":
            said = f": {message}" if message else ""
            inside = f" in {function}" if function else ""
            return StudentCodeError(f"{self.task}: {what} is not written yet "
                                    f"(NotImplementedError{said}{inside})")
        at = f" at {where}" if where else ""
        return StudentCodeError(f"{self.task}: {what} raised {type_name}: {message}{at}")

    def call(self, what, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``; ``what`` says in words what is being called ("your forward")."""
        return self.call_full(what, fn, args, kwargs)[0]

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalRunner(Runner):
    """The student's functions are objects of this process (a notebook's cells): call them directly,
    under a SIGALRM deadline in the main thread."""

    def __init__(self, task, time_limit=20.0, folder=None):
        super().__init__(task, time_limit)

    def load(self, path):
        return load_module(path, self.task, self.time_limit)

    def get(self, obj, name, kind="function"):
        return get_object(obj, name, self.task, kind)

    def attr(self, obj, name):
        return getattr(obj, name, MISSING)

    def inspect(self, obj, *args, **kwargs):
        return inspect_object(obj, args, kwargs)

    def _run(self, what, thunk):
        left = self._left(what)
        try:
            with deadline(left), np.errstate(all="ignore"):
                return thunk()
        except _TimeLimit as stop:
            raise self._timed_out(what, stop.where) from None
        except (KeyboardInterrupt, StudentCodeError, CannotUse):
            raise
        except BaseException as err:        # the student's code may raise anything, SystemExit too
            frames = [f for f in traceback.extract_tb(err.__traceback__) if _is_student_frame(f.filename)]
            kind = "notimpl" if isinstance(err, NotImplementedError) else "raise"
            raise self._raised(what, kind, type(err).__name__, str(err),
                               _where(traceback.extract_tb(err.__traceback__)) or "",
                               frames[-1].name if frames else "") from None

    def call_full(self, what, fn, args, kwargs, return_args=False):
        result = self._run(what, lambda: fn(*args, **kwargs))
        return result, args, kwargs

    def assign(self, array, value):
        array[...] = value

    def attrs(self, obj, names):
        return [getattr(obj, n, MISSING) for n in names]

    def assign_items(self, mapping, values):
        for key, value in values.items():
            mapping[key][...] = value

    def mirror(self, obj):
        try:
            return copy.deepcopy(obj)
        except Exception:                   # an uncopyable object: compare what can be compared
            return None

    def perturbed(self, what, fn, args, kwargs, target, eps=1e-6, pick=0):
        """Outputs ``fn(*args)[pick]`` with each entry of ``target`` (an array, or a path into
        ``args``) moved by +eps then -eps: shape (2 n, ...)."""
        array = target
        if isinstance(target, (list, tuple)) and target and target[0] == "arg":
            array = args
            for k in target[1:]:
                array = array[k]
        if not (isinstance(array, np.ndarray) and array.dtype == np.float64 and array.flags.c_contiguous
                and array.flags.writeable):
            raise CannotPerturb(f"it is a {getattr(array, 'dtype', type(array).__name__)} array that "
                                "is not contiguous or writable" if isinstance(array, np.ndarray)
                                else f"it is a {type(array).__name__}")
        flat, outs = array.reshape(-1), []

        def run_all():
            for i in range(flat.size):
                saved = flat[i]
                for sign in (1.0, -1.0):
                    flat[i] = saved + sign * eps
                    call = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                    out = fn(*call, **kwargs)
                    outs.append(np.array(out[pick] if pick is not None else out, dtype=np.float64))
                flat[i] = saved
        self._run(what, run_all)
        return np.stack(outs)


class CannotPerturb(Exception):
    """A parameter the finite differences cannot move in place (says why)."""


MISSING = object()
_LIVE = set()


def stop_all_children():
    """Kill every child process still running (a grader interrupted by SIGTERM or Ctrl-C)."""
    for runner in list(_LIVE):
        runner.close()


atexit.register(stop_all_children)

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child.py")
#: Seconds an import of the student's file may take at least (a fresh process imports numpy first).
IMPORT_LIMIT = 20.0
#: Seconds the grader waits past a call's time limit for the child's own interruption to report.
GRACE = 1.0
_IGNORE = shutil.ignore_patterns("__pycache__", ".git", ".ipynb_checkpoints", "*.pyc")


def scratch_copy(folder, into):
    """Copy the submission folder ``folder`` into ``into``: its files (up to 20 MB each, 500 in all)
    and its Python packages, so the student's code works on a copy and never on the originals."""
    count = 0
    for name in sorted(os.listdir(folder)):
        src = os.path.join(folder, name)
        if name.startswith(".") or name == "__pycache__":
            continue
        if os.path.isfile(src) and os.path.getsize(src) <= 20e6 and count < 500:
            shutil.copy2(src, os.path.join(into, name))
            count += 1
        elif os.path.isdir(src) and os.path.isfile(os.path.join(src, "__init__.py")):
            shutil.copytree(src, os.path.join(into, name), ignore=_IGNORE, symlinks=True)


class ChildRunner(Runner):
    """Runs the student's file in a child process, in a scratch copy of its folder, in its own
    session; the parent enforces every call's deadline by killing the child's process group.

    Only the student's outputs come back (see :mod:`numrnn.course._child`); a child that dies
    is reported as what it is ("your code ended the process (exit status 0) during your forward").
    A later check starts a new child (files are reloaded from a fresh copy).
    """

    def __init__(self, task, time_limit=20.0, folder="."):
        super().__init__(task, time_limit)
        self.folder = os.path.abspath(folder)
        self.proc = None
        self.gen = 0
        self.scratch = None
        #: importing a file in a fresh process (numpy, numrnn, ...) gets at least IMPORT_LIMIT seconds
        self.import_limit = max(time_limit or 0, IMPORT_LIMIT)

    # -- the child's life
    def _spawn(self):
        self.close()
        self.gen += 1
        self.scratch = tempfile.mkdtemp(prefix="numrnn-check-")
        work = os.path.join(self.scratch, "work")
        os.mkdir(work)
        scratch_copy(self.folder, work)
        self.work = work
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        log = open(os.path.join(self.scratch, "output.txt"), "wb")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.pop("PYTHONSTARTUP", None)
        try:
            self.proc = subprocess.Popen([sys.executable, _CHILD, str(r1), str(w2), str(os.getpid()), work],
                                         pass_fds=(r1, w2), cwd=work, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True, env=env)
        finally:
            os.close(r1)
            os.close(w2)
            log.close()
        self.req, self.resp = w1, r2
        _LIVE.add(self)
        header, _ = self._receive("the grader's process for your code", 60.0, starting=True)
        if "ready" not in header:
            raise StudentCodeError(f"{self.task}: the process for your code did not start")

    def close(self):
        _LIVE.discard(self)
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for fd in (self.req, self.resp):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.proc = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def _ended(self, what):
        """The child ended on its own: say how, in the student's terms."""
        code = self.proc.wait()
        self.proc_code = code
        self.close()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return StudentCodeError(f"{self.task}: the process running your code was killed by {name} "
                                    f"during {what}")
        return StudentCodeError(f"{self.task}: your code ended the process (exit status {code}) "
                                f"during {what}")

    # -- messages
    def _read(self, n, ends):
        chunks, left = [], n
        while left:
            wait = ends - time.monotonic()
            if wait <= 0 or not select.select([self.resp], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(self.resp, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _receive(self, what, wait, starting=False):
        ends = time.monotonic() + wait
        try:
            return read_message(self.resp, lambda fd, n: self._read(n, ends))
        except TimeoutError:
            self.close()
            if starting:
                raise StudentCodeError(f"{self.task}: the process for your code did not start within "
                                       f"{wait:g} s") from None
            raise self._timed_out(what, stubborn=True) from None
        except EOFError:
            raise self._ended(what) from None
        except (ValueError, KeyError, struct.error, UnicodeDecodeError, OSError) as err:
            self.close()
            raise StudentCodeError(f"{self.task}: the answer of the process running your code could not "
                                   f"be read during {what} ({type(err).__name__}); did your code write "
                                   "to the grader's pipe?") from None

    def _resolve(self, value):
        """A handle from an earlier process: load it again in this one (files and their names)."""
        recipe = getattr(value, "_recipe", None)
        if recipe is None:
            raise _Stale
        if recipe[0] == "load":
            node = self._request("loading your file again", {"op": "load", "path": recipe[1]},
                                 limit=self.import_limit)
        else:
            parent = recipe[1]
            node = self._request("finding your code again", {"op": "get", "name": recipe[2]},
                                 ref_of=parent)
        value._ref = node._ref
        return node._ref

    def _request(self, what, header, args=(), kwargs=None, limit=None, ref_of=None):
        if self.proc is None:
            self._spawn()
        arrays = []
        try:
            if ref_of is not None:
                header["ref"] = encode(ref_of, arrays, self.gen, self._resolve)["$r"]
            header["args"] = encode(list(args), arrays, self.gen, self._resolve)
            header["kwargs"] = encode(dict(kwargs or {}), arrays, self.gen, self._resolve)
        except _Stale:
            raise StudentCodeError(f"{self.task}: {what} cannot run: what it needs was made by a "
                                   "process that was stopped earlier in this check") from None
        if limit:
            header["limit"] = limit
        try:
            write_message(self.req, header, arrays)
        except (BrokenPipeError, OSError):
            raise self._ended(what) from None
        answer, out = self._receive(what, (limit or 3600.0) + GRACE)
        if "error" in answer:
            e = answer["error"]
            if e.get("kind") == "timeout":
                self.close()                    # its state is unknown after an interruption
                raise self._timed_out(what, e.get("where", ""))
            if e.get("kind") == "internal":
                raise StudentCodeError(f"{self.task}: what {what} returned cannot be handed to the "
                                       f"grader ({e.get('type')}: {e.get('message')})")
            raise self._raised(what, e.get("kind"), e.get("type", "an error"), e.get("message", ""),
                               e.get("where", ""), e.get("function", ""))
        self._last = answer
        if "missing" in answer:
            return answer
        try:
            return decode(answer.get("ok"), out, self.gen) if "args" not in answer else (
                decode(answer["ok"], out, self.gen), decode(answer["args"], out, self.gen))
        except (IndexError, KeyError, TypeError, ValueError, AttributeError):
            self.close()
            raise StudentCodeError(f"{self.task}: the answer of the process running your code could not "
                                   f"be read during {what}; did your code write to the grader's pipe?") from None

    # -- the runner's interface
    def load(self, path):
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            raise CannotUse(f"{self.task}: no file {path}")
        if not path.endswith(".py"):
            raise CannotUse(f"{self.task}: {path} is not a Python file (.py)")
        if os.path.dirname(path) != self.folder:
            self.close()
            self.folder = os.path.dirname(path)
        self.basename = os.path.basename(path)
        name = os.path.basename(path)
        try:
            if self.proc is None:
                self._spawn()
            node = self._request(f"importing {name}", {"op": "load", "path": os.path.join(self.work, name)},
                                 limit=self.import_limit)
        except StudentCodeError as err:
            text = str(err)
            if " raised " in text:
                text = text.replace(f"importing {name} raised ", f"{name} does not import: ")
            elif "did not finish" in text:
                text = f"{self.task}: importing {name} did not finish within {self.import_limit:g} s"
            raise CannotUse(text) from None
        node._recipe = ("load", os.path.join(self.work, name))
        return node

    def get(self, module, name, kind="function"):
        answer = self._request(f"finding {name}", {"op": "get", "name": name}, ref_of=module)
        base = getattr(self, "basename", "your file")
        if isinstance(answer, dict) and "missing" in answer:
            raise CannotUse(f"{self.task}: {base} has no {kind} {name!r} "
                            f"(it defines: {', '.join(answer['missing']) or 'nothing'})")
        if not (isinstance(answer, RObject) and answer.is_callable):
            raise CannotUse(f"{self.task}: {name!r} in {base} is not a {kind}")
        answer._recipe = ("get", module, name)
        return answer

    def attr(self, obj, name):
        answer = self._request(f"reading .{name}", {"op": "get", "name": name}, ref_of=obj)
        return MISSING if isinstance(answer, dict) and "missing" in answer else answer

    def attrs(self, obj, names):
        """Several attributes of one object in one exchange (MISSING for those it lacks)."""
        return self._request("reading your object", {"op": "get_many", "names": list(names)}, ref_of=obj)

    def assign_items(self, mapping, values):
        """``mapping[key][...] = value`` for each key, in place (the student's params)."""
        keys = list(values)
        self._request("setting the parameters", {"op": "assign_items", "keys": keys},
                      [np.asarray(values[k]) for k in keys], ref_of=mapping)

    def inspect(self, obj, *args, **kwargs):
        return self._request("inspecting your code", {"op": "inspect"}, args, kwargs, ref_of=obj)

    def call_full(self, what, fn, args, kwargs, return_args=False):
        left = self._left(what)
        out = self._request(what, {"op": "call", "return_args": return_args}, args, kwargs,
                            limit=left, ref_of=fn)
        if return_args:
            result, (args_after, kwargs_after) = out
            return result, args_after, kwargs_after
        return out, args, kwargs

    def assign(self, array, value):
        self._request("setting a parameter", {"op": "assign"}, [np.asarray(value)], ref_of=array)

    def mirror(self, obj):
        if getattr(obj, "_ref", None) is None:
            return copy.deepcopy(obj)
        return self._request("reading your object", {"op": "mirror"}, ref_of=obj)

    def perturbed(self, what, fn, args, kwargs, target, eps=1e-6, pick=0):
        left = self._left(what)
        if isinstance(target, (list, tuple)) and target and target[0] == "arg":
            path = list(target)
        else:
            ref = getattr(target, "_ref", None)
            if ref is None or ref[0] != self.gen:
                raise CannotPerturb("it is not an array of your cell's")
            path = ["ref", ref[1]]
        answer = self._request(what, {"op": "perturbed", "target": path, "eps": eps, "pick": pick},
                               args, kwargs, limit=left, ref_of=fn)
        if "cannot" in (self._last or {}):
            raise CannotPerturb(self._last["cannot"])
        return np.asarray(answer)

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


def student_runner(task, time_limit=20.0, folder="."):
    """The runner ``numrnn check`` uses: a :class:`ChildRunner` where processes have sessions and
    process groups (Linux, macOS); elsewhere (Windows) the code runs in this process, as a
    :class:`LocalRunner`, without the isolation (grade a class on Linux or macOS)."""
    if os.name == "posix" and hasattr(os, "killpg"):
        return ChildRunner(task, time_limit, folder)
    return LocalRunner(task, time_limit)
