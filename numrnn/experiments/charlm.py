r"""A character-level language model trained with truncated BPTT: the demonstration of carried state.

The model reads characters :math:`c_0 c_1 \dots` one at a time and predicts each next one:

.. math::

    x(t) = E[c_t], \qquad h(t) = \text{RNN or LSTM of version A..D}, \qquad
    p(\cdot \mid c_{\le t}) = \operatorname{softmax}(W h(t) + b)

and learns by minimising the cross-entropy of the next character, reported in **bits per
character**, :math:`\text{bpc} = -\frac{1}{N}\sum_t \log_2 p(c_{t+1} \mid c_{\le t})`. A model that
ignores context does no better than the unigram entropy (:func:`unigram_bits`).

Training cuts the text into B parallel streams (:func:`numrnn.data.text.batchify`) and runs
BPTT(k2; k1) of :mod:`numrnn.training.tbptt` along them: the state is carried from window to window, the
gradient is truncated at each window start. Evaluation runs the same chunked forward with the state
carried and no truncation to worry about (no gradient), so it equals one forward over the stream.

Command line (``numrnn ...``, or ``python -m numrnn.experiments.charlm ...`` without the CLI)::

    numrnn charlm-train --text my.txt --version A --out runs/my_lm
    numrnn charlm-sample --checkpoint runs/my_lm --chars 300 --temperature 0.8
"""
import argparse
import math
import numbers
import os
import shlex
import sys
import time

import numpy as np

from ..training import checkpoint
from .._checks import check_int
from .._io import atomic_write_text
from ..nn.losses import log_softmax, softmax_cross_entropy
from ..training.model import SequenceModel
from ..training.optim import clip_by_global_norm, make_optimizer
from ..training.tbptt import check_window, truncated_steps
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
    rng = np.random.default_rng(seed)
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
          **layer_kwargs):
    """Train a character LM on ``text`` with truncated BPTT; evaluate validation bpc every epoch.

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
        Save model, optimiser and vocabulary after each epoch (``.npz`` + ``.json``, atomically).
    log : callable(str), optional
        Receives one line per epoch (e.g. ``print``).

    Returns
    -------
    model : SequenceModel, with the last good parameters
    vocab : Vocab
    history : dict
        "train_loss" mean cross-entropy (nats) of each update; "valid_bpc" per epoch;
        "unigram_bpc" the baseline; "updates" applied; "diverged_at" the update that could not be
        made because a loss, gradient or parameter was not finite (None if none), and then
        "kept_after_updates": the model holds the parameters after that many updates, the last
        whose loss was finite; "seconds".
    """
    k1, k2 = check_window(k1, k2)
    epochs = check_int("epochs", epochs, 1)
    started = time.perf_counter()
    vocab = Vocab.from_text(text)
    train_ids, valid_ids = split(vocab.encode(text), valid_fraction)
    x, y = inputs_and_targets(batchify(train_ids, batch_size))
    valid = batchify(valid_ids, max(1, min(batch_size, len(valid_ids) // 64)))
    model = build_model(len(vocab), version, cell, hidden_size, embed_size, seed, dtype,
                        **layer_kwargs)
    opt = make_optimizer(optimizer, lr=lr)
    history = {"train_loss": [], "valid_bpc": [], "updates": 0, "diverged_at": None,
               "unigram_bpc": unigram_bits(train_ids, valid_ids, len(vocab))}
    last_good = {}
    for epoch in range(1, epochs + 1):
        if not _train_epoch(model, opt, x, y, k1, k2, clip, reset_every, max_updates, history,
                            last_good):
            break
        history["valid_bpc"].append(bits_per_char(model, valid, reset_every=reset_every))
        if log:
            log(f"epoch {epoch}: updates {history['updates']}, train {_mean_bpc(history):.3f} bpc, "
                f"valid {history['valid_bpc'][-1]:.3f} bpc (unigram {history['unigram_bpc']:.3f})")
        if checkpoint_path:
            save_checkpoint(checkpoint_path, model, vocab, opt, {"history": history, "epoch": epoch})
        if max_updates is not None and history["updates"] >= max_updates:
            break
    if history["diverged_at"] is not None and log:
        log(f"stopped at update {history['diverged_at']}: a non-finite loss, gradient or parameter; "
            f"kept the last parameters with a finite loss, those after "
            f"{history['kept_after_updates']} updates")
    if history["diverged_at"] is not None and not history["valid_bpc"]:
        history["valid_bpc"].append(bits_per_char(model, valid, reset_every=reset_every))
    history["seconds"] = time.perf_counter() - started
    return model, vocab, history


def _train_epoch(model, opt, x, y, k1, k2, clip, reset_every, max_updates, history, last_good):
    """One pass of BPTT(k2; k1) over the streams. False if training must stop (divergence)."""
    for xs, ys in _segments(x, y, reset_every):
        for _, loss, grads, _ in truncated_steps(model, xs, ys, k1, k2):
            if not _update(model, opt, loss, grads, clip, history, last_good):
                return False
            if max_updates is not None and history["updates"] >= max_updates:
                return True
    return True


def _update(model, opt, loss, grads, clip, history, last_good):
    """Clip and apply one update, or stop on a non-finite loss, gradient or result.

    ``last_good`` holds the parameters whose loss was the last finite one (and after how many
    updates); on stopping the model gets them back.
    """
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
    if not (math.isfinite(loss) and math.isfinite(norm)):
        return _stop(model, history, last_good)
    last_good.update(params={k: v.copy() for k, v in model.params.items()}, after=history["updates"])
    if clip is not None:
        grads, _ = clip_by_global_norm(grads, clip)
    opt.step(model.params, grads)
    if not all(np.all(np.isfinite(v)) for v in model.params.values()):
        return _stop(model, history, last_good)
    history["updates"] += 1
    history["train_loss"].append(float(loss))
    return True


def _stop(model, history, last_good):
    history["diverged_at"] = history["updates"] + 1
    if last_good:
        model.set_params(last_good["params"])
    history["kept_after_updates"] = last_good.get("after", 0)
    return False


def _mean_bpc(history, last=50):
    return float(np.mean(history["train_loss"][-last:])) / LN2 if history["train_loss"] else float("nan")


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, model, vocab, optimizer=None, extra=None):
    """Save model, optimiser and vocabulary with :func:`numrnn.training.checkpoint.save_checkpoint`.

    Writes ``path.npz`` (arrays) and ``path.json`` (config, and in ``meta``: {"kind":
    "numrnn.charlm", "vocab": the characters in id order, "extra": e.g. the training history}).
    """
    meta = {"kind": "numrnn.charlm", "vocab": vocab.to_list(), "extra": extra or {}}
    return checkpoint.save_checkpoint(path, model, optimizer, meta=meta)


def load_checkpoint(path):
    """(model, vocab, extra) from :func:`save_checkpoint`.

    Raises :class:`numrnn.training.checkpoint.CheckpointError` (a ValueError) naming the file if it is
    missing, corrupt, or a numrnn checkpoint of another kind of model.
    """
    ck = checkpoint.load_checkpoint(path)
    meta = ck.meta or {}
    if meta.get("kind") != "numrnn.charlm" or "vocab" not in meta:
        raise checkpoint.CheckpointError(f"checkpoint {os.fspath(path)!r} is not a numrnn char-LM "
                                         f"checkpoint (it has no vocabulary)")
    return ck.model, Vocab(meta["vocab"]), meta.get("extra", {})


# ---------------------------------------------------------------------------- experiment
def compare_versions(versions=("A", "B", "C", "D"), seeds=(0, 1, 2), text=None, workers=1,
                     **train_kwargs):
    """Train one model per (version, seed) on the same text; return one row per run.

    Runs in ``workers`` processes, each limited to one BLAS thread. Every row: version, seed,
    valid_bpc (last epoch), best_valid_bpc, curve (valid bpc per epoch), train_bpc (mean of the
    last 50 updates' losses), unigram_bpc, updates, diverged_at, seconds.
    """
    text = generate_text() if text is None else text
    jobs = [(v, s, text, train_kwargs) for v in versions for s in seeds]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(_run_one, jobs))
    return [_run_one(job) for job in jobs]


def _run_one(job):
    from threadpoolctl import threadpool_limits
    version, seed, text, kwargs = job
    with threadpool_limits(1):
        _, _, h = train(text, version=version, seed=seed, **kwargs)
    return {"version": version, "seed": seed, "valid_bpc": h["valid_bpc"][-1],
            "best_valid_bpc": min(h["valid_bpc"]), "curve": h["valid_bpc"],
            "train_bpc": _mean_bpc(h), "unigram_bpc": h["unigram_bpc"], "updates": h["updates"],
            "diverged_at": h["diverged_at"], "seconds": h["seconds"]}


def results_markdown(rows, command, settings):
    """A results table (mean and each seed's last-epoch validation bpc per version) in markdown.

    A run that diverged shows the validation bpc of its last good parameters (nan if even those
    overflow in the forward) and the update at which it stopped.
    """
    lines = ["## Validation bits per character, versions compared", "",
             f"Command: `{command}`", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "",
             f"Unigram baseline (add-one character frequencies of the training part): "
             f"{rows[0]['unigram_bpc']:.3f} bpc", "",
             "| version | mean valid bpc | best seed | worst seed | per seed (last epoch) "
             "| mean train bpc (last 50 updates) | diverged | s/run |",
             "|---|---|---|---|---|---|---|---|"]
    for v in dict.fromkeys(r["version"] for r in rows):
        mine = [r for r in rows if r["version"] == v]
        bpc = np.array([r["valid_bpc"] for r in mine])
        seeds = ", ".join(f"{r['seed']}: {r['valid_bpc']:.3f}" +
                          ("" if r["diverged_at"] is None else f" (stopped at update {r['diverged_at']})")
                          for r in mine)
        div = sum(r["diverged_at"] is not None for r in mine)
        secs = np.mean([r["seconds"] for r in mine])
        train_bpc = np.mean([r.get("train_bpc", np.nan) for r in mine])
        lines.append(f"| {v} | {np.mean(bpc):.3f} | {np.min(bpc):.3f} | {np.max(bpc):.3f} | {seeds} | "
                     f"{train_bpc:.3f} | {div}/{len(mine)} | {secs:.0f} |")
    lines += ["", "Validation bpc after each epoch, mean over the seeds that ran every epoch:", ""]
    n_epochs = max(len(r["curve"]) for r in rows)
    for v in dict.fromkeys(r["version"] for r in rows):
        curves = [r["curve"] for r in rows if r["version"] == v and len(r["curve"]) == n_epochs]
        if curves:
            lines.append(f"- {v} ({len(curves)} seeds): " +
                         ", ".join(f"{c:.3f}" for c in np.mean(curves, axis=0)))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- command line
def _add_model_args(p):
    p.add_argument("--text", help="UTF-8 plain-text file to train on (default: the generated text)")
    p.add_argument("--generate-chars", type=int, default=100_000,
                   help="length of the generated default text (default 100000)")
    p.add_argument("--text-seed", type=int, default=0, help="seed of the generated text (default 0)")
    p.add_argument("--cell", choices=["rnn", "lstm"], default="rnn")
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--embed-size", type=int, default=16)
    p.add_argument("--init", choices=["normal", "orthogonal", "identity"], default="normal",
                   help="recurrent initialisation of the RNN (default normal)")
    p.add_argument("--scale", type=float, default=1.0, help="gain of the recurrent init (RNN)")
    p.add_argument("--activation", choices=["relu", "tanh"], default="relu",
                   help="activation of the RNN (default relu, as in the paper)")
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams B (default 32)")
    p.add_argument("--window", "--k1", dest="k1", type=int, default=50,
                   help="truncated BPTT: update every k1 steps (default 50)")
    p.add_argument("--k2", type=int, default=None,
                   help="backpropagate k2 >= k1 steps (default k2 = k1)")
    p.add_argument("--reset-every", type=int, default=None,
                   help="reset the carried state to zeros every R steps (default: never)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--max-updates", type=int, default=None)
    p.add_argument("--optimizer", choices=["sgd", "momentum", "rmsprop", "adam"], default="adam")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=1.0, help="clip gradients to this global norm")
    p.add_argument("--valid-fraction", type=float, default=0.1)


def add_parser(subparsers):
    """Add the subcommands charlm-train, charlm-sample and charlm-compare to an argparse parser."""
    p = subparsers.add_parser("charlm-train", help="train a character-level language model",
                              description="Train a character LM with truncated BPTT on a UTF-8 "
                                          "text file (default: a generated text).")
    _add_model_args(p)
    p.add_argument("--version", default="A",
                   help="paper version A, B, C, D or special (default A: with the state carried, "
                        "C and D do not learn a character LM, see results/charlm.md)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="checkpoints/charlm",
                   help="checkpoint path: writes PATH.npz and PATH.json (default checkpoints/charlm)")
    p.add_argument("--sample-chars", type=int, default=300,
                   help="print a sample of this many characters at the end (0: none)")
    p.set_defaults(func=_train_command)

    p = subparsers.add_parser("charlm-sample", help="generate text from a trained character LM")
    p.add_argument("--checkpoint", default="checkpoints/charlm",
                   help="as given to charlm-train --out (default checkpoints/charlm)")
    p.add_argument("--chars", type=int, default=500, help="characters to generate")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prime", default="", help="text to start from")
    p.set_defaults(func=_sample_command)

    p = subparsers.add_parser("charlm-compare", help="compare versions by validation bpc")
    _add_model_args(p)
    p.add_argument("--versions", nargs="+", default=["A", "B", "C", "D"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default="results/charlm.md")
    p.set_defaults(func=_compare_command)


def _corpus(args):
    return read_text(args.text) if args.text else generate_text(args.generate_chars, args.text_seed)


def _train_kwargs(args):
    kwargs = dict(cell=args.cell, hidden_size=args.hidden_size, embed_size=args.embed_size,
                  batch_size=args.batch_size, k1=args.k1, k2=args.k2, epochs=args.epochs,
                  max_updates=args.max_updates, optimizer=args.optimizer, lr=args.lr,
                  clip=args.clip, reset_every=args.reset_every,
                  valid_fraction=args.valid_fraction)
    if args.cell == "rnn":
        kwargs.update(init=args.init, scale=args.scale, activation=args.activation)
    return kwargs


def _train_command(args):
    model, vocab, history = train(_corpus(args), version=args.version, seed=args.seed,
                                  checkpoint_path=args.out, log=print, **_train_kwargs(args))
    print(f"saved {args.out}.npz/.json ({model.n_params()} parameters, {history['updates']} updates, "
          f"{history['seconds']:.0f} s)")
    if args.sample_chars:
        print(sample(model, vocab, args.sample_chars, temperature=0.8, seed=args.seed))
    return 1 if history["diverged_at"] is not None else 0


def _sample_command(args):
    model, vocab, _ = load_checkpoint(args.checkpoint)
    print(sample(model, vocab, args.chars, args.temperature, args.seed, args.prime or None))
    return 0


def _compare_command(args):
    kwargs = _train_kwargs(args)
    rows = compare_versions(args.versions, args.seeds, _corpus(args), args.workers, **kwargs)
    settings = dict(kwargs, text=args.text or f"generated({args.generate_chars}, seed={args.text_seed})",
                    seeds=args.seeds)
    prog = "python -m numrnn.experiments.charlm" if sys.argv[0].endswith("charlm.py") else "numrnn"
    command = " ".join([prog] + [shlex.quote(a) for a in sys.argv[1:]])
    report = results_markdown(rows, command, settings)
    atomic_write_text(args.out, report)
    print(report)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numrnn.experiments.charlm")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_model", "bits_per_char", "unigram_bits", "sample", "train", "save_checkpoint",
           "load_checkpoint", "compare_versions", "results_markdown", "add_parser", "main"]
