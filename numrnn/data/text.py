r"""Plain text for a character-level language model: reading, a vocabulary, batching, a default text.

A language model reads one long stream of characters :math:`c_0 c_1 \dots c_{N-1}` and predicts
each next one. The pieces here turn a text into what the model trains on:

- :func:`read_text` reads a UTF-8 file and says clearly when it is empty or not UTF-8.
- :class:`Vocab` maps each distinct character to an integer id and back.
- :func:`batchify` cuts the stream of ids into B equal parallel streams, shape (B, N): row b is the
  b-th contiguous piece of the text, so truncated BPTT can carry each row's state from one window
  to the next (column t+1 of a row follows column t in the text).
- :func:`split` keeps the last part of the stream for validation.
- :func:`generate_text` writes a small text of structured sentences from a seeded grammar, the
  default corpus and the one the tests use: no download, same seed same text.

The grammar has dependencies a model must carry over many characters: the verb agrees in number
with a subject that a parenthesis may separate from it ("the foxes (which the old dog sees) chase
..."), every "(" and every opening quote is closed, and paragraphs end with a newline.
"""
import numbers

import numpy as np

from .._checks import check_int
from .._io import check_path


# -------------------------------------------------------------------------------- reading
def read_text(path):
    """The contents of a UTF-8 plain-text file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    text : str

    Raises
    ------
    FileNotFoundError if there is no such file, IsADirectoryError if it is a folder; ValueError
    naming the file if it is empty or is not valid UTF-8 (with the offset of the first bad byte).
    """
    path = check_path("text file", path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"text file {path!r} does not exist") from None
    if not raw:
        raise ValueError(f"text file {path!r} is empty: a language model needs some text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"text file {path!r} is not valid UTF-8: byte {raw[err.start]:#04x} at "
                         f"offset {err.start} ({err.reason}); convert it, e.g. "
                         f"`iconv -f latin1 -t utf-8`") from None
    if len(text) < 2:
        raise ValueError(f"text file {path!r} holds {len(text)} character; need at least 2")
    return text


# ----------------------------------------------------------------------------- vocabulary
class Vocab:
    """Characters <-> integer ids, in sorted order so that the same text gives the same ids.

    Parameters
    ----------
    chars : iterable of str
        The distinct characters (each a single character); duplicates are an error.
    """

    def __init__(self, chars):
        try:
            chars = list(chars)
        except TypeError:
            raise TypeError(f"chars must be an iterable of single characters, got "
                            f"{type(chars).__name__}") from None
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if not chars or bad:
            raise ValueError(f"chars must be a non-empty list of single characters"
                             + (f"; got {bad[0]!r}" if bad else ""))
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not repeat a character")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text):
        """The sorted distinct characters of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must be a non-empty string")
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, Vocab) and self.chars == other.chars

    def __repr__(self):
        return f"Vocab({len(self)} characters: {''.join(self.chars)!r})"

    def encode(self, text, name="text"):
        """Ids of the characters of ``text``, int64 array of shape (len(text),).

        An unknown character is an error naming ``name`` and the character.
        """
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}")
        missing = sorted(set(text) - set(self.index))
        if missing:
            raise ValueError(f"{name} holds characters not in the vocabulary: {missing[:10]!r}")
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids):
        """The string of the ids (any integer array of values 0..V-1); other ids are an error."""
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be integers, got {ids.dtype}")
        ids = ids.reshape(-1).astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in 0..{len(self) - 1} (the vocabulary's size is "
                             f"{len(self)}), got {ids.min()}..{ids.max()}")
        return "".join(self.chars[i] for i in ids)

    def to_list(self):
        """JSON-able form, for checkpoints: the characters in id order."""
        return list(self.chars)


# ------------------------------------------------------------------------------- batching
def split(ids, valid_fraction=0.1):
    """The first (1 - f) of the stream for training and the last f for validation.

    Parameters
    ----------
    ids : int ndarray, shape (N,)
    valid_fraction : float in (0, 1)

    Returns
    -------
    train, valid : int ndarrays, shapes (N - M,), (M,) with M = round(f N) >= 2
    """
    if isinstance(valid_fraction, (bool, np.bool_)) or not isinstance(valid_fraction, numbers.Real):
        raise TypeError(f"valid_fraction must be a number in (0, 1), got {type(valid_fraction).__name__}")
    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction must lie in (0, 1), got {valid_fraction}")
    ids = _check_ids(ids)
    n_valid = int(round(valid_fraction * len(ids)))
    if n_valid < 2 or len(ids) - n_valid < 2:
        raise ValueError(f"a stream of {len(ids)} characters is too short to split with "
                         f"valid_fraction={valid_fraction}")
    return ids[:-n_valid], ids[-n_valid:]


def batchify(ids, batch_size):
    """Cut one stream into ``batch_size`` contiguous parallel streams of equal length.

    .. math:: \\text{streams}[b, t] = \\text{ids}[b N + t], \\qquad N = \\lfloor \\text{len} / B \\rfloor

    The last len mod B ids are dropped. Inputs are then ``streams[:, :-1]`` and targets
    ``streams[:, 1:]`` (see :func:`inputs_and_targets`).

    Parameters
    ----------
    ids : int ndarray, shape (len,)
    batch_size : int >= 1

    Returns
    -------
    streams : int ndarray, shape (B, N), N >= 2
    """
    batch_size = check_int("batch_size", batch_size, 1)
    ids = _check_ids(ids)
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"batch_size={batch_size} leaves {n} characters per stream from "
                         f"{len(ids)}; need at least 2 (use a smaller batch_size or more text)")
    return ids[:n * batch_size].reshape(batch_size, n)


def _check_ids(ids):
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-d integer array, got {ids.dtype} of shape {ids.shape}")
    return ids


def inputs_and_targets(streams):
    """x = streams[:, :-1], y = streams[:, 1:]: each character predicts the next. Shapes (B, N-1)."""
    if not isinstance(streams, np.ndarray) or streams.ndim != 2 or streams.shape[1] < 2 \
            or not np.issubdtype(streams.dtype, np.integer):
        raise ValueError(f"streams must be a 2-d integer array with at least 2 columns (from "
                         f"batchify), got {_describe(streams)}")
    return streams[:, :-1], streams[:, 1:]


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"{value.dtype} of shape {value.shape}"
    return type(value).__name__


# ---------------------------------------------------------------------------- default text
NAMES = ("anna", "ben", "carla", "dev", "emma", "felix")
NOUNS = (("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("fox", "foxes"),
         ("child", "children"), ("mouse", "mice"))
ADJECTIVES = ("small", "quick", "lazy", "brown", "happy", "old")
VERBS = (("sees", "see"), ("chases", "chase"), ("likes", "like"), ("finds", "find"),
         ("watches", "watch"))
ADVERBS = ("today", "again", "quietly", "at night", "in the garden")


def _pick(rng, options):
    return options[rng.integers(len(options))]


def _noun_phrase(rng):
    """("the old foxes", plural=True) or a name (singular)."""
    if rng.random() < 0.25:
        return _pick(rng, NAMES), False
    plural = bool(rng.random() < 0.5)
    words = ["the"] + ([_pick(rng, ADJECTIVES)] if rng.random() < 0.5 else [])
    return " ".join(words + [_pick(rng, NOUNS)[plural]]), plural


def _clause(rng):
    """subject [ (which/who ...) ] verb object [adverb]: the verb agrees with the subject."""
    subject, plural = _noun_phrase(rng)
    if rng.random() < 0.3:                       # a parenthesis between subject and verb
        inner, inner_plural = _noun_phrase(rng)
        subject += f" (which {inner} {_pick(rng, VERBS)[inner_plural]})"
    obj, _ = _noun_phrase(rng)
    words = [subject, _pick(rng, VERBS)[plural], obj]
    if rng.random() < 0.3:
        words.append(_pick(rng, ADVERBS))
    return " ".join(words)


def _sentence(rng):
    """A clause, sometimes reported as speech in quotes, ending with a full stop."""
    if rng.random() < 0.2:
        return f'{_pick(rng, NAMES)} says "{_clause(rng)}."'
    return _clause(rng) + "."


def generate_text(n_chars=100_000, seed=0):
    """A deterministic text of paragraphs of 3 to 6 sentences from the grammar above.

    Parameters
    ----------
    n_chars : int >= 1
        Length of the text: paragraphs are written until there are enough, then cut there.
    seed : int >= 0 or numpy.random.Generator
        Same seed, same text.

    Returns
    -------
    text : str of exactly ``n_chars`` characters
    """
    n_chars = check_int("n_chars", n_chars, 1)
    if not isinstance(seed, np.random.Generator):
        seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    paragraphs, length = [], 0
    while length < n_chars:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.integers(3, 7))) + "\n"
        paragraphs.append(paragraph)
        length += len(paragraph)
    return "".join(paragraphs)[:n_chars]


__all__ = ["read_text", "Vocab", "split", "batchify", "inputs_and_targets", "generate_text"]
