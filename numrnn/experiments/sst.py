r"""Fine-grained (5-class) sentiment on the Stanford Sentiment Treebank with the RNN and LSTM families.

The model, for a sentence of tokens :math:`w_0 .. w_{T-1}`:

.. math::

    x(t) = E[w_t] \odot m_E, \qquad h(0..T-1) = \text{layer}(x), \qquad
    p = \operatorname{softmax}\big((h(T-1) \odot m_R)\, W^\top + b\big)

with ``layer`` an :class:`~numrnn.nn.rnn.RNN` or :class:`~numrnn.nn.lstm.LSTM` of paper version A..D, and
:math:`m_E, m_R` dropout masks. It is :class:`numrnn.training.model.SequenceModel` with an embedding, the
"last" readout (each sentence's last real token) and cross-entropy. Options (``--pool mean``,
``--bidirectional``): read out the mean of h over the words instead of h(T-1); add a second layer
that reads the sentence backwards, the readout seeing both (``SequenceModel(readout="mean",
bidirectional=True)``). "Regularisation", as in the
paper, means dropout on the embeddings and the readout plus L2 weight decay; without it both are 0.

Training (:func:`train`) is Adam on right-padded, length-bucketed batches
(:func:`numrnn.data.sst.iterate_batches`), gradient clipping by global norm, and early stopping on
dev accuracy: the parameters of the best dev epoch are kept, test accuracy is measured once, on them.

The embedding matrix (V x D, V ~ 16,600) gets a *lazy* Adam update (``Adam(lazy=("embed.E",))``):
only the rows of the words in the batch move (the same rule as PyTorch's SparseAdam / TensorFlow's
LazyAdam). A dense update would touch all 1.7 M entries on every batch and take most of the epoch's
time; every other parameter gets the ordinary dense Adam step. The loop is numrnn's one
:class:`~numrnn.training.trainer.Trainer`, with early stopping as its epoch callback.

Commands (see :func:`add_parser`): ``numrnn sst`` runs the experiment grid and writes the table and
figures (``--quick``: one small model on a subset, in about a minute; an interrupted grid leaves a
table marked partial and continues with ``--resume``); ``numrnn sst-predict`` classifies sentences
with a saved model, and each phrase of a sentence: the nodes of its parse tree when the sentence is
in the treebank, else its prefixes.
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .._io import atomic_write_text
from ..data import sst as data
from ..nn import CELLS
from ..nn.activations import ACTIVATIONS
from ..nn.init import INITS
from . import common
from ..training.model import SequenceModel, layer_options
from ..training.optim import Adam
from ..training.trainer import EarlyStopping, Trainer

#: Published fine-grained test accuracies (%), for context only: other models and conditions.
REFERENCES = [
    ("neural bag of words, NBoW (random embeddings, all phrases; the figure quoted in issue 16)", 42.3),
    ("Socher et al. 2013, recursive RNN (parse tree, all phrases)", 43.2),
    ("Kim 2014, CNN-rand (random embeddings, all phrases)", 45.0),
    ("Iyyer et al. 2015, DAN-rand (random embeddings, all phrases)", 45.4),
    ("Socher et al. 2013, RNTN (parse tree, random embeddings, all phrases)", 45.7),
    ("Tai et al. 2015, sequential LSTM (GloVe 300d, all phrases)", 46.4),
]


@dataclass(frozen=True)
class Config:
    """Everything one training run depends on (JSON-able; saved with every result).

    The defaults are the settings of the sentence-level grid in results/sst.md (chosen on dev
    accuracy, see results/sst_tuning.md).
    """
    cell: str = "rnn"
    version: str = "D"
    regularised: bool = True
    seed: int = 0
    embed_size: int = 100
    hidden_size: int = 100
    dropout: float = 0.5          # used only when regularised
    weight_decay: float = 1e-4    # used only when regularised
    lr: float = 1e-3
    batch_size: int = 25
    clip: float = 5.0
    epochs: int = 10
    patience: int = 2
    lower: bool = True
    min_count: int = 1
    phrases: bool = False
    glove: str = None
    activation: str = "relu"      # given to the cells that take it (layer_options): the RNN
    init: str = "normal"          # the RNN, LSTM and GRU (the LSTM's default too)
    scale: float = 1.0            # the RNN, LSTM and GRU (the LSTM's default too)
    dtype: str = "float32"
    pool: str = "last"            # the readout: the state at the last word, or the mean over words
    bidirectional: bool = False   # a second layer reading each sentence backwards
    train_subset: int = 0         # > 0: that many training examples, drawn with the seed (--quick)
    dev_subset: int = 0           # > 0: that many dev sentences, drawn with the seed (--quick)

    @property
    def model_name(self):
        """e.g. "RNN D", "LSTM A mean bi" (the model, without regularisation and seed)."""
        return " ".join([f"{self.cell.upper()} {self.version}"] + (["mean"] if self.pool == "mean" else [])
                        + (["bi"] if self.bidirectional else []))

    @property
    def name(self):
        """e.g. "rnn-D-reg-seed0", "lstm-A-reg-mean-bi-seed1"."""
        options = (["mean"] if self.pool == "mean" else []) + (["bi"] if self.bidirectional else [])
        return "-".join([self.cell, self.version, "reg" if self.regularised else "noreg", *options,
                         f"seed{self.seed}"])


# ------------------------------------------------------------------------------- the model
def build_model(config, vocab):
    """A :class:`SequenceModel` for ``config``; embeddings random N(0, 1/D) or from ``config.glove``.

    Returns
    -------
    model : SequenceModel
    glove_found : int, how many vocabulary rows came from the GloVe file (0 without one)
    """
    vectors = found = None
    embed_size = config.embed_size
    if config.glove:
        vectors, found = data.load_glove(config.glove, vocab)
        embed_size = vectors.shape[1]
    options = layer_options(config.cell)       # the cell's own options, e.g. the RNN's activation
    layer_kwargs = {k: getattr(config, k) for k in ("activation", "init", "scale") if k in options}
    model = SequenceModel(embed_size, config.hidden_size, len(data.LABELS), cell=config.cell,
                          version=config.version, loss="ce", vocab_size=len(vocab),
                          readout=config.pool, bidirectional=config.bidirectional,
                          dropout=config.dropout if config.regularised else 0.0,
                          seed=config.seed, dtype=config.dtype, **layer_kwargs)
    if vectors is not None:
        model.embedding["E"][found] = vectors[found]
    return model, 0 if found is None else int(found.sum())


def parameter_counts(model):
    """Scalar parameters by part: "recurrent" (the layer, and the reverse layer of a bidirectional
    model), "embedding" (V x D) and "readout" (W and b)."""
    parts = {"recurrent": 0, "embedding": 0, "readout": 0}
    for name, value in model.params.items():
        part = {"layer": "recurrent", "layer_rev": "recurrent", "embed": "embedding"}.get(
            name.split(".")[0], "readout")
        parts[part] += int(value.size)
    return parts


def accuracy(model, ids, labels, batch_size=500):
    """Fraction of sentences whose most probable class is the label (evaluation mode, no dropout)."""
    correct = 0
    for tokens, lengths, y in data.iterate_batches(ids, labels, batch_size):
        correct += int(np.sum(model.predict(tokens, lengths).argmax(axis=-1) == y))
    return correct / len(labels)


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


# ---------------------------------------------------------------------------- one training run
def train(config, splits, vocab, progress=False):
    """Train one model with :class:`~numrnn.training.trainer.Trainer`, early stopping on dev accuracy.

    Lazy Adam on the embedding (``Adam(lazy=("embed.E",))``), padded length-bucketed batches
    (:meth:`~numrnn.training.trainer.Trainer.fit_batches`), clipping, and
    :class:`~numrnn.training.trainer.EarlyStopping` on dev accuracy, which gives the model the
    parameters of the best dev epoch at the end.

    Parameters
    ----------
    config : Config
    splits : dict "train", "dev", "test" -> (ids list, labels (N,)) from :func:`numrnn.data.sst.encode`
    vocab : Vocab
    progress : bool, print one line per epoch

    Returns
    -------
    model : SequenceModel holding the parameters of the best dev epoch
    history : dict
        "train_loss", "dev_acc", "seconds", "cpu_seconds" per epoch; "best_epoch" (1-based, 0 if no
        epoch finished), "dev_acc_best", "diverged" (None or the trainer's
        :class:`~numrnn.training.trainer.Diverged` record), "glove_rows".
    """
    model, n_glove = build_model(config, vocab)
    opt = Adam(lr=config.lr, weight_decay=config.weight_decay if config.regularised else 0.0,
               lazy=("embed.E",))
    early = EarlyStopping(lambda m: accuracy(m, *splits["dev"]), config.patience,
                          initial=accuracy(model, *splits["dev"]))

    def report(trainer):
        if progress:
            print(f"{config.name} epoch {trainer.epoch}: loss {trainer.history['epoch_loss'][-1]:.4f}  "
                  f"dev {early.scores[-1]:.4f}  {trainer.history['epoch_time'][-1]:.1f}s", flush=True)

    def batches(rng):
        for tokens, lengths, labels in data.iterate_batches(*splits["train"], config.batch_size, rng):
            yield tokens, labels, lengths, None

    trainer = Trainer(model, opt, clip=config.clip, seed=np.random.default_rng([config.seed, 1]),
                      progress=False, on_epoch_end=[early, report])
    trainer.fit_batches(batches, epochs=config.epochs)
    h = trainer.history
    history = {"train_loss": h["epoch_loss"], "dev_acc": early.scores, "seconds": h["epoch_time"],
               "cpu_seconds": h["epoch_cpu_time"], "best_epoch": early.best_epoch,
               "dev_acc_best": early.best, "diverged": h["diverged"], "glove_rows": n_glove}
    return model, history


# ------------------------------------------------------------------------------- data, once
def load(sst_dir, config):
    """Vocabulary (from the training *sentences*) and encoded splits for ``config``.

    Dev and test are whole sentences; train is sentences, or every distinct labelled phrase of the
    training trees with ``config.phrases``.
    """
    folder = data.find_sst_dir(sst_dir)
    trees = {split: data.read_trees(folder / f"{split}.txt") for split in data.SPLITS}
    examples = {split: data.sentences(trees[split], config.lower) for split in data.SPLITS}
    vocab = data.Vocab.build([ex.tokens for ex in examples["train"]], config.min_count, config.lower)
    if config.phrases:
        examples["train"] = data.phrases(trees["train"], config.lower)
    return vocab, {split: data.encode(examples[split], vocab) for split in data.SPLITS}


def subset(loaded, config):
    """``config.train_subset`` training examples and ``config.dev_subset`` dev sentences, drawn
    without replacement by a fixed generator, so every run of a grid sees the same subset (all of a
    split when 0); test is always whole."""
    vocab, splits = loaded
    splits = dict(splits)
    for split, size in (("train", config.train_subset), ("dev", config.dev_subset)):
        ids, labels = splits[split]
        if 0 < size < len(ids):
            rng = np.random.default_rng([2, data.SPLITS.index(split)])   # one subset for every run
            keep = np.sort(rng.choice(len(ids), size, replace=False))
            splits[split] = ([ids[i] for i in keep], labels[keep])
    return vocab, splits


_WORKER = {}


def _init_worker(sst_dir, config):
    """Pool initialiser: each worker process loads and encodes the data once."""
    _WORKER["data"] = load(sst_dir, config)


def _run_in_worker(config, save_dir):
    return run_config(config, _WORKER["data"], save_dir)


def run_config(config, loaded, save_dir=None, progress=False):
    """Train and evaluate one configuration; returns a JSON-able result dict.

    Parameters
    ----------
    config : Config
    loaded : (vocab, splits) from :func:`load`
    save_dir : folder to save the trained model in (as ``config.name``), optional

    BLAS is limited to one thread, so that parallel runs do not fight over the cores.
    """
    from threadpoolctl import threadpool_limits

    vocab, splits = subset(loaded, config)
    with threadpool_limits(1):
        started, cpu_started = time.perf_counter(), time.process_time()
        model, history = train(config, splits, vocab, progress)
        cpu = time.process_time() - cpu_started
        result = {"config": asdict(config), "name": config.name, "n_params": model.n_params(),
                  "n_params_parts": parameter_counts(model),
                  "test_acc": accuracy(model, *splits["test"]), "dev_acc": history["dev_acc_best"],
                  "history": history, "total_seconds": time.perf_counter() - started,
                  "total_cpu_seconds": cpu}
    if save_dir is not None:
        save_model(Path(save_dir) / config.name, model, vocab, result)
    return result


# ------------------------------------------------------------------------- save and predict
def save_model(path, model, vocab, result=None):
    """A checkpoint (``path.npz`` + ``path.json``) whose metadata holds the vocabulary."""
    from ..training.checkpoint import save_checkpoint

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    meta = {"task": "sst", "vocab": vocab.to_dict(), "labels": list(data.LABELS)}
    if result is not None:
        meta["result"] = {k: result[k] for k in ("config", "test_acc", "dev_acc")}
    return save_checkpoint(path, model, meta=meta)


def load_model(path):
    """(model, vocab) from :func:`save_model`."""
    from ..training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path)
    if (checkpoint.meta or {}).get("task") != "sst":
        raise ValueError(f"{path} is not an SST model (no vocabulary in its metadata)")
    return checkpoint.model, data.Vocab.from_dict(checkpoint.meta["vocab"])


# ------------------------------------------------------------------------------ experiment
def grid(cells, versions, regs, seeds, base):
    """Every Config of the experiment, one seed of every model before the next seed (so an
    interrupted grid holds whole seeds), LSTMs first within a seed (the longest runs start first)."""
    configs = [replace(base, cell=c, version=v, regularised=r, seed=s)
               for c in cells for v in versions for r in regs for s in seeds]
    return sorted(configs, key=lambda c: (seeds.index(c.seed), c.cell != "lstm"))


def experiment(configs, sst_dir, out, figures, workers=2, save_dir=None, command="", resume=False):
    """Run every config (in a process pool of ``workers`` processes), writing results as they finish.

    ``out`` + ".json" gets every run (rewritten after each one, atomically, so an interrupted
    experiment keeps what finished; ``resume`` skips runs already there with the same config);
    ``out`` + ".md" the table; ``figures`` the learning curves and the accuracy chart.
    """
    json_path = Path(f"{out}.json")
    previous = json.loads(json_path.read_text()) if resume and json_path.exists() else {"runs": []}
    done = {r["name"]: r for r in previous["runs"]}
    todo = [c for c in configs if done.get(c.name, {}).get("config") != asdict(c)]
    results = {c.name: done[c.name] for c in configs if c not in todo}
    commands = previous.get("commands", [previous["command"]] if "command" in previous else [])
    header = {"command": command, "commands": commands + [command], "sst_dir": typed_sst_dir(sst_dir),
              "workers": workers, "planned": len(configs), **describe_data(sst_dir)}

    def write():
        runs = [results[c.name] for c in configs if c.name in results]
        atomic_write_text(json_path, json.dumps({**header, "runs": runs}, indent=1))
        if runs:                      # the table too, marked partial until every run is in
            write_table(f"{out}.md", header, runs)
        return runs

    def finished(result):
        results[result["name"]] = result
        write()
        print(f"done {result['name']}: best dev accuracy {result['dev_acc']:.4f}",
              flush=True)

    if workers == 1:
        loaded = load(sst_dir, configs[0])
        for config in todo:
            finished(run_config(config, loaded, save_dir))
    elif todo:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(sst_dir, configs[0])) as pool:
            for future in as_completed([pool.submit(_run_in_worker, c, save_dir) for c in todo]):
                finished(future.result())
    runs = write()
    plot(figures, runs, header)
    return runs


def typed_sst_dir(sst_dir):
    """The treebank folder as the user named it (``--sst-dir`` as typed, or ``$NUMRNN_SST_DIR``, or
    the default folder), never the folder it resolves to on this machine."""
    if sst_dir is not None:
        return str(sst_dir)
    return f"${data.ENV_VAR}" if os.environ.get(data.ENV_VAR) else str(data.DEFAULT_DIR)


def describe_data(sst_dir):
    """Sentences per split, and the test accuracy of always answering the most frequent training label."""
    folder = data.find_sst_dir(sst_dir)
    labels = {s: np.array([t.label for t in data.read_trees(folder / f"{s}.txt")]) for s in data.SPLITS}
    label = int(np.bincount(labels["train"], minlength=5).argmax())
    return {"sizes": {s: len(y) for s, y in labels.items()},
            "majority": {"label": label, "test_acc": float(np.mean(labels["test"] == label))}}


# ---------------------------------------------------------------------------------- report
def group_key(config):
    """(cell, version, regularised, pool, bidirectional) of a run's config dict: the runs of one
    table row differ only in their seed."""
    return (config["cell"], config["version"], config["regularised"], config.get("pool", "last"),
            bool(config.get("bidirectional", False)))


def row_label(key):
    """e.g. "RNN D", "LSTM A mean bi"."""
    cell, version, _, pool, bi = key
    return " ".join([f"{cell.upper()} {version}"] + (["mean"] if pool == "mean" else []) + (["bi"] if bi else []))


def summarise(runs):
    """Group runs by :func:`group_key`: lists over seeds of test/dev accuracy, timings and cost."""
    groups = {}
    for r in runs:
        c, h = r["config"], r["history"]
        g = groups.setdefault(group_key(c), {
            "seeds": [], "test": [], "dev": [], "n_params": r["n_params"],
            "parts": r.get("n_params_parts"), "seconds": [], "cpu": [], "run_cpu": [],
            "best_epoch": [], "epochs": [], "diverged": 0})
        g["seeds"].append(c["seed"])
        g["test"].append(r["test_acc"])
        g["dev"].append(r["dev_acc"])
        g["seconds"] += h["seconds"]
        g["cpu"] += h["cpu_seconds"]
        g["run_cpu"].append(r.get("total_cpu_seconds", sum(h["cpu_seconds"])))
        g["best_epoch"].append(h["best_epoch"])
        g["epochs"].append(len(h["seconds"]))
        g["diverged"] += h["diverged"] is not None
    return groups


def _pm(values):
    """"mean ± std" in percent; std over seeds with ddof=1 (n-1), "–" for one seed."""
    values = 100 * np.asarray(values)
    spread = f"{values.std(ddof=1):.1f}" if len(values) > 1 else "–"
    return f"{values.mean():.1f} ± {spread}"


def write_table(path, header, runs):
    """The markdown table of the experiment, with its command, settings, cost and context.

    While fewer runs than planned are in, the title says "partial: N of M runs" and how to continue.
    """
    varying = ("cell", "version", "regularised", "seed", "pool", "bidirectional")
    settings = {k: v for k, v in runs[0]["config"].items() if k not in varying}
    phrases = settings["phrases"]
    trained_on = "every distinct labelled phrase of the training trees" if phrases else "the training sentences"
    if settings.get("train_subset") or settings.get("dev_subset"):
        trained_on += (f" (subset: {settings.get('train_subset') or 'all'} training examples, "
                       f"{settings.get('dev_subset') or 'all'} dev sentences)")
    lines = [f"# SST fine-grained (5-class) sentiment, trained on {'phrases' if phrases else 'sentences'}: "
             "RNN and LSTM versions A-D", ""]
    planned = header.get("planned", len(runs))
    if len(runs) < planned:
        command = header["command"] + ("" if " --resume" in header["command"] else " --resume")
        lines += [f"**Partial: {len(runs)} of {planned} runs; continue with `{command}`.** "
                  "Rows with fewer seeds than planned are incomplete.", ""]
    lines += [
        "Command" + (f": `{header['command']}`  " if len(header["commands"]) == 1 else
                     "s (later ones resumed the earlier, keeping finished runs):  \n" +
                     "  \n".join(f"`{c}`" for c in header["commands"]) + "  "),
        f"Data: `{header['sst_dir']}` (the official trainDevTestTrees_PTB release), train / dev / test "
        f"sentences: {' / '.join(str(header['sizes'][s]) for s in data.SPLITS)}; trained on "
        f"{trained_on}; dev and test accuracy are on whole sentences.  ",
        f"Settings shared by every run: `{json.dumps(settings)}`  ",
        "\"reg\" = dropout on embeddings and readout (p = dropout) + L2 weight decay; \"none\" = both 0. "
        "\"mean\" = readout from the mean of the states over the words (else the state at the last "
        "word); \"bi\" = a second layer reads the sentence backwards, the readout sees both. "
        "Adam (embedding rows: lazy Adam), early stopping on dev accuracy (patience epochs), "
        "test accuracy measured once, at the best dev epoch. Mean ± std (n-1) over seeds.", "",
        "| model | regularisation | seeds | test acc % | dev acc % | best epoch | epochs run "
        "| recurrent params | embedding params | s / epoch (wall) | CPU s / epoch | CPU min / run "
        "| test acc % per CPU min | diverged |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, g in sorted(summarise(runs).items()):
        parts = g["parts"] or {}
        run_minutes = np.mean(g["run_cpu"]) / 60
        lines.append(
            f"| {row_label(key)} | {'reg' if key[2] else 'none'} | {','.join(map(str, g['seeds']))} "
            f"| {_pm(g['test'])} | {_pm(g['dev'])} | {np.mean(g['best_epoch']):.1f} "
            f"| {np.mean(g['epochs']):.1f} | {parts.get('recurrent', 0):,} | {parts.get('embedding', 0):,} "
            f"| {np.mean(g['seconds']):.1f} | {np.mean(g['cpu']):.1f} | {run_minutes:.1f} "
            f"| {100 * np.mean(g['test']) / run_minutes:.2f} | {g['diverged']} |")
    majority = header["majority"]
    lines += ["", f"Majority class of the training sentences ({data.LABELS[majority['label']]}) on test: "
              f"{100 * majority['test_acc']:.1f} %.", "",
              "Cost: parameters of the recurrent part (both layers of a bidirectional model) and of the "
              "embedding (vocabulary x embedding size; the readout adds 5 x (H + 1), or 5 x (2H + 1)). "
              "\"s / epoch\" is the wall-clock time of one pass over the training set, one BLAS thread per "
              f"run, with {header['workers']} run(s) in parallel and whatever else the machine ran; "
              "\"CPU s / epoch\" is that process's CPU time, the machine-independent figure. "
              "\"CPU min / run\" counts the whole run (every epoch, the patience epochs after the best, and "
              "the dev evaluations); \"test acc % per CPU min\" is the mean test accuracy divided by it.", "",
              "Published fine-grained test accuracies, for context (not comparable one to one):", ""]
    lines += [f"- {name}: {acc} %" for name, acc in REFERENCES]
    lines += ["", "Conditions that differ: the recursive models (RNTN) read the parse tree, the models here "
              "read left to right (or both ways); CNN-rand and DAN-rand, like the runs here, start from random "
              "embeddings; the published models train on every labelled phrase (about 318k nodes), the runs "
              f"here on {trained_on}, with "
              f"{'GloVe vectors' if settings['glove'] else 'randomly initialised embeddings'}.",
              f"The {len(runs)} runs took {sum(r['total_seconds'] for r in runs) / 60:.0f} min of wall-clock "
              f"time and {sum(r.get('total_cpu_seconds', sum(r['history']['cpu_seconds'])) for r in runs) / 60:.0f} "
              "CPU min, summed over runs.", ""]
    atomic_write_text(path, "\n".join(lines))


def plot(folder, runs, header):
    """figures: learning_curves.png (train loss and dev accuracy per epoch, mean over seeds) and
    test_accuracy.png (mean ± std over seeds, with the majority baseline and published points)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups = summarise(runs)
    cells = sorted({k[0] for k in groups})
    colours = dict(zip("ABCD", ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
    fig, axes = plt.subplots(len(cells), 2, figsize=(11, 3.6 * len(cells)), squeeze=False)
    for row, cell in enumerate(cells):
        for group in sorted(k for k in groups if k[0] == cell):
            _, version, reg, pool, bi = group
            curves = [r["history"] for r in runs if group_key(r["config"]) == group]
            for col, key in enumerate(("train_loss", "dev_acc")):
                mean = _ragged_mean([h[key] for h in curves])
                axes[row, col].plot(np.arange(1, len(mean) + 1), mean, color=colours[version],
                                    linestyle="-" if reg else "--", marker="s" if bi else ("^" if pool == "mean" else "."),
                                    label=f"{row_label(group).split(' ', 1)[1]} {'reg' if reg else 'none'}")
        axes[row, 0].set(title=f"{cell.upper()}: training loss", xlabel="epoch", ylabel="cross-entropy")
        axes[row, 1].set(title=f"{cell.upper()}: dev accuracy", xlabel="epoch", ylabel="accuracy")
        axes[row, 1].legend(fontsize=7, ncol=2)
        for ax in axes[row]:
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle("SST 5-class, mean over seeds (an epoch counts while at least one seed ran it)")
    fig.tight_layout()
    fig.savefig(folder / "learning_curves.png", dpi=120)
    plt.close(fig)

    keys = sorted(groups)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(keys) + 3) + 4, 4.2))
    means = np.array([100 * np.mean(groups[k]["test"]) for k in keys])
    stds = np.array([100 * np.std(groups[k]["test"], ddof=1) if len(groups[k]["test"]) > 1 else 0
                     for k in keys])
    for i, k in enumerate(keys):            # a point per row with its spread: the differences are ~1 point
        ax.errorbar(i, means[i], yerr=stds[i], fmt="o", capsize=4, markersize=7, color=colours[k[1]],
                    alpha=1.0 if k[2] else 0.5)
    ax.set_xticks(range(len(keys)), [f"{row_label(k)}\n{'reg' if k[2] else 'none'}" for k in keys],
                  fontsize=7)
    low = np.floor(min(means - stds) - 3)
    high = np.ceil(max(max(means + stds), max(acc for _, acc in REFERENCES)) + 1)
    majority = 100 * header["majority"]["test_acc"]
    if majority >= low:
        ax.axhline(majority, color="grey", linestyle=":", label="majority class")
    for (name, acc), style in zip(REFERENCES, ("-.", ":", "--", (0, (5, 1)), "-", (0, (1, 1)))):
        ax.axhline(acc, color="black", linestyle=style, linewidth=0.8, label=f"{name}: {acc}")
    ax.set(ylabel="test accuracy %", ylim=(low, high),
           title="SST 5-class test accuracy (mean ± std over seeds)"
                 + ("" if majority >= low else f"; majority class {majority:.1f} %, below the axis"))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(folder / "test_accuracy.png", dpi=120)
    plt.close(fig)


def _ragged_mean(curves):
    """Mean over curves of different lengths, position by position."""
    longest = max(len(c) for c in curves)
    return [np.mean([c[i] for c in curves if len(c) > i]) for i in range(longest)]


# ------------------------------------------------------------------------------------- CLI
def add_parser(subparsers):
    """Register ``sst`` (the experiment) and ``sst-predict`` on an argparse subparsers object."""
    p = subparsers.add_parser("sst", help="5-class SST sentiment: RNN/LSTM versions A-D, table and figures",
                              description=__doc__.split("\n\n")[0])
    defaults = Config()
    p.add_argument("--sst-dir", default=None,
                   help=f"folder with train.txt, dev.txt, test.txt (default: ${data.ENV_VAR}, else "
                        f"{data.DEFAULT_DIR}); get them from {data.DOWNLOAD_URL}")
    p.add_argument("--cells", nargs="+", default=None, choices=sorted(CELLS),
                   help="cell types (default: rnn lstm; with --quick: rnn)")
    p.add_argument("--versions", nargs="+", default=None, choices=list("ABCD"),
                   help="paper versions (default: A B C D; with --quick: D)")
    p.add_argument("--reg", choices=["both", "on", "off"], default=None,
                   help="with regularisation (dropout + L2), without, or both (default both; with --quick: on)")
    p.add_argument("--seeds", nargs="+", type=common.SEED, default=None,
                   help="default 0 1 2 (with --quick: 0)")
    p.add_argument("--pool", choices=["last", "mean"], default=defaults.pool,
                   help="readout from the state at the last word, or the mean of the states over the words")
    p.add_argument("--bidirectional", action="store_true",
                   help="a second layer of the same kind reads each sentence backwards; the readout sees both")
    p.add_argument("--quick", action="store_true",
                   help=f"a first run in about a minute: {QUICK['train_subset']} training phrases and "
                        f"{QUICK['dev_subset']} dev sentences drawn with the seed, at most {QUICK['epochs']} "
                        "epochs, one model (RNN D, regularised, seed 0) unless --cells/--versions/--reg/--seeds "
                        "say otherwise; results named sst_quick")
    for field, kind in (("embed_size", common.POSITIVE_INT), ("hidden_size", common.POSITIVE_INT),
                        ("dropout", common.FRACTION), ("weight_decay", common.NON_NEGATIVE),
                        ("lr", common.POSITIVE), ("batch_size", common.POSITIVE_INT),
                        ("clip", common.POSITIVE), ("epochs", common.POSITIVE_INT),
                        ("patience", common.POSITIVE_INT), ("min_count", common.POSITIVE_INT),
                        ("scale", common.number())):
        p.add_argument("--" + field.replace("_", "-"), type=kind, default=getattr(defaults, field),
                       help=f"default {getattr(defaults, field)}")
    common.add_alias(p, "--hidden", "--hidden-size", type=common.POSITIVE_INT)
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default=defaults.activation,
                   help="for the cells that take it (the RNN)")
    p.add_argument("--init", choices=sorted(INITS), default=defaults.init)
    p.add_argument("--cased", action="store_true", help="keep the case of words (default: lower-case)")
    p.add_argument("--phrases", action="store_true",
                   help="train on every distinct labelled phrase of the training trees, not only sentences")
    p.add_argument("--glove", default=None, help="GloVe-format text file of pretrained word vectors")
    p.add_argument("--workers", type=common.POSITIVE_INT, default=2,
                   help="parallel worker processes, each 1 BLAS thread (default 2)")
    common.add_alias(p, "--jobs", "--workers", type=common.POSITIVE_INT)
    p.add_argument("--out", default="results", help="folder: writes OUT/NAME.json and OUT/NAME.md")
    p.add_argument("--name", default=None, help="file name of the results (default sst; with --quick: sst_quick)")
    p.add_argument("--figures", default=None, help="folder of the figures (default figures/sst; with "
                                                   "--quick: figures/sst/quick)")
    p.add_argument("--save-dir", default=None, help="save every trained model here (for sst-predict)")
    p.add_argument("--resume", action="store_true", help="skip runs already in OUT/NAME.json")
    p.set_defaults(func=main_experiment)

    q = subparsers.add_parser("sst-predict", help="classify sentences with a model saved by `numrnn sst`")
    q.add_argument("--model", required=True, help="checkpoint path written by --save-dir (without extension)")
    q.add_argument("text", nargs="*", help="a sentence; without one, read sentences from stdin, one per line")
    q.add_argument("--sst-dir", default=None,
                   help=f"the treebank, to find a sentence's parse tree (default: ${data.ENV_VAR}, else "
                        f"{data.DEFAULT_DIR}); a sentence not in it is shown by its prefixes")
    q.add_argument("--no-phrases", dest="phrases", action="store_false",
                   help="only the sentence's class, not each phrase's")
    q.set_defaults(func=main_predict)
    return p, q


#: What ``numrnn sst --quick`` changes: a subset, a short run, one model unless the grid is given.
QUICK = {"train_subset": 40000, "dev_subset": 500, "epochs": 5, "cells": ["rnn"], "versions": ["D"],
         "reg": "on", "seeds": [0], "name": "sst_quick", "figures": "figures/sst/quick"}
FULL = {"cells": ["rnn", "lstm"], "versions": list("ABCD"), "reg": "both", "seeds": [0, 1, 2],
        "name": "sst", "figures": "figures/sst"}


def main_experiment(args):
    plan = QUICK if args.quick else FULL
    for flag in ("cells", "versions", "reg", "seeds", "name", "figures"):
        if getattr(args, flag) is None:
            setattr(args, flag, plan[flag])
    base = Config(embed_size=args.embed_size, hidden_size=args.hidden_size, dropout=args.dropout,
                  weight_decay=args.weight_decay, lr=args.lr, batch_size=args.batch_size,
                  clip=args.clip, epochs=min(args.epochs, QUICK["epochs"]) if args.quick else args.epochs,
                  patience=args.patience, lower=not args.cased,
                  min_count=args.min_count, phrases=args.phrases or args.quick, glove=args.glove,
                  activation=args.activation, init=args.init, scale=args.scale, pool=args.pool,
                  bidirectional=args.bidirectional,
                  train_subset=QUICK["train_subset"] if args.quick else 0,
                  dev_subset=QUICK["dev_subset"] if args.quick else 0)
    regs = {"both": [False, True], "on": [True], "off": [False]}[args.reg]
    configs = grid(args.cells, args.versions, regs, args.seeds, base)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    out = Path(args.out) / args.name
    runs = experiment(configs, args.sst_dir, out, args.figures, args.workers, args.save_dir,
                      common.command_line(args), args.resume)
    print(f"{len(runs)} runs: {out}.md, {out}.json, {args.figures}/")
    return 0


def main_predict(args, stdin=None):
    """Print each sentence's class, then (unless --no-phrases) the class of each of its phrases:
    the nodes of its parse tree when the sentence is in the treebank, else its prefixes."""
    model, vocab = load_model(args.model)
    lines = [" ".join(args.text)] if args.text else (stdin or sys.stdin)
    index, missing = None, None
    if getattr(args, "phrases", True):
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
        if getattr(args, "phrases", True):
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


def run(args):
    """Run the subcommand ``args.command`` (``sst`` or ``sst-predict``) parsed by :func:`add_parser`."""
    return args.func(args)


def main(argv=None):
    """``python -m numrnn.experiments.sst sst ...`` works without the package's CLI."""
    parser = argparse.ArgumentParser(prog="python -m numrnn.experiments.sst")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return common.run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
