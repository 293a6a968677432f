"""Checkpoints: arrays in ``NAME.npz``, everything else in ``NAME.json``, both written atomically.

- ``NAME.npz``: the model's parameters ("param/layer.W1", ...) and the optimiser's state slots
  ("opt/m/layer.W1", ...), each in its own dtype.
- ``NAME.json``: format version, the model's config, the optimiser's name, hyperparameters and step,
  the trainer's state (step, epoch, generator states, history), any ``meta`` the caller adds, the
  name and shape of every array, and the SHA-256 of the ``.npz`` file, so that a truncated file or a
  ``.json`` paired with another run's ``.npz`` is caught on loading.

Each file is written to a temporary file in the same directory and moved into place with
:func:`os.replace`, so a crash never leaves a half-written checkpoint under the real name.
"""
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write
from .model import SequenceModel
from .optim import make_optimizer

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, corrupt or for another configuration."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""
    model: SequenceModel
    optimizer: object = None
    trainer_state: dict = None
    meta: dict = None


def _paths(path):
    base = os.fspath(path)
    for ext in (".npz", ".json"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base + ".npz", base + ".json"


def save_checkpoint(path, model, optimizer=None, trainer=None, meta=None):
    """Save a model (and optionally its optimiser and trainer) as ``path.npz`` + ``path.json``.

    Parameters
    ----------
    path : str or PathLike, with or without the ``.npz``/``.json`` extension
    model : SequenceModel
    optimizer : numrnn.training.optim.Optimizer, optional
    trainer : numrnn.training.trainer.Trainer, optional (its state: step, epoch, generator states, history)
    meta : dict, optional, JSON-able (e.g. the command and seeds that made the run)

    Returns
    -------
    (npz_path, json_path)
    """
    npz_path, json_path = _paths(path)
    os.makedirs(os.path.dirname(os.path.abspath(npz_path)), exist_ok=True)
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    info = {"format": FORMAT, "config": model.config, "meta": meta or {}}
    if optimizer is not None:
        state = optimizer.state_dict()
        info["optimizer"] = {"name": state["name"], "hyper": state["hyper"], "t": state["t"]}
        for slot, table in state["slots"].items():
            arrays.update({f"opt/{slot}/{k}": v for k, v in table.items()})
    if trainer is not None:
        info["trainer"] = trainer.state_dict()
    else:
        info["dropout_rng"] = model.dropout_rng.bit_generator.state
    info["arrays"] = {k: list(v.shape) for k, v in arrays.items()}
    text = json.dumps(info, indent=1, default=_jsonable)          # fails before anything is written
    atomic_write(npz_path, lambda f: np.savez(f, **arrays))
    info["sha256"] = _sha256(npz_path)
    text = json.dumps(info, indent=1, default=_jsonable)
    atomic_write(json_path, lambda f: f.write(text), mode="w")
    return npz_path, json_path


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
    CheckpointError
        Missing, truncated or corrupt files, a ``.json`` and ``.npz`` that do not belong together,
        or a config that differs from ``model``'s. The message names the file.
    """
    npz_path, json_path = _paths(path)
    for p in (json_path, npz_path):
        if not os.path.exists(p):
            raise CheckpointError(f"checkpoint file {p} does not exist")
    try:
        with open(json_path) as f:
            info = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint file {json_path} is truncated or not JSON: {err}") from err
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint file {json_path} is not a numrnn checkpoint of format {FORMAT}")
    if info.get("sha256") != _sha256(npz_path):
        raise CheckpointError(f"checkpoint file {npz_path} does not match {json_path} "
                              "(truncated, modified, or from another run)")
    arrays = _read_npz(npz_path, info["arrays"])

    if model is None:
        model = SequenceModel.from_config(info["config"])
    elif model.config != info["config"]:
        diff = sorted(k for k in set(model.config) | set(info["config"])
                      if model.config.get(k) != info["config"].get(k))
        raise CheckpointError(f"checkpoint {json_path} is for another configuration (differs in {diff})")
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
    return Checkpoint(model=model, optimizer=optimizer, trainer_state=trainer_state, meta=info.get("meta"))


def _read_npz(npz_path, shapes):
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise CheckpointError(f"checkpoint file {npz_path} is truncated or corrupt: {err}") from err
    if {k: list(v.shape) for k, v in arrays.items()} != shapes:
        raise CheckpointError(f"checkpoint file {npz_path} holds other arrays than its .json lists")
    return arrays


def _sha256(path):
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


__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "CheckpointError"]
