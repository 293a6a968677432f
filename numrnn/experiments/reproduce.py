"""The paper's synthetic experiment, with clipping, initialisation and readout as factors.

One *run* trains one model on one task and returns a JSON-able record. A *plan* is a list of run
specifications; ``numrnn reproduce`` runs four of them, each written as one table:

- ``tune`` (``results/tuning_lstm.md``): the LSTM's learning rate, on seed 100 (not a seed of the
  tables), the only setting tuned for this experiment (the RNN's come from ``results/tuning.md``).
- ``factorial`` (``results/reproduce.md``): versions A-D at T = 100 x gradient clipping (none, global
  norm 1, global norm 10) x readout initialisation (zeros, random) x recurrent init scale (0.25, the
  project's, and 1.0, the library default), 5 seeds per cell; beside them special at T = 500, the
  IRNN (A with identity initialisation, Le et al. 2015) and LSTM A-D, each with and without clipping.
- ``lengths`` (``results/reproduce_lengths.md``): C, D and special at T = 100, 200, 500, 1000, with
  and without clipping at 1, and special at T = 500 trained 3 times longer.
- ``tasks`` (``results/reproduce_tasks.md``): the standard long-dependency tasks, the adding problem
  (T = 100, 200, 400) and copy memory (delay 100, 200), for A-D, special, LSTM A-D, the IRNN and a
  tanh RNN, all clipped at 1.

Runs are independent, so a sweep is ``executor.submit(run_one, spec)`` for each spec: a process pool
by default (each worker limits BLAS to one thread, so two workers use two cores and no more), or
any other executor, e.g. ``dask.distributed.Client(...).get_executor()``.

Each seed s fixes the data (task seed s), the initial weights (model seed s) and the batch order
(trainer seed s), so rows with the same seed are compared on the same data: a paired comparison.

Two runs with the same training settings are the same run, whatever table they appear in: a
journal (one JSON line per finished run) is keyed by the settings alone, so a run shared by two
tables is trained once, an interrupted call continues (``resume``), and runs of earlier result files
can be taken over (``reuse``; the table says how many and from which command). A clipped run whose
unclipped twin never had a gradient norm above the clip is *the same run*, bit for bit (clipping
rescales by min(1, clip / norm) = 1); it is not trained again but marked "derived" (see
:func:`derive_clipped`).
"""
import dataclasses
import itertools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write_text, save_figure
from . import common
from .common import deprecated, environment_line

SUCCESS = 0.01   # first-element: a run succeeds when its normalised test MSE is below this
#: adding: a test sequence is "processed correctly" when ``|prediction - target| < 0.04`` on the target
#: scale of Hochreiter & Schmidhuber (1997, Sec. 5.4: target 0.5 + (x1 + x2) / 4), that is 0.16 on
#: our target x1 + x2; their criterion asks for every sequence right (2000 in a row), ours for all
#: 1000 test sequences.
ADDING_TOLERANCE = 0.16
#: copy: Arjovsky et al. (2016) give the baseline 10 log 8 / (T + 20) and no success line; ours: at
#: least 99 % of the recalled symbols right (chance: 1/8).
COPY_ACCURACY = 0.99

#: The full setting: the paper's sizes where it gives them (10000 sequences of length 100 of
#: 6-dim vectors, MSE, about 10 epochs, batches of about 100, an Adam-like optimiser).
#: Chosen by us (the paper does not say): recurrent init N(0, 0.25^2/H), a zero readout, Adam with
#: lr 3e-3 (results/tuning.md, seed 100), float64; H = 32 (LSTM H = 16, about the same parameter
#: count), the LSTM's lr 3e-2 (results/tuning_lstm.md, seed 100). The factors of the factorial are
#: ``clips`` x ``readouts`` x ``scales``.
FULL = dict(T=100, special_T=500, D=6, n_train=10000, n_test=1000, epochs=10, batch_size=100,
            hidden_size=32, lstm_hidden_size=16, optimizer="adam", lr=3e-3, lstm_lr=3e-2,
            init="normal", scale=0.25, readout_init="zeros", dtype="float64",
            clips=(None, 1.0, 10.0), readouts=("zeros", "normal"), scales=(0.25, 1.0),
            seeds=(0, 1, 2, 3, 4), lstm_seeds=(0, 1, 2, 3, 4),
            lengths=(100, 200, 500, 1000), length_clips=(None, 1.0), length_seeds=(0, 1, 2),
            long_epochs=30, task_clip=1.0, task_seeds=(0,),
            adding_T=(100, 200, 400), copy_T=(100, 200),
            nan_scales=(1.5, 2.0, 3.0), nan_clips=(None, 1.0), nan_float32_scales=(2.0, 3.0),
            matched_seeds=tuple(range(30)), matched_small_seeds=tuple(range(30)),
            matched_scales=(0.25, 1.0), matched_clip=1.0,
            alphas=(0.25, 0.5, 0.9), alpha_seeds=(0, 1, 2), alpha_clips=(None, 1.0),
            baseline_adding_T=(200, 400, 1000), baseline_copy_T=(100,), baseline_seeds=(0, 1, 2),
            baseline_tune_seed=100, baseline_tune_adding_T=200, baseline_tune_copy_T=100,
            lstm_tune_lrs=(3e-3, 1e-2, 3e-2, 1e-1), forget_biases=(1.0, 3.0, 5.0),
            irnn_tune_lrs=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3), irnn_tune_clips=(1.0, 10.0),
            baseline_skip_lstm_max_T=1000)

#: --quick: the same experiment, smaller, for the README's first command (about 30 s on 2 cores):
#: A-D with and without clipping (zero readout, scale 0.25), special, the IRNN, LSTM A-D.
QUICK = dict(FULL, T=50, special_T=200, n_train=4000, n_test=500, epochs=5, clips=(None, 1.0),
             readouts=("zeros",), scales=(0.25,), seeds=(0, 1), lstm_seeds=(0,),
             lengths=(50, 100), length_seeds=(0,), task_seeds=(0,), adding_T=(50,), copy_T=(20,),
             nan_scales=(2.0,), nan_float32_scales=(2.0,), matched_seeds=(0, 1, 2), matched_small_seeds=(0, 1, 2),
             matched_scales=(0.25,), alphas=(0.5,),
             alpha_seeds=(0,), baseline_adding_T=(50,), baseline_copy_T=(20,), baseline_seeds=(0,),
             baseline_tune_adding_T=50, baseline_tune_copy_T=20, lstm_tune_lrs=(1e-2, 3e-2),
             forget_biases=(1.0, 3.0), irnn_tune_lrs=(1e-4, 1e-3), irnn_tune_clips=(1.0,),
             baseline_skip_lstm_max_T=50)

VERSIONS = ("A", "B", "C", "D")
PARTS = ("tune", "factorial", "lengths", "tasks", "nan", "matched", "alpha", "baselines")
#: What ``numrnn reproduce`` runs without ``--parts``: the paper's experiment. The other parts answer
#: issue 24's questions (A/B above the exploding point, D against a parameter-matched C, the scaled
#: skip, the skip models against tuned baselines on the standard tasks) and run when named.
DEFAULT_PARTS = ("tune", "factorial", "lengths", "tasks")
TUNE_LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs; ``row`` names the model in its table, ``group`` the table."""
    row: str
    version: str
    T: int
    seed: int
    cell: str = "rnn"
    D: int = 6
    n_train: int = 10000
    n_test: int = 1000
    epochs: int = 10
    batch_size: int = 100
    hidden_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    init: str = "normal"
    scale: float = 0.25
    clip: float = None
    activation: str = "relu"
    readout_init: str = "normal"
    dtype: str = "float64"
    group: str = "main"
    task: str = "first-element"
    skip_scale: float = 1.0
    learn_skip_scale: bool = False  # the RNN's alpha trained from skip_scale (ignored by the LSTM)
    forget_bias: float = 1.0        # the LSTM's initial forget-gate bias (ignored by the RNN)


_LABELS = ("row", "group")      # name a run in a table; not part of what is trained


def run_key(spec, seed=True):
    """The training settings of a spec (RunSpec or dict) as sorted JSON: equal keys, equal runs.

    ``row`` and ``group`` are left out (they only label the run), fields missing from an older
    record take their defaults, and ``seed=False`` also leaves out the seed (a table cell's key).
    """
    spec = dataclasses.asdict(spec) if isinstance(spec, RunSpec) else dict(spec)
    full = {f.name: f.default for f in dataclasses.fields(RunSpec)
            if f.default is not dataclasses.MISSING}
    full.update(spec)
    drop = set(_LABELS) | (set() if seed else {"seed"})
    return json.dumps({k: v for k, v in full.items() if k not in drop}, sort_keys=True)


def _spec(settings, row, version, T, seed, group, **over):
    keys = {f.name for f in dataclasses.fields(RunSpec)}
    base = {k: v for k, v in settings.items() if k in keys - {"row", "version", "T", "seed", "group"}}
    base.update(clip=None)
    base.update(over)
    return RunSpec(row=row, version=version, T=T, seed=seed, group=group, **base)


def _lstm(settings, version, T, seed, group, **over):
    kw = dict(cell="lstm", hidden_size=settings["lstm_hidden_size"], lr=settings["lstm_lr"], scale=1.0)
    kw.update(over)
    return _spec(settings, f"LSTM {version}", version, T, seed, group, **kw)


def factorial_plan(settings=FULL, lstm=True):
    """A-D at T x clips x readouts x scales over ``seeds``; special (special_T), IRNN, LSTM A-D x clips.

    Seed-major: an interrupted sweep holds whole seeds. special gets the clips of the length sweep.
    """
    T, specs = settings["T"], []
    for seed in settings["seeds"]:
        for scale in settings["scales"]:
            for readout in settings["readouts"]:
                for clip in settings["clips"]:
                    specs += [_spec(settings, v, v, T, seed, "factorial", clip=clip,
                                    readout_init=readout, scale=scale) for v in VERSIONS]
        for clip in settings["clips"]:
            specs.append(_spec(settings, "IRNN", "A", T, seed, "factorial", init="identity",
                               scale=1.0, clip=clip))
            if lstm and seed in settings["lstm_seeds"]:
                specs += [_lstm(settings, v, T, seed, "factorial", clip=clip) for v in VERSIONS]
        for clip in settings["length_clips"]:
            specs.append(_spec(settings, "special", "special", settings["special_T"], seed,
                               "factorial", clip=clip))
    return specs


def length_plan(settings=FULL, versions=("C", "D", "special")):
    """C, D, special at each T x length_clips (length_seeds); special at special_T on every seed,
    and special at special_T, clipped, trained ``long_epochs`` epochs (length_seeds).

    T-major (short sequences first): an interrupted sweep holds every seed of the shorter T."""
    specs = [_spec(settings, v, v, T, seed, "lengths", clip=clip)
             for T in sorted(settings["lengths"]) for seed in settings["length_seeds"]
             for clip in settings["length_clips"] for v in versions]
    extra = [s for s in settings["seeds"] if s not in settings["length_seeds"]]
    specs += [_spec(settings, "special", "special", settings["special_T"], seed, "lengths", clip=clip)
              for seed in extra for clip in settings["length_clips"]]
    clip = max(c for c in settings["length_clips"] if c is not None)
    specs += [_spec(settings, f"special, {settings['long_epochs']} epochs", "special",
                    settings["special_T"], seed, "lengths", clip=clip, epochs=settings["long_epochs"])
              for seed in settings["length_seeds"]]
    return specs


def task_plan(settings=FULL, lstm=True):
    """Adding (adding_T) and copy (copy_T) for A-D, special, LSTM A-D, IRNN, tanh RNN; all clipped.

    Seed-major, and within a seed the shortest sequences first."""
    clip, specs = settings["task_clip"], []
    settings_by_length = sorted([("adding", T) for T in settings["adding_T"]] +
                                [("copy", T) for T in settings["copy_T"]], key=lambda tT: tT[1])
    for seed in settings["task_seeds"]:
        for task, T in settings_by_length:              # the cheapest (shortest) first
            kw = dict(task=task, clip=clip)
            specs += [_spec(settings, v, v, T, seed, "tasks", **kw) for v in VERSIONS + ("special",)]
            specs.append(_spec(settings, "IRNN", "A", T, seed, "tasks", init="identity", scale=1.0,
                               **kw))
            specs.append(_spec(settings, "tanh RNN", "A", T, seed, "tasks", activation="tanh",
                               scale=1.0, **kw))
            if lstm:
                specs += [_lstm(settings, v, T, seed, "tasks", **kw) for v in VERSIONS]
    return specs


def nan_plan(settings=FULL):
    """A and B above the exploding point: init scales ``nan_scales`` x ``nan_clips`` (zero readout),
    over ``seeds``. The paper says A and B fail "even with NaN"; at scales <= 1 none diverged.

    The same in float32, unclipped, at ``nan_float32_scales``: float64 holds numbers up to 1.8e308,
    float32 only up to 3.4e38, so a loss that float64 still holds can overflow float32.

    Scale-major (the smallest scale first)."""
    specs = [_spec(settings, v, v, settings["T"], seed, "nan", clip=clip, scale=scale)
             for scale in settings["nan_scales"] for seed in settings["seeds"]
             for clip in settings["nan_clips"] for v in ("A", "B")]
    return specs + [_spec(settings, f"{v} (float32)", v, settings["T"], seed, "nan", scale=scale,
                          dtype="float32")
                    for scale in settings["nan_float32_scales"] for seed in settings["seeds"]
                    for v in ("A", "B")]


def matching_hidden_size(n_params, version, settings=FULL, cell="rnn"):
    """The hidden size H at which ``version`` has the number of parameters closest to ``n_params``
    (on the first-element task: input D, one output); ties go to the smaller H."""
    from ..training.model import SequenceModel

    def count(H):
        return SequenceModel(settings["D"], H, 1, cell=cell, version=version, seed=0).n_params()
    H = 1
    while count(H + 1) <= n_params:
        H += 1
    return H if n_params - count(H) <= count(H + 1) - n_params else H + 1


def matched_plan(settings=FULL):
    """D against a C with as many parameters (H from :func:`matching_hidden_size`) over
    ``matched_seeds``, and the C of D's hidden size over ``matched_small_seeds``, clipped at
    ``matched_clip``, zero readout, at each of ``matched_scales``: a paired comparison by seed
    (same data, same batch order).

    Scale-major; within a scale the matched pair (C of D's size, D) before the smaller C."""
    H = settings["hidden_size"]
    d_params = _count_params(settings, "D", H)
    H_c = matching_hidden_size(d_params, "C", settings)
    specs = []
    for scale in settings["matched_scales"]:
        for rows, seeds in (((("C", H_c, f"C (H = {H_c})"), ("D", H, "D")), settings["matched_seeds"]),
                            ((("C", H, "C"),), settings["matched_small_seeds"])):
            specs += [_spec(settings, row, v, settings["T"], seed, "matched", clip=settings["matched_clip"],
                            scale=scale, hidden_size=h)
                      for seed in seeds for v, h, row in rows]
    return specs


def _count_params(settings, version, H):
    from ..training.model import SequenceModel
    return SequenceModel(settings["D"], H, 1, version=version, seed=0).n_params()


def alpha_plan(settings=FULL):
    r"""C and D with the scaled skip :math:`h(t) = \phi(a(t)) + \alpha\, h(t-S)` at each alpha of
    ``alphas`` and 1 (the paper's skip) x ``alpha_clips``, over ``alpha_seeds`` (zero readout, the
    init scale of the settings). alpha = 0 is A (for C) and B (for D), rows of the factorial.
    Last, "C, alpha learned" and "D, alpha learned": alpha a trained parameter starting at 1."""
    fixed = [_spec(settings, v if alpha == 1 else f"{v}, alpha {alpha:g}", v, settings["T"], seed,
                   "alpha", clip=clip, skip_scale=alpha)
             for seed in settings["alpha_seeds"] for alpha in tuple(settings["alphas"]) + (1.0,)
             for clip in settings["alpha_clips"] for v in ("C", "D")]
    return fixed + [_spec(settings, f"{v}, alpha learned", v, settings["T"], seed, "alpha", clip=clip,
                          learn_skip_scale=True)
                    for seed in settings["alpha_seeds"] for clip in settings["alpha_clips"]
                    for v in ("C", "D")]


def _baseline_cells(settings):
    """The (task, T) cells of the baselines part, shortest sequences first."""
    return sorted([("adding", T) for T in settings["baseline_adding_T"]] +
                  [("copy", T) for T in settings["baseline_copy_T"]], key=lambda tT: (tT[1], tT[0]))


def baseline_tune_plan(settings=FULL):
    """The baselines' tuning runs, on seed ``baseline_tune_seed`` (its data are drawn apart from
    every seed of the tables, so its held-out set is a validation set): the plain LSTM A at each
    learning rate of ``lstm_tune_lrs`` x forget-gate bias of ``forget_biases``, and the IRNN (A with
    identity initialisation) at each of ``irnn_tune_lrs`` x ``irnn_tune_clips``, on the adding
    problem at ``baseline_tune_adding_T`` and copy memory at ``baseline_tune_copy_T``."""
    seed, specs = settings["baseline_tune_seed"], []
    for task, T in (("adding", settings["baseline_tune_adding_T"]),
                    ("copy", settings["baseline_tune_copy_T"])):
        specs += [dataclasses.replace(
            _lstm(settings, "A", T, seed, "baselines_tune", task=task, clip=settings["task_clip"],
                  lr=lr, forget_bias=bias), row=f"LSTM A, lr {lr:g}, forget bias {bias:g}")
            for lr in settings["lstm_tune_lrs"] for bias in settings["forget_biases"]]
        specs += [_spec(settings, f"IRNN, lr {lr:g}, clip {clip:g}", "A", T, seed, "baselines_tune",
                        task=task, init="identity", scale=1.0, lr=lr, clip=clip)
                  for lr in settings["irnn_tune_lrs"] for clip in settings["irnn_tune_clips"]]
    return specs


def choose_tuned(results):
    """The best tuning run of each family (LSTM A, IRNN) and task: the lowest validation loss
    (normalised) among the runs that did not diverge; ties go to the first in plan order.

    Returns {(family, task): record}."""
    best = {}
    for r in results:
        spec = r["spec"]
        family = "LSTM A" if spec["cell"] == "lstm" else "IRNN"
        loss = float(r["normalised_mse"])
        if r["diverged_step"] is not None or not np.isfinite(loss):
            continue
        key = (family, spec["task"])
        if key not in best or loss < float(best[key]["normalised_mse"]):
            best[key] = r
    return best


def tuned_label(record):
    """The row name of a tuned baseline: its family and the chosen settings."""
    spec = record["spec"]
    if spec["cell"] == "lstm":
        return f"LSTM A, tuned (lr {spec['lr']:g}, forget bias {spec['forget_bias']:g})"
    return f"IRNN, tuned (lr {spec['lr']:g}, clip {spec['clip']:g})"


def baseline_plan(settings, tuned):
    """The skip models against the tuned baselines on the standard tasks: RNN C and D and LSTM C and
    D with the settings of the other tables (the RNNs' from results/tuning.md, the LSTMs' learning
    rate from results/tuning_lstm.md), and the plain LSTM A and the IRNN with the settings
    :func:`choose_tuned` picked for the task, over ``baseline_seeds``, clipped at ``task_clip``
    (the IRNN at its tuned clip), at each cell of the adding problem (``baseline_adding_T``) and
    copy memory (``baseline_copy_T``). A family with no finished tuning run for a task is left out;
    LSTM C and D run only up to T = ``baseline_skip_lstm_max_T`` (every cell in the full settings;
    at T = 1000 an LSTM run costs about 5 CPU-minutes).

    Seed-major; within a seed the shortest sequences first."""
    specs = []
    for seed in settings["baseline_seeds"]:
        for task, T in _baseline_cells(settings):
            kw = dict(task=task, clip=settings["task_clip"])
            specs += [_spec(settings, v, v, T, seed, "baselines", **kw) for v in ("C", "D")]
            if T <= settings["baseline_skip_lstm_max_T"]:
                specs += [_lstm(settings, v, T, seed, "baselines", **kw) for v in ("C", "D")]
            for family in ("LSTM A", "IRNN"):
                record = tuned.get((family, task))
                if record is None:
                    continue
                chosen = {k: record["spec"][k] for k in ("cell", "hidden_size", "lr", "init",
                                                         "scale", "clip", "forget_bias", "activation")}
                specs.append(_spec(settings, tuned_label(record), "A", T, seed, "baselines",
                                   task=task, **chosen))
    return specs


def _paired_by_seed(a, b):
    """The paired comparison of two rows' runs ({seed: record}) on their common seeds, on normalised
    test MSE (:func:`numrnn.experiments.stats.compare_paired`). Pairs with a non-finite or zero MSE
    are left out. Returns (seeds, number left out, comparison or None when fewer than 2 pairs)."""
    from . import stats

    seeds = sorted(set(a) & set(b))
    pairs = [(float(a[s]["normalised_mse"]), float(b[s]["normalised_mse"])) for s in seeds]
    finite = [(x, y) for x, y in pairs if np.isfinite(x) and np.isfinite(y) and x > 0 and y > 0]
    if len(finite) < 2:
        return seeds, len(pairs) - len(finite), None
    return seeds, len(pairs) - len(finite), stats.compare_paired([x for x, _ in finite],
                                                                 [y for _, y in finite])


def baseline_notes(tuning, results, settings):
    """What the tuning chose, and each task cell's rows against each other, as markdown: successes,
    the median normalised loss, and for each skip row the paired comparison (by seed) with each tuned
    baseline (:func:`numrnn.experiments.stats.compare_paired`)."""

    chosen = choose_tuned(tuning)
    n_lstm = len(settings["lstm_tune_lrs"]) * len(settings["forget_biases"])
    n_irnn = len(settings["irnn_tune_lrs"]) * len(settings["irnn_tune_clips"])
    n_seeds = len(settings["baseline_seeds"])
    lines = ["### What the tuning chose", "",
             f"On seed {settings['baseline_tune_seed']} (data drawn apart from every seed of this "
             "table: its held-out sequences are the validation set), the lowest normalised "
             f"validation loss of {n_lstm} settings for the plain LSTM A (learning rate "
             f"{_setting(settings['lstm_tune_lrs'])} x forget-gate bias {_setting(settings['forget_biases'])}) and "
             f"{n_irnn} for the IRNN (learning rate {_setting(settings['irnn_tune_lrs'])} x clip "
             f"{_setting(settings['irnn_tune_clips'])}), on the adding problem at T = "
             f"{settings['baseline_tune_adding_T']} (used for every adding T) and copy memory at "
             f"T = {settings['baseline_tune_copy_T']}. RNN C and D and LSTM C and D were not tuned "
             "again for these tasks: they keep the settings of the first-element task (16 tuning "
             "runs behind the RNNs', 5 learning rates behind each skip LSTM's).", "",
             "| baseline | task | chosen | validation normalised loss | accuracy |", "|---|---|---|---:|---:|"]
    for (family, task), r in sorted(chosen.items()):
        acc = "–" if r.get("accuracy") is None else f"{float(r['accuracy']):.3f}"
        lines.append(f"| {family} | {task} | {tuned_label(r).split('tuned ')[1]} "
                     f"| {_g(float(r['normalised_mse']))} | {acc} |")
    lines += ["", "### Each task cell: the skip models against the tuned baselines", "",
              "Ratio = geometric mean over seeds of the first row's normalised test loss over the "
              "second's (below 1: the first is better), 95 % bootstrap interval; sign-flip p "
              f"two-sided (with {n_seeds} pairs the smallest possible p is {2 / 2 ** n_seeds:.2g}"
              + (", so no test here can reach 0.05: the success counts carry the verdict)."
                 if 2 / 2 ** n_seeds > 0.05 else ").") + " Pairs with a non-finite loss are left out.", "",
              "| task | T | first vs second | successes (first / second) | first lower | ratio [95 % interval] | sign-flip p |",
              "|---|---:|---|---|---:|---|---:|"]
    for task, T in _baseline_cells(settings):
        cell = [r for r in results if r["spec"]["task"] == task and r["spec"]["T"] == T]
        by_row = {}
        for r in cell:
            by_row.setdefault(r["spec"]["row"], {})[r["spec"]["seed"]] = r
        baselines = [row for row in by_row if "tuned" in row]
        for first in ("C", "D", "LSTM C", "LSTM D"):
            for second in baselines:
                a, b = by_row.get(first, {}), by_row[second]
                seeds, _, c = _paired_by_seed(a, b)
                if c is None:
                    continue
                lines.append(
                    f"| {task} | {T} | {first} vs {second} | {sum(a[s]['success'] for s in seeds)}/"
                    f"{len(seeds)} / {sum(b[s]['success'] for s in seeds)}/{len(seeds)} | {c['a_lower']} "
                    f"| {c['ratio']:.3g} [{c['ratio_ci'][0]:.3g}, {c['ratio_ci'][1]:.3g}] "
                    f"| {c['sign_flip_p']:.2g} |")
    return "\n".join(lines) + "\n"


def tune_plan(settings=FULL, seed=100, lrs=TUNE_LRS):
    """LSTM C and D at T with clipping at 1 and each learning rate of ``lrs`` (seed 100)."""
    return [dataclasses.replace(_lstm(settings, v, settings["T"], seed, "tune", lr=lr, clip=1.0),
                                row=f"LSTM {v}, lr {lr:g}") for v in ("C", "D") for lr in lrs]


#: The tuning runs behind FULL's RNN settings (results/tuning.md, made by an earlier version of
#: this module with ``--tune``): seed 100, T = 100, H = 64, few epochs.
#: (version, scale, lr, epochs, activation, readout_init).
TUNING = [("D", 0.25, 1e-2, 3, "relu", "normal"), ("D", 0.1, 3e-3, 3, "relu", "normal"),
          ("D", 0.25, 3e-3, 3, "relu", "normal"), ("C", 0.1, 3e-3, 3, "relu", "normal"),
          ("A", 0.25, 3e-3, 3, "relu", "normal"), ("D", 0.1, 1e-2, 3, "relu", "normal"),
          ("D", 0.25, 1e-3, 10, "relu", "normal"), ("D", 0.25, 3e-3, 10, "relu", "normal"),
          ("D", 1.0, 1e-3, 3, "tanh", "normal"), ("C", 1.0, 1e-3, 3, "tanh", "normal"),
          ("A", 1.0, 1e-3, 3, "tanh", "normal"), ("C", 0.25, 3e-3, 10, "relu", "normal"),
          ("D", 0.25, 1e-3, 3, "relu", "zeros"), ("C", 0.25, 1e-3, 3, "relu", "zeros"),
          ("D", 0.25, 3e-3, 3, "relu", "zeros"), ("A", 0.25, 1e-3, 3, "relu", "zeros")]


def tuning_plan(settings=FULL, seed=100, hidden_size=64):
    """The runs of :data:`TUNING` (results/tuning.md), each its own row, at H = 64 where the tuning
    was done: ``run_sweep(tuning_plan())`` trains them again."""
    return [_spec(settings, f"{v} {act} scale={sc:g} lr={lr:g} readout={ro} epochs={ep}", v,
                  settings["T"], seed, "tuning", scale=sc, lr=lr, epochs=ep, activation=act,
                  readout_init=ro, hidden_size=hidden_size) for v, sc, lr, ep, act, ro in TUNING]


# ---------------------------------------------------------------------------- one run
def _make_task(spec):
    from ..data.tasks import adding, copy_memory, first_element

    kw = dict(T=spec.T, n_train=spec.n_train, n_test=spec.n_test, seed=spec.seed, dtype=spec.dtype)
    if spec.task == "first-element":
        return first_element(D=spec.D, **kw)
    if spec.task == "adding":
        return adding(**kw)
    if spec.task == "copy":
        return copy_memory(**kw)
    raise ValueError(f"unknown task {spec.task!r}; choose from first-element, adding, copy")


def accuracy(task, model):
    """The task's own accuracy on its test set, and that of the trivial predictor; (None, None)
    for first-element.

    adding: fraction of test sequences with ``|prediction - target|`` < :data:`ADDING_TOLERANCE`
    (the trivial predictor: the training target mean). copy: fraction of the recalled symbols (the
    last 10 steps) predicted right (the trivial predictor: a uniform guess, 1/8).
    """
    if task.name == "adding":
        pred = model.predict(task.x_test)
        trivial = np.abs(task.y_train.mean() - task.y_test) < ADDING_TOLERANCE
        return (float(np.mean(np.abs(pred - task.y_test) < ADDING_TOLERANCE)), float(np.mean(trivial)))
    if task.name == "copy":
        from ..data.tasks import N_RECALL, N_SYMBOLS
        right = 0
        for start in range(0, len(task.x_test), 250):
            logits = model.predict(task.x_test[start:start + 250])[:, -N_RECALL:]
            right += np.sum(logits.argmax(-1) == task.y_test[start:start + 250, -N_RECALL:])
        return float(right / (len(task.x_test) * N_RECALL)), 1 / N_SYMBOLS
    return None, None


def is_success(task_name, normalised, acc, diverged):
    """The success criterion of each task (see :data:`SUCCESS`, :data:`ADDING_TOLERANCE`,
    :data:`COPY_ACCURACY`); a diverged run never succeeds."""
    if diverged or not np.isfinite(normalised):
        return False
    if task_name == "adding":
        return acc == 1.0
    if task_name == "copy":
        return acc >= COPY_ACCURACY
    return normalised < SUCCESS


def run_one(spec):
    """Train one model as ``spec`` says; return a JSON-able record of what happened.

    BLAS is limited to one thread inside, so parallel workers do not oversubscribe the cores.
    """
    from threadpoolctl import threadpool_limits

    from ..training.model import SequenceModel
    from ..training.optim import make_optimizer
    from ..training.trainer import Trainer

    if isinstance(spec, dict):
        spec = RunSpec(**spec)
    with threadpool_limits(1):
        task = _make_task(spec)
        layer_kw = dict(init=spec.init, scale=spec.scale)
        if spec.cell == "rnn":
            layer_kw["activation"] = spec.activation
            if spec.skip_scale != 1.0:
                layer_kw["skip_scale"] = spec.skip_scale
            if spec.learn_skip_scale:
                layer_kw["learn_skip_scale"] = True
        elif spec.cell == "lstm":
            layer_kw["forget_bias"] = spec.forget_bias
        model = SequenceModel(task.input_size, spec.hidden_size, task.output_size, cell=spec.cell,
                              version=spec.version, readout=task.readout, loss=task.loss,
                              readout_init=spec.readout_init, seed=spec.seed, dtype=spec.dtype,
                              **layer_kw)
        trainer = Trainer(model, make_optimizer(spec.optimizer, lr=spec.lr),
                          batch_size=spec.batch_size, clip=spec.clip, seed=spec.seed, progress=False)
        started, cpu = time.perf_counter(), time.process_time()
        history = trainer.fit(task.x_train, task.y_train, epochs=spec.epochs,
                              x_test=task.x_test, y_test=task.y_test)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        with np.errstate(over="ignore", invalid="ignore"):
            test_loss = model.evaluate(task.x_test, task.y_test)
            acc, acc_trivial = accuracy(task, model)
    diverged = history["diverged"]
    normalised = task.normalised(test_loss)
    return {
        "spec": dataclasses.asdict(spec),
        "baseline_mse": task.baseline,
        "test_mse": _num(test_loss),
        "normalised_mse": _num(normalised),
        "accuracy": None if acc is None else _num(acc),
        "accuracy_trivial": None if acc_trivial is None else _num(acc_trivial),
        "success": is_success(task.name, normalised, acc, diverged),
        "diverged_step": None if not diverged else diverged["step"],
        "diverged_reason": None if not diverged else diverged["reason"],
        "n_params": model.n_params(),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "seconds_per_epoch": wall / max(1, len(history["epoch_time"]) or 1),
        "steps": trainer.step,
        "loss": [_num(v) for v in history["loss"]],
        "test": [[s, _num(v)] for s, v in history["test"]],
        "grad_norm": [_num(v) for v in history["grad_norm"]],
        **({"skip_scale_final": _num(model.layer.alpha)} if "learn_skip_scale" in layer_kw else {}),
    }


def _num(v):
    """A float for JSON: 6 significant digits, nan/inf kept as strings JSON can hold."""
    v = float(v)
    return float(f"{v:.6g}") if np.isfinite(v) else str(v)


def derive_clipped(spec, twin):
    """The record of ``spec`` (clipped) from its unclipped ``twin``'s record, or None.

    If no gradient norm of the twin exceeded ``spec.clip``, clipping scaled every step by
    min(1, clip / norm) = 1: the clipped run takes the same steps, bit for bit, and its record is
    the twin's (marked ``"derived_from_unclipped": True``, with the clip's settings). The stored
    norms are rounded to 6 digits, so a norm within that rounding of the clip is not trusted.
    """
    norms = [float(v) for v in twin["grad_norm"]]
    if spec.clip is None or not norms or not np.all(np.isfinite(norms)):
        return None
    if max(norms) * (1 + 1e-5) > spec.clip:
        return None
    return dict(twin, spec=dataclasses.asdict(spec), derived_from_unclipped=True)


# ---------------------------------------------------------------------------- sweeps
def run_sweep(specs, executor=None, workers=None, progress=True, journal=None, reuse=None):
    """Run every spec through an executor; return the records in the order of ``specs``.

    Parameters
    ----------
    specs : list of RunSpec
        Submitted in this order (the plans put one seed's rows together, so an interrupted sweep
        still holds whole seeds). Specs with equal :func:`run_key` are trained once.
    executor : concurrent.futures.Executor, optional
        Anything with ``submit`` returning futures (a process pool, a Dask client's executor ...).
        By default a process pool of ``workers`` processes, shut down afterwards.
    workers : int, default os.cpu_count()
    progress : bool, tqdm bar over finished runs
    journal : path, optional
        A JSON-lines file: every finished record is appended as soon as it arrives, and records
        already there for the same settings are reused instead of trained again, so an interrupted
        sweep continues where it stopped.
    reuse : dict run_key -> record, optional
        Finished runs from elsewhere (earlier result files), used like the journal's.
    """
    from tqdm.auto import tqdm

    done = dict(reuse or {})
    done.update(_read_journal(journal))
    results, pending = [None] * len(specs), {}
    for i, spec in enumerate(specs):
        key = run_key(spec)
        if key in done:
            results[i] = dict(done[key], spec=dataclasses.asdict(spec))
        else:
            pending.setdefault(key, []).append(i)
    if not pending:
        return results
    _end_torn_line(journal)
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count())
    try:
        futures = {executor.submit(run_one, dataclasses.asdict(specs[idx[0]])): key
                   for key, idx in pending.items()}
        for future in tqdm(as_completed(futures), total=len(futures), disable=not progress,
                           desc="runs"):
            record = future.result()
            for i in pending[futures[future]]:
                results[i] = dict(record, spec=dataclasses.asdict(specs[i]))
            if journal:
                with open(journal, "a") as f:     # one line per run, appended whole
                    f.write(json.dumps(record) + "\n")
    finally:
        if own:
            executor.shutdown()
    return results


def run_plan(specs, **sweep):
    """:func:`run_sweep` in two phases: the unclipped runs, then the clipped runs that
    :func:`derive_clipped` cannot take from an unclipped twin of the same plan."""
    first = [s for s in specs if s.clip is None]
    first_runs = {run_key(s): r for s, r in zip(first, run_sweep(first, **sweep))}
    results, todo = [None] * len(specs), []
    for i, s in enumerate(specs):
        if s.clip is None:
            results[i] = dict(first_runs[run_key(s)], spec=dataclasses.asdict(s))
            continue
        twin = first_runs.get(run_key(dataclasses.replace(s, clip=None)))
        derived = None if twin is None else derive_clipped(s, twin)
        if derived is None:
            todo.append(i)
        else:
            results[i] = derived
    for i, r in zip(todo, run_sweep([specs[i] for i in todo], **sweep)):
        results[i] = r
    return results


def priority(part, settings):
    """The order in which a part's runs are trained (a key: lower first), so that an interrupted
    call holds whole cells (every seed) of the most telling settings.

    factorial: the project's setting (zero readout, scale 0.25: A-D, special, the IRNN) first, then
    the LSTM rows, then the other readout / init-scale combinations; lengths: short T first, the
    longer training last; tasks: by seed, then shortest sequences first.
    """
    if part == "factorial":
        combos = [(r, sc) for sc in settings["scales"] for r in settings["readouts"]]
        home = (settings["readout_init"], settings["scale"])

        def key(s):
            if s.cell == "lstm":
                return 1
            combo = (s.readout_init, s.scale)
            return 0 if s.row not in VERSIONS or combo == home else 2 + combos.index(combo)
        return key
    if part == "lengths":
        return lambda s: (s.epochs > settings["epochs"], s.T)
    if part == "tasks":
        return lambda s: (s.seed, s.T)
    if part == "nan":
        return lambda s: (s.dtype != settings["dtype"], s.scale)
    if part == "matched":
        return lambda s: (settings["matched_scales"].index(s.scale), s.version == "C" and
                          s.hidden_size == settings["hidden_size"])
    if part == "baselines":
        return lambda s: s.T
    return lambda s: 0


def run_blocks(specs, key, **sweep):
    """:func:`run_plan` on the blocks of equal ``key`` (lowest first); records in ``specs`` order."""
    order = sorted(range(len(specs)), key=lambda i: key(specs[i]))      # stable: plan order inside
    results = [None] * len(specs)
    for _, block in itertools.groupby(order, key=lambda i: key(specs[i])):
        block = list(block)
        for i, record in zip(block, run_plan([specs[i] for i in block], **sweep)):
            results[i] = record
    return results


def _end_torn_line(journal):
    """If a crash left the journal's last line unfinished, end it so new records start clean."""
    if journal and os.path.exists(journal) and os.path.getsize(journal):
        with open(journal, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _read_journal(journal):
    """{run_key: record} from a JSON-lines journal; a torn last line is ignored."""
    done = {}
    if journal and os.path.exists(journal):
        with open(journal) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                done[run_key(record["spec"])] = record
    return done


def read_reusable(paths):
    """{run_key: record} from earlier result files (``.json`` reports or ``.jsonl`` journals).

    Each record is marked ``"reused_from"`` with the file and the command that made it.
    """
    done = {}
    for path in paths or ():
        if not os.path.exists(path):
            raise ValueError(f"--reuse: no such file {path!r}")
        if path.endswith(".jsonl"):
            records, command = list(_read_journal(path).values()), f"journal {path}"
        else:
            with open(path) as f:
                try:
                    report = json.load(f)
                except json.JSONDecodeError as err:
                    raise ValueError(f"--reuse: {path!r} is not a JSON report ({err})") from None
            if "runs" not in report:
                raise ValueError(f"--reuse: {path!r} holds no runs (not a numrnn reproduce report)")
            records, command = report["runs"], report.get("command", "?")
        for r in records:
            if r.get("derived_from_unclipped"):
                continue
            origin = r.get("reused_from") or f"{path} ({command})"   # the file that trained it
            done[run_key(r["spec"])] = dict(r, reused_from=origin)
    return done


# ---------------------------------------------------------------------------- summary
def summarise(results):
    """One row per table cell (the settings without the seed), in order of first appearance."""
    rows, order = {}, []
    for r in results:
        key = (r["spec"]["row"], run_key(r["spec"], seed=False))
        if key not in rows:
            rows[key] = []
            order.append(key)
        rows[key].append(r)
    return [_row(rows[key]) for key in order]


def epochs_to_success(record):
    """The first epoch after which the normalised test loss was below :data:`SUCCESS`, or None."""
    for epoch, (_, loss) in enumerate(record["test"], start=1):
        if float(loss) / record["baseline_mse"] < SUCCESS:
            return epoch
    return None


def clipped_fraction(record):
    """The fraction of steps whose gradient norm exceeded the clip (None without clipping)."""
    clip = record["spec"].get("clip")
    if clip is None:
        return None
    norms = _floats(record["grad_norm"])
    return float(np.mean(norms > clip)) if norms.size else 0.0


def still_falling(record, by=0.9):
    """True if the last epoch's test loss is below ``by`` times the one before (more to learn)."""
    test = [float(v) for _, v in record["test"]]
    return len(test) >= 2 and np.isfinite(test[-1]) and test[-1] < by * test[-2]


def _floats(values):
    return np.array([float(v) for v in values], dtype=float)


def _row(runs):
    spec = runs[0]["spec"]
    nmse = _floats([r["normalised_mse"] for r in runs])
    grad_max = _floats([max(_floats(r["grad_norm"]), default=np.nan) for r in runs])
    epochs = [e for e in (epochs_to_success(r) for r in runs if r["success"]) if e is not None]
    clipped = [c for c in map(clipped_fraction, runs) if c is not None]
    acc = [float(r["accuracy"]) for r in runs if r.get("accuracy") is not None]
    return {
        "row": spec["row"], "cell": spec["cell"], "version": spec["version"], "T": spec["T"],
        "task": spec.get("task", "first-element"), "clip": spec["clip"],
        "readout_init": spec["readout_init"], "scale": spec["scale"], "init": spec["init"],
        "epochs": spec["epochs"], "lr": spec["lr"],
        "seeds": [r["spec"]["seed"] for r in runs],
        "baseline_mse_median": float(np.median([r["baseline_mse"] for r in runs])),
        "normalised_mse_median": _nanmedian(nmse), "normalised_mse_min": _nanmin(nmse),
        "normalised_mse_max": _nanmax(nmse),
        "accuracy_median": float(np.median(acc)) if acc else None,
        "accuracy_trivial": runs[0].get("accuracy_trivial"),
        "success_rate": float(np.mean([r["success"] for r in runs])),
        "epochs_to_success_median": float(np.median(epochs)) if epochs else None,
        "divergence_rate": float(np.mean([r["diverged_step"] is not None for r in runs])),
        "diverged_steps": [r["diverged_step"] for r in runs if r["diverged_step"] is not None],
        "grad_norm_max_median": _nanmedian(grad_max), "grad_norm_max_max": _nanmax(grad_max),
        "clipped_fraction_mean": float(np.mean(clipped)) if clipped else None,
        "still_falling": int(sum(still_falling(r) for r in runs)),
        "derived": int(sum(bool(r.get("derived_from_unclipped")) for r in runs)),
        "reused": int(sum(bool(r.get("reused_from")) for r in runs)),
        "n_params": runs[0]["n_params"],
        "wall_seconds_median": float(np.median([r["wall_seconds"] for r in runs])),
    }


def _nanmedian(a):
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


def _nanmin(a):
    a = a[np.isfinite(a)]
    return float(a.min()) if a.size else float("nan")


def _nanmax(a):
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else float("nan")


def clip_label(clip):
    """"none" or the clipping norm, as the tables and figures write it."""
    return "none" if clip is None else f"{clip:g}"


COLUMNS_HELP = (
    "Columns: *normalised* = final test loss / the trivial predictor's (1 = learned nothing), "
    "median [min - max] over seeds; *success* = share of seeds meeting the task's criterion; "
    "*epochs to success* = median over the successful seeds of the first epoch whose test loss was "
    "below 0.01 of the baseline (first-element); *diverged* = share of seeds stopped by a NaN/inf "
    "loss, gradient or parameter (at step), evaluated with their last good parameters and never a "
    "success; *max grad norm* = the largest global gradient norm (before clipping) of any batch, "
    "median [max] over seeds; *clipped* = share of steps whose norm exceeded the clip, mean over "
    "seeds; *falling* = seeds whose last epoch still cut the test loss by more than 10 %; *s/run* = "
    "median wall-clock seconds of one run. *derived*: clipped runs that are their unclipped twin bit "
    "for bit (its gradient norm never exceeded the clip, so clipping never acted); *reused*: runs "
    "taken over from an earlier result file (named in the notes).")


def markdown_table(rows, title, command, settings):
    """The results table in markdown, with the command, settings and seeds that made it."""
    tasks = any(r["task"] != "first-element" for r in rows)
    lines = [f"## {title}", "", f"Command: `{command}`", "",
             "Settings: " + ", ".join(f"{k}={_setting(v)}" for k, v in settings.items()), "",
             "Success: first-element, normalised test MSE below "
             f"{SUCCESS}; adding, every test sequence within {ADDING_TOLERANCE} of its target "
             "(Hochreiter & Schmidhuber 1997); copy, at least "
             f"{COPY_ACCURACY:.0%} of the recalled symbols right (ours; Arjovsky et al. 2016 give "
             "only the baseline).", "", COLUMNS_HELP, "",
             "| row | " + ("task | " if tasks else "") + "T | clip | readout | init scale | params "
             "| normalised | " + ("accuracy (trivial) | " if tasks else "") +
             "success | epochs to success | diverged | max grad norm | clipped | falling "
             "| derived / reused | s/run | seeds |",
             "|---|" + ("---|" if tasks else "") + "---:|---:|---|---:|---:|---|" +
             ("---|" if tasks else "") + "---:|---:|---|---|---:|---:|---|---:|---|"]
    for r in rows:
        div = f"{r['divergence_rate']:.0%}"
        if r["diverged_steps"]:
            div += " (" + ", ".join(str(s) for s in r["diverged_steps"]) + ")"
        scale = "identity" if r["init"] == "identity" else f"{r['scale']:g}"
        acc = ""
        if tasks:
            acc = ("– | " if r["accuracy_median"] is None else
                   f"{r['accuracy_median']:.3f} ({_g(r['accuracy_trivial'])}) | ")
        cells = [r["row"]]
        if tasks:
            cells.append(r["task"])
        cells += [str(r["T"]), clip_label(r["clip"]), r["readout_init"], scale, str(r["n_params"]),
                  f"{_g(r['normalised_mse_median'])} [{_g(r['normalised_mse_min'])} - "
                  f"{_g(r['normalised_mse_max'])}]"]
        lines.append(
            "| " + " | ".join(cells) + " | " + acc +
            f"{r['success_rate']:.0%} | "
            f"{'–' if r['epochs_to_success_median'] is None else _g(r['epochs_to_success_median'])} | "
            f"{div} | {_g(r['grad_norm_max_median'])} [{_g(r['grad_norm_max_max'])}] | "
            f"{'–' if r['clipped_fraction_mean'] is None else format(r['clipped_fraction_mean'], '.0%')} | "
            f"{r['still_falling']}/{len(r['seeds'])} | {r['derived']} / {r['reused']} | "
            f"{r['wall_seconds_median']:.0f} | {','.join(str(s) for s in r['seeds'])} |")
    return "\n".join(lines) + "\n"


def _setting(v):
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(clip_label(x) if x is None or isinstance(x, float) else str(x)
                               for x in v) + ")"
    return v


def _g(v):
    return "nan" if v is None or not np.isfinite(v) else f"{v:.3g}"


def environment():
    """Where the numbers were measured (:func:`numrnn.experiments.common.environment`; every run
    limits BLAS to one thread)."""
    from .common import environment as common_environment
    return common_environment(threads_per_run=1)


def write_report(results, out_dir, name, title, command, settings, figures=True, notes=None,
                 wall_seconds=None):
    """Write ``results/NAME.json`` and ``results/NAME.md`` and the figures under ``figures/reproduce``.

    Returns the dict of written paths.
    """
    rows = summarise(results)
    results_dir = os.path.join(out_dir, "results")
    figure_dir = os.path.join(out_dir, "figures", "reproduce")
    os.makedirs(results_dir, exist_ok=True)
    os.makedirs(figure_dir, exist_ok=True)
    trained = [r for r in results if not r.get("derived_from_unclipped") and not r.get("reused_from")]
    cpu = sum(r.get("cpu_seconds", r["wall_seconds"]) for r in {id(r): r for r in trained}.values())
    record = {"title": title, "command": command, "settings": settings, "environment": environment(),
              "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "wall_seconds": wall_seconds, "success_threshold": SUCCESS, "rows": rows,
              "runs": results}
    paths = {"json": os.path.join(results_dir, f"{name}.json"),
             "md": os.path.join(results_dir, f"{name}.md")}
    md = markdown_table(rows, title, command, settings)
    env = record["environment"]
    reused = sorted({r["reused_from"] for r in results if r.get("reused_from")})
    md += (f"\n{len(results)} runs: {sum(bool(r.get('derived_from_unclipped')) for r in results)} "
           f"derived from their unclipped twin, {sum(bool(r.get('reused_from')) for r in results)} "
           "reused" + (" from " + "; ".join(reused) if reused else "") +
           f"; the rest trained by this call or an interrupted one it resumed ({cpu / 60:.1f} CPU "
           "minutes of training"
           + (f", {wall_seconds / 60:.1f} min wall-clock for this table" if wall_seconds else "")
           + "). Wall-clock times grow with the machine's load.\n\n" + environment_line(env) + "\n")
    if notes:
        record["notes"] = notes
        md += "\n" + notes.strip() + "\n"
    if figures:
        from . import reproduce_plots as plots
        if name.endswith("lengths"):
            paths["length"] = os.path.join(figure_dir, f"{name}.png")
            _save(plots.plot_length_sweep(results, SUCCESS, title=title), paths["length"])
        if not name.startswith("tuning"):
            paths["curves"] = os.path.join(figure_dir, f"{name}_loss_curves.png")
            _save(plots.plot_loss_curves(results, title=title), paths["curves"])
        paths["final"] = os.path.join(figure_dir, f"{name}_final.png")
        by_task = any(r["spec"].get("task", "first-element") != "first-element" for r in results)
        _save(plots.plot_final(results, None if by_task else SUCCESS, title=title,
                               panel_by="task" if by_task else "clip"), paths["final"])
        md += "\n" + "\n".join(f"![{k}]({os.path.relpath(p, results_dir)})"
                               for k, p in paths.items() if p.endswith(".png")) + "\n"
    atomic_write_text(paths["json"], json.dumps(record, separators=(",", ":")))
    atomic_write_text(paths["md"], md)
    return paths


def _save(fig, path):
    import matplotlib.pyplot as plt
    save_figure(fig, path)
    plt.close(fig)


def _by_seed(results, row, scale):
    return {r["spec"]["seed"]: r for r in results
            if r["spec"]["row"] == row and r["spec"]["scale"] == scale}


def matched_notes(results):
    """The paired tests of the matched part, as markdown: for each init scale, D against the C of
    as many parameters and against the C of D's hidden size, on log normalised test MSE, paired by
    seed (:func:`numrnn.experiments.stats.compare_paired`: sign-flip, exact Wilcoxon, paired t, a
    95 % bootstrap interval of the geometric-mean ratio). Pairs with a non-finite MSE are left out
    and counted."""

    rows = list(dict.fromkeys(r["spec"]["row"] for r in results))
    matched_c = next((row for row in rows if row.startswith("C (H")), None)
    lines = ["### Paired tests (by seed: same data, same batch order)", "",
             "Ratio = geometric mean over seeds of MSE(first) / MSE(second) (below 1: the first is "
             "better), with a 95 % percentile bootstrap interval (20,000 resamples, seed 0); p-values "
             "two-sided, on the differences of log normalised test MSE: sign-flip permutation "
             "(100,000 sign patterns, seed 0, when there are more than 2^17), exact Wilcoxon "
             "signed-rank, paired t.", "",
             "| init scale | first vs second | pairs | first lower | ratio [95 % interval] | sign-flip p "
             "| Wilcoxon p | paired t p | successes (first / second) |",
             "|---:|---|---:|---:|---|---:|---:|---:|---|"]
    for scale in dict.fromkeys(r["spec"]["scale"] for r in results):
        for first, second in (("D", matched_c), ("D", "C"), (matched_c, "C")):
            a, b = _by_seed(results, first, scale), _by_seed(results, second, scale)
            seeds, dropped, c = _paired_by_seed(a, b)
            if c is None:
                continue
            lines.append(
                f"| {scale:g} | {first} vs {second} | {c['n']}" + (f" ({dropped} dropped)" if dropped else "")
                + f" | {c['a_lower']} | {c['ratio']:.3g} [{c['ratio_ci'][0]:.3g}, {c['ratio_ci'][1]:.3g}] "
                f"| {c['sign_flip_p']:.2g} | {c['wilcoxon_p']:.2g} | {c['paired_t_p']:.2g} "
                f"| {sum(a[s]['success'] for s in seeds)}/{len(seeds)} / "
                f"{sum(b[s]['success'] for s in seeds)}/{len(seeds)} |")
    return "\n".join(lines) + "\n"


def nan_notes(results):
    """Where each run of the nan part ended: diverged (at which step, why) or not, and its largest
    gradient norm, as markdown."""
    lines = ["### Every run", "", "| row | init scale | clip | seed | normalised | diverged at step "
             "(reason) | max grad norm | steps run |", "|---|---:|---:|---:|---|---|---|---:|"]
    for r in results:
        s = r["spec"]
        norms = _floats(r["grad_norm"])
        finite = norms[np.isfinite(norms)]
        div = "no" if r["diverged_step"] is None else f"{r['diverged_step']} ({r['diverged_reason']})"
        lines.append(f"| {s['row']} | {s['scale']:g} | {clip_label(s['clip'])} | {s['seed']} "
                     f"| {_g(float(r['normalised_mse']))} | {div} "
                     f"| {_g(finite.max()) if finite.size else 'nan'} | {r['steps']} |")
    return "\n".join(lines) + "\n"


def alpha_notes(results):
    """The learned alphas: each run's final alpha (it started at 1) and normalised MSE, as
    markdown; None when no run learned alpha."""
    learned = [r for r in results if r["spec"].get("learn_skip_scale")]
    if not learned:
        return None
    lines = ["### The learned alphas (each started at 1)", "", "| row | clip | seed | final alpha "
             "| normalised | diverged at step |", "|---|---:|---:|---:|---|---|"]
    for r in learned:
        s = r["spec"]
        div = "no" if r["diverged_step"] is None else str(r["diverged_step"])
        lines.append(f"| {s['row']} | {clip_label(s['clip'])} | {s['seed']} | {float(r['skip_scale_final']):.4g} "
                     f"| {_g(float(r['normalised_mse']))} | {div} |")
    return "\n".join(lines) + "\n"


NOTES = {"matched": matched_notes, "nan": nan_notes, "alpha": alpha_notes}


TITLES = {"nan": "A and B above the exploding point: init scales {nan_scales}, with and without "
                 "clipping (does the paper's NaN appear?)",
          "matched": "D against a C with as many parameters: {n_matched} seeds paired by seed, "
                     "clipped at {matched_clip:g}",
          "alpha": "The scaled skip h(t) = relu(a(t)) + alpha h(t-S): C and D at alpha {alphas} and 1, "
                   "and alpha learned from 1",
          "tune": "Tuning the LSTM's learning rate (seed 100, not a seed of the tables)",
          "factorial": "First-element task at T = {T}: versions A-D x clipping x readout x init "
                       "scale, and the baselines",
          "lengths": "Length sweep: C, D and special at T = {lengths}, with and without clipping",
          "tasks": "The standard long-dependency tasks: adding and copy memory, clipped at {task_clip:g}",
          "baselines": "The skip models against tuned baselines (plain LSTM, IRNN) on the adding "
                       "problem and copy memory",
          "baselines_tune": "Tuning the baselines: the plain LSTM's learning rate and forget-gate "
                            "bias, the IRNN's learning rate and clip (validation seed {baseline_tune_seed})"}
NAMES = {"tune": "tuning_lstm", "factorial": "reproduce", "lengths": "reproduce_lengths",
         "tasks": "reproduce_tasks", "nan": "reproduce_nan", "matched": "reproduce_matched",
         "alpha": "reproduce_alpha", "baselines": "reproduce_baselines",
         "baselines_tune": "tuning_baselines"}


def reproduce(quick=False, parts=None, seeds=None, length_seeds=None, task_seeds=None,
              lengths=None, workers=None, out=".", executor=None, lstm=True, progress=True,
              command=None, overrides=None, resume=False, reuse=None, figures=True):
    """Run the parts of the experiment and write one report per part.

    Parameters
    ----------
    quick : bool, QUICK instead of FULL settings
    parts : list of :data:`PARTS`; default :data:`DEFAULT_PARTS` (quick: "factorial")
    seeds, length_seeds, task_seeds : lists of int, the seeds of the factorial, the length sweep
        and the standard tasks (default from the settings)
    lengths : list of int, the T of the length sweep (default from the settings)
    workers : int, processes of the default pool
    out : directory; writes out/results and out/figures/reproduce
    executor : concurrent.futures.Executor, optional, instead of the process pool
    lstm : bool, include the LSTM rows
    overrides : dict, changes to the settings (e.g. smaller sizes in tests); recorded in the table
    resume : bool
        Reuse the runs an interrupted call left in ``out/results/journal/``; otherwise the journal
        is started afresh (so changed code is never hidden behind old results).
    reuse : list of paths, earlier reports (``.json``) or journals whose runs with the same
        settings are taken over instead of trained (each table counts and names them)
    figures : bool, also draw the figures (tables only when False)

    Returns {part: paths of its report}.
    """
    settings = dict(QUICK if quick else FULL)
    unknown = set(overrides or {}) - set(settings)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; choose from {sorted(settings)}")
    settings.update(overrides or {})
    for name, value in (("seeds", seeds), ("length_seeds", length_seeds),
                        ("task_seeds", task_seeds), ("lengths", lengths)):
        if value is not None:
            settings[name] = value
    for name in ("seeds", "lstm_seeds", "length_seeds", "task_seeds", "matched_seeds",
                 "matched_small_seeds", "alpha_seeds", "baseline_seeds"):
        if isinstance(settings[name], (int, np.integer)):        # a number N: seeds 0..N-1
            settings[name] = tuple(range(settings[name]))
        settings[name] = tuple(settings[name])
    settings["lengths"] = tuple(settings["lengths"])
    parts = list(parts or (("factorial",) if quick else DEFAULT_PARTS))
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ValueError(f"unknown part(s) {bad}; choose from {', '.join(PARTS)}")
    command = command or "numrnn reproduce" + (" --quick" if quick else "")
    suffix = "_quick" if quick else ""
    journal_dir = os.path.join(out, "results", "journal")
    os.makedirs(journal_dir, exist_ok=True)
    journal = os.path.join(journal_dir, f"reproduce{suffix}.jsonl")
    if not resume and os.path.exists(journal):
        os.remove(journal)
    reusable = read_reusable(reuse)
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count())
    sweep = dict(executor=executor, progress=progress, journal=journal, reuse=reusable)
    plans = {"tune": lambda: tune_plan(settings),
             "factorial": lambda: factorial_plan(settings, lstm=lstm),
             "lengths": lambda: length_plan(settings),
             "tasks": lambda: task_plan(settings, lstm=lstm),
             "nan": lambda: nan_plan(settings),
             "matched": lambda: matched_plan(settings),
             "alpha": lambda: alpha_plan(settings)}
    written = {}
    def title(part):
        return TITLES[part].format(T=settings["T"], task_clip=settings["task_clip"],
                                   lengths=", ".join(map(str, settings["lengths"])),
                                   nan_scales=", ".join(map(str, settings["nan_scales"])),
                                   n_matched=len(settings["matched_seeds"]),
                                   matched_clip=settings["matched_clip"],
                                   alphas=", ".join(map(str, settings["alphas"])),
                                   baseline_tune_seed=settings["baseline_tune_seed"]) + \
            (" (quick)" if quick else "")

    try:
        for part in PARTS:
            if part not in parts:
                continue
            started = time.perf_counter()
            if part == "baselines":         # two steps: tune the baselines, then the table
                tuning = run_blocks(baseline_tune_plan(settings), lambda s: 0, **sweep)
                written["baselines_tune"] = write_report(
                    tuning, out, NAMES["baselines_tune"] + suffix, title("baselines_tune"), command,
                    settings, figures=figures, wall_seconds=time.perf_counter() - started)
                started = time.perf_counter()
                results = run_blocks(baseline_plan(settings, choose_tuned(tuning)),
                                     priority(part, settings), **sweep)
                notes = baseline_notes(tuning, results, settings)
            else:
                results = run_blocks(plans[part](), priority(part, settings), **sweep)
                notes = NOTES[part](results) if part in NOTES else None
            written[part] = write_report(results, out, NAMES[part] + suffix, title(part), command,
                                         settings, figures=figures, notes=notes,
                                         wall_seconds=time.perf_counter() - started)
    finally:
        if own:
            executor.shutdown()
    return written


# ---------------------------------------------------------------------------- command line
def _lengths(text):
    """``--lengths`` values: whole numbers >= 1; the old comma form "100,200" still reads, once said."""
    if "," in text:
        deprecated("--lengths 100,200", "--lengths 100 200")
    return [common.POSITIVE_INT(word) for word in text.split(",") if word]


def add_parser(subparsers):
    """``numrnn reproduce``: the experiment's parts, one table each."""
    p = subparsers.add_parser(
        "reproduce", help="the paper's synthetic experiment over seeds, clipping as a factor",
        description="Train the paper's versions A-D and special with and without gradient clipping "
        "over several seeds (the factorial at T=100, the length sweep, the adding and copy tasks, "
        "the LSTM's learning-rate tuning); write OUT/results/*.md, *.json and "
        "OUT/figures/reproduce/*.png. --quick: a small version in about 30 s.")
    p.add_argument("--quick", action="store_true",
                   help="small setting (T=50, 2 seeds, with and without clipping), ~30 s on 2 cores")
    p.add_argument("--parts", nargs="+", default=None, choices=PARTS, metavar="PART",
                   help=f"which tables, from {', '.join(PARTS)} (default: {', '.join(DEFAULT_PARTS)}; --quick: factorial)")
    p.add_argument("--cells", nargs="+", default=["rnn", "lstm"], choices=["rnn", "lstm"],
                   help="the RNN rows (always) and the LSTM rows (default: rnn lstm)")
    common.add_deprecated(p, "--no-lstm", "--cells rnn", nargs=0,
                          apply=lambda namespace, values: setattr(namespace, "cells", ["rnn"]))
    p.add_argument("--seeds", nargs="+", type=common.SEED, default=None, metavar="SEED",
                   help="seeds of the factorial, e.g. --seeds 0 1 2 3 4 (default 0-4, quick 0 1)")
    p.add_argument("--length-seeds", nargs="+", type=common.SEED, default=None, metavar="SEED",
                   help="seeds of the length sweep (default 0 1 2)")
    p.add_argument("--task-seeds", nargs="+", type=common.SEED, default=None, metavar="SEED",
                   help="seeds of the adding and copy tasks (default 0)")
    p.add_argument("--lengths", nargs="+", type=_lengths, default=None, metavar="T",
                   help="T of the length sweep (default 100 200 500 1000)")
    p.add_argument("--adding-lengths", nargs="+", type=common.POSITIVE_INT, default=None, metavar="T",
                   help="T of the adding problem (default 100 200 400)")
    p.add_argument("--copy-delays", nargs="+", type=common.POSITIVE_INT, default=None, metavar="T",
                   help="delays of copy memory (default 100 200)")
    common.add_workers_flag(p)
    common.add_training_flags(p)
    common.add_out_flag(p, "OUT/results/<table>.md and .json (journal: OUT/results/journal), "
                           "OUT/figures/reproduce/*.png")
    common.add_resume_flag(p, "the finished runs of an interrupted call (OUT/results/journal)")
    p.add_argument("--reuse", nargs="+", default=None, metavar="FILE",
                   help="take over runs with the same settings from earlier reports (.json) or "
                   "journals (.jsonl); each table counts and names them")
    p.set_defaults(func=run)
    return p


def run(args):
    """Run ``numrnn reproduce`` from parsed arguments; print the tables and the files written."""
    if "rnn" not in args.cells:
        raise ValueError("--cells: the RNN rows are the experiment; give rnn, or rnn lstm")
    common.results_dir(args.out)              # refuses an --out that is a file, by name
    command = common.command_line(args)
    started = time.perf_counter()
    overrides = {"dtype": args.dtype}
    for name, key in (("adding_lengths", "adding_T"), ("copy_delays", "copy_T")):
        if getattr(args, name, None):
            overrides[key] = tuple(getattr(args, name))
    lengths = [T for group in args.lengths for T in group] if args.lengths else None
    written = reproduce(quick=args.quick, parts=args.parts, seeds=args.seeds, overrides=overrides,
                        length_seeds=args.length_seeds, task_seeds=args.task_seeds,
                        lengths=lengths, workers=args.workers, out=args.out,
                        lstm="lstm" in args.cells, progress=not args.quiet, command=command,
                        resume=args.resume, reuse=args.reuse)
    for paths in written.values():
        with open(paths["md"]) as f:
            print(f.read())
    for paths in written.values():
        print("wrote " + ", ".join(paths.values()))
    print(f"numrnn reproduce: {len(written)} table(s) in {time.perf_counter() - started:.0f} s")
    return common.EXIT_OK


def main(argv=None):
    """``python -m numrnn.experiments.reproduce [--quick] ...`` = ``numrnn reproduce ...``."""
    return common.main(add_parser, argv, command="reproduce")


__all__ = ["FULL", "QUICK", "TUNING", "PARTS", "RunSpec", "run_key", "factorial_plan",
           "baseline_tune_plan", "choose_tuned", "baseline_plan",
           "length_plan", "task_plan", "tune_plan", "tuning_plan", "run_one", "derive_clipped", "run_sweep",
           "run_plan", "read_reusable", "summarise", "markdown_table", "write_report", "reproduce",
           "add_parser", "run", "main", "SUCCESS", "ADDING_TOLERANCE", "COPY_ACCURACY"]


if __name__ == "__main__":
    sys.exit(main())
