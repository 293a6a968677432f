"""Checkpoints that survive a kill: one self-contained ``NAME.npz``, and ``NAME.json`` to read.

Format 2 (this one):

- ``NAME.npz`` holds everything: the model's parameters ("param/layer.W1", ...), the optimiser's
  state slots ("opt/m/layer.W1", ...), each in its own dtype, and the metadata as UTF-8 JSON in the
  member ``__numrnn_checkpoint__``: format version, the model's config, the optimiser's name,
  hyperparameters and step, the trainer's state (step, epoch, generator states, history), any
  ``meta`` the caller adds, and the name, shape, dtype and SHA-256 of every array.
- ``NAME.json`` is a byte-for-byte copy of that metadata, for people and tools without NumPy.

A save writes ``NAME.npz`` atomically (temporary file, fsync, :func:`os.replace`): that rename is
the moment the new checkpoint replaces the old one, so a kill at any moment leaves either the old
checkpoint or the new one, complete. ``NAME.json`` is replaced just after. A kill between the two
leaves the previous save's ``NAME.json``; the new metadata records the SHA-256 of the ``NAME.json``
it replaces, so loading recognises that leftover and ignores it. Temporary files of killed saves
are removed by the next save (:func:`numrnn._io.atomic_write`).

Loading checks everything against everything: each array against its SHA-256, the metadata by the
zip's CRC, and ``NAME.json`` against the metadata inside ``NAME.npz``. An edited ``NAME.json`` (an
activation, a vocabulary, any field) or one from another checkpoint is refused with an error that
names the file and the fields that differ; it is never loaded as another model.

A model with a layer of your own (``SequenceModel(layer=...)``) is saved if the layer has a
``config`` (its constructor's keyword arguments): the metadata then names the layer's class
("module.Class") and config, and loading imports that module and rebuilds the layer (load only
checkpoints you trust, as with any import). Without ``config`` the save is refused, naming the
layer. A model whose parameters hold NaN or inf is refused on save and on load, naming the parameter.

Format 1 (``NAME.npz`` with arrays only, ``NAME.json`` with the metadata and the SHA-256 of the
``.npz``) still loads; its metadata is not covered by a checksum.
"""
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write, check_path
from .model import SequenceModel
from .optim import make_optimizer

FORMAT = 2
#: The npz member that holds the metadata (UTF-8 JSON as a uint8 array).
METADATA = "__numrnn_checkpoint__"


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, corrupt, edited or for another configuration."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""
    model: SequenceModel
    optimizer: object = None
    trainer_state: dict = None
    meta: dict = None


def checkpoint_files(path):
    """``(PATH.npz, PATH.json)`` for a checkpoint path given with or without an extension.

    Call it before a long run to check a ``--save`` path early: a path that names a folder
    (``runs/``) is a ValueError, a folder where ``PATH.npz`` or ``PATH.json`` should be an
    IsADirectoryError, a path that is not a str or PathLike a TypeError; each names the path.
    """
    base = check_path("checkpoint path", path, kind="checkpoint")
    for ext in (".npz", ".json"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    if not os.path.basename(base) or base.endswith((os.sep, "/")):
        raise ValueError(f"checkpoint path {os.fspath(path)!r} names a folder; give a file name in it, "
                         f"e.g. {os.path.join(base or '.', 'model')!r}")
    files = base + ".npz", base + ".json"
    for p in files:
        if os.path.isdir(p):
            raise IsADirectoryError(f"checkpoint file {p} is a directory; choose another checkpoint path")
    return files


# ------------------------------------------------------------------------------------ save
def save_checkpoint(path, model, optimizer=None, trainer=None, meta=None):
    """Save a model (and optionally its optimiser and trainer) as ``path.npz`` + ``path.json``.

    ``path.npz`` is complete on its own and replaces the previous checkpoint in one atomic step;
    ``path.json`` is a readable copy of its metadata (see the module docstring).

    Parameters
    ----------
    path : str or PathLike, with or without the ``.npz``/``.json`` extension
    model : SequenceModel
    optimizer : numrnn.training.optim.Optimizer, optional
    trainer : numrnn.training.trainer.Trainer, optional (its state: step, epoch, generator states, history)
    meta : dict with str keys, optional, JSON-able (e.g. the command and seeds that made the run);
        it comes back from :func:`load_checkpoint` in its JSON form (tuples as lists).

    Returns
    -------
    (npz_path, json_path)

    Raises
    ------
    TypeError naming the argument (or the ``meta`` entry) that cannot be saved, or a model with your
    own layer without ``config`` (:func:`numrnn.training.model.own_layer_config`); ValueError naming
    a parameter that holds NaN or inf. Nothing is written then.
    """
    npz_path, json_path = checkpoint_files(path)
    if not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a SequenceModel, got {type(model).__name__}")
    if optimizer is not None and not callable(getattr(optimizer, "state_dict", None)):
        raise TypeError(f"optimizer must be a numrnn optimiser (with state_dict), got {type(optimizer).__name__}")
    if trainer is not None and not callable(getattr(trainer, "state_dict", None)):
        raise TypeError(f"trainer must be a numrnn Trainer (with state_dict), got {type(trainer).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    _check_json(meta or {}, "meta")
    _require_finite_params(model, npz_path)

    arrays = {f"param/{k}": np.asarray(v) for k, v in model.params.items()}
    info = {"format": FORMAT, "config": model.config, "meta": meta or {}}
    if optimizer is not None:
        state = optimizer.state_dict()
        info["optimizer"] = {"name": state["name"], "hyper": state["hyper"], "t": state["t"]}
        for slot, table in state["slots"].items():
            arrays.update({f"opt/{slot}/{k}": np.asarray(v) for k, v in table.items()})
    if trainer is not None:
        info["trainer"] = trainer.state_dict()
    else:
        info["dropout_rng"] = model.dropout_rng.bit_generator.state
    info["arrays"] = {k: {"shape": list(v.shape), "dtype": v.dtype.str, "sha256": _array_sha256(v)}
                      for k, v in arrays.items()}
    info["replaces_json_sha256"] = _file_sha256(json_path) if os.path.isfile(json_path) else None
    text = json.dumps(info, indent=1, sort_keys=True, default=_jsonable)   # fails before any write
    arrays[METADATA] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    atomic_write(npz_path, lambda f: np.savez(f, **arrays))         # the new checkpoint is in place
    atomic_write(json_path, lambda f: f.write(text.encode("utf-8")))
    return npz_path, json_path


def _require_finite_params(model, npz_path):
    """A model with a NaN or inf parameter is not saved: the error names the parameter(s)."""
    bad = [name for name, value in model.params.items() if not np.all(np.isfinite(value))]
    if bad:
        also = f" (also {', '.join(bad[1:])})" if bad[1:] else ""
        raise ValueError(f"model parameter {bad[0]} contains NaN or inf{also}: a checkpoint holds finite "
                         f"parameters only; nothing was written to {npz_path}")


def _check_json(value, where):
    """JSON values with str keys (json would turn the key 1 into "1" silently); errors say where."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r} ({type(key).__name__}); JSON keys must be str")
            _check_json(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    elif not isinstance(value, (str, int, float, type(None), np.generic, np.ndarray)):
        raise TypeError(f"cannot store {where} ({type(value).__name__}) in a checkpoint's JSON")


# ------------------------------------------------------------------------------------ load
def load_checkpoint(path, model=None):
    """Load what :func:`save_checkpoint` wrote.

    Parameters
    ----------
    path : str or PathLike, with or without extension
    model : SequenceModel, optional
        Load into this model (its config must match the checkpoint's); otherwise a new model is
        built from the saved config.

    Returns
    -------
    Checkpoint with ``model``, ``optimizer`` (or None), ``trainer_state`` (or None) and ``meta``.

    Raises
    ------
    CheckpointError (a ValueError)
        Missing, truncated, corrupt or edited files, a ``.json`` that belongs to another
        checkpoint, or a config that differs from ``model``'s. The message names the file.
    """
    try:
        npz_path, json_path = checkpoint_files(path)
    except IsADirectoryError as err:
        raise CheckpointError(str(err).replace("choose another checkpoint path", "not a checkpoint")) from None
    if model is not None and not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a SequenceModel or None, got {type(model).__name__}")
    if not os.path.exists(npz_path):
        alone = f" ({json_path} alone holds no parameters)" if os.path.exists(json_path) else ""
        raise CheckpointError(f"checkpoint file {npz_path} does not exist{alone}")
    arrays = _read_npz(npz_path)
    if METADATA not in arrays:
        return _load_format1(npz_path, json_path, arrays, model)
    raw = arrays.pop(METADATA)
    info = _parse_metadata(raw, npz_path)
    _check_json_copy(json_path, raw.tobytes(), info, npz_path)
    listed = info.get("arrays")
    if not isinstance(listed, dict) or set(listed) != set(arrays):
        raise CheckpointError(f"checkpoint file {npz_path} holds other arrays than its metadata lists")
    for name, value in arrays.items():
        entry = listed[name]
        if (not isinstance(entry, dict) or entry.get("sha256") != _array_sha256(value)
                or entry.get("dtype") != value.dtype.str or entry.get("shape") != list(value.shape)):
            raise CheckpointError(f"checkpoint file {npz_path}: array {name!r} does not match its "
                                  f"checksum (damaged or modified)")
    return _build(info, arrays, model, npz_path)


def _read_npz(npz_path):
    if not zipfile.is_zipfile(npz_path):
        raise CheckpointError(f"checkpoint file {npz_path} is truncated or not an .npz archive")
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise CheckpointError(f"checkpoint file {npz_path} is truncated or corrupt: {err}") from err


def _parse_metadata(raw, npz_path):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"checkpoint file {npz_path} holds a damaged metadata member")
    try:
        info = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint file {npz_path}: its metadata is not JSON: {err}") from err
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint file {npz_path} is not a numrnn checkpoint of format {FORMAT}")
    return info


def _check_json_copy(json_path, text, info, npz_path):
    """``NAME.json`` must be the metadata's copy, or the leftover of a save killed before replacing it."""
    if not os.path.exists(json_path):
        return                                            # NAME.npz is complete on its own
    with open(json_path, "rb") as f:
        copy = f.read()
    if copy == text or _sha256(copy) == info.get("replaces_json_sha256"):
        return                                            # the copy, or the previous save's
    try:
        other = json.loads(copy.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint file {json_path} is truncated or not valid JSON ({err}): "
                              f"edited or damaged. The metadata's own copy is in {npz_path}; delete {json_path} "
                              f"to load from {npz_path} alone") from err
    if not isinstance(other, dict) or "format" not in other:
        raise CheckpointError(f"checkpoint file {json_path} is not a numrnn checkpoint's metadata; "
                              f"delete it to load from {npz_path} alone")
    if other.get("arrays") != info.get("arrays"):
        raise CheckpointError(f"checkpoint file {npz_path} does not match {json_path}: the .json "
                              f"belongs to another checkpoint (or another run)")
    differ = _differences(other, info) or ["(formatting)"]
    raise CheckpointError(f"checkpoint file {json_path} was changed after it was saved: it differs "
                          f"from the metadata inside {npz_path} in {', '.join(differ[:6])}. Edit "
                          f"nothing in a checkpoint; delete {json_path} to load from {npz_path} alone")


def _differences(a, b, prefix=""):
    """Dotted names of the fields where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in (_differences(a.get(k), b.get(k), f"{prefix}{k}.") if k in a and k in b
                          else [f"{prefix}{k}"])]
    return [] if a == b or (a != a and b != b) else [prefix.rstrip(".") or "the whole file"]


def _build(info, arrays, model, source):
    """Model, optimiser and trainer state from checked metadata and arrays; errors name ``source``."""
    try:
        config = info["config"]
        if model is None:
            model = SequenceModel.from_config(config)
        elif model.config != config:
            diff = sorted(k for k in set(model.config) | set(config) if model.config.get(k) != config.get(k))
            raise CheckpointError(f"checkpoint {source} is for another configuration (differs in {diff})")
        model.set_params({k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")})
        optimizer = None
        if "optimizer" in info:
            o = info["optimizer"]
            optimizer = make_optimizer(o["name"], **o["hyper"])
            slots = {s: {} for s in optimizer.slots}
            for key, value in arrays.items():
                if key.startswith("opt/"):
                    _, slot, name = key.split("/", 2)
                    slots[slot][name] = value
            optimizer.load_state_dict({"name": o["name"], "hyper": o["hyper"], "t": o["t"], "slots": slots})
        trainer_state = info.get("trainer")
        rng_state = trainer_state["dropout_rng"] if trainer_state else info.get("dropout_rng")
        if rng_state:
            model.dropout_rng.bit_generator.state = rng_state
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ImportError) as err:
        raise CheckpointError(f"checkpoint {source} cannot be loaded: {type(err).__name__}: {err}") from err
    return Checkpoint(model=model, optimizer=optimizer, trainer_state=trainer_state, meta=info.get("meta"))


def _load_format1(npz_path, json_path, arrays, model):
    """Format 1: arrays in NAME.npz, metadata (with the .npz's SHA-256) in NAME.json."""
    if not os.path.exists(json_path):
        raise CheckpointError(f"checkpoint file {json_path} does not exist ({npz_path} holds no "
                              f"metadata of its own)")
    try:
        with open(json_path, "rb") as f:
            info = json.loads(f.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint file {json_path} is truncated or not JSON: {err}") from err
    if not isinstance(info, dict) or info.get("format") != 1:
        raise CheckpointError(f"checkpoint file {json_path} is not a numrnn checkpoint of format 1 or {FORMAT}")
    if info.get("sha256") != _file_sha256(npz_path):
        raise CheckpointError(f"checkpoint file {npz_path} does not match {json_path} "
                              "(truncated, modified, or from another run)")
    if {k: list(v.shape) for k, v in arrays.items()} != info.get("arrays"):
        raise CheckpointError(f"checkpoint file {npz_path} holds other arrays than its .json lists")
    return _build(info, arrays, model, json_path)


# ---------------------------------------------------------------------------------- hashes
def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _array_sha256(array):
    return _sha256(np.ascontiguousarray(array).tobytes())


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint's JSON")


__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_files", "Checkpoint", "CheckpointError",
           "FORMAT"]
