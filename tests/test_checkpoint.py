"""Checkpoints: identical predictions after loading, identical resumed training, clear errors."""
import json
import os

import numpy as np
import pytest

from numrnn.training.checkpoint import CheckpointError, checkpoint_files, load_checkpoint, save_checkpoint
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
    assert sorted(os.listdir(tmp_path)) == ["run.json", "run.npz"]       # no temporary file left
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
    with pytest.raises(TypeError, match=r"cannot store meta\['runs'\]\[1\]\['bad'\] \(object\)"):
        save_checkpoint(tmp_path / "x", model, meta={"runs": [{}, {"bad": object()}]})
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ killed saves
def _known_state(i):
    """Model and optimiser whose every number says which save (i) they belong to."""
    model = SequenceModel(2, 3, 1, version="B", seed=0)
    for k, name in enumerate(sorted(model.params)):
        model.params[name][...] = i + k / 8
    opt = Adam(lr=1e-3)
    opt.load_state_dict({"name": "adam", "hyper": opt.hyper, "t": i,
                         "slots": {"m": {n: np.full_like(v, -i) for n, v in model.params.items()},
                                   "v": {n: np.full_like(v, 2 * i) for n, v in model.params.items()}}})
    return model, opt, {"i": i, "note": "x" * (i % 7)}          # the metadata's size varies too


def _assert_is_save(ck, i):
    model, opt, meta = _known_state(i)
    assert ck.meta == meta
    for name, value in model.params.items():
        np.testing.assert_array_equal(ck.model.params[name], value)
    state, saved = ck.optimizer.state_dict(), opt.state_dict()
    assert state["t"] == i
    for slot in ("m", "v"):
        for name in model.params:
            np.testing.assert_array_equal(state["slots"][slot][name], saved["slots"][slot][name])


def _save_forever(path, start, report):
    """The child: save i = start, start+1, ..., writing (0, i) before and (1, i) after each save."""
    import struct
    try:
        for i in range(start, start + 10 ** 6):
            model, opt, meta = _known_state(i)
            os.write(report, struct.pack("<bq", 0, i))
            save_checkpoint(path, model, opt, meta=meta)
            os.write(report, struct.pack("<bq", 1, i))
    except BaseException:
        os.write(report, struct.pack("<bq", 2, 0))
    finally:
        os._exit(1)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill test forks a child (POSIX only)")
def test_a_save_killed_at_random_moments_always_leaves_the_newest_complete_checkpoint(tmp_path):
    """A child saves in a loop; SIGKILL it at seeded random moments, 80 times (at most ~12 s).

    After every kill the checkpoint loads and is exactly one save: the last one the child finished,
    or a later one it was in the middle of when killed, and never older than the one loaded
    before; never a mix of two saves, never an error.
    """
    import signal
    import struct
    import time

    path, rng = tmp_path / "ck", np.random.default_rng(17)
    save_seconds = []
    for _ in range(5):                         # kill within ~3 saves, however fast this disk is
        start = time.perf_counter()
        save_checkpoint(path, *_known_state(0)[:2], meta=_known_state(0)[2])
        save_seconds.append(time.perf_counter() - start)
    window = 3 * float(np.median(save_seconds))
    started = done = loaded = kills = 0
    begin = time.monotonic()
    while kills < 80 and time.monotonic() - begin < 10:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:                                              # the child never returns
            os.close(read_end)
            _save_forever(path, started + 1, write_end)
        os.close(write_end)
        time.sleep(rng.uniform(0.0, window))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        with os.fdopen(read_end, "rb") as f:
            records = f.read()
        for kind, i in struct.iter_unpack("<bq", records[: len(records) // 9 * 9]):
            assert kind != 2, "the saving child failed"
            started, done = (i, done) if kind == 0 else (started, i)
        ck = load_checkpoint(path)
        # saves done+1..started were each cut short by a kill; any of them may have got in place
        assert max(done, loaded) <= ck.meta["i"] <= max(started, done), (ck.meta, loaded, started, done)
        loaded = ck.meta["i"]
        _assert_is_save(ck, loaded)
    assert kills >= 10 and done >= 10          # the loop really ran and really got interrupted
    save_checkpoint(path, *_known_state(started + 1)[:2], meta=_known_state(started + 1)[2])
    assert sorted(os.listdir(tmp_path)) == ["ck.json", "ck.npz"]   # what killed saves left is gone
    _assert_is_save(load_checkpoint(path), started + 1)


# ---------------------------------------------------------------- the metadata is checked too
def _edit_json(js, edit):
    info = json.loads(open(js, encoding="utf-8").read())
    edit(info)
    with open(js, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1, sort_keys=True)


@pytest.mark.parametrize("field, edit", [
    ("config.activation", lambda info: info["config"].update(activation="tanh")),
    ("config.hidden_size", lambda info: info["config"].update(hidden_size=5)),
    ("meta.vocab", lambda info: info["meta"]["vocab"].reverse()),
    ("meta.lr", lambda info: info["meta"].update(lr=0.5)),
    ("optimizer.hyper.lr", lambda info: info["optimizer"]["hyper"].update(lr=1.0)),
    ("trainer.step", lambda info: info["trainer"].update(step=999)),
])
def test_an_edited_json_field_is_refused_naming_the_file_and_the_field(tmp_path, field, edit):
    trainer = _trainer()
    _fit(trainer, 1)
    npz, js = save_checkpoint(tmp_path / "run", trainer.model, trainer.optimizer, trainer,
                              meta={"vocab": ["a", "b", "c"], "lr": 0.01})
    _edit_json(js, edit)
    with pytest.raises(CheckpointError, match=rf"run\.json was changed after it was saved.* {field}\b"):
        load_checkpoint(tmp_path / "run")


@pytest.mark.parametrize("content", [b"[1, 2, 3]", b"\xff\xfe not utf-8", b"", b'{"format": 2',
                                     b'{"format": 2, "config": 7}', b"null"])
def test_a_malformed_json_is_refused_naming_the_file(tmp_path, content):
    model = SequenceModel(2, 4, 1, version="A", seed=0)
    npz, js = save_checkpoint(tmp_path / "m", model)
    with open(js, "wb") as f:
        f.write(content)
    with pytest.raises(CheckpointError, match=r"m\.json"):
        load_checkpoint(tmp_path / "m")


def test_the_json_of_a_save_killed_before_replacing_it_is_recognised_and_ignored(tmp_path):
    old, new = SequenceModel(2, 4, 1, version="A", seed=0), SequenceModel(2, 4, 1, version="A", seed=1)
    npz, js = save_checkpoint(tmp_path / "m", old, meta={"which": "old"})
    old_json = open(js, "rb").read()
    save_checkpoint(tmp_path / "m", new, meta={"which": "new"})
    with open(js, "wb") as f:                         # as if killed between the two replaces
        f.write(old_json)
    ck = load_checkpoint(tmp_path / "m")
    assert ck.meta == {"which": "new"}
    np.testing.assert_array_equal(ck.model.params["layer.W1"], new.params["layer.W1"])
    os.remove(js)                                     # the .npz is complete on its own
    assert load_checkpoint(tmp_path / "m").meta == {"which": "new"}


def test_a_changed_array_inside_the_npz_is_refused(tmp_path):
    model = SequenceModel(2, 4, 1, version="A", seed=0)
    npz, js = save_checkpoint(tmp_path / "m", model)
    with np.load(npz) as data:
        members = {k: data[k] for k in data.files}
    members["param/layer.W1"] = members["param/layer.W1"] + 1.0
    np.savez(npz, **members)
    with pytest.raises(CheckpointError, match=r"m\.npz: array 'param/layer.W1' does not match its checksum"):
        load_checkpoint(tmp_path / "m")


def test_a_checkpoint_of_format_1_still_loads(tmp_path):
    """Format 1: the arrays in NAME.npz, the metadata and the .npz's SHA-256 in NAME.json."""
    import hashlib
    model = SequenceModel(2, 4, 1, version="C", seed=3)
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    np.savez(tmp_path / "old.npz", **arrays)
    info = {"format": 1, "config": model.config, "meta": {"cmd": "old"},
            "dropout_rng": model.dropout_rng.bit_generator.state,
            "arrays": {k: list(v.shape) for k, v in arrays.items()},
            "sha256": hashlib.sha256(open(tmp_path / "old.npz", "rb").read()).hexdigest()}
    (tmp_path / "old.json").write_text(json.dumps(info))
    ck = load_checkpoint(tmp_path / "old")
    assert ck.meta == {"cmd": "old"}
    np.testing.assert_array_equal(ck.model.params["layer.W1"], model.params["layer.W1"])


def test_directories_and_bad_arguments_are_named(tmp_path):
    model = SequenceModel(2, 4, 1, version="A", seed=0)
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match=r"d\.npz is a directory"):
        save_checkpoint(tmp_path / "d", model)
    with pytest.raises(CheckpointError, match=r"d\.npz is a directory"):
        load_checkpoint(tmp_path / "d")
    with pytest.raises(ValueError, match="names a folder"):
        save_checkpoint(str(tmp_path) + os.sep, model)
    with pytest.raises(ValueError, match="names a folder"):                 # checked before a long run
        checkpoint_files(str(tmp_path / "runs") + "/")
    with pytest.raises(IsADirectoryError, match=r"d\.npz is a directory"):
        checkpoint_files(tmp_path / "d.json")
    assert checkpoint_files(tmp_path / "e.json") == (str(tmp_path / "e.npz"), str(tmp_path / "e.json"))
    with pytest.raises(TypeError, match="checkpoint path must be a path"):
        save_checkpoint(None, model)
    with pytest.raises(TypeError, match="checkpoint path must be a path"):
        load_checkpoint(3)
    np.save(tmp_path / "array.npy", np.zeros(3))
    os.replace(tmp_path / "array.npy", tmp_path / "array.npz")            # an .npy under an .npz name
    with pytest.raises(CheckpointError, match=r"array\.npz is truncated or not an \.npz archive"):
        load_checkpoint(tmp_path / "array")
    with pytest.raises(TypeError, match="model must be a SequenceModel"):
        save_checkpoint(tmp_path / "x", "model")
    with pytest.raises(TypeError, match="optimizer must be"):
        save_checkpoint(tmp_path / "x", model, optimizer="adam")
    with pytest.raises(TypeError, match="trainer must be"):
        save_checkpoint(tmp_path / "x", model, trainer=object())
    with pytest.raises(TypeError, match="meta must be a dict"):
        save_checkpoint(tmp_path / "x", model, meta=["a"])
    with pytest.raises(TypeError, match=r"meta\['a'\] has the key 1 \(int\)"):
        save_checkpoint(tmp_path / "x", model, meta={"a": {1: "one"}})
    save_checkpoint(tmp_path / "x", model)
    with pytest.raises(TypeError, match="model must be a SequenceModel or None"):
        load_checkpoint(tmp_path / "x", model="model")
    assert sorted(os.listdir(tmp_path)) == ["array.npz", "d.npz", "x.json", "x.npz"]


def test_a_model_with_your_own_layer_saves_its_class_and_config_and_loads_by_importing_it(tmp_path):
    """A layer with ``config`` is saved as its class path + config + params; loading imports the
    class and rebuilds it. Without ``config`` the save is refused naming the layer, nothing written."""
    from scratch_cell import SavableScratchCell, ScratchCell
    model = SequenceModel(output_size=1, layer=SavableScratchCell(2, 4, n_matrices=2, skip=2, seed=1), seed=0)
    assert model.config["layer"] == {"class": "scratch_cell.SavableScratchCell", "config": dict(
        input_size=2, hidden_size=4, n_matrices=2, skip=2, dtype="float64")}
    save_checkpoint(tmp_path / "own", model, Adam(1e-3))
    loaded = load_checkpoint(tmp_path / "own")
    assert type(loaded.model.layer) is SavableScratchCell and loaded.model.config == model.config
    np.testing.assert_array_equal(loaded.model.predict(TASK.x_test), model.predict(TASK.x_test))
    assert load_checkpoint(tmp_path / "own", model=model).model is model       # into the same model
    plain = SequenceModel(output_size=1, layer=ScratchCell(2, 4, seed=1), seed=0)
    with pytest.raises(TypeError, match=r"^a model with your own layer scratch_cell\.ScratchCell can be "
                                        r"saved only if the layer has a `config` property"):
        save_checkpoint(tmp_path / "plain", plain)
    assert not (tmp_path / "plain.npz").exists()


def test_a_saved_layer_class_that_is_not_a_layer_or_not_importable_is_refused(tmp_path):
    from scratch_cell import SavableScratchCell
    model = SequenceModel(output_size=1, layer=SavableScratchCell(2, 3, seed=1), seed=0)
    save_checkpoint(tmp_path / "own", model)
    ck = np.load(tmp_path / "own.npz")
    for name, message in (("subprocess.Popen", "subprocess.Popen is not a layer class"),
                          ("no_such_module_xyz.Cell", "cannot import the layer class no_such_module_xyz.Cell")):
        info = json.loads(ck["__numrnn_checkpoint__"].tobytes())
        info["config"]["layer"]["class"] = name
        with pytest.raises(CheckpointError, match=message):
            _build_from(info, ck)


def _build_from(info, ck):
    from numrnn.training.checkpoint import _build
    arrays = {k: ck[k] for k in ck.files if k != "__numrnn_checkpoint__"}
    return _build(info, arrays, None, "edited.npz")
