r"""Fine-grained (5-class) sentiment on the Stanford Sentiment Treebank with the RNN and LSTM families.

The model, for a sentence of tokens :math:`w_0 .. w_{T-1}`:

.. math::

    x(t) = E[w_t] \odot m_E, \qquad h(0..T-1) = \text{layer}(x), \qquad
    p = \operatorname{softmax}\big((h(T-1) \odot m_R)\, W^\top + b\big)

with ``layer`` an :class:`~numrnn.nn.rnn.RNN` or :class:`~numrnn.nn.lstm.LSTM` of paper version A..D, and
:math:`m_E, m_R` dropout masks. It is :class:`numrnn.training.model.SequenceModel` with an embedding, the
"last" readout (each sentence's last real token) and cross-entropy. "Regularisation", as in the
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
figures; ``numrnn sst-predict`` classifies sentences with a saved model.
"""
import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .._io import atomic_write_text
from ..data import sst as data
from ..nn.activations import ACTIVATIONS
from ..nn.init import INITS
from . import common
from ..training.model import SequenceModel, layer_options
from ..training.optim import Adam
from ..training.trainer import EarlyStopping, Trainer

#: Published fine-grained test accuracies (%), for context only: other models and conditions.
REFERENCES = [
    ("Socher et al. 2013, recursive RNN (parse tree, all phrases)", 43.2),
    ("Socher et al. 2013, RNTN (parse tree, all phrases)", 45.7),
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

    @property
    def name(self):
        """e.g. "rnn-D-reg-seed0"."""
        return f"{self.cell}-{self.version}-{'reg' if self.regularised else 'noreg'}-seed{self.seed}"


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
                          dropout=config.dropout if config.regularised else 0.0,
                          seed=config.seed, dtype=config.dtype, **layer_kwargs)
    if vectors is not None:
        model.embedding["E"][found] = vectors[found]
    return model, 0 if found is None else int(found.sum())


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

    vocab, splits = loaded
    with threadpool_limits(1):
        started = time.perf_counter()
        model, history = train(config, splits, vocab, progress)
        result = {"config": asdict(config), "name": config.name, "n_params": model.n_params(),
                  "test_acc": accuracy(model, *splits["test"]), "dev_acc": history["dev_acc_best"],
                  "history": history, "total_seconds": time.perf_counter() - started}
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
    """Every Config of the experiment, LSTMs first (the longest runs start first)."""
    configs = [replace(base, cell=c, version=v, regularised=r, seed=s)
               for c in cells for v in versions for r in regs for s in seeds]
    return sorted(configs, key=lambda c: c.cell != "lstm")


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
    header = {"command": command, "commands": commands + [command],
              "sst_dir": str(data.find_sst_dir(sst_dir)), "workers": workers, **describe_data(sst_dir)}

    def write():
        runs = [results[c.name] for c in configs if c.name in results]
        atomic_write_text(json_path, json.dumps({**header, "runs": runs}, indent=1))
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
    write_table(f"{out}.md", header, runs)
    plot(figures, runs, header)
    return runs


def describe_data(sst_dir):
    """Sentences per split, and the test accuracy of always answering the most frequent training label."""
    folder = data.find_sst_dir(sst_dir)
    labels = {s: np.array([t.label for t in data.read_trees(folder / f"{s}.txt")]) for s in data.SPLITS}
    label = int(np.bincount(labels["train"], minlength=5).argmax())
    return {"sizes": {s: len(y) for s, y in labels.items()},
            "majority": {"label": label, "test_acc": float(np.mean(labels["test"] == label))}}


# ---------------------------------------------------------------------------------- report
def summarise(runs):
    """Group runs by (cell, version, regularised): lists of test/dev accuracy and timings over seeds."""
    groups = {}
    for r in runs:
        c = r["config"]
        g = groups.setdefault((c["cell"], c["version"], c["regularised"]), {
            "seeds": [], "test": [], "dev": [], "n_params": r["n_params"], "seconds": [], "cpu": [],
            "best_epoch": [], "diverged": 0})
        g["seeds"].append(c["seed"])
        g["test"].append(r["test_acc"])
        g["dev"].append(r["dev_acc"])
        g["seconds"] += r["history"]["seconds"]
        g["cpu"] += r["history"]["cpu_seconds"]
        g["best_epoch"].append(r["history"]["best_epoch"])
        g["diverged"] += r["history"]["diverged"] is not None
    return groups


def _pm(values):
    """"mean ± std" in percent; std over seeds with ddof=1 (n-1), "–" for one seed."""
    values = 100 * np.asarray(values)
    spread = f"{values.std(ddof=1):.1f}" if len(values) > 1 else "–"
    return f"{values.mean():.1f} ± {spread}"


def write_table(path, header, runs):
    """The markdown table of the experiment, with its command, settings and context."""
    settings = {k: v for k, v in runs[0]["config"].items() if k not in ("cell", "version", "regularised", "seed")}
    lines = [
        "# SST fine-grained (5-class) sentence classification: RNN and LSTM versions A-D", "",
        "Command" + (f": `{header['command']}`  " if len(header["commands"]) == 1 else
                     "s (later ones resumed the earlier, keeping finished runs):  \n" +
                     "  \n".join(f"`{c}`" for c in header["commands"]) + "  "),
        f"Data: `{header['sst_dir']}`, train / dev / test sentences: "
        f"{' / '.join(str(header['sizes'][s]) for s in data.SPLITS)}; accuracy is on whole sentences.  ",
        f"Settings shared by every run: `{json.dumps(settings)}`  ",
        "\"reg\" = dropout on embeddings and readout (p = dropout) + L2 weight decay; \"none\" = both 0. "
        "Adam (embedding rows: lazy Adam), early stopping on dev accuracy (patience epochs), "
        "test accuracy measured once, at the best dev epoch. Mean ± std (n-1) over seeds.", "",
        "| model | regularisation | seeds | test acc % | dev acc % | parameters | s / epoch (wall) "
        "| CPU s / epoch | best epoch | diverged |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for (cell, version, reg), g in sorted(summarise(runs).items()):
        lines.append(
            f"| {cell.upper()} {version} | {'reg' if reg else 'none'} | {','.join(map(str, g['seeds']))} "
            f"| {_pm(g['test'])} | {_pm(g['dev'])} | {g['n_params']:,} | {np.mean(g['seconds']):.1f} "
            f"| {np.mean(g['cpu']):.1f} | {np.mean(g['best_epoch']):.1f} | {g['diverged']} |")
    majority = header["majority"]
    lines += ["", f"Majority class of the training sentences ({data.LABELS[majority['label']]}) on test: "
              f"{100 * majority['test_acc']:.1f} %.", "",
              "Published fine-grained test accuracies, for context (not comparable one to one):", ""]
    lines += [f"- {name}: {acc} %" for name, acc in REFERENCES]
    lines += ["", "Conditions that differ: the published models train on every labelled phrase (about "
              "318k nodes) and Tai et al. start from 300-d GloVe vectors; the runs here train on "
              f"{'every distinct phrase' if settings['phrases'] else 'whole sentences only'}, with "
              f"{'GloVe vectors' if settings['glove'] else 'randomly initialised embeddings'}; the "
              "recursive models read the parse tree, the models here read left to right.",
              "\"s / epoch\" is wall-clock time of one pass over the training set while the machine "
              f"ran {header['workers']} runs in parallel (plus any other load); \"CPU s\" is that "
              f"process's CPU time. The {len(runs)} runs took {sum(r['total_seconds'] for r in runs) / 60:.0f} "
              "min of wall-clock time summed over runs.", ""]
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
        for (c, version, reg) in sorted(k for k in groups if k[0] == cell):
            curves = [r["history"] for r in runs if (r["config"]["cell"], r["config"]["version"],
                                                     r["config"]["regularised"]) == (c, version, reg)]
            for col, key in enumerate(("train_loss", "dev_acc")):
                mean = _ragged_mean([h[key] for h in curves])
                axes[row, col].plot(np.arange(1, len(mean) + 1), mean, color=colours[version],
                                    linestyle="-" if reg else "--", marker=".",
                                    label=f"{version} {'reg' if reg else 'none'}")
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
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(keys) + 3), 4))
    means = [100 * np.mean(groups[k]["test"]) for k in keys]
    stds = [100 * np.std(groups[k]["test"], ddof=1) if len(groups[k]["test"]) > 1 else 0 for k in keys]
    ax.bar(range(len(keys)), means, yerr=stds, capsize=3,
           color=[matplotlib.colors.to_rgba(colours[v], 1.0 if r else 0.45) for _, v, r in keys])
    ax.set_xticks(range(len(keys)), [f"{c.upper()} {v}\n{'reg' if r else 'none'}" for c, v, r in keys],
                  fontsize=7)
    ax.axhline(100 * header["majority"]["test_acc"], color="grey", linestyle=":", label="majority class")
    for (name, acc), style in zip(REFERENCES, ("-.", "--", "-")):
        ax.axhline(acc, color="black", linestyle=style, linewidth=0.8, label=name)
    ax.set(ylabel="test accuracy %", title="SST 5-class test accuracy (mean ± std over seeds)",
           ylim=(0, 55))
    ax.legend(fontsize=6, loc="lower right")
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
    common.add_cell_flag(p, default=["rnn", "lstm"], many=True)
    p.add_argument("--versions", nargs="+", default=list("ABCD"), choices=list("ABCD"))
    p.add_argument("--reg", choices=["both", "on", "off"], default="both",
                   help="with regularisation (dropout + L2), without, or both")
    p.add_argument("--seeds", nargs="+", type=common.SEED, default=[0, 1, 2])
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
    p.add_argument("--name", default="sst", help="file name of the results (default sst)")
    p.add_argument("--figures", default="figures/sst", help="folder of the figures")
    p.add_argument("--save-dir", default=None, help="save every trained model here (for sst-predict)")
    p.add_argument("--resume", action="store_true", help="skip runs already in OUT/NAME.json")
    p.set_defaults(func=main_experiment)

    q = subparsers.add_parser("sst-predict", help="classify sentences with a model saved by `numrnn sst`")
    q.add_argument("--model", required=True, help="checkpoint path written by --save-dir (without extension)")
    q.add_argument("text", nargs="*", help="a sentence; without one, read sentences from stdin, one per line")
    q.set_defaults(func=main_predict)
    return p, q


def main_experiment(args):
    base = Config(embed_size=args.embed_size, hidden_size=args.hidden_size, dropout=args.dropout,
                  weight_decay=args.weight_decay, lr=args.lr, batch_size=args.batch_size,
                  clip=args.clip, epochs=args.epochs, patience=args.patience, lower=not args.cased,
                  min_count=args.min_count, phrases=args.phrases, glove=args.glove,
                  activation=args.activation, init=args.init, scale=args.scale)
    regs = {"both": [False, True], "on": [True], "off": [False]}[args.reg]
    configs = grid(args.cells, args.versions, regs, args.seeds, base)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    out = Path(args.out) / args.name
    runs = experiment(configs, args.sst_dir, out, args.figures, args.workers, args.save_dir,
                      common.command_line(args), args.resume)
    print(f"{len(runs)} runs: {out}.md, {out}.json, {args.figures}/")
    return 0


def main_predict(args, stdin=None):
    model, vocab = load_model(args.model)
    lines = [" ".join(args.text)] if args.text else (stdin or sys.stdin)
    for line in lines:
        if not line.strip():
            continue
        label, probs, tokens = predict(model, vocab, line)
        shown = " ".join(f"{p:.2f}" for p in probs)
        print(f"{data.LABELS[label]} ({label})  p = [{shown}]  tokens: {' '.join(tokens)}", flush=True)
    return 0


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
