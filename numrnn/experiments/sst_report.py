"""The report of ``numrnn sst``: the results file (its save format), the markdown table and the figures.

The results of one experiment are ``OUT/results/NAME.json`` (a header: the commands, the data and
its sizes, the workers, the number of runs planned; and "runs": one record per finished run, from
:func:`numrnn.experiments.sst.run_config`) and ``OUT/results/NAME.md`` (:func:`write_table`, marked
partial while runs are missing); the figures ``learning_curves.png`` and ``test_accuracy.png``
(:func:`plot`).
"""
import json
import os
from pathlib import Path

import numpy as np

from .._io import atomic_write_text
from ..data import sst as data
from .common import environment_line, learned_skip_scales_line

#: Published fine-grained test accuracies (%), for context only: other models and conditions.
REFERENCES = [
    ("neural bag of words, NBoW (random embeddings, all phrases; the figure quoted in issue 16)", 42.3),
    ("Socher et al. 2013, recursive RNN (parse tree, all phrases)", 43.2),
    ("Kim 2014, CNN-rand (random embeddings, all phrases)", 45.0),
    ("Iyyer et al. 2015, DAN-rand (random embeddings, all phrases)", 45.4),
    ("Socher et al. 2013, RNTN (parse tree, random embeddings, all phrases)", 45.7),
    ("Tai et al. 2015, sequential LSTM (GloVe 300d, all phrases)", 46.4),
]



# ------------------------------------------------------------------------------ results file
def read_results(path):
    """The results of an earlier call (``{"runs": []}`` when ``path`` does not exist); a file that
    is not a numrnn sst results file is refused by name."""
    path = Path(path)
    if not path.exists():
        return {"runs": []}
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--resume: {path} is not a readable results file ({err}); move it away "
                         "to start afresh") from None
    if not isinstance(results, dict) or not isinstance(results.get("runs"), list):
        raise ValueError(f"--resume: {path} is not a numrnn sst results file (no list of runs)")
    return results


def write_results(path, header, runs):
    """``path`` (a .json) with the header and every run, atomically."""
    atomic_write_text(path, json.dumps({**header, "runs": runs}, indent=1))


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


def environment_lines(header, runs):
    """The table's environment: that of the last command, and, for runs an earlier command made
    (no "environment" of their own), which seeds they are and what the file knew of their
    environment (its "environment_not_recorded" note, or its earlier records)."""
    if "environment" not in header:
        return [header.get("environment_not_recorded",
                           "Environment not recorded (BLAS kernel, threads and CPU features unknown).")]
    lines = [environment_line(header["environment"])]
    kernels = sorted({b.get("architecture") or "?" for r in runs for b in (r.get("environment") or {}).get("blas") or ()})
    if len(kernels) > 1:
        lines.append(f"The runs with their own environment record ran on BLAS kernels {', '.join(kernels)}.")
    older = [r for r in runs if "environment" not in r]
    if older:
        seeds = ",".join(map(str, sorted({r["config"]["seed"] for r in older})))
        earlier = [environment_line(e, full_record=None) for e in header.get("earlier_environments", ())]
        known = header.get("environment_not_recorded") or (
            "Earlier commands' environments, oldest first: " + " ".join(earlier) if earlier else
            "Environment not recorded for them.")
        lines.append(f"{len(older)} of the {len(runs)} runs (seeds {seeds}) were made by an earlier command, "
                     f"before runs recorded their own environment; the line above is not theirs. {known}")
    return lines


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
    learned = learned_skip_scales_line([(r["name"], r.get("skip_scale_final")) for r in runs])
    lines += ["", *learned] if learned else []
    lines += ["", *environment_lines(header, runs)]
    lines += ["", f"Majority class of the training sentences ({data.LABELS[majority['label']]}) on test: "
              f"{100 * majority['test_acc']:.1f} %.", "",
              "Cost: parameters of the recurrent part (both layers of a bidirectional model) and of the "
              "embedding (vocabulary x embedding size; the readout adds 5 x (H + 1), or 5 x (2H + 1)). "
              "\"s / epoch\" is the wall-clock time of one pass over the training set, one BLAS thread per "
              f"run, with {header['workers']} run(s) in parallel and whatever else the machine ran; "
              "\"CPU s / epoch\" is that process's CPU time: it leaves out the waits for a core that "
              "other jobs cause, not the host's own speed (compare CPU times within one host and day). "
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
    import matplotlib.pyplot as plt             # here, not at import: `numrnn --help` stays fast
    from matplotlib.ticker import MaxNLocator
    from ..analysis.plots import VERSION_COLOURS
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups = summarise(runs)
    cells = sorted({k[0] for k in groups})
    colours = VERSION_COLOURS                       # the one palette (Okabe-Ito) of every figure
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
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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


__all__ = ["REFERENCES", "read_results", "write_results", "typed_sst_dir", "describe_data",
           "group_key", "row_label", "summarise", "environment_lines", "write_table", "plot"]
