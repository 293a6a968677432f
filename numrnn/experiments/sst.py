r"""Fine-grained (5-class) sentiment on the Stanford Sentiment Treebank with the registry's cells.

The model, for a sentence of tokens :math:`w_0 .. w_{T-1}`:

.. math::

    x(t) = E[w_t] \odot m_E, \qquad h(0..T-1) = \text{layer}(x), \qquad
    p = \operatorname{softmax}\big((h(T-1) \odot m_R)\, W^\top + b\big)

with ``layer`` a cell of the registry :data:`numrnn.nn.CELLS` (RNN, LSTM, GRU) of paper version A..D or
special, and
:math:`m_E, m_R` dropout masks. It is :class:`numrnn.training.model.SequenceModel` with an embedding, the
"last" readout (each sentence's last real token) and cross-entropy. Options (``--readout mean``,
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

This module is the experiment: the model's configuration (:class:`Config`), one training run
(:func:`train`, :func:`run_config`), the grid and its workers (:func:`grid`, :func:`experiment`) and
the command ``numrnn sst`` (``--quick``: one small model on a subset, in about a minute; an
interrupted grid leaves a table marked partial and continues with ``--resume``). The results file,
table and figures are :mod:`numrnn.experiments.sst_report`; ``numrnn sst-predict`` and the saved
models are :mod:`numrnn.experiments.sst_predict`.
"""
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..data import sst as data
from ..nn import CELLS
from ..nn.schedule import VERSIONS
from ..training.model import SequenceModel, layer_options
from ..training.optim import Adam
from ..training.trainer import EarlyStopping, Trainer
from . import common
from .sst_predict import predict, save_model     # predict: notebook 06 calls sst.predict
from .sst_report import describe_data, plot, read_results, typed_sst_dir, write_results, write_table


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
    options: dict = field(default_factory=dict, hash=False)   # any other cell option, e.g. forget_bias
    dtype: str = "float32"
    pool: str = "last"            # the readout: the state at the last word, or the mean over words
    bidirectional: bool = False   # a second layer reading each sentence backwards
    train_subset: int = 0         # > 0: that many training examples, drawn with the seed (--quick)
    dev_subset: int = 0           # > 0: that many dev sentences, drawn with the seed (--quick)

    @property
    def name(self):
        """e.g. "rnn-D-reg-seed0", "lstm-A-reg-mean-bi-seed1"."""
        options = (["mean"] if self.pool == "mean" else []) + (["bi"] if self.bidirectional else [])
        return "-".join([self.cell, self.version, "reg" if self.regularised else "noreg", *options,
                         f"seed{self.seed}"])


def record(config):
    """``config`` as the JSON-able dict saved with every result (``options`` only when some are
    set, so the results of earlier versions still match on ``--resume``)."""
    saved = asdict(config)
    if not saved["options"]:
        del saved["options"]
    return saved


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
    layer_kwargs.update({k: v for k, v in config.options.items() if k in options})
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
    vocab, splits = subset(loaded, config)
    with threadpool_limits(1):
        started, cpu_started = time.perf_counter(), time.process_time()
        model, history = train(config, splits, vocab, progress)
        cpu = time.process_time() - cpu_started
        result = {"config": record(config), "name": config.name, "n_params": model.n_params(),
                  "n_params_parts": parameter_counts(model),
                  "test_acc": accuracy(model, *splits["test"]), "dev_acc": history["dev_acc_best"],
                  "history": history, "total_seconds": time.perf_counter() - started,
                  "total_cpu_seconds": cpu, "environment": common.environment(threads_per_run=1)}
        learned = common.learned_skip_scales(model)
        if learned:
            result["skip_scale_final"] = learned
    if save_dir is not None:
        save_model(Path(save_dir) / config.name, model, vocab, result)
    return result


# ------------------------------------------------------------------------------ experiment
def grid(cells, versions, regs, seeds, base):
    """Every Config of the experiment, one seed of every model before the next seed (so an
    interrupted grid holds whole seeds), LSTMs first within a seed (the longest runs start first)."""
    def options(cell):             # only the options this cell takes, in its record
        return {k: v for k, v in base.options.items() if k in layer_options(cell)}
    configs = [replace(base, cell=c, version=v, regularised=r, seed=s, options=options(c))
               for c in cells for v in versions for r in regs for s in seeds]
    return sorted(configs, key=lambda c: (seeds.index(c.seed), c.cell != "lstm"))


def earlier_environments(previous):
    """What a resumed results file said of the environments of its earlier commands, kept so that
    runs made before this call are not credited to this machine: its "environment_not_recorded"
    note, and its earlier "environment" records (oldest first) as "earlier_environments"."""
    kept = {}
    if "environment_not_recorded" in previous:
        kept["environment_not_recorded"] = previous["environment_not_recorded"]
    earlier = list(previous.get("earlier_environments", [])) + (
        [previous["environment"]] if "environment" in previous else [])
    if earlier:
        kept["earlier_environments"] = earlier
    return kept


def experiment(configs, sst_dir, out, figures, workers=common.DEFAULT_WORKERS, save_dir=None,
               command="", resume=False, progress=True):
    """Run every config (in a process pool of ``workers`` processes), writing results as they finish.

    ``out`` + ".json" gets every run (rewritten after each one, atomically, so an interrupted
    experiment keeps what finished; ``resume`` skips runs already there with the same config, and
    keeps what the file said of its earlier runs' environments, :func:`earlier_environments`);
    ``out`` + ".md" the table; ``figures`` the learning curves and the accuracy chart (also when
    interrupted by Ctrl-C / SIGINT, of the runs that finished); ``save_dir``
    (optional) every trained model; ``progress`` a line per finished run.
    """
    json_path = Path(f"{out}.json")
    previous = read_results(json_path) if resume else {"runs": []}
    done = {r.get("name"): r for r in previous["runs"] if isinstance(r, dict)}
    todo = [c for c in configs if done.get(c.name, {}).get("config") != record(c)]
    results = {c.name: done[c.name] for c in configs if c not in todo}
    commands = previous.get("commands", [previous["command"]] if "command" in previous else [])
    header = {"command": command, "commands": commands + [command], "sst_dir": typed_sst_dir(sst_dir),
              "workers": workers, "planned": len(configs), **describe_data(sst_dir),
              "environment": common.environment(threads_per_run=1), **earlier_environments(previous)}

    def write():
        runs = [results[c.name] for c in configs if c.name in results]
        write_results(json_path, header, runs)
        if runs:                      # the table too, marked partial until every run is in
            write_table(f"{out}.md", header, runs)
        return runs

    def finished(result):
        results[result["name"]] = result
        write()
        if progress:
            print(f"done {result['name']}: best dev accuracy {result['dev_acc']:.4f}", flush=True)

    try:
        if workers == 1:
            loaded = load(sst_dir, configs[0])
            for config in todo:
                finished(run_config(config, loaded, save_dir))
        elif todo:
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(sst_dir, configs[0])) as pool:
                for future in as_completed([pool.submit(_run_in_worker, c, save_dir) for c in todo]):
                    finished(future.result())
    except KeyboardInterrupt:         # stopped by hand: the figures of what finished, beside its table
        runs = [results[c.name] for c in configs if c.name in results]
        if runs:
            plot(figures, runs, header)
        raise
    runs = write()
    plot(figures, runs, header)
    return runs


# ------------------------------------------------------------------------------------- CLI
#: What ``numrnn sst --quick`` changes: a subset, a short run, one model unless the grid is given.
QUICK = {"train_subset": 40000, "dev_subset": 500, "epochs": 5, "cells": ["rnn"], "versions": ["D"],
         "reg": "on", "seeds": [0], "name": "sst_quick"}
FULL = {"cells": ["rnn", "lstm"], "versions": list("ABCD"), "reg": "both", "seeds": [0, 1, 2],
        "name": "sst"}


def figures_name(name):
    """The figures' folder under OUT/figures of the results NAME: "sst" for sst, "sst/quick" for
    sst_quick, "sst/phrases" for sst_phrases (the folders of the committed figures)."""
    return "sst" if name == "sst" else "sst/" + (name[4:] if name.startswith("sst_") else name)


def add_parser(subparsers):
    """Register ``sst`` (the experiment) on an argparse subparsers object."""
    p = subparsers.add_parser("sst", help="5-class SST sentiment: the registry's cells, versions A-D "
                                          "and special, table and figures",
                              description=__doc__.split("\n\n")[0])
    defaults = Config()
    p.add_argument("--sst-dir", default=None,
                   help=f"folder with train.txt, dev.txt, test.txt (default: ${data.ENV_VAR}, else "
                        f"{data.DEFAULT_DIR}); get them from {data.DOWNLOAD_URL}")
    common.add_cells_flag(p, None, help_default="rnn lstm; with --quick: rnn")
    p.add_argument("--versions", nargs="+", default=None, choices=list(VERSIONS),
                   help="paper versions (default: A B C D; with --quick: D)")
    p.add_argument("--reg", choices=["both", "on", "off"], default=None,
                   help="with regularisation (dropout + L2), without, or both (default both; with --quick: on)")
    p.add_argument("--seeds", nargs="+", type=common.SEED, default=None,
                   help="default 0 1 2 (with --quick: 0)")
    p.add_argument("--readout", choices=["last", "mean"], default=defaults.pool,
                   help="read out the state at the last word, or the mean of the states over the words")
    common.add_deprecated(p, "--pool", "--readout", choices=["last", "mean"])
    p.add_argument("--bidirectional", action="store_true",
                   help="a second layer of the same kind reads each sentence backwards; the readout sees both")
    p.add_argument("--quick", action="store_true",
                   help=f"a first run in about a minute: {QUICK['train_subset']} training phrases and "
                        f"{QUICK['dev_subset']} dev sentences drawn with the seed, at most {QUICK['epochs']} "
                        "epochs, one model (RNN D, regularised, seed 0) unless --cells/--versions/--reg/--seeds "
                        "say otherwise; results named sst_quick")
    for field_, kind in (("embed_size", common.POSITIVE_INT), ("hidden_size", common.POSITIVE_INT),
                         ("dropout", common.FRACTION), ("weight_decay", common.NON_NEGATIVE),
                         ("lr", common.POSITIVE), ("batch_size", common.POSITIVE_INT),
                         ("clip", common.POSITIVE), ("epochs", common.POSITIVE_INT),
                         ("patience", common.POSITIVE_INT), ("min_count", common.POSITIVE_INT)):
        p.add_argument("--" + field_.replace("_", "-"), type=kind, default=getattr(defaults, field_),
                       help=f"default {getattr(defaults, field_)}")
    common.add_alias(p, "--hidden", "--hidden-size", type=common.POSITIVE_INT)
    common.add_layer_flags(p)
    p.add_argument("--cased", action="store_true", help="keep the case of words (default: lower-case)")
    p.add_argument("--phrases", action="store_true",
                   help="train on every distinct labelled phrase of the training trees, not only sentences")
    p.add_argument("--glove", default=None, help="GloVe-format text file of pretrained word vectors")
    common.add_training_flags(p, dtype=defaults.dtype)
    common.add_workers_flag(p)
    common.add_out_flag(p, "OUT/results/NAME.json and .md, the figures in OUT/figures/sst (NAME sst) "
                           "or OUT/figures/sst/NAME-without-sst_, the models in OUT/models/NAME/ with "
                           "--save-models")
    p.add_argument("--name", default=None, help="file name of the results (default sst; with --quick: sst_quick)")
    p.add_argument("--save-models", action="store_true",
                   help="save every trained model as OUT/models/NAME/RUN (for numrnn sst-predict)")
    common.add_deprecated(p, "--save-dir", "--save-models (models go to OUT/models/NAME)", dest="save_dir")
    common.add_deprecated(p, "--figures", "--out (figures go to OUT/figures/sst...)", dest="figures")
    common.add_resume_flag(p, "skip the runs already in OUT/results/NAME.json")
    p.set_defaults(func=run, save_dir=None, figures=None)
    return p


def layer_settings(args, cells):
    """Config fields for the cells' options given on the command line (``--activation``,
    ``--scale``, ... from :func:`numrnn.experiments.common.add_layer_flags`): the three Config
    fields, and any other option of the registry in ``options``. An option no cell of ``cells``
    takes is refused by name."""
    takes = {name for cell in cells for name in layer_options(cell)}
    every = {name for cell in CELLS for name in layer_options(cell)}
    given = {name: getattr(args, name) for name in every if getattr(args, name, None) is not None}
    for name in given:
        if name not in takes:
            raise ValueError(f"--{name.replace('_', '-')} does not apply to any cell of --cells "
                             f"{' '.join(cells)}")
    fields = {k: given.pop(k) for k in ("activation", "init", "scale") if k in given}
    return dict(fields, options=given)


def run(args):
    """``numrnn sst``: run the grid, write the results, the table and the figures."""
    plan = QUICK if args.quick else FULL
    for flag in ("cells", "versions", "reg", "seeds", "name"):
        if getattr(args, flag) is None:
            setattr(args, flag, plan[flag])
    base = Config(embed_size=args.embed_size, hidden_size=args.hidden_size, dropout=args.dropout,
                  weight_decay=args.weight_decay, lr=args.lr, batch_size=args.batch_size,
                  clip=args.clip, epochs=min(args.epochs, QUICK["epochs"]) if args.quick else args.epochs,
                  patience=args.patience, lower=not args.cased,
                  min_count=args.min_count, phrases=args.phrases or args.quick, glove=args.glove,
                  pool=args.readout, bidirectional=args.bidirectional, dtype=args.dtype,
                  train_subset=QUICK["train_subset"] if args.quick else 0,
                  dev_subset=QUICK["dev_subset"] if args.quick else 0,
                  **layer_settings(args, args.cells))
    regs = {"both": [False, True], "on": [True], "off": [False]}[args.reg]
    configs = grid(args.cells, args.versions, regs, args.seeds, base)
    folder = common.results_dir(args.out)
    figures = args.figures or common.figures_dir(args.out, figures_name(args.name))
    save_dir = args.save_dir or (common.models_dir(args.out, args.name) if args.save_models else None)
    out = Path(folder) / args.name              # a NAME with a folder: results/sst_tuning/run1
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = experiment(configs, args.sst_dir, out, figures, args.workers, save_dir,
                      common.command_line(args), args.resume, progress=not args.quiet)
    print(f"{len(runs)} runs: {out}.md, {out}.json, {figures}/"
          + (f", models in {save_dir}/" if save_dir else ""))
    return common.EXIT_OK


def main(argv=None):
    """``python -m numrnn.experiments.sst ...`` = ``numrnn sst ...``."""
    return common.main(add_parser, argv, command="sst")


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Config", "record", "predict", "build_model", "parameter_counts", "accuracy", "train", "load",
           "subset", "run_config", "grid", "earlier_environments", "experiment", "QUICK", "FULL", "add_parser", "run", "main"]
