"""The SST data layer on a tiny treebank (tests/sst_samples.py; never the real data)."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numrnn.nn import layers
from numrnn.nn import losses
from numrnn.data import sst
from numrnn.nn.rnn import RNN

from sst_samples import TRAIN, write_treebank


# ------------------------------------------------------------------------------ parsing
def test_parse_tree_reads_labels_words_and_structure():
    tree = sst.parse_tree(TRAIN[0])
    assert tree.label == 3
    assert tree.leaves() == ["It", "'s", "a", "lovely", "film", "."]
    assert len(list(tree.nodes())) == 11                 # 6 leaves + 5 internal nodes (binary)
    assert [n.label for n in tree.nodes()][:3] == [3, 2, 4]


def test_escapes_are_undone_and_tokens_split_on_ascii_space_only():
    assert sst.parse_tree(TRAIN[1]).leaves() == ["(", "the", "dull", "/plot", ")"]
    assert sst.parse_tree(TRAIN[2]).leaves() == ['"', "awful", '"']
    assert sst.parse_tree(TRAIN[3]).leaves() == ["8\xa01/2", "film"]
    assert sst.unescape("\\*\\*\\*") == "***"
    assert sst.unescape("-LCB-") == "{"


@pytest.mark.parametrize("line, message", [
    ("(3 (2 a) (2 b)", "never closed"),
    ("(3 (2 a) (2 b)))", "without a matching"),
    ("(5 (2 a) (2 b))", "label must be one of 0..4"),
    ("(-1 (2 a) (2 b))", "label must be one of 0..4"),
    ("(x (2 a) (2 b))", "label must be one of 0..4"),
    ("", "empty tree"),
    ("   ", "empty tree"),
    ("((2 a) (2 b))", "no label"),
    ("(2 a (2 b))", "either one word or subtrees"),
    ("(2 a b)", "either one word or subtrees"),
    ("(2)", "neither a word nor subtrees"),
    ("()", "empty node"),
    ("(2 a) (2 b)", "after the end"),
    ("word (2 a)", "outside brackets"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "train.txt"
    path.write_text(TRAIN[0] + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(sst.SSTFormatError, match=message) as info:
        sst.read_trees(path)
    assert f"{path}, line 2:" in str(info.value)


def test_not_utf8_and_empty_file_are_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"(2 a)\n(2 \xff)\n")
    with pytest.raises(sst.SSTFormatError, match=r"bad.txt, line 2: not UTF-8"):
        sst.read_trees(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(sst.SSTFormatError, match="no tree"):
        sst.read_trees(empty)


def test_missing_file_says_where_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="trainDevTestTrees_PTB.zip") as info:
        sst.read_trees(tmp_path / "train.txt")
    assert str(tmp_path / "train.txt") in str(info.value) and sst.ENV_VAR in str(info.value)


# ----------------------------------------------------------------------------- examples
def test_sentences_and_phrases():
    trees = [sst.parse_tree(line) for line in TRAIN]
    sents = sst.sentences(trees, lower=True)
    assert sents[0] == sst.Example(("it", "'s", "a", "lovely", "film", "."), 3)
    assert [ex.label for ex in sents] == [3, 1, 0, 2]
    every = sst.phrases(trees, unique=False)
    assert len(every) == sum(len(list(t.nodes())) for t in trees)
    assert sst.Example(("lovely", "film"), 4) in every and sst.Example(("film",), 2) in every
    unique = sst.phrases(trees)
    assert len(unique) == len(set(every)) < len(every)   # "film"/2 occurs twice, kept once
    assert unique[0] == sst.Example(tuple(trees[0].leaves()), 3)


def test_find_sst_dir_prefers_argument_then_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(sst.ENV_VAR, raising=False)
    assert sst.find_sst_dir() == sst.DEFAULT_DIR
    monkeypatch.setenv(sst.ENV_VAR, str(tmp_path))
    assert sst.find_sst_dir() == tmp_path
    assert sst.find_sst_dir(tmp_path / "x") == tmp_path / "x"


def test_load_sst_reads_the_three_splits(monkeypatch, tmp_path):
    monkeypatch.setenv(sst.ENV_VAR, str(write_treebank(tmp_path / "trees")))
    data = sst.load_sst()
    assert [len(data[s]) for s in sst.SPLITS] == [4, 1, 1]
    with_phrases = sst.load_sst(train_phrases=True)
    assert len(with_phrases["train"]) > 4 and with_phrases["dev"] == data["dev"]
    assert sst.load_sst(lower=True)["test"][0].tokens == ("dull", "film")


# --------------------------------------------------------------------------- vocabulary
def test_vocab_counts_min_count_and_unknown():
    vocab = sst.Vocab.build([["b", "a", "b"], ["c", "B"]], min_count=2, lower=True)
    assert vocab.itos == ["<pad>", "<unk>", "b"]       # b seen 3 times (lower-cased), a and c once
    assert vocab.encode(["B", "a", "b"]).tolist() == [2, 1, 2]
    assert vocab.encode(["B"]).dtype == np.int64
    ties = sst.Vocab.build([["z", "y", "x"]])
    assert ties.itos[2:] == ["x", "y", "z"]            # equal counts: alphabetical, deterministic
    with pytest.raises(ValueError, match="min_count"):
        sst.Vocab.build([["a"]], min_count=0)


def test_vocab_round_trips_through_json_atomically(tmp_path):
    vocab = sst.Vocab.build([["Amélie", "8\xa01/2", "a"]], lower=False)
    path = tmp_path / "model" / "vocab.json"
    vocab.save(path)
    assert sst.Vocab.load(path) == vocab
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]   # no temp file left behind
    (tmp_path / "other.json").write_text(json.dumps({"tokens": []}))
    with pytest.raises(ValueError, match="other.json: not a numrnn vocabulary"):
        sst.Vocab.load(tmp_path / "other.json")


# ------------------------------------------------------------------------------ batches
def test_pad_batch_pads_right_and_returns_lengths():
    tokens, lengths = sst.pad_batch([np.array([5, 6, 7]), np.array([8])])
    assert tokens.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="at least one"):
        sst.pad_batch([np.array([5]), np.array([], dtype=np.int64)])


def test_encode_rejects_an_empty_example():
    vocab = sst.Vocab.build([["a"]])
    with pytest.raises(ValueError, match="example 1 has no tokens"):
        sst.encode([sst.Example(("a",), 0), sst.Example((), 1)], vocab)


@given(st.lists(st.integers(1, 12), min_size=1, max_size=40), st.integers(1, 7), st.integers(0, 9))
def test_batches_cover_every_example_once_and_are_reproducible(lens, batch_size, seed):
    ids = [np.arange(n) + 10 * i for i, n in enumerate(lens)]
    labels = np.arange(len(lens))
    plain = list(sst.iterate_batches(ids, labels, batch_size))
    assert np.concatenate([b[2] for b in plain]).tolist() == labels.tolist()
    shuffled = list(sst.iterate_batches(ids, labels, batch_size, np.random.default_rng(seed), bucket=2))
    again = list(sst.iterate_batches(ids, labels, batch_size, np.random.default_rng(seed), bucket=2))
    assert sorted(np.concatenate([b[2] for b in shuffled]).tolist()) == labels.tolist()
    for (tokens, lengths, labs), (tokens2, _, _) in zip(shuffled, again):
        assert np.array_equal(tokens, tokens2) and len(tokens) <= batch_size
        for row, n, label in zip(tokens, lengths, labs):
            assert np.array_equal(row[:n], ids[label]) and not row[n:].any()


def _classifier_loss(params, cell, tokens, lengths, labels):
    """Embedding -> RNN -> state at the last real token -> linear -> cross-entropy, with grads."""
    x, emb_cache = layers.embedding_forward(tokens, params["E"])
    hs, rnn_cache = cell.forward(x)
    h_last, last_cache = layers.last_step_forward(hs, lengths)
    logits, lin_cache = layers.linear_forward(h_last, params["Wo"], params["bo"])
    loss, dlogits = losses.softmax_cross_entropy(logits, labels)
    dh_last, lin_grads = layers.linear_backward(dlogits, lin_cache)
    dx, rnn_grads = cell.backward(layers.last_step_backward(dh_last, last_cache), rnn_cache)
    grads = {"E": layers.embedding_backward(dx, emb_cache)["E"], "Wo": lin_grads["W"],
             "bo": lin_grads["b"], **rnn_grads}
    return loss, grads


@settings(max_examples=25)
@given(st.sampled_from("ABCD"), st.lists(st.integers(1, 9), min_size=2, max_size=5),
       st.integers(0, 2**16))
def test_padding_changes_neither_loss_nor_gradients(name, lens, seed):
    """Mean of per-sentence (unpadded) losses and grads == loss and grads of the padded batch."""
    rng = np.random.default_rng(seed)
    V, D, H, C = 11, 4, 6, 5
    cell = RNN.from_version(name, D, H, seed=rng, scale=0.9)
    params = {"E": rng.standard_normal((V, D)), "Wo": rng.standard_normal((C, H)),
              "bo": rng.standard_normal(C)}
    sentences = [rng.integers(1, V, size=n) for n in lens]
    labels = rng.integers(0, C, size=len(lens))
    tokens, lengths = sst.pad_batch(sentences)
    loss, grads = _classifier_loss(params, cell, tokens, lengths, labels)
    singles = [_classifier_loss(params, cell, s[None], None, labels[i:i + 1])
               for i, s in enumerate(sentences)]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-12)
    for key, grad in grads.items():
        np.testing.assert_allclose(grad, np.mean([s[1][key] for s in singles], axis=0),
                                   rtol=1e-10, atol=1e-13, err_msg=key)
    tokens[np.arange(tokens.shape[1]) >= lengths[:, None]] = V - 1   # other padding ids: no change
    assert _classifier_loss(params, cell, tokens, lengths, labels)[0] == pytest.approx(loss, rel=1e-12)


# ------------------------------------------------------------------------------ new text
def test_tokenize_splits_like_the_treebank():
    assert sst.tokenize("It isn't bad... (really)!") == \
        ["It", "is", "n't", "bad", "...", "(", "really", ")", "!"]
    assert sst.tokenize("it's the film's \"best\"") == ["it", "'s", "the", "film", "'s", '"', "best", '"']


# --------------------------------------------------------------------- pretrained vectors
def test_load_glove_matches_words_and_reports_bad_lines(tmp_path):
    vocab = sst.Vocab(["film", "lovely", "a b", "missing"], lower=True)
    path = tmp_path / "vectors.txt"
    path.write_text("2 3\nFilm 1 2 3\nfilm 9 9 9\nlovely 0.5 -1 2e-1\na b 7 8 9\nother 1 1 1\n")
    E, found = sst.load_glove(path, vocab)
    assert E.shape == (len(vocab), 3)
    assert found.tolist() == [False, False, True, True, True, False]
    np.testing.assert_array_equal(E[2], [1, 2, 3])        # lower-cased, the first occurrence wins
    np.testing.assert_array_equal(E[3], [0.5, -1, 0.2])
    np.testing.assert_array_equal(E[4], [7, 8, 9])        # a word with a space inside
    assert not E[~found].any()
    path.write_text("film 1 2 3\nlovely 1 2\n")
    with pytest.raises(ValueError, match=r"vectors.txt, line 2: expected 3 numbers"):
        sst.load_glove(path, vocab)
    path.write_text("film 1 2 3\nlovely 1 x 2\n")
    with pytest.raises(ValueError, match=r"vectors.txt, line 2"):
        sst.load_glove(path, vocab)
    path.write_text("film 1 nan 3\n")
    with pytest.raises(ValueError, match=r"line 1: NaN or inf"):
        sst.load_glove(path, vocab)
    with pytest.raises(FileNotFoundError, match="nothere.txt"):
        sst.load_glove(tmp_path / "nothere.txt", vocab)
