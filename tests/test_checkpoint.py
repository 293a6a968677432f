"""Checkpoints: identical predictions after loading, identical resumed training, clear errors."""
import json
import os

import numpy as np
import pytest

from numrnn.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from numrnn.training.model import SequenceModel
from numrnn.training.optim import Adam
from numrnn.data.tasks import first_element
from numrnn.training.trainer import Trainer

TASK = first_element(T=6, D=2, n_train=60, n_test=10, seed=0)


def _trainer(seed=0):
    model = SequenceModel(2, 6, 1, version="D", dropout=0.2, seed=seed, dtype=np.float32)
    return Trainer(model, Adam(lr=1e-2), batch_size=16, seed=seed, progress=False)


def _fit(trainer, epochs):
    return trainer.fit(TASK.x_train, TASK.y_train, epochs=epochs, x_test=TASK.x_test, y_test=TASK.y_test)


def test_loaded_model_predicts_identically(tmp_path):
    trainer = _trainer()
    _fit(trainer, 1)
    npz, js = save_checkpoint(tmp_path / "run", trainer.model, trainer.optimizer, trainer, meta={"cmd": "x"})
    assert os.path.exists(npz) and os.path.exists(js)
    loaded = load_checkpoint(tmp_path / "run.npz")
    assert loaded.model.config == trainer.model.config and loaded.meta == {"cmd": "x"}
    assert loaded.model.params["layer.W1"].dtype == np.float32
    np.testing.assert_array_equal(loaded.model.predict(TASK.x_test), trainer.model.predict(TASK.x_test))
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(npz).st_mode & 0o777 == 0o666 & ~mask        # not mkstemp's 0600


def test_resumed_training_continues_identically(tmp_path):
    straight = _trainer()
    _fit(straight, 3)

    first = _trainer()
    _fit(first, 1)
    save_checkpoint(tmp_path / "ck", first.model, first.optimizer, first)
    ck = load_checkpoint(tmp_path / "ck")
    resumed = Trainer(ck.model, ck.optimizer, batch_size=16, seed=0, progress=False)
    resumed.load_state_dict(ck.trainer_state)
    _fit(resumed, 2)

    for name in straight.model.params:
        np.testing.assert_array_equal(resumed.model.params[name], straight.model.params[name])
    assert resumed.history["loss"] == straight.history["loss"]
    assert resumed.history["test"] == straight.history["test"]
    assert (resumed.step, resumed.epoch) == (straight.step, straight.epoch)


def test_model_only_checkpoint(tmp_path):
    model = SequenceModel(3, 4, 5, version="special", readout="all", loss="ce", vocab_size=9, seed=2)
    save_checkpoint(tmp_path / "m", model)
    ck = load_checkpoint(tmp_path / "m", model=SequenceModel(3, 4, 5, version="special", readout="all",
                                                            loss="ce", vocab_size=9, seed=99))
    assert ck.optimizer is None and ck.trainer_state is None
    tokens = np.arange(12).reshape(2, 6) % 9
    np.testing.assert_array_equal(ck.model.predict(tokens), model.predict(tokens))


def test_missing_truncated_mismatched_checkpoints_give_clear_errors(tmp_path):
    model = SequenceModel(2, 4, 1, version="A", seed=0)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")
    npz, js = save_checkpoint(tmp_path / "a", model)

    other = SequenceModel(2, 5, 1, version="B", seed=0)
    with pytest.raises(CheckpointError, match=r"another configuration .*hidden_size.*n_matrices"):
        load_checkpoint(tmp_path / "a", model=other)

    data = open(npz, "rb").read()
    with open(npz, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="a.npz"):
        load_checkpoint(tmp_path / "a")

    save_checkpoint(tmp_path / "a", model)
    save_checkpoint(tmp_path / "b", other)
    os.replace(tmp_path / "b.npz", tmp_path / "a.npz")          # a .json with another run's arrays
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(tmp_path / "a")

    npz, js = save_checkpoint(tmp_path / "c", model)
    text = open(js).read()
    with open(js, "w") as f:
        f.write(text[:40])
    with pytest.raises(CheckpointError, match="c.json is truncated"):
        load_checkpoint(tmp_path / "c")
    with open(js, "w") as f:
        json.dump({"hello": 1}, f)
    with pytest.raises(CheckpointError, match="not a numrnn checkpoint"):
        load_checkpoint(tmp_path / "c")


def test_a_failed_save_leaves_no_file_behind(tmp_path):
    model = SequenceModel(2, 4, 1, seed=0)
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(tmp_path / "x", model, meta={"bad": object()})
    assert os.listdir(tmp_path) == []
