"""Every public function of the data modules and the file helpers refuses bad input by name.

Each case is (call, exception type, what the message must say). The message must name the
argument or the file; a traceback from numrnn's insides (an IndexError, an AttributeError, a
silently wrong result) is a failure. The checkpoint and task promises are tested in
test_checkpoint.py and test_tasks.py; the list of promises is in the README, "What numrnn promises".
"""
import os
from types import SimpleNamespace

import numpy as np
import pytest

from numrnn import _io
from numrnn.data import sst, text

VOCAB = text.Vocab.from_text("abc")
SST_VOCAB = sst.Vocab(["good", "film"])
TREE = sst.parse_tree("(3 (2 a) (3 good))")


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    plt.close(fig)
    return fig


@pytest.fixture
def d(tmp_path):
    """A folder, a tree file and a non-UTF-8 vector file in a temporary directory."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("(3 (2 a) (3 good))\n")
    (tmp_path / "latin1.vec").write_bytes("good 0.1 0.2\ncaf\xe9 0.3 0.4\n".encode("latin-1"))
    return SimpleNamespace(tmp=tmp_path, folder=tmp_path / "folder")


CASES = [
    # ----------------------------------------------------------------- text.py
    (lambda d: text.read_text(d.folder), IsADirectoryError, r"text file '.*folder' is a directory"),
    (lambda d: text.read_text(None), TypeError, "text file must be a path"),
    (lambda d: text.read_text(d.tmp / "none.txt"), FileNotFoundError, r"text file '.*none\.txt' does not exist"),
    (lambda d: text.Vocab(None), TypeError, "chars must be an iterable of single characters"),
    (lambda d: text.Vocab(["a", 5]), ValueError, "single characters; got 5"),
    (lambda d: text.Vocab.from_text(b"abc"), TypeError, "text must be a str"),
    (lambda d: VOCAB.encode(["a", "b"], name="prime"), TypeError, "prime must be a str"),
    (lambda d: VOCAB.decode([0, 3]), ValueError, r"ids must lie in 0\.\.2"),
    (lambda d: VOCAB.decode([-1]), ValueError, r"ids must lie in 0\.\.2"),          # not chars[-1]
    (lambda d: VOCAB.decode(np.array([0.0, 1.0])), TypeError, "ids must be integers"),
    (lambda d: text.split(np.arange(100), "0.1"), TypeError, "valid_fraction must be a number"),
    (lambda d: text.split(np.ones((10, 10), dtype=int), 0.2), ValueError, "ids must be a 1-d integer"),
    (lambda d: text.split(np.linspace(0, 1, 100), 0.2), ValueError, "ids must be a 1-d integer"),
    (lambda d: text.inputs_and_targets(np.arange(10)), ValueError, "streams must be a 2-d integer"),
    (lambda d: text.inputs_and_targets([[1, 2, 3]]), ValueError, "streams must be a 2-d integer"),
    (lambda d: text.inputs_and_targets(np.zeros((3, 1), int)), ValueError, "at least 2 columns"),
    (lambda d: text.generate_text(100, seed=-1), ValueError, "seed must be >= 0, got -1"),
    (lambda d: text.generate_text(100, seed="zero"), TypeError, "seed must be an integer"),
    # ------------------------------------------------------------------ sst.py
    (lambda d: sst.read_trees(d.folder), IsADirectoryError, r"SST file '.*folder' is a directory"),
    (lambda d: sst.read_trees(7), TypeError, "SST file must be a path"),
    (lambda d: sst.parse_tree(b"(3 (2 a))"), TypeError, "line must be a str"),
    (lambda d: sst.sentences("(3 (2 a))"), TypeError, "trees must be a list of Tree"),
    (lambda d: sst.sentences(TREE), TypeError, "trees must be a list of Tree"),
    (lambda d: sst.phrases([TREE, "x"]), TypeError, "item 1 is a str"),
    (lambda d: sst.sentences([TREE], lower="no"), TypeError, "lower must be True or False"),
    (lambda d: sst.phrases([TREE], unique=None), TypeError, "unique must be True or False"),
    (lambda d: sst.find_sst_dir(d.tmp / "file.txt"), NotADirectoryError, r"sst_dir '.*file\.txt' is a file"),
    (lambda d: sst.find_sst_dir(3.5), TypeError, "sst_dir must be a path"),
    (lambda d: sst.load_sst(d.tmp, lower="yes"), TypeError, "lower must be True or False"),
    (lambda d: sst.Vocab("good film"), TypeError, "tokens must be a list of str tokens.*tokenize"),
    (lambda d: sst.Vocab(["good", 3]), TypeError, r"tokens\[1\] must be a non-empty str"),
    (lambda d: sst.Vocab(["good", ""]), TypeError, r"tokens\[1\] must be a non-empty str"),
    (lambda d: sst.Vocab.build(["good film", "bad"]), TypeError, r"token_lists\[0\] must be a list"),
    (lambda d: sst.Vocab.build("good film"), TypeError, "token_lists must be a list of token lists"),
    (lambda d: SST_VOCAB.encode("good"), TypeError, "tokens must be a list of str tokens"),
    (lambda d: SST_VOCAB.decode([0, 4]), ValueError, r"ids must lie in 0\.\.3"),
    (lambda d: SST_VOCAB.decode([-2]), ValueError, r"ids must lie in 0\.\.3"),
    (lambda d: sst.Vocab.from_dict({"format": "numrnn-vocab-1", "tokens": []}), ValueError,
     "vocabulary without lower"),
    (lambda d: sst.Vocab.load(d.folder), IsADirectoryError, "vocabulary file .* is a directory"),
    (lambda d: sst.Vocab.load(d.tmp / "none.json"), FileNotFoundError, r"vocabulary file .*none\.json"),
    (lambda d: SST_VOCAB.save(d.folder), IsADirectoryError, "vocabulary file .* is a directory"),
    (lambda d: sst.encode([("good",)], SST_VOCAB), TypeError, "item 0 is a tuple"),
    (lambda d: sst.encode([sst.Example(("good",), 3)], VOCAB), TypeError, "vocab must be an SST Vocab"),
    (lambda d: sst.pad_batch([np.array([1.5, 2.0])]), TypeError, r"sequences\[0\] must be a 1-d array of integer"),
    (lambda d: sst.pad_batch([np.array([[1, 2]])]), TypeError, r"sequences\[0\] must be a 1-d array"),
    (lambda d: sst.pad_batch([np.array([1])], pad_id=0.5), TypeError, "pad_id must be an integer"),
    (lambda d: sst.pad_batch([np.array([1])], pad_id=10 ** 30), ValueError, "pad_id must fit in int64"),
    (lambda d: sst.pad_batch(None), TypeError, "sequences must be a list"),
    (lambda d: sst.encode(3, SST_VOCAB), TypeError, "examples must be a list"),
    (lambda d: list(sst.iterate_batches(5, np.array([0]), 1)), TypeError, "ids must be a list"),
    (lambda d: list(sst.iterate_batches([np.array([2, 3])] * 3, np.array([0, 1]), 2)), ValueError,
     r"labels must be a 1-d array with one label per sequence \(3\)"),
    (lambda d: list(sst.iterate_batches([np.array([2, 3])] * 2, np.array([0, 1]), 2, rng=0)), TypeError,
     "rng must be a numpy Generator"),
    (lambda d: sst.tokenize(None), TypeError, "text must be a str"),
    (lambda d: sst.unescape(None), TypeError, "token must be a str"),
    (lambda d: sst.load_glove(d.folder, SST_VOCAB), IsADirectoryError, "embedding file .* is a directory"),
    (lambda d: sst.load_glove(d.tmp / "latin1.vec", SST_VOCAB), ValueError, r"latin1\.vec, line 2: not UTF-8"),
    (lambda d: sst.load_glove(d.tmp / "latin1.vec", VOCAB), TypeError, "vocab must be an SST Vocab"),
    (lambda d: sst.load_glove(d.tmp / "latin1.vec", SST_VOCAB, dtype=int), TypeError, "dtype must be float32"),
    # ------------------------------------------------------------------- _io.py
    (lambda d: _io.atomic_write(d.folder, lambda f: f.write(b"x")), IsADirectoryError, "folder' is a directory"),
    (lambda d: _io.atomic_write_text(b"/tmp/x", "x"), TypeError, "path must be a str path"),
    (lambda d: _io.save_figure("figure", d.tmp / "f.png"), TypeError, "fig must be a matplotlib Figure"),
    (lambda d: _io.save_figure(_figure(), d.tmp / "f.png", dpi=0), ValueError, "dpi must be a positive"),
]


@pytest.mark.parametrize("call, error, message", CASES, ids=[f"{i}-{c[2]}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_by_name(d, call, error, message):
    with pytest.raises(error, match=message):
        call(d)


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write_and_a_live_ones_kept(tmp_path):
    """A SIGKILLed save leaves its temporary file; the next write of that file removes it."""
    target = tmp_path / "table.md"
    dead = tmp_path / f"{_io.TMP_PREFIX}999999999-abcd1234-table.md"       # no such process
    alive = tmp_path / f"{_io.TMP_PREFIX}{os.getppid()}-abcd1234-table.md"  # a running process
    other = tmp_path / f"{_io.TMP_PREFIX}999999999-abcd1234-other.md"       # another target's
    for p in (dead, alive, other):
        p.write_text("half")
    _io.atomic_write_text(target, "whole")
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name, "table.md"])
    assert target.read_text() == "whole"
