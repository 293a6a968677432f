"""The paper's synthetic experiment, over seeds, through any ``concurrent.futures.Executor``.

One *run* trains one model on the first-element task and returns a JSON-able record. A *plan* is a
list of run specifications: versions A, B, C, D at T = 100 and special at T = 500 (the paper's),
the baselines a reviewer asks for (A with identity initialisation, the IRNN of Le et al. 2015, and A
with gradient clipping), and, when :mod:`numrnn.nn.lstm` is present, LSTM versions A-D. A length sweep
trains A-D at several T.

Runs are independent, so a sweep is ``executor.submit(run_one, spec)`` for each spec: a process pool
by default (each worker limits BLAS to one thread, so two workers use two cores and no more), or
any other executor, e.g. ``dask.distributed.Client(...).get_executor()``.

Each seed s fixes the data (task seed s), the initial weights (model seed s) and the batch order
(trainer seed s), so versions with the same seed are compared on the same data: a paired comparison.
"""
import dataclasses
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from .._io import atomic_write_text, save_figure

SUCCESS = 0.01   # a run succeeds when its normalised test MSE (MSE / Var of the target) is below this

#: The full setting: the paper's sizes where it gives them (10000 sequences of length 100 of
#: 6-dim vectors, MSE, about 10 epochs, batches of about 100, an Adam-like optimiser).
#: Chosen by us (the paper does not say): recurrent init N(0, 0.25^2/H), a zero readout, Adam with
#: lr 3e-3 (from the tuning runs at H = 64, seed 100, not a seed of the tables: results/tuning.md),
#: float64; H = 32 (LSTM H = 16, about the same parameter count). The length sweep uses
#: ``length_seeds`` seeds.
FULL = dict(T=100, special_T=500, D=6, n_train=10000, n_test=1000, epochs=10, batch_size=100,
            hidden_size=32, lstm_hidden_size=16, optimizer="adam", lr=3e-3, init="normal",
            scale=0.25, readout_init="zeros", clip=1.0, dtype="float64", seeds=5, lstm_seeds=5,
            length_seeds=3)

#: --quick: the same experiment, smaller, for the README's first command (a few minutes on 2 cores).
QUICK = dict(FULL, T=50, special_T=200, n_train=4000, n_test=500, epochs=5, seeds=2, lstm_seeds=1)

VERSIONS = ("A", "B", "C", "D")
LENGTHS = (100, 200, 500, 1000)


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs; ``row`` is the line of the results table it belongs to."""
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


def _spec(settings, row, version, T, seed, group="main", **over):
    keys = {f.name for f in dataclasses.fields(RunSpec)}
    base = {k: v for k, v in settings.items() if k in keys - {"row", "version", "T", "seed", "group"}}
    base.update(clip=None)
    base.update(over)
    return RunSpec(row=row, version=version, T=T, seed=seed, group=group, **base)


def plan(settings=FULL, seeds=None, lstm=None, baselines=True):
    """The runs of the main table: A-D (T), special (special_T), baselines, LSTM A-D.

    Parameters
    ----------
    settings : dict, FULL or QUICK or a modified copy
    seeds : list of int, default range(settings["seeds"])
    lstm : bool, default: whether numrnn.nn.lstm exists
    baselines : bool, include "A + IRNN" and "A + clipping"
    """
    seeds = list(range(settings["seeds"])) if seeds is None else list(seeds)
    lstm = True if lstm is None else lstm
    specs = []
    for seed in seeds:
        specs += [_spec(settings, v, v, settings["T"], seed) for v in VERSIONS]
        specs.append(_spec(settings, "special", "special", settings["special_T"], seed))
        if baselines:
            specs.append(_spec(settings, "A + identity init (IRNN)", "A", settings["T"], seed,
                               init="identity", scale=1.0))
            specs.append(_spec(settings, f"A + clipping ({settings['clip']:g})", "A", settings["T"],
                               seed, clip=settings["clip"]))
        if lstm and seed in seeds[:settings.get("lstm_seeds", len(seeds))]:
            specs += [_spec(settings, f"LSTM {v}", v, settings["T"], seed, cell="lstm",
                            hidden_size=settings["lstm_hidden_size"], init="normal", scale=1.0)
                      for v in VERSIONS]
    return specs


def length_plan(settings=FULL, seeds=None, lengths=LENGTHS, versions=VERSIONS):
    """Versions A-D at each length T, for the length sweep (seeds 0..length_seeds-1 by default)."""
    seeds = list(range(settings.get("length_seeds", settings["seeds"]))) if seeds is None else list(seeds)
    return [_spec(settings, v, v, T, seed, group="length")
            for T in lengths for seed in seeds for v in versions]


#: The tuning runs behind FULL's choices: seed 100 (not a seed of the tables), T = 100, the full
#: data size, few epochs. (version, scale, lr, epochs, activation, readout_init).
TUNING = [("D", 0.25, 1e-2, 3, "relu", "normal"), ("D", 0.1, 3e-3, 3, "relu", "normal"),
          ("D", 0.25, 3e-3, 3, "relu", "normal"), ("C", 0.1, 3e-3, 3, "relu", "normal"),
          ("A", 0.25, 3e-3, 3, "relu", "normal"), ("D", 0.1, 1e-2, 3, "relu", "normal"),
          ("D", 0.25, 1e-3, 10, "relu", "normal"), ("D", 0.25, 3e-3, 10, "relu", "normal"),
          ("D", 1.0, 1e-3, 3, "tanh", "normal"), ("C", 1.0, 1e-3, 3, "tanh", "normal"),
          ("A", 1.0, 1e-3, 3, "tanh", "normal"), ("C", 0.25, 3e-3, 10, "relu", "normal"),
          ("D", 0.25, 1e-3, 3, "relu", "zeros"), ("C", 0.25, 1e-3, 3, "relu", "zeros"),
          ("D", 0.25, 3e-3, 3, "relu", "zeros"), ("A", 0.25, 1e-3, 3, "relu", "zeros")]


def tuning_plan(settings=FULL, seed=100, hidden_size=64):
    """The runs of :data:`TUNING`, each its own row (at H = 64, where the tuning was done)."""
    return [_spec(settings, f"{v} {act} scale={sc:g} lr={lr:g} readout={ro} epochs={ep}", v,
                  settings["T"], seed, group="tuning", scale=sc, lr=lr, epochs=ep, activation=act,
                  readout_init=ro, hidden_size=hidden_size) for v, sc, lr, ep, act, ro in TUNING]


# ---------------------------------------------------------------------------- one run
def run_one(spec):
    """Train one model as ``spec`` says; return a JSON-able record of what happened.

    BLAS is limited to one thread inside, so parallel workers do not oversubscribe the cores.
    """
    from threadpoolctl import threadpool_limits

    from ..training.model import SequenceModel
    from ..training.optim import make_optimizer
    from ..data.tasks import first_element
    from ..training.trainer import Trainer

    if isinstance(spec, dict):
        spec = RunSpec(**spec)
    with threadpool_limits(1):
        task = first_element(T=spec.T, D=spec.D, n_train=spec.n_train, n_test=spec.n_test,
                             seed=spec.seed, dtype=spec.dtype)
        layer_kw = dict(init=spec.init, scale=spec.scale)
        if spec.cell == "rnn":
            layer_kw["activation"] = spec.activation
        model = SequenceModel(spec.D, spec.hidden_size, 1, cell=spec.cell, version=spec.version,
                              readout_init=spec.readout_init, seed=spec.seed, dtype=spec.dtype,
                              **layer_kw)
        trainer = Trainer(model, make_optimizer(spec.optimizer, lr=spec.lr),
                          batch_size=spec.batch_size, clip=spec.clip, seed=spec.seed, progress=False)
        started = time.perf_counter()
        history = trainer.fit(task.x_train, task.y_train, epochs=spec.epochs,
                              x_test=task.x_test, y_test=task.y_test)
        wall = time.perf_counter() - started
        with np.errstate(over="ignore", invalid="ignore"):
            test_mse = model.evaluate(task.x_test, task.y_test)
    diverged = history["diverged"]
    return {
        "spec": dataclasses.asdict(spec),
        "baseline_mse": task.baseline,
        "test_mse": _num(test_mse),
        "normalised_mse": _num(task.normalised(test_mse)),
        "success": bool(not diverged and task.normalised(test_mse) < SUCCESS),
        "diverged_step": None if not diverged else diverged["step"],
        "diverged_reason": None if not diverged else diverged["reason"],
        "n_params": model.n_params(),
        "wall_seconds": wall,
        "seconds_per_epoch": wall / max(1, len(history["epoch_time"]) or 1),
        "steps": trainer.step,
        "loss": [_num(v) for v in history["loss"]],
        "test": [[s, _num(v)] for s, v in history["test"]],
        "grad_norm": [_num(v) for v in history["grad_norm"]],
    }


def _num(v):
    """A float for JSON: 6 significant digits, nan/inf kept as strings JSON can hold."""
    v = float(v)
    return float(f"{v:.6g}") if np.isfinite(v) else str(v)


# ---------------------------------------------------------------------------- sweeps
def run_sweep(specs, executor=None, workers=None, progress=True, journal=None):
    """Run every spec through an executor; return the records in the order of ``specs``.

    Parameters
    ----------
    specs : list of RunSpec
        Submitted in this order (the plans put one seed's rows together, so an interrupted sweep
        still holds whole seeds).
    executor : concurrent.futures.Executor, optional
        Anything with ``submit`` returning futures (a process pool, a Dask client's executor ...).
        By default a process pool of ``workers`` processes, shut down afterwards.
    workers : int, default os.cpu_count()
    progress : bool, tqdm bar over finished runs
    journal : path, optional
        A JSON-lines file: every finished record is appended as soon as it arrives, and records
        already there for the same spec are reused instead of trained again, so an interrupted
        sweep continues where it stopped.
    """
    from tqdm.auto import tqdm

    results = [None] * len(specs)
    done = _read_journal(journal)
    pending = []
    for i, spec in enumerate(specs):
        key = json.dumps(dataclasses.asdict(spec), sort_keys=True)
        if key in done:
            results[i] = done[key]
        else:
            pending.append(i)
    if not pending:
        return results
    _end_torn_line(journal)
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count())
    try:
        futures = {executor.submit(run_one, dataclasses.asdict(specs[i])): i for i in pending}
        for future in tqdm(as_completed(futures), total=len(futures), disable=not progress,
                           desc="runs"):
            record = future.result()
            results[futures[future]] = record
            if journal:
                with open(journal, "a") as f:     # one line per run, appended whole
                    f.write(json.dumps(record) + "\n")
    finally:
        if own:
            executor.shutdown()
    return results


def _end_torn_line(journal):
    """If a crash left the journal's last line unfinished, end it so new records start clean."""
    if journal and os.path.exists(journal) and os.path.getsize(journal):
        with open(journal, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _read_journal(journal):
    """{spec as sorted JSON: record} from a JSON-lines journal; a torn last line is ignored."""
    done = {}
    if journal and os.path.exists(journal):
        with open(journal) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                done[json.dumps(record["spec"], sort_keys=True)] = record
    return done


# ---------------------------------------------------------------------------- summary
def summarise(results):
    """One row per table line (in order of first appearance): medians, spreads and rates."""
    rows, order = {}, []
    for r in results:
        key = (r["spec"]["row"], r["spec"]["T"])
        if key not in rows:
            rows[key] = []
            order.append(key)
        rows[key].append(r)
    return [_row(name, T, rows[(name, T)]) for name, T in order]


def _row(name, T, runs):
    mse = np.array([float(r["test_mse"]) for r in runs])       # "nan"/"inf" strings parse too
    nmse = np.array([float(r["normalised_mse"]) for r in runs])
    spec = runs[0]["spec"]
    return {
        "row": name, "cell": spec["cell"], "version": spec["version"], "T": T,
        "seeds": [r["spec"]["seed"] for r in runs],
        "baseline_mse_median": float(np.median([r["baseline_mse"] for r in runs])),
        "test_mse_median": _nanmedian(mse), "test_mse_min": _nanmin(mse), "test_mse_max": _nanmax(mse),
        "normalised_mse_median": _nanmedian(nmse), "normalised_mse_min": _nanmin(nmse),
        "normalised_mse_max": _nanmax(nmse),
        "success_rate": float(np.mean([r["success"] for r in runs])),
        "divergence_rate": float(np.mean([r["diverged_step"] is not None for r in runs])),
        "diverged_steps": [r["diverged_step"] for r in runs if r["diverged_step"] is not None],
        "grad_norm_max_median": _nanmedian(np.array([max(map(float, r["grad_norm"]), default=np.nan)
                                                     for r in runs])),
        "n_params": runs[0]["n_params"],
        "seconds_per_epoch_median": float(np.median([r["seconds_per_epoch"] for r in runs])),
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


def markdown_table(rows, title, command, settings):
    """The results table in markdown, with the command, settings and seeds that made it."""
    lines = [f"## {title}", "",
             f"Command: `{command}`", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "",
             f"Success: normalised test MSE (test MSE / Var of the test target) below {SUCCESS}. "
             "Baseline: always predicting the mean, whose MSE is Var(target) (normalised MSE 1). "
             "Medians over seeds, [min - max] in brackets. A run that diverged (NaN/inf loss or "
             "gradient) stopped there and is evaluated with its last good parameters; it never "
             "counts as a success.", "",
             "Max grad norm: the largest global gradient norm of any batch (before clipping), "
             "median over seeds.", "",
             "| row | T | params | test MSE | normalised MSE | success | diverged (at step) "
             "| max grad norm | s/epoch | seeds |",
             "|---|---:|---:|---|---|---:|---|---:|---:|---|"]
    for r in rows:
        div = f"{r['divergence_rate']:.0%}"
        if r["diverged_steps"]:
            div += " (" + ", ".join(str(s) for s in r["diverged_steps"]) + ")"
        lines.append(
            f"| {r['row']} | {r['T']} | {r['n_params']} "
            f"| {_g(r['test_mse_median'])} [{_g(r['test_mse_min'])} - {_g(r['test_mse_max'])}] "
            f"| {_g(r['normalised_mse_median'])} [{_g(r['normalised_mse_min'])} - "
            f"{_g(r['normalised_mse_max'])}] "
            f"| {r['success_rate']:.0%} | {div} | {_g(r['grad_norm_max_median'])} "
            f"| {r['seconds_per_epoch_median']:.1f} "
            f"| {','.join(str(s) for s in r['seeds'])} |")
    lines.append("")
    lines.append(f"Baseline MSE (Var of the test target), median over seeds: "
                 f"{_g(np.median([r['baseline_mse_median'] for r in rows]))}.")
    return "\n".join(lines) + "\n"


def _g(v):
    return "nan" if not np.isfinite(v) else f"{v:.3g}"


def environment():
    """Where the numbers were measured."""
    import numpy
    load = [round(v, 1) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "load_average": load}


def write_report(results, out_dir, name, title, command, settings, figures=True, notes=None):
    """Write ``results/NAME.json`` and ``results/NAME.md`` and the figures under ``figures/reproduce``.

    Returns the dict of written paths.
    """
    rows = summarise(results)
    results_dir = os.path.join(out_dir, "results")
    figure_dir = os.path.join(out_dir, "figures", "reproduce")
    os.makedirs(results_dir, exist_ok=True)
    os.makedirs(figure_dir, exist_ok=True)
    record = {"title": title, "command": command, "settings": settings, "environment": environment(),
              "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "success_threshold": SUCCESS, "rows": rows, "runs": results}
    paths = {"json": os.path.join(results_dir, f"{name}.json"),
             "md": os.path.join(results_dir, f"{name}.md")}
    md = markdown_table(rows, title, command, settings)
    env = record["environment"]
    md += (f"\nMeasured on {env['cpus']} CPUs ({env['machine']}, Python {env['python']}, numpy "
           f"{env['numpy']}), load average {env['load_average']} when the report was written; "
           "seconds per epoch are wall-clock times and grow with the machine's load.\n")
    if notes:
        record["notes"] = notes
        md += "\n" + notes.strip() + "\n"
    if figures:
        from ..analysis import plots
        if any(r["spec"]["group"] == "length" for r in results):
            paths["length"] = os.path.join(figure_dir, f"{name}.png")
            _save(plots.plot_length_sweep(results, SUCCESS, title=title), paths["length"])
        else:
            paths["curves"] = os.path.join(figure_dir, f"{name}_loss_curves.png")
            _save(plots.plot_loss_curves(results, title=title), paths["curves"])
            paths["final"] = os.path.join(figure_dir, f"{name}_final.png")
            _save(plots.plot_final(results, SUCCESS, title=title), paths["final"])
        md += "\n" + "\n".join(f"![{k}]({os.path.relpath(p, results_dir)})"
                               for k, p in paths.items() if p.endswith(".png")) + "\n"
    text = json.dumps(record, indent=1)
    atomic_write_text(paths["json"], text)
    atomic_write_text(paths["md"], md)
    return paths


def _save(fig, path):
    import matplotlib.pyplot as plt
    save_figure(fig, path)
    plt.close(fig)


def reproduce(quick=False, seeds=None, workers=None, out=".", lengths=None, executor=None,
              lstm=None, progress=True, command=None, overrides=None, main=True, tune=False,
              resume=False, figures=True):
    """Run the main table (and, with ``lengths``, the length sweep) and write the reports.

    Parameters
    ----------
    quick : bool, QUICK instead of FULL settings
    seeds : int, number of seeds (0..seeds-1), default from the settings
    workers : int, processes of the default pool
    out : directory; writes out/results and out/figures/reproduce
    lengths : list of int, also run the length sweep at these T
    executor : concurrent.futures.Executor, optional, instead of the process pool
    lstm : bool, include the LSTM rows (default: when numrnn.nn.lstm exists)
    overrides : dict, changes to the settings (e.g. smaller sizes in tests); recorded in the table
    main : bool, run the main table (False: only the length sweep and/or the tuning runs)
    tune : bool, also run :data:`TUNING` and write results/tuning.*
    resume : bool
        Reuse the runs an interrupted call left in ``out/results/journal/*.jsonl``; otherwise
        those journals are started afresh (so changed code is never hidden behind old results).
    figures : bool, also draw the figures (tables only when False)

    Returns (paths of the main report or None, paths of the length report or None).
    """
    settings = dict(QUICK if quick else FULL)
    unknown = set(overrides or {}) - set(settings)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; choose from {sorted(settings)}")
    settings.update(overrides or {})
    if seeds is not None:
        settings["seeds"] = seeds
    command = command or "numrnn reproduce" + (" --quick" if quick else "")
    prefix = "reproduce_quick" if quick else "reproduce"
    paths = length_paths = None
    journal_dir = os.path.join(out, "results", "journal")
    os.makedirs(journal_dir, exist_ok=True)
    journals = {part: os.path.join(journal_dir, f"{name}.jsonl") for part, name in
                (("tuning", "tuning"), ("main", prefix), ("lengths", prefix + "_lengths"))}
    for path in journals.values():
        if not resume and os.path.exists(path):
            os.remove(path)
    sweep = dict(executor=executor, workers=workers, progress=progress)
    if tune:
        runs = run_sweep(tuning_plan(settings), journal=journals["tuning"], **sweep)
        write_report(runs, out, prefix.replace("reproduce", "tuning"),
                     "Tuning runs (seed 100, not a seed of the tables)", command, settings,
                     figures=figures)
    main_runs = []
    if main:
        main_runs = run_sweep(plan(settings, lstm=lstm), journal=journals["main"], **sweep)
        paths = write_report(main_runs, out, prefix, "First-element task: versions A-D, special, "
                             "baselines" + (" (quick)" if quick else ""), command, settings,
                             figures=figures)
    if lengths:
        runs = length_plan(settings, lengths=lengths)
        # T already in the main table is not trained again: reuse those runs.
        done = {(r["spec"]["row"], r["spec"]["T"], r["spec"]["seed"]): r for r in main_runs}
        todo = [s for s in runs if (s.row, s.T, s.seed) not in done]
        fresh = iter(run_sweep(todo, journal=journals["lengths"], **sweep))
        merged = [dict(done[(s.row, s.T, s.seed)], spec=dataclasses.asdict(s))
                  if (s.row, s.T, s.seed) in done else next(fresh) for s in runs]
        length_paths = write_report(merged, out, prefix + "_lengths",
                                    "Length sweep: versions A-D at T = " + ", ".join(map(str, lengths))
                                    + (" (quick)" if quick else ""), command, settings,
                                    figures=figures)
    return paths, length_paths


__all__ = ["FULL", "QUICK", "TUNING", "RunSpec", "plan", "length_plan", "tuning_plan", "run_one", "run_sweep", "summarise",
           "markdown_table", "write_report", "reproduce", "SUCCESS"]
