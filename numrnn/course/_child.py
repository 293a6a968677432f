"""The process that runs a student's code for the grader (``numrnn check``), and the wire format.

The grader (the parent) starts this file as a script in a scratch copy of the submission, in its
own session, and sends it requests over a pipe: load a file, call a function with arrays, read an
attribute. The child answers with the student's outputs only: arrays travel as ``.npy`` data read
back with ``allow_pickle=False``, everything else as JSON (numbers, strings, the shape of tuples,
lists and dicts, and for any other object only its type's name and an id the parent can pass back).
Nothing the parent receives can run code in the parent; every comparison, diagnosis and score is
computed there. This module imports only the standard library and NumPy, so the student's code
starts from a clean interpreter.
"""
import json
import os
import signal
import struct
import sys
import threading
import traceback

import numpy as np

MAX_DEPTH = 6
MAX_ITEMS = 400
MAX_HEADER = 1 << 26          # 64 MB of JSON: more is not a message of ours
MAX_DATA = 1 << 32            # 4 GB of arrays


# ------------------------------------------------------------------------------- framing
def write_message(fd, header, arrays=()):
    """One message: 4-byte length + JSON (with each array's dtype and shape), 8-byte length + the
    arrays' raw bytes. Only plain numeric dtypes travel; nothing is ever pickled."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    header = dict(header, arrays=[[a.dtype.str, list(a.shape)] for a in arrays])
    blob = b"".join(a.tobytes() for a in arrays)
    text = json.dumps(header).encode()
    data = struct.pack("<I", len(text)) + text + struct.pack("<Q", len(blob)) + blob
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exactly(fd, n):
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd, read=read_exactly):
    """(header, arrays) of :func:`write_message`; refuses any dtype but bool, int, float, complex."""
    (n,) = struct.unpack("<I", read(fd, 4))
    if n > MAX_HEADER:
        raise ValueError(f"a message header of {n} bytes")
    header = json.loads(read(fd, n))
    (m,) = struct.unpack("<Q", read(fd, 8))
    if m > MAX_DATA:
        raise ValueError(f"{m} bytes of arrays")
    blob = bytearray(read(fd, m)) if m else bytearray()
    arrays, offset = [], 0
    for descr, shape in header.pop("arrays", []):
        dtype = np.dtype(descr)
        if dtype.kind not in "biufc" or dtype.hasobject:
            raise ValueError(f"refused an array of dtype {descr}")
        count = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.frombuffer(blob, dtype, count, offset).reshape(shape))
        offset += count * dtype.itemsize
    if offset != len(blob):
        raise ValueError("the arrays do not add up to the data sent")
    return header, arrays


# ------------------------------------------------------------------ encoding (child side)
class Encoder:
    """Turns the student's objects into JSON + arrays; every non-scalar gets an id in ``registry``."""

    def __init__(self, registry):
        self.registry = registry
        self.arrays = []

    def keep(self, obj):
        self.registry.append(obj)
        return len(self.registry) - 1

    def key(self, k):
        if isinstance(k, (bool, int, float, str)) or k is None:
            return k.item() if isinstance(k, np.generic) else k
        if isinstance(k, np.generic):
            return k.item()
        if isinstance(k, tuple):
            return {"$t": [self.key(v) for v in k]}
        return {"$s": repr(k)[:80]}

    def encode(self, obj, depth=0):
        if obj is None or isinstance(obj, (bool, str)):
            return obj if not isinstance(obj, str) else obj[:2000]
        if isinstance(obj, (int, float)) and not isinstance(obj, np.generic):
            return obj if not isinstance(obj, int) or abs(obj) < 2 ** 62 else float(obj)
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return obj.item()
        if isinstance(obj, np.ndarray) and obj.dtype.kind in "biufc" and obj.size <= 10 ** 7:
            self.arrays.append(np.array(obj, copy=True))
            return {"$a": len(self.arrays) - 1, "id": self.keep(obj)}
        ident = self.keep(obj)
        if depth >= MAX_DEPTH:
            return {"$o": type(obj).__name__, "id": ident, "callable": callable(obj)}
        if isinstance(obj, (tuple, list)) and len(obj) <= MAX_ITEMS:
            tag = "$t" if isinstance(obj, tuple) else "$l"
            return {tag: [self.encode(v, depth + 1) for v in obj], "id": ident}
        if isinstance(obj, dict) and len(obj) <= MAX_ITEMS:
            return {"$d": [[self.key(k), self.encode(v, depth + 1)] for k, v in list(obj.items())],
                    "id": ident}
        out = {"$o": type(obj).__name__, "id": ident, "callable": callable(obj)}
        attrs = getattr(obj, "__dict__", None)
        if (isinstance(attrs, dict) and not isinstance(obj, type) and not callable(obj)
                and type(obj).__name__ != "module" and len(attrs) <= MAX_ITEMS):
            out["attrs"] = [[str(k), self.encode(v, depth + 1)] for k, v in list(attrs.items())]
        return out


def decode_args(tree, arrays, registry):
    """The parent's arguments: arrays, scalars, containers and ids of the child's own objects."""
    if isinstance(tree, list):
        return [decode_args(v, arrays, registry) for v in tree]
    if isinstance(tree, dict):
        if "$a" in tree:
            return arrays[tree["$a"]]
        if "$r" in tree:
            return registry[tree["$r"]]
        if "$t" in tree:
            return tuple(decode_args(v, arrays, registry) for v in tree["$t"])
        if "$dtype" in tree:
            return np.dtype(tree["$dtype"]).type
        if "$d" in tree:
            return {(tuple(k["$t"]) if isinstance(k, dict) else k): decode_args(v, arrays, registry)
                    for k, v in tree["$d"]}
    return tree


# ----------------------------------------------------------------------------- the child
class TimeUp(BaseException):
    """Raised in the student's code when a call's time is up (the parent kills it later anyway)."""


def student_frames(tb_or_stack):
    here = os.path.abspath(__file__)
    out = []
    for f in tb_or_stack:
        name = f.filename
        if name.startswith("<"):
            if not name.startswith(("<frozen", "<string>")):
                out.append(f)
            continue
        name = os.path.abspath(name)
        if name == here or "site-packages" in name or f"{os.sep}lib{os.sep}python" in name:
            continue
        out.append(f)
    return out


def where(frames):
    frames = student_frames(frames)
    if not frames:
        return ""
    f = frames[-1]
    return f"{os.path.basename(f.filename)} line {f.lineno}, in {f.name}: {(f.line or '').strip()}"


def on_alarm(signum, frame):
    raise TimeUp(where(traceback.extract_stack(frame)))


class Child:
    def __init__(self, req, resp):
        self.req, self.resp = req, resp
        self.registry = []

    def serve(self):
        while True:
            try:
                header, arrays = read_message(self.req)
            except EOFError:
                os._exit(0)
            try:
                answer, out = self.handle(header, arrays)
            except TimeUp as stop:
                answer, out = {"error": {"kind": "timeout", "where": str(stop)}}, []
            except BaseException as err:           # anything at all, SystemExit and KeyboardInterrupt too
                kind = "notimpl" if isinstance(err, NotImplementedError) else "raise"
                frames = student_frames(traceback.extract_tb(err.__traceback__))
                try:
                    message = str(err)
                except BaseException:
                    message = "(its message cannot be shown)"
                answer = {"error": {"kind": kind, "type": type(err).__name__, "message": message[:2000],
                                    "where": where(traceback.extract_tb(err.__traceback__)),
                                    "function": frames[-1].name if frames else ""}}
                out = []
            try:
                write_message(self.resp, answer, out)
            except BaseException as err:       # e.g. an array numpy cannot save
                write_message(self.resp, {"error": {"kind": "internal", "type": type(err).__name__,
                                                    "message": str(err)[:500]}})

    def timed(self, limit, fn):
        if limit:
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, limit, 0.05)   # again every 50 ms if it is caught
        try:
            with np.errstate(all="ignore"):
                return fn()
        finally:
            if limit:
                signal.setitimer(signal.ITIMER_REAL, 0)

    def handle(self, header, arrays):
        op = header["op"]
        enc = Encoder(self.registry)
        args = decode_args(header.get("args", []), arrays, self.registry)
        kwargs = decode_args(header.get("kwargs", {"$d": []}), arrays, self.registry)
        limit = header.get("limit")
        if op == "load":
            return {"ok": enc.encode(self.timed(limit, lambda: load(header["path"])))}, enc.arrays
        if op == "get":
            obj = self.registry[header["ref"]]
            if not hasattr(obj, header["name"]):
                names = sorted(n for n in dir(obj) if not n.startswith("_"))[:40]
                return {"missing": names}, []
            return {"ok": enc.encode(getattr(obj, header["name"]))}, enc.arrays
        if op == "get_many":
            obj = self.registry[header["ref"]]
            return {"ok": [enc.encode(getattr(obj, name, None)) if hasattr(obj, name) else {"$missing": 1}
                           for name in header["names"]]}, enc.arrays
        if op == "assign_items":
            target = self.registry[header["ref"]]
            for key, value in zip(header["keys"], args):
                target[key][...] = value
            return {"ok": None}, []
        if op == "inspect":
            return {"ok": enc.encode(inspect_object(self.registry[header["ref"]], args, kwargs))}, enc.arrays
        if op == "call":
            fn = self.registry[header["ref"]]
            result = self.timed(limit, lambda: fn(*args, **kwargs))
            answer = {"ok": enc.encode(result)}
            if header.get("return_args"):
                answer["args"] = enc.encode([list(args), kwargs])
            return answer, enc.arrays
        if op == "assign":
            target = self.registry[header["ref"]]
            target[...] = args[0]
            return {"ok": None}, []
        if op == "mirror":
            return {"ok": enc.encode(self.registry[header["ref"]])}, enc.arrays
        if op == "perturbed":
            return self.perturbed(header, args, kwargs, limit)
        raise ValueError(f"unknown request {op!r}")

    def perturbed(self, header, args, kwargs, limit):
        """fn(*args, **kwargs)[pick] with every entry of one array moved by +eps, then by -eps."""
        fn = self.registry[header["ref"]]
        path = header["target"]
        target = self.registry[path[1]] if path[0] == "ref" else args
        for key in (path[1:] if path[0] != "ref" else []):
            target = target[key]
        if not (isinstance(target, np.ndarray) and target.dtype == np.float64
                and target.flags.c_contiguous and target.flags.writeable):
            return {"cannot": f"it is {_describe(target)}, not a writable contiguous float64 array"}, []
        eps, pick = header["eps"], header["pick"]
        flat = target.reshape(-1)
        outs = []

        def run_all():
            for i in range(flat.size):
                saved = flat[i]
                for sign in (1.0, -1.0):
                    flat[i] = saved + sign * eps
                    call_args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
                    out = fn(*call_args, **kwargs)
                    y = out[pick] if pick is not None else out
                    outs.append(np.array(y, dtype=np.float64, copy=True))
                flat[i] = saved

        self.timed(limit, run_all)
        return {"ok": {"$a": 0}}, [np.stack(outs) if outs else np.zeros((0,))]


def _describe(value):
    if isinstance(value, np.ndarray):
        how = "non-contiguous " if not value.flags.c_contiguous else ""
        return f"a {how}{value.dtype} array"
    return type(value).__name__


def inspect_object(obj, args, kwargs):
    import inspect
    info = {"callable": callable(obj), "type": type(obj).__name__, "is_class": isinstance(obj, type),
            "methods": {m: callable(getattr(obj, m, None)) for m in ("forward", "backward")}}
    try:
        sig = inspect.signature(obj)
        info["signature"] = str(sig)
        try:
            sig.bind(*args, **kwargs)
            info["binds"] = True
        except TypeError:
            info["binds"] = False
    except (TypeError, ValueError):
        info["signature"] = None
    return info


def load(path):
    import importlib.util
    import uuid
    name = f"numrnn_student_{os.path.splitext(os.path.basename(path))[0]}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def watch_parent(parent):
    """End this process when the grader that started it is gone (no orphan keeps running)."""
    import time
    while True:
        time.sleep(0.3)
        if os.getppid() != parent:
            os._exit(70)


def main():
    req, resp, parent, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    sys.path[0] = folder                      # the student's folder, not numrnn's
    os.chdir(folder)
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    write_message(resp, {"ready": os.getpid()})
    Child(req, resp).serve()


if __name__ == "__main__":
    main()
