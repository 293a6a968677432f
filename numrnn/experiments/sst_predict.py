"""``numrnn sst-predict``: classify sentences with a model saved by ``numrnn sst --save-models``,
and each phrase of a sentence: the nodes of its parse tree when the sentence is in the treebank,
else its prefixes.

    numrnn sst-predict --checkpoint models/sst_phrases/lstm-B-reg-seed0 "A gorgeous, witty, seductive movie."
"""
import sys

import numpy as np

from ..data import sst as data
from . import common
from .sst_report import typed_sst_dir


# ------------------------------------------------------------------------------- saved models
def save_model(path, model, vocab, result=None):
    """Save an SST model with its vocabulary (``path.npz`` + ``path.json``) in numrnn's one format
    of models with a vocabulary (:func:`numrnn.experiments.common.save_model`, kind "sst"); ``extra``
    holds the labels and, given ``result``, its config and accuracies."""
    extra = {"labels": list(data.LABELS)}
    if result is not None:
        extra["result"] = {k: result[k] for k in ("config", "test_acc", "dev_acc")}
    return common.save_model(path, model, "sst", vocab.to_dict(), extra=extra)


def load_model(path):
    """(model, vocab) from :func:`save_model`; refuses by name a file that is not an SST model."""
    ck, vocab, _ = common.load_model(path, "sst")
    return ck.model, data.Vocab.from_dict(vocab)


# ------------------------------------------------------------------------------- inference
def predict(model, vocab, text):
    """Class probabilities of one sentence of raw text.

    Parameters
    ----------
    model : SequenceModel
    vocab : Vocab
    text : str, e.g. "A gorgeous, witty, seductive movie."

    Returns
    -------
    label : int 0..4 (see :data:`numrnn.data.sst.LABELS`)
    probs : ndarray, shape (5,)
    tokens : list of str, the tokens the model saw ("<unk>" for unknown words)
    """
    tokens = data.tokenize(text)
    if not tokens:
        raise ValueError("text has no tokens to classify")
    ids = vocab.encode(tokens)
    logits = model.predict(ids[None], np.array([len(ids)]))[0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return int(probs.argmax()), probs, vocab.decode(ids)


def predict_many(model, vocab, token_lists):
    """Most probable class and its probability for each token list (one padded batch)."""
    tokens, lengths = data.pad_batch([vocab.encode(t) for t in token_lists])
    logits = model.predict(tokens, lengths).astype(np.float64)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return probs.argmax(axis=-1), probs.max(axis=-1)


def treebank_index(sst_dir=None, lower=True):
    """{tokens of a sentence (lower-cased with ``lower``): (file name, line number, Tree)} over the
    train, dev and test files; raises FileNotFoundError if the treebank is not there."""
    folder = data.find_sst_dir(sst_dir)
    index = {}
    for split in data.SPLITS:
        for number, tree in enumerate(data.read_trees(folder / f"{split}.txt"), start=1):
            leaves = tuple(w.lower() for w in tree.leaves()) if lower else tuple(tree.leaves())
            index.setdefault(leaves, (f"{split}.txt", number, tree))
    return index


def phrase_rows(model, vocab, tokens, index=None):
    """The model's class for each phrase of a sentence.

    A sentence found in the treebank (``index`` from :func:`treebank_index`) has a parse tree: one
    row per node (every labelled phrase, single words included, parents before children), with the
    treebank's label. Free text has no parse tree, so the rows are its prefixes (the words read
    so far, as a left-to-right reader sees them), without a label.

    Returns
    -------
    source : (file name, line number) of the tree, or None for prefixes
    rows : list of (depth, phrase tokens, predicted class, its probability, treebank label or None)
    """
    key = tuple(t.lower() for t in tokens) if vocab.lower else tuple(tokens)
    found = (index or {}).get(key)
    if found is None:
        phrases = [(0, list(tokens[:n]), None) for n in range(1, len(tokens) + 1)]
        source = None
    else:
        name, number, tree = found
        phrases = []

        def walk(node, depth):
            phrases.append((depth, node.leaves(), node.label))
            for child in node.children:
                walk(child, depth + 1)
        walk(tree, 0)
        source = (name, number)
    labels, probs = predict_many(model, vocab, [p[1] for p in phrases])
    return source, [(depth, words, int(label), float(prob), gold)
                    for (depth, words, gold), label, prob in zip(phrases, labels, probs)]


# ------------------------------------------------------------------------------------- CLI
def add_parser(subparsers):
    """Register ``sst-predict`` on an argparse subparsers object."""
    q = subparsers.add_parser("sst-predict", help="classify sentences with a model saved by `numrnn sst`",
                              description=__doc__.split("\n\n")[0])
    common.add_checkpoint_flag(q, "the model (required), saved by numrnn sst --save-models as "
                                  "OUT/models/NAME/RUN", folders=False)
    common.add_deprecated(q, "--model", "--checkpoint PATH", dest="checkpoint")
    q.add_argument("text", nargs="*", help="a sentence; without one, read sentences from stdin, one per line")
    q.add_argument("--sst-dir", default=None,
                   help=f"the treebank, to find a sentence's parse tree (default: ${data.ENV_VAR}, else "
                        f"{data.DEFAULT_DIR}); a sentence not in it is shown by its prefixes")
    q.add_argument("--sentence-only", action="store_true",
                   help="only the sentence's class, not each phrase's")
    common.add_deprecated(q, "--no-phrases", "--sentence-only", nargs=0,
                          apply=lambda namespace, values: setattr(namespace, "sentence_only", True))
    q.set_defaults(func=run)
    return q


def run(args, stdin=None):
    """Print each sentence's class, then (unless --sentence-only) the class of each of its phrases:
    the nodes of its parse tree when the sentence is in the treebank, else its prefixes."""
    if not getattr(args, "checkpoint", None):
        raise ValueError("--checkpoint PATH is required: a model saved by numrnn sst --save-models")
    model, vocab = load_model(args.checkpoint)
    lines = [" ".join(args.text)] if args.text else (stdin or sys.stdin)
    index, missing = None, None
    if not getattr(args, "sentence_only", False):
        try:
            index = treebank_index(getattr(args, "sst_dir", None), vocab.lower)
        except FileNotFoundError:
            missing = typed_sst_dir(getattr(args, "sst_dir", None))
    for line in lines:
        if not line.strip():
            continue
        label, probs, tokens = predict(model, vocab, line)
        shown = " ".join(f"{p:.2f}" for p in probs)
        print(f"{data.LABELS[label]} ({label})  p = [{shown}]  tokens: {' '.join(tokens)}", flush=True)
        if not getattr(args, "sentence_only", False):
            print_phrases(model, vocab, data.tokenize(line), index, missing)
    return 0


def print_phrases(model, vocab, tokens, index, missing):
    """The rows of :func:`phrase_rows`, indented by depth in the parse tree."""
    source, rows = phrase_rows(model, vocab, tokens, index)
    if source is None:
        why = (f"no treebank at {missing}" if missing else "the sentence is not in the treebank")
        print(f"  each prefix (free text has no parse tree; {why}): the model's class after each word")
        print(f"  {'model':<14} {'p':>4}  prefix")
    else:
        print(f"  each phrase of the treebank's parse tree ({source[0]} line {source[1]}): the model's "
              "class, the treebank's label")
        print(f"  {'model':<14} {'p':>4}  {'treebank':<14} phrase")
    for depth, words, label, prob, gold in rows:
        gold_text = "" if gold is None else f"{data.LABELS[gold]:<14} "
        print(f"  {data.LABELS[label]:<14} {prob:.2f}  {gold_text}{'  ' * depth}{' '.join(words)}")
    if source is not None:
        agree = sum(label == gold for _, _, label, _, gold in rows)
        print(f"  the model agrees with the treebank on {agree} of {len(rows)} phrases")


def main(argv=None):
    """``python -m numrnn.experiments.sst_predict ...`` = ``numrnn sst-predict ...``."""
    return common.main(add_parser, argv, command="sst-predict")


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["save_model", "load_model", "predict", "predict_many", "treebank_index", "phrase_rows",
           "print_phrases", "add_parser", "run", "main"]
