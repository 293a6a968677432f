r"""A character-level language model trained with truncated BPTT: the demonstration of carried state.

The model reads characters :math:`c_0 c_1 \dots` one at a time and predicts each next one:

.. math::

    x(t) = E[c_t], \qquad h(t) = \text{a cell of numrnn.nn.CELLS, version A..D or special}, \qquad
    p(\cdot \mid c_{\le t}) = \operatorname{softmax}(W h(t) + b)

and learns by minimising the cross-entropy of the next character, reported in **bits per
character**, :math:`\text{bpc} = -\frac{1}{N}\sum_t \log_2 p(c_{t+1} \mid c_{\le t})`. A model that
ignores context does no better than the unigram entropy (:func:`unigram_bits`).

Training cuts the text into B parallel streams (:func:`numrnn.data.text.batchify`) and runs
BPTT(k2; k1) of :mod:`numrnn.training.tbptt` along them: the state is carried from window to window, the
gradient is truncated at each window start. Evaluation runs the same chunked forward with the state
carried and no truncation to worry about (no gradient), so it equals one forward over the stream.

Command line (``numrnn ...``, or ``python -m numrnn.experiments.charlm ...``, the same)::

    numrnn charlm-train --text my.txt --version A --out runs/my_lm      # runs/my_lm/models/charlm.npz
    numrnn charlm-sample --checkpoint runs/my_lm --sample-chars 300 --temperature 0.8
    numrnn charlm-compare --epochs 10 --seeds 0 1 2 --out .            # results/charlm_compare.md and .json
"""
import json
import math
import numbers
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from .._checks import check_int, check_seed
from .._io import atomic_write_text
from ..nn.losses import log_softmax, softmax_cross_entropy
from ..nn.schedule import VERSIONS
from ..training.model import SequenceModel
from ..training.optim import OPTIMIZERS, make_optimizer
from ..training.tbptt import check_window
from ..training.trainer import Trainer
from . import common
from ..data.text import Vocab, batchify, generate_text, inputs_and_targets, read_text, split

LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------- model
def build_model(vocab_size, version="A", cell="rnn", hidden_size=64, embed_size=16, seed=0,
                dtype=np.float64, **layer_kwargs):
    """Embedding (V, E) -> recurrent layer of ``version`` -> softmax readout at every step.

    Returns a :class:`numrnn.training.model.SequenceModel` with ``readout="all"`` and ``loss="ce"``.
    """
    return SequenceModel(embed_size, hidden_size, vocab_size, cell=cell, version=version,
                         readout="all", loss="ce", vocab_size=vocab_size, seed=seed, dtype=dtype,
                         **layer_kwargs)


def bits_per_char(model, streams, chunk=256, reset_every=None):
    """Mean bits per character of ``model`` predicting each next character of ``streams``.

    The forward runs chunk by chunk with the state carried (equal to one forward over the streams),
    or restarted from zeros every ``reset_every`` steps.

    Parameters
    ----------
    model : SequenceModel from :func:`build_model`
    streams : int ndarray, shape (B, N), N >= 2 (from :func:`numrnn.data.text.batchify`)
    chunk : int >= 1, steps per forward call
    reset_every : int >= 1, optional
        Segment length R: the state is reset to zeros at steps 0, R, 2R, ... (None: never).

    Returns
    -------
    bpc : float, nan if the forward overflowed
    """
    x, y = inputs_and_targets(streams)
    chunk = check_int("chunk", chunk, 1)
    nats = 0.0
    for xs, ys in _segments(x, y, reset_every):
        state = None
        for a in range(0, xs.shape[1], chunk):
            pred, cache = model.forward(xs[:, a:a + chunk], state=state, train=False)
            loss, _ = softmax_cross_entropy(pred, ys[:, a:a + chunk])
            if not math.isfinite(loss):
                return float("nan")                   # the forward overflowed
            nats += loss * ys[:, a:a + chunk].size
            state = cache["layer"].state
    return nats / y.size / LN2


def _segments(x, y, reset_every):
    """Pieces of R steps of (x, y) that each start from a zero state (one piece if R is None)."""
    R = x.shape[1] if reset_every is None else check_int("reset_every", reset_every, 1)
    return [(x[:, a:a + R], y[:, a:a + R]) for a in range(0, x.shape[1], R)]


def unigram_bits(train_ids, valid_ids, vocab_size):
    r"""Bits per character of the unigram model (character frequencies of the training text).

    .. math:: -\frac{1}{N}\sum_t \log_2 \hat p(c_t), \qquad
              \hat p(v) = \frac{n_v + 1}{N_{\text{train}} + V} \quad \text{(add-one, so no } \log 0)
    """
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    logp = np.log2(counts / counts.sum())
    return float(-logp[valid_ids].mean())


# ------------------------------------------------------------------------------- sampling
def sample(model, vocab, n_chars, temperature=1.0, seed=0, prime=None):
    r"""Generate text one character at a time, each drawn from :math:`\operatorname{softmax}(z / \tau)`.

    Parameters
    ----------
    model : SequenceModel from :func:`build_model`
    vocab : Vocab
    n_chars : int >= 1, characters to generate after the prime
    temperature : float > 0
        :math:`\tau`: below 1 sharper (more likely characters), above 1 flatter.
    seed : int or numpy.random.Generator
        Same seed, same text.
    prime : str, optional
        Characters fed first (all must be in the vocabulary); default a newline if the vocabulary
        has one, else its first character.

    Returns
    -------
    text : str, the prime followed by the n_chars generated characters
    """
    n_chars = check_int("n_chars", n_chars, 1)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if prime is None or prime == "":
        prime = "\n" if "\n" in vocab.index else vocab.chars[0]
    rng = np.random.default_rng(check_seed("seed", seed))
    ids = list(vocab.encode(prime, name="prime"))
    logits, cache = model.forward(np.array([ids]), train=False)
    state, out = cache["layer"].state, []
    for _ in range(n_chars):
        logp = log_softmax(logits[0, -1].astype(np.float64) / temperature)
        p = np.exp(logp)
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        logits, cache = model.forward(np.array([[nxt]]), state=state, train=False)
        state = cache["layer"].state
    return prime + vocab.decode(out)


# ------------------------------------------------------------------------------- training
def train(text, version="A", cell="rnn", hidden_size=64, embed_size=16, batch_size=32, k1=50,
          k2=None, epochs=5, max_updates=None, optimizer="adam", lr=2e-3, clip=1.0,
          reset_every=None, valid_fraction=0.1, seed=0, dtype=np.float64, checkpoint_path=None, log=None,
          resume=False, **layer_kwargs):
    """Train a character LM on ``text`` with truncated BPTT; evaluate validation bpc every epoch.

    The loop is numrnn's one :class:`~numrnn.training.trainer.Trainer` with ``tbptt=(k1, k2)``,
    ``reset_every``, ``max_updates`` and ``shuffle=False`` (the B streams stay in order, one batch).

    Parameters
    ----------
    text : str
        The whole corpus; the last ``valid_fraction`` of it is kept for validation.
    version, cell, hidden_size, embed_size, **layer_kwargs
        The model (:func:`build_model`).
    batch_size : int
        B parallel streams.
    k1, k2 : int
        BPTT(k2; k1): update every k1 steps, backpropagate k2 >= k1 steps (default k2 = k1).
    reset_every : int, optional
        R: the carried state is reset to zeros every R steps of a stream, in training and in
        validation (None: carried through the whole stream; each epoch starts from zeros).
    epochs : int >= 1
        Passes over the training streams.
    max_updates : int, optional
        Stop after this many parameter updates (to bound the time of a test or a demo).
    optimizer, lr, clip
        Any optimiser of :mod:`numrnn.training.optim`; gradients clipped to global norm ``clip`` (None: no
        clipping).
    valid_fraction : float in (0, 1)
    seed : int
        Seeds the initialisation.
    checkpoint_path : str, optional
        Save model, optimiser, trainer state and vocabulary after each epoch, and when the run
        diverges (the parameters it kept), atomically.
    resume : bool
        Continue the run saved at ``checkpoint_path`` on the same ``text`` for ``epochs`` more
        epochs: its model, optimiser, trainer state, history and training settings (batch_size,
        k1, k2, reset_every, clip, valid_fraction) are the checkpoint's; the arguments that
        would build another model are ignored. Equal, bit for bit, to one longer run.
    log : callable(str), optional
        Receives one line per epoch (e.g. ``print``).

    Returns
    -------
    model : SequenceModel, with the last good parameters
    vocab : Vocab
    history : dict
        "train_loss" mean cross-entropy (nats) of each update; "valid_bpc" per epoch;
        "unigram_bpc" the baseline; "updates" applied; "diverged" None or the trainer's
        :class:`~numrnn.training.trainer.Diverged` record (the update refused, why, and "kept":
        the update whose parameters the model holds, the last whose loss was finite);
        "checkpoint" the path last written (None if none was); "seconds".
    """
    epochs = check_int("epochs", epochs, 1)
    started = time.perf_counter()
    vocab = Vocab.from_text(text)
    if resume:
        saved, settings, history = _resumed(checkpoint_path, vocab)
        model, opt = saved.model, saved.optimizer
    else:
        k1, k2 = check_window(k1, k2)
        settings = dict(batch_size=batch_size, k1=k1, k2=k2, reset_every=reset_every, clip=clip,
                        valid_fraction=valid_fraction)
        model = build_model(len(vocab), version, cell, hidden_size, embed_size, seed, dtype,
                            **layer_kwargs)
        opt = make_optimizer(optimizer, lr=lr)
    batch_size, k1, k2, reset_every, clip, valid_fraction = (
        settings[k] for k in ("batch_size", "k1", "k2", "reset_every", "clip", "valid_fraction"))
    train_ids, valid_ids = split(vocab.encode(text), valid_fraction)
    x, y = inputs_and_targets(batchify(train_ids, batch_size))
    valid = batchify(valid_ids, max(1, min(batch_size, len(valid_ids) // 64)))
    if not resume:
        history = {"train_loss": [], "valid_bpc": [], "updates": 0, "diverged": None, "checkpoint": None,
                   "unigram_bpc": unigram_bits(train_ids, valid_ids, len(vocab))}

    def save(trainer):
        history["updates"], history["diverged"] = trainer.step, trainer.diverged
        if checkpoint_path:
            save_model(checkpoint_path, model, vocab, opt,
                       {"history": history, "epoch": trainer.epoch, "settings": settings}, trainer)
            history["checkpoint"] = os.fspath(checkpoint_path)

    def end_of_epoch(trainer):
        history["valid_bpc"].append(bits_per_char(model, valid, reset_every=reset_every))
        history["updates"] = trainer.step
        if log:
            log(f"epoch {trainer.epoch}: updates {trainer.step}, train {_mean_bpc(history):.3f} bpc, "
                f"valid {history['valid_bpc'][-1]:.3f} bpc (unigram {history['unigram_bpc']:.3f})")
        save(trainer)

    trainer = Trainer(model, opt, batch_size=len(x), clip=clip, tbptt=(k1, k2), reset_every=reset_every,
                      max_updates=max_updates, shuffle=False, progress=False, on_epoch_end=end_of_epoch)
    if resume:
        trainer.load_state_dict(saved.trainer_state)
    history["train_loss"] = trainer.history["loss"]          # the same list, filled as it trains
    trainer.fit(x, y, epochs=epochs)
    history["updates"], history["diverged"] = trainer.step, trainer.diverged
    if trainer.diverged is not None:
        if not history["valid_bpc"]:
            history["valid_bpc"].append(bits_per_char(model, valid, reset_every=reset_every))
        if log:
            log(f"stopped at update {trainer.diverged['step']} ({trainer.diverged['reason']}); kept the "
                f"last parameters with a finite loss, those after {trainer.diverged['kept']} updates")
        save(trainer)
    history["seconds"] = time.perf_counter() - started
    return model, vocab, history


def _resumed(path, vocab):
    """(checkpoint, training settings, history) of the run saved at ``path``, to continue on a text
    of vocabulary ``vocab``; refused by name when there is nothing to continue."""
    if not path:
        raise ValueError("resume needs the checkpoint_path of the run to continue")
    saved, chars, extra = common.load_model(path, "charlm")
    if saved.trainer_state is None or "settings" not in extra:
        raise ValueError(f"--resume: {os.fspath(path)} was saved without its trainer state (by an "
                         "older numrnn); train afresh")
    if chars != vocab.to_list():
        raise ValueError(f"--resume: {os.fspath(path)} was trained on another text (its characters "
                         "differ from this text's)")
    return saved, extra["settings"], dict(extra["history"], checkpoint=None)


def _mean_bpc(history, last=50):
    return float(np.mean(history["train_loss"][-last:])) / LN2 if history["train_loss"] else float("nan")


# ----------------------------------------------------------------------------- saved models
def save_model(path, model, vocab, optimizer=None, extra=None, trainer=None):
    """Save model, optimiser, trainer state and vocabulary in numrnn's one format of models with a
    vocabulary (:func:`numrnn.experiments.common.save_model`, kind "charlm"; ``path.npz`` +
    ``path.json``): ``meta = {"kind": "numrnn.charlm", "vocab": the characters in id order,
    "extra": e.g. the training history and settings}``."""
    return common.save_model(path, model, "charlm", vocab.to_list(), optimizer, extra, trainer)


def load_model(path):
    """(model, vocab, extra) from :func:`save_model`.

    Raises :class:`numrnn.training.checkpoint.CheckpointError` (a ValueError) naming the file if it is
    missing, corrupt, or a numrnn checkpoint of another kind of model.
    """
    ck, vocab, extra = common.load_model(path, "charlm")
    return ck.model, Vocab(vocab), extra


# ---------------------------------------------------------------------------- experiment
def compare_versions(versions=("A", "B", "C", "D"), seeds=(0, 1, 2), text=None, workers=1,
                     **train_kwargs):
    """Train one model per (version, seed) on the same text; return one row per run.

    Runs in ``workers`` processes, each limited to one BLAS thread. Every row: version, seed,
    valid_bpc (last epoch), best_valid_bpc, curve (valid bpc per epoch), train_bpc (mean of the
    last 50 updates' losses), unigram_bpc, updates, diverged_at, seconds (wall clock) and
    cpu_seconds (the CPU time of the process that ran it, which a loaded machine does not inflate).
    """
    text = generate_text() if text is None else text
    jobs = [(v, s, text, train_kwargs) for v in versions for s in seeds]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(_run_one, jobs))
    return [_run_one(job) for job in jobs]


def _run_one(job):
    version, seed, text, kwargs = job
    cpu = time.process_time()
    with threadpool_limits(1):
        model, _, h = train(text, version=version, seed=seed, **kwargs)
    cpu = time.process_time() - cpu
    learned = common.learned_skip_scales(model)
    return {"version": version, "seed": seed, "valid_bpc": h["valid_bpc"][-1],
            "best_valid_bpc": min(h["valid_bpc"]), "curve": h["valid_bpc"],
            "train_bpc": _mean_bpc(h), "unigram_bpc": h["unigram_bpc"], "updates": h["updates"],
            "diverged_at": h["diverged"]["step"] if h["diverged"] else None, "seconds": h["seconds"],
            "cpu_seconds": cpu, **({"skip_scale_final": learned} if learned else {})}


def results_markdown(rows, command, settings, env=None, full_record=None):
    """A results table (mean and each seed's last-epoch validation bpc per version) in markdown.

    A run that diverged shows the validation bpc of its last good parameters (nan if even those
    overflow in the forward) and the update at which it stopped. ``env``: the
    :func:`~numrnn.experiments.common.environment` to state (default: this process's now);
    ``full_record``: the file that holds every run's curve and the whole environment, if any.
    """
    lines = ["## Validation bits per character, versions compared", "",
             f"Command: `{command}`", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "",
             f"Unigram baseline (add-one character frequencies of the training part): "
             f"{rows[0]['unigram_bpc']:.3f} bpc", "",
             "| version | mean valid bpc | best seed | worst seed | per seed (last epoch) "
             "| mean train bpc (last 50 updates) | diverged | s/run | CPU s/run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for v in dict.fromkeys(r["version"] for r in rows):
        mine = [r for r in rows if r["version"] == v]
        bpc = np.array([r["valid_bpc"] for r in mine])
        seeds = ", ".join(f"{r['seed']}: {r['valid_bpc']:.3f}" +
                          ("" if r["diverged_at"] is None else f" (stopped at update {r['diverged_at']})")
                          for r in mine)
        div = sum(r["diverged_at"] is not None for r in mine)
        secs = np.mean([r["seconds"] for r in mine])
        cpu = np.mean([r.get("cpu_seconds", np.nan) for r in mine])
        train_bpc = np.mean([r.get("train_bpc", np.nan) for r in mine])
        lines.append(f"| {v} | {np.mean(bpc):.3f} | {np.min(bpc):.3f} | {np.max(bpc):.3f} | {seeds} | "
                     f"{train_bpc:.3f} | {div}/{len(mine)} | {secs:.0f} | {cpu:.0f} |")
    lines += ["", "Validation bpc after each epoch, mean over the seeds that ran every epoch:", ""]
    n_epochs = max(len(r["curve"]) for r in rows)
    for v in dict.fromkeys(r["version"] for r in rows):
        curves = [r["curve"] for r in rows if r["version"] == v and len(r["curve"]) == n_epochs]
        if curves:
            lines.append(f"- {v} ({len(curves)} seeds): " +
                         ", ".join(f"{c:.3f}" for c in np.mean(curves, axis=0)))
    learned = common.learned_skip_scales_line([(f"{r['version']} seed {r['seed']}", r.get("skip_scale_final"))
                                               for r in rows])
    lines += ["", *learned] if learned else []
    env = common.environment(threads_per_run=1) if env is None else env
    lines += ["", common.environment_line(env, full_record)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- command line
#: Where charlm-train saves its model under ``--out``: OUT/models/charlm.npz and .json.
MODEL = "charlm"


def _add_model_args(p):
    p.add_argument("--text", help="UTF-8 plain-text file to train on (default: the generated text)")
    p.add_argument("--text-chars", type=common.POSITIVE_INT, default=100_000,
                   help="length of the generated default text (default 100000)")
    common.add_deprecated(p, "--generate-chars", "--text-chars", type=common.POSITIVE_INT)
    p.add_argument("--text-seed", type=common.SEED, default=0, help="seed of the generated text (default 0)")
    common.add_cell_flag(p)
    p.add_argument("--hidden-size", type=common.POSITIVE_INT, default=64, help="H (default 64)")
    common.add_alias(p, "--hidden", "--hidden-size", type=common.POSITIVE_INT)
    p.add_argument("--embed-size", type=common.POSITIVE_INT, default=16, help="E (default 16)")
    common.add_layer_flags(p)
    p.add_argument("--batch-size", type=common.POSITIVE_INT, default=32, help="parallel streams B (default 32)")
    p.add_argument("--k1", type=common.POSITIVE_INT, default=50,
                   help="truncated BPTT, tbptt=(k1, k2): update every k1 steps (default 50)")
    common.add_deprecated(p, "--window", "--k1", type=common.POSITIVE_INT)
    p.add_argument("--k2", type=common.POSITIVE_INT, default=None,
                   help="backpropagate k2 >= k1 steps (default k2 = k1)")
    p.add_argument("--reset-every", type=common.POSITIVE_INT, default=None,
                   help="reset the carried state to zeros every R steps (default: never)")
    p.add_argument("--epochs", type=common.POSITIVE_INT, default=5)
    p.add_argument("--max-updates", type=common.POSITIVE_INT, default=None)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    p.add_argument("--lr", type=common.POSITIVE, default=2e-3)
    p.add_argument("--clip", type=common.POSITIVE, default=1.0, help="clip gradients to this global norm")
    p.add_argument("--valid-fraction", type=common.number(0, 1, True, True), default=0.1)
    common.add_training_flags(p)


def _add_sample_chars(p, default):
    p.add_argument("--sample-chars", type=common.integer(0), default=default,
                   help=f"characters of text to sample (default {default}; 0: none)")


def add_parser(subparsers):
    """Add the subcommands charlm-train, charlm-sample and charlm-compare to an argparse parser."""
    p = subparsers.add_parser("charlm-train", help="train a character-level language model",
                              description="Train a character LM with truncated BPTT on a UTF-8 "
                                          "text file (default: a generated text); save it as "
                                          f"OUT/models/{MODEL}.npz and .json after every epoch. Exit "
                                          "status 1 if the run diverged (the kept parameters are saved).")
    _add_model_args(p)
    p.add_argument("--version", default="A", choices=list(VERSIONS),
                   help="paper version (default A: with the state carried, "
                        "C and D do not learn a character LM, see results/charlm.md)")
    p.add_argument("--seed", type=common.SEED, default=0)
    common.add_out_flag(p, f"OUT/models/{MODEL}.npz and .json")
    common.add_resume_flag(p, f"train OUT/models/{MODEL} --epochs more epochs on the same text (its "
                              "model, optimiser and settings; the flags that build a model are ignored)")
    _add_sample_chars(p, 300)
    p.set_defaults(func=_train_command)

    p = subparsers.add_parser("charlm-sample", help="generate text from a trained character LM")
    common.add_checkpoint_flag(p, "the model to sample from", default=".")
    _add_sample_chars(p, 500)
    common.add_deprecated(p, "--chars", "--sample-chars", type=common.integer(0))
    p.add_argument("--temperature", type=common.POSITIVE, default=1.0)
    p.add_argument("--seed", type=common.SEED, default=0)
    p.add_argument("--prime", default="", help="text to start from")
    p.set_defaults(func=_sample_command)

    p = subparsers.add_parser("charlm-compare", help="compare versions by validation bpc")
    _add_model_args(p)
    p.add_argument("--versions", nargs="+", default=["A", "B", "C", "D"], choices=list(VERSIONS))
    p.add_argument("--seeds", nargs="+", type=common.SEED, default=[0, 1, 2])
    common.add_workers_flag(p)
    common.add_out_flag(p, "OUT/results/NAME.md and NAME.json")
    p.add_argument("--name", default="charlm_compare",
                   help="file name of the results table and its .json record (default charlm_compare)")
    p.set_defaults(func=_compare_command)


def _corpus(args):
    return read_text(args.text) if args.text else generate_text(args.text_chars, args.text_seed)


def _train_kwargs(args):
    return dict(cell=args.cell, hidden_size=args.hidden_size, embed_size=args.embed_size,
                batch_size=args.batch_size, k1=args.k1, k2=args.k2, epochs=args.epochs,
                max_updates=args.max_updates, optimizer=args.optimizer, lr=args.lr,
                clip=args.clip, reset_every=args.reset_every, valid_fraction=args.valid_fraction,
                dtype=args.dtype, **common.layer_kwargs(args, args.cell))


def _train_command(args):
    path = os.path.join(common.models_dir(args.out), MODEL)
    model, vocab, history = train(_corpus(args), version=args.version, seed=args.seed,
                                  checkpoint_path=path, log=None if args.quiet else print,
                                  resume=args.resume, **_train_kwargs(args))
    d = history["diverged"]
    saved = f"saved {history['checkpoint']}.npz/.json" if history["checkpoint"] else "no checkpoint written"
    print(f"{saved} ({model.n_params()} parameters, {history['updates']} updates, "
          f"{history['seconds']:.0f} s)")
    if args.sample_chars:
        print(sample(model, vocab, args.sample_chars, temperature=0.8, seed=args.seed))
    if d is not None:
        print(f"numrnn charlm-train: {d.describe()}", file=sys.stderr)
        return common.EXIT_NO
    return common.EXIT_OK


def _sample_command(args):
    model, vocab, _ = load_model(common.find_checkpoint(args.checkpoint, MODEL))
    if args.sample_chars:
        print(sample(model, vocab, args.sample_chars, args.temperature, args.seed, args.prime or None))
    return common.EXIT_OK


def _compare_command(args):
    kwargs = _train_kwargs(args)
    folder = common.results_dir(args.out)
    rows = compare_versions(args.versions, args.seeds, _corpus(args), args.workers, **kwargs)
    settings = dict(kwargs, text=args.text or f"generated({args.text_chars}, seed={args.text_seed})",
                    seeds=args.seeds)
    settings["dtype"] = np.dtype(settings["dtype"]).name
    command, env = common.command_line(args), common.environment(threads_per_run=1)
    report = results_markdown(rows, command, settings, env, full_record=f"{args.name}.json")
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"{args.name}.{ext}") for ext in ("json", "md")]
    atomic_write_text(paths[0], json.dumps({"command": command, "settings": settings, "rows": rows,
                                            "environment": env}, indent=1))
    atomic_write_text(paths[1], report)
    print(report)
    print(f"wrote {paths[1]} and {paths[0]} (every run's validation bpc after each epoch)")
    return common.EXIT_OK


def main(argv=None):
    """``python -m numrnn.experiments.charlm charlm-train ...`` = ``numrnn charlm-train ...``."""
    return common.main(add_parser, argv)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_model", "bits_per_char", "unigram_bits", "sample", "train", "save_model",
           "load_model", "compare_versions", "results_markdown", "add_parser", "main"]
