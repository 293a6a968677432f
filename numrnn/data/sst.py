r"""The Stanford Sentiment Treebank (SST): trees, vocabulary, batches, pretrained vectors.

The official release ``trainDevTestTrees_PTB.zip`` (https://nlp.stanford.edu/sentiment/) holds
``train.txt``, ``dev.txt`` and ``test.txt``: one binarised parse tree per line in Penn-Treebank
brackets, with a sentiment label 0 (very negative) .. 4 (very positive) on every node::

    (3 (2 It) (4 (4 (2 's) (4 (3 (2 a) (4 (3 lovely) (2 film))) ...)) (2 .)))

The root's label is the sentence's label; every other node labels the phrase under it.

Pipeline, one function per step:

1. :func:`read_trees` parses a file into :class:`Tree` objects; a malformed line raises
   :class:`SSTFormatError` naming the file and the line.
2. :func:`sentences` / :func:`phrases` turn trees into :class:`Example` (tokens, label).
3. :class:`Vocab` maps tokens to integer ids (built from the training split only).
4. :func:`pad_batch` / :func:`iterate_batches` right-pad a batch to its longest sentence and return
   each sentence's real length. A model reads its hidden state at step ``length - 1``
   (:func:`numrnn.nn.layers.last_step_forward`); the padded steps come *after* it, so they cannot change
   the loss or the gradients.
5. :func:`load_glove` reads pretrained vectors in GloVe's text format for the words of a vocabulary.

Tokens are split on the ASCII space only: three training tokens contain a no-break space
(``8\xa01\/2``) that ``str.split()`` would wrongly cut.
"""
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import check_dtype, check_int
from .._io import atomic_write_text, check_path

#: Where the official files come from.
DOWNLOAD_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
#: Environment variable naming the folder with train.txt, dev.txt and test.txt.
ENV_VAR = "NUMRNN_SST_DIR"
#: Folder used when neither ``--sst-dir`` nor the environment variable is given.
DEFAULT_DIR = Path("data") / "sst"
SPLITS = ("train", "dev", "test")
LABELS = ("very negative", "negative", "neutral", "positive", "very positive")

#: PTB escapes and the characters they stand for. Both quote styles become a plain '"', which is
#: what a user types.
PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
               "``": '"', "''": '"'}


class SSTFormatError(ValueError):
    """A treebank file that does not parse; the message names the file and the line."""


# ----------------------------------------------------------------------------------- trees
@dataclass(frozen=True)
class Tree:
    """One node: a label and either a word (a leaf) or child trees."""
    label: int
    children: tuple = ()
    word: str = None

    def leaves(self):
        """The words under this node, left to right."""
        if self.word is not None:
            return [self.word]
        return [word for child in self.children for word in child.leaves()]

    def nodes(self):
        """This node and every node under it, parents before children."""
        yield self
        for child in self.children:
            yield from child.nodes()


def unescape(token):
    """Undo the PTB escapes: -LRB- -> '(', ``\\/`` -> '/', ``\\*`` -> '*', quotes -> '"'."""
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, got {type(token).__name__}")
    if token in PTB_ESCAPES:
        return PTB_ESCAPES[token]
    return token.replace("\\/", "/").replace("\\*", "*") if "\\" in token else token


_PIECE = re.compile(r"\(|\)|[^ ()]+")  # a bracket or a run of anything but ' ', '(' and ')'


def parse_tree(line):
    """Parse one PTB-bracketed tree.

    Parameters
    ----------
    line : str
        e.g. ``"(3 (2 a) (3 (3 lovely) (2 film)))"``.

    Returns
    -------
    Tree

    Raises
    ------
    ValueError
        On unbalanced brackets, a missing or out-of-range label, a node mixing a word and
        subtrees, text outside the tree, or an empty line. TypeError if ``line`` is not a str.
    """
    if not isinstance(line, str):
        raise TypeError(f"line must be a str, got {type(line).__name__}")
    stack, root = [], None                       # stack of open nodes: [label, children, word]
    for piece in _PIECE.findall(line.rstrip("\r\n")):
        if piece == ")" and not stack:
            raise ValueError("unbalanced brackets: ')' without a matching '('")
        if root is not None:
            raise ValueError(f"text after the end of the tree: {piece!r}")
        if piece == "(":
            if stack and stack[-1][0] is None:
                raise ValueError("a node has no label")
            stack.append([None, [], None])
        elif piece == ")":
            node = _close(*stack.pop())
            if stack:
                _add_child(stack[-1], node)
            else:
                root = node
        elif not stack:
            raise ValueError(f"text outside brackets: {piece!r}")
        else:
            _add_atom(stack[-1], piece)
    if stack:
        raise ValueError(f"unbalanced brackets: {len(stack)} '(' never closed")
    if root is None:
        raise ValueError("empty tree")
    return root


def _add_atom(node, piece):
    """The first atom of a node is its label, the second its word."""
    if node[0] is None:
        if piece not in ("0", "1", "2", "3", "4"):
            raise ValueError(f"label must be one of 0..4, got {piece!r}")
        node[0] = int(piece)
    elif node[1] or node[2] is not None:
        raise ValueError(f"a node holds either one word or subtrees; unexpected {piece!r}")
    else:
        node[2] = unescape(piece)


def _add_child(node, child):
    if node[2] is not None:
        raise ValueError(f"a node holds either one word or subtrees; word {node[2]!r} has a subtree")
    node[1].append(child)


def _close(label, children, word):
    if label is None:
        raise ValueError("empty node '()'")
    if word is None and not children:
        raise ValueError(f"node with label {label} has neither a word nor subtrees")
    return Tree(label, tuple(children), word)


def read_trees(path):
    """Parse every line of a treebank file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    trees : list of Tree, one per line

    Raises
    ------
    FileNotFoundError
        If the file is missing; the message says where to get the data.
    IsADirectoryError
        If ``path`` is a folder.
    SSTFormatError
        ``"<path>, line <n>: <what is wrong>"`` for the first malformed line.
    """
    path = Path(check_path("SST file", path))
    if not path.is_file():
        raise FileNotFoundError(
            f"SST file {path} not found. Download {DOWNLOAD_URL}, unzip it and point --sst-dir "
            f"(or the environment variable {ENV_VAR}) at the folder holding train.txt, dev.txt, test.txt")
    trees = []
    with open(path, "rb") as f:                  # bytes, so a decoding error knows its line
        for number, raw in enumerate(f, start=1):
            try:
                trees.append(parse_tree(raw.decode("utf-8")))
            except UnicodeDecodeError as err:
                raise SSTFormatError(f"{path}, line {number}: not UTF-8 ({err.reason})") from err
            except ValueError as err:
                raise SSTFormatError(f"{path}, line {number}: {err}") from err
    if not trees:
        raise SSTFormatError(f"{path}: the file holds no tree")
    return trees


# -------------------------------------------------------------------------------- examples
@dataclass(frozen=True)
class Example:
    """A token sequence and its label 0..4."""
    tokens: tuple
    label: int


def _check_trees(trees):
    if isinstance(trees, Tree) or not isinstance(trees, Iterable):
        raise TypeError(f"trees must be a list of Tree (from read_trees), got {type(trees).__name__}")
    trees = list(trees)
    for i, tree in enumerate(trees):
        if not isinstance(tree, Tree):
            raise TypeError(f"trees must be a list of Tree (from read_trees); item {i} is a "
                            f"{type(tree).__name__}")
    return trees


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def sentences(trees, lower=False):
    """One example per tree: all its words and the root's label."""
    trees, lower = _check_trees(trees), _check_flag("lower", lower)
    return [Example(_case(tree.leaves(), lower), tree.label) for tree in trees]


def phrases(trees, lower=False, unique=True):
    """One example per labelled node (every phrase, single words and whole sentences included).

    With ``unique=True`` a (phrase, label) pair that occurs several times is kept once, in order of
    first appearance; otherwise frequent phrases ("the", ".") dominate the set.
    """
    trees, lower, unique = _check_trees(trees), _check_flag("lower", lower), _check_flag("unique", unique)
    examples = (Example(_case(node.leaves(), lower), node.label)
                for tree in trees for node in tree.nodes())
    return list(dict.fromkeys(examples)) if unique else list(examples)


def _case(words, lower):
    return tuple(w.lower() for w in words) if lower else tuple(words)


def find_sst_dir(sst_dir=None):
    """The folder with the treebank: ``sst_dir`` if given, else $NUMRNN_SST_DIR, else ./data/sst.

    A file where the folder should be is a NotADirectoryError naming it (a missing folder is left
    to :func:`read_trees`, which says where to get the data).
    """
    name = "sst_dir"
    if sst_dir is None:
        sst_dir, name = (os.environ.get(ENV_VAR), f"${ENV_VAR}") if os.environ.get(ENV_VAR) \
            else (DEFAULT_DIR, "the default SST folder")
    folder = check_path(name, sst_dir, kind="folder")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{name} {folder!r} is a file; give the folder that holds "
                                 f"train.txt, dev.txt and test.txt")
    return Path(folder)


def load_sst(sst_dir=None, lower=False, train_phrases=False):
    """Train, dev and test examples. Dev and test are always whole sentences.

    Parameters
    ----------
    sst_dir : str or Path, optional
        See :func:`find_sst_dir`.
    lower : bool
        Lower-case every token.
    train_phrases : bool
        Train on every distinct labelled phrase of the training trees (as published SST baselines
        do) instead of on whole sentences only.

    Returns
    -------
    dict with keys "train", "dev", "test", each a list of Example
    """
    lower, train_phrases = _check_flag("lower", lower), _check_flag("train_phrases", train_phrases)
    folder = find_sst_dir(sst_dir)
    trees = {split: read_trees(folder / f"{split}.txt") for split in SPLITS}
    data = {split: sentences(trees[split], lower) for split in SPLITS}
    if train_phrases:
        data["train"] = phrases(trees["train"], lower)
    return data


# ------------------------------------------------------------------------------ vocabulary
class Vocab:
    """Token <-> id. Id 0 is padding, id 1 stands for every unknown token.

    Parameters
    ----------
    tokens : sequence of str
        The known tokens, ids 2, 3, ... in this order.
    lower : bool
        Lower-case tokens before looking them up (set it when the vocabulary was built lower-cased).
    """
    PAD, UNK = "<pad>", "<unk>"
    FORMAT = "numrnn-vocab-1"

    def __init__(self, tokens, lower=False):
        self.lower = _check_flag("lower", lower)
        tokens = _check_tokens("tokens", tokens)
        self.itos = [self.PAD, self.UNK, *tokens]
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("tokens must be distinct and must not contain <pad> or <unk>")

    @classmethod
    def build(cls, token_lists, min_count=1, lower=False):
        """Every token seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        check_int("min_count", min_count, 1)
        lower = _check_flag("lower", lower)
        if isinstance(token_lists, str) or not isinstance(token_lists, Iterable):
            raise TypeError(f"token_lists must be a list of token lists, got {type(token_lists).__name__}")
        token_lists = [_check_tokens(f"token_lists[{i}]", tokens) for i, tokens in enumerate(token_lists)]
        counts = Counter(t.lower() if lower else t for tokens in token_lists for t in tokens)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(kept, lower)

    def __len__(self):
        return len(self.itos)

    def __eq__(self, other):
        return isinstance(other, Vocab) and (self.itos, self.lower) == (other.itos, other.lower)

    def encode(self, tokens):
        """Ids of ``tokens`` as an int64 array, unknown tokens -> 1."""
        tokens = _check_tokens("tokens", tokens)
        if self.lower:
            tokens = [t.lower() for t in tokens]
        return np.array([self.stoi.get(t, 1) for t in tokens], dtype=np.int64)

    def decode(self, ids):
        """The tokens of integer ids 0..len-1 (0 is <pad>, 1 is <unk>); other ids are an error."""
        ids = np.asarray(ids)
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.ndim != 1):
            raise TypeError(f"ids must be a 1-d sequence of integers, got {ids.dtype} of shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in 0..{len(self) - 1}, got {ids.min()}..{ids.max()}")
        return [self.itos[i] for i in ids.reshape(-1)]

    def to_dict(self):
        return {"format": self.FORMAT, "lower": self.lower, "tokens": self.itos[2:]}

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict) or data.get("format") != cls.FORMAT:
            raise ValueError(f"not a numrnn vocabulary (expected format {cls.FORMAT!r})")
        missing = sorted({"tokens", "lower"} - set(data))
        if missing:
            raise ValueError(f"a numrnn vocabulary without {' and '.join(missing)}")
        return cls(data["tokens"], data["lower"])

    def save(self, path):
        """Write JSON atomically (a temp file in the same folder, then os.replace)."""
        atomic_write_text(check_path("vocabulary file", path), json.dumps(self.to_dict(), ensure_ascii=False))

    @classmethod
    def load(cls, path):
        """Read what :meth:`save` wrote; errors name the file."""
        path = check_path("vocabulary file", path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"vocabulary file {path!r} does not exist")
        with open(path, "rb") as f:
            try:
                return cls.from_dict(json.loads(f.read().decode("utf-8")))
            except (ValueError, KeyError, TypeError) as err:      # UnicodeDecodeError is a ValueError
                raise ValueError(f"{path}: {err}") from err


def _check_iterable(name, value):
    """``value`` as a list, or a TypeError naming ``name`` (a str or a bare number is refused)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    return list(value)


def _check_tokens(name, tokens):
    """A list of non-empty str tokens (a bare string would be split into characters: refused)."""
    if isinstance(tokens, str) or not isinstance(tokens, Iterable):
        raise TypeError(f"{name} must be a list of str tokens, got {type(tokens).__name__}"
                        + (" (split it with tokenize)" if isinstance(tokens, str) else ""))
    tokens = list(tokens)
    for i, token in enumerate(tokens):
        if not isinstance(token, str) or not token:
            raise TypeError(f"{name}[{i}] must be a non-empty str, got {type(token).__name__} {token!r}")
    return tokens


# --------------------------------------------------------------------------------- batches
def encode(examples, vocab):
    """Token ids of every example and their labels.

    Returns
    -------
    ids : list of int64 arrays, lengths T_i >= 1
    labels : int64 ndarray, shape (N,)
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be an SST Vocab, got {type(vocab).__name__}")
    examples = _check_iterable("examples", examples)
    for i, ex in enumerate(examples):
        if not isinstance(ex, Example):
            raise TypeError(f"examples must be Example objects; item {i} is a {type(ex).__name__}")
    empty = [i for i, ex in enumerate(examples) if not ex.tokens]
    if empty:
        raise ValueError(f"example {empty[0]} has no tokens")
    return [vocab.encode(ex.tokens) for ex in examples], np.array([ex.label for ex in examples],
                                                                   dtype=np.int64)


def pad_batch(sequences, pad_id=0):
    """Right-pad sequences of ids to the longest one.

    Parameters
    ----------
    sequences : list of B int arrays, lengths T_i >= 1

    Returns
    -------
    tokens : int64 ndarray, shape (B, max T_i); tokens[b, t] = pad_id for t >= T_b
    lengths : int64 ndarray, shape (B,)
    """
    pad_id = check_int("pad_id", pad_id, 0)
    if pad_id > np.iinfo(np.int64).max:
        raise ValueError(f"pad_id must fit in int64, got {pad_id}")
    sequences = [np.asarray(s) for s in _check_iterable("sequences", sequences)]
    for i, seq in enumerate(sequences):
        if seq.ndim != 1 or (seq.size and not np.issubdtype(seq.dtype, np.integer)):
            raise TypeError(f"sequences[{i}] must be a 1-d array of integer ids, got {seq.dtype} "
                            f"of shape {seq.shape}")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if lengths.size == 0 or lengths.min() < 1:
        raise ValueError("pad_batch needs at least one sequence, each of at least one token")
    tokens = np.full((len(sequences), lengths.max()), pad_id, dtype=np.int64)
    for row, seq in zip(tokens, sequences):
        row[:len(seq)] = seq
    return tokens, lengths


def iterate_batches(ids, labels, batch_size, rng=None, bucket=20):
    """Yield (tokens (B, T), lengths (B,), labels (B,)) covering every example once.

    Without ``rng`` the order is the data's order. With ``rng`` (a numpy Generator) the examples are
    shuffled, then sorted by length inside windows of ``bucket`` batches so that a batch holds
    sentences of similar length (less padding, same math), and the batches come in random order.
    """
    batch_size = check_int("batch_size", batch_size, 1)
    ids = _check_iterable("ids", ids)
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(ids):
        raise ValueError(f"labels must be a 1-d array with one label per sequence ({len(ids)}), "
                         f"got shape {labels.shape}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator or None, got {type(rng).__name__}")
    order = np.arange(len(ids))
    if rng is not None:
        order = rng.permutation(order)
        window = batch_size * check_int("bucket", bucket, 1)
        lengths = np.array([len(s) for s in ids])
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in np.array_split(order, range(window, len(order), window))])
    starts = np.arange(0, len(order), batch_size)
    if rng is not None:
        starts = rng.permutation(starts)
    for start in starts:
        chosen = order[start:start + batch_size]
        tokens, lengths = pad_batch([ids[i] for i in chosen])
        yield tokens, lengths, labels[chosen]


# -------------------------------------------------------------------------------- new text
_SPLIT_OFF = re.compile(r"\.\.\.|--|[.,!?;:()\[\]{}\"]|n't\b|'(?:s|re|ve|ll|d|m)\b", re.IGNORECASE)


def tokenize(text):
    """Split raw text the way the treebank is split (PTB style).

    Punctuation and the clitics 's, n't, 're, 've, 'll, 'd, 'm become tokens of their own:
    ``"It isn't bad."`` -> ``["It", "is", "n't", "bad", "."]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _SPLIT_OFF.sub(lambda m: f" {m.group(0)} ", text).split()


# ------------------------------------------------------------------------- pretrained vectors
def load_glove(path, vocab, dtype=np.float64):
    """Rows of a GloVe-format text file for the words of ``vocab``.

    Each line is a word followed by its D numbers, separated by single spaces (``the 0.418 0.24968
    ...``). A word may itself contain spaces (GloVe 840B has a few), so the last D fields are the
    vector and the rest is the word. A first line of exactly two integers (word2vec's "count dim"
    header) is skipped. If the vocabulary is lower-cased, file words are lower-cased too and the
    first occurrence of a word wins.

    Parameters
    ----------
    path : str or Path
    vocab : Vocab

    Returns
    -------
    E : ndarray, shape (len(vocab), D); zero rows for words the file lacks
    found : bool ndarray, shape (len(vocab),)

    Raises
    ------
    FileNotFoundError or IsADirectoryError naming the file, or ValueError naming the file and line
    of a malformed row (not UTF-8, too few or too many numbers, not numbers, NaN or inf). A row
    whose extra fields before the vector are all numbers is a number too many, not a word with
    spaces.
    """
    path = Path(check_path("embedding file", path))
    if not path.is_file():
        raise FileNotFoundError(f"embedding file {path} not found")
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be an SST Vocab, got {type(vocab).__name__}")
    dtype = check_dtype("dtype", dtype)
    E, found, dim = None, np.zeros(len(vocab), dtype=bool), None
    with open(path, "rb") as f:                          # bytes, so a decoding error knows its line
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}, line {number}: not UTF-8 ({err.reason})") from None
            fields = line.rstrip("\r\n").split(" ")
            if number == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                continue                                    # word2vec header "count dim"
            if dim is None:
                dim = len(fields) - 1
                if dim < 1:
                    raise ValueError(f"{path}, line {number}: expected a word and numbers")
                E = np.zeros((len(vocab), dim), dtype=dtype)
            if len(fields) < dim + 1:
                raise ValueError(f"{path}, line {number}: expected {dim} numbers after the word, "
                                 f"got {len(fields) - 1} fields")
            if len(fields) > dim + 1 and all(_is_number(x) for x in fields[1:-dim]):
                raise ValueError(f"{path}, line {number}: {len(fields) - 1} numbers after the word "
                                 f"{fields[0]!r}, expected {dim} (as on the first row): a number too many")
            word = " ".join(fields[:-dim])
            i = vocab.stoi.get(word.lower() if vocab.lower else word)
            if i is None or found[i]:
                continue
            try:
                E[i] = np.array(fields[-dim:], dtype=np.float64)
            except ValueError as err:
                raise ValueError(f"{path}, line {number}: {err}") from err
            if not np.all(np.isfinite(E[i])):
                raise ValueError(f"{path}, line {number}: NaN or inf in the vector of {word!r}")
            found[i] = True
    if E is None:
        raise ValueError(f"{path}: the file holds no vector")
    return E, found


def _is_number(field):
    """True if ``field`` reads as a float (then it cannot end a multi-word GloVe word: see load_glove)."""
    try:
        float(field)
    except ValueError:
        return False
    return True


__all__ = ["DOWNLOAD_URL", "ENV_VAR", "LABELS", "SPLITS", "SSTFormatError", "Tree", "Example",
           "Vocab", "parse_tree", "read_trees", "unescape", "sentences", "phrases", "find_sst_dir",
           "load_sst", "encode", "pad_batch", "iterate_batches", "tokenize", "load_glove"]
