"""What every ``numrnn`` command shares: one flag vocabulary, flag types that name the flag, where
a command writes (``--out``), reading a model (``--checkpoint``), the exit statuses, and the one
entry point :func:`main` of every experiment module.

The vocabulary (README, "Command line"):

- ``--out OUT``: the root of everything a command writes, in fixed subfolders: tables and records
  in ``OUT/results``, figures in ``OUT/figures/<command>``, models in ``OUT/models``
  (:func:`results_dir`, :func:`figures_dir`, :func:`models_dir`). The default ``.`` regenerates the
  project's committed ``results/`` and ``figures/`` in place.
- ``--resume``: a switch, continue from what OUT holds. ``--checkpoint PATH``: read a model.
- ``--cell`` (one model) / ``--cells`` (a grid), keys of :data:`numrnn.nn.CELLS`; the cells' own
  options (``--activation``, ``--scale``, ...) from :func:`add_layer_flags`; ``--versions``.
- ``--seed N`` / ``--seeds 0 1 2`` (always a list); ``--workers`` (default :data:`DEFAULT_WORKERS`,
  each worker one BLAS thread); ``--quiet``; ``--dtype``; ``--hidden-size``; ``--readout``.

Old spellings stay as hidden aliases; a deprecated one prints one line naming the new spelling
(:func:`add_deprecated`).
"""
import argparse
import os
import shlex
import sys

from .._cli import (EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERNAL, EXIT_NO, EXIT_OK,  # noqa: F401
                    EXIT_STATUSES, FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, SEED, integer,
                    number)
from ..nn import CELLS
from ..nn.activations import ACTIVATIONS
from ..nn.init import INITS
from ..training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..training.model import layer_options

#: The one default of ``--workers``: every core, one BLAS thread per worker process.
DEFAULT_WORKERS = os.cpu_count() or 1



def add_alias(parser, old, new, **kwargs):
    """Accept ``old`` as a hidden spelling of ``new`` (same destination, not shown by --help)."""
    dest = new.lstrip("-").replace("-", "_")
    parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def deprecated(old, new):
    """The one line a deprecated spelling prints: "numrnn: --old is deprecated; use --new"."""
    print(f"numrnn: {old} is deprecated; use {new}", file=sys.stderr)


class _Deprecated(argparse.Action):
    """Store like the new flag (or call ``apply(namespace, values)``), after printing one line."""

    def __init__(self, option_strings, dest, new=None, apply=None, **kwargs):
        self.new, self.apply = new, apply
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        deprecated(option_string, self.new)
        if self.apply is not None:
            self.apply(namespace, values)
        else:
            setattr(namespace, self.dest, values)


def add_deprecated(parser, old, new, dest=None, apply=None, nargs=None, **kwargs):
    """Accept the old spelling ``old`` (hidden from --help) of ``new``; using it prints one line
    naming ``new``. ``dest`` defaults to ``new``'s; ``apply(namespace, values)`` translates a value
    that has no one-to-one new spelling (e.g. ``--no-lstm`` -> ``--cells rnn``)."""
    dest = dest or new.split()[0].lstrip("-").replace("-", "_")
    parser.add_argument(old, dest=dest, action=_Deprecated, new=new, apply=apply, nargs=nargs,
                        help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def add_cell_flag(parser, default="rnn"):
    """``--cell`` (one model) with the choices of the registry numrnn.nn.CELLS."""
    parser.add_argument("--cell", default=default, choices=sorted(CELLS),
                        help=f"cell type (default {default})")


def add_cells_flag(parser, default, help_default=None):
    """``--cells`` (a grid over cell types) with the choices of the registry numrnn.nn.CELLS."""
    parser.add_argument("--cells", nargs="+", default=default, choices=sorted(CELLS),
                        help=f"cell types (default: {help_default or ' '.join(default)})")


# ------------------------------------------------------------------------------ where output lands
def add_out_flag(parser, writes):
    """``--out OUT``, the root of everything the command writes (default ``.``); ``writes`` says
    what lands where, e.g. "OUT/results/sst.md, OUT/figures/sst/"."""
    parser.add_argument("--out", default=".", metavar="OUT",
                        help=f"root folder of everything this command writes: {writes} (default .)")


def _folder(*parts):
    path = os.path.join(*parts)
    for end in range(1, len(parts) + 1):
        part = os.path.join(*parts[:end])
        if os.path.exists(part) and not os.path.isdir(part):
            raise ValueError(f"--out: {part!r} must be a folder, but it is a file")
    return path


def results_dir(out):
    """``OUT/results``: the tables (.md) and records (.json) a command writes."""
    return _folder(out, "results")


def figures_dir(out, command):
    """``OUT/figures/<command>``: the figures of one command."""
    return _folder(out, "figures", command)


def models_dir(out, command=None):
    """``OUT/models`` (``OUT/models/<command>`` for a command that saves many): saved models."""
    return _folder(out, "models", *([command] if command else []))


def add_resume_flag(parser, what):
    """``--resume``: a switch, continue from what OUT holds (``what`` says which files)."""
    parser.add_argument("--resume", action="store_true", help=f"continue from what OUT holds: {what}")


def add_checkpoint_flag(parser, what, default=None, folders=True):
    """``--checkpoint PATH``: read a model (a path prefix of PATH.npz, or, with ``folders``, a
    folder or ``--out`` root holding one: :func:`find_checkpoint`)."""
    parser.add_argument("--checkpoint", default=default, metavar="PATH",
                        help=f"{what}: a checkpoint PATH (PATH.npz + PATH.json)"
                             + (", or a folder or --out root holding one" if folders else "")
                             + (f" (default {default})" if default else ""))


def find_checkpoint(path, name):
    """The checkpoint path prefix ``path`` names: ``path`` when ``path.npz`` exists, else
    ``path/model`` (a folder of an older ``--out``), ``path/name``, ``path/models/name`` (an
    ``--out`` root); when none exists, the one loading should name as missing."""
    path = os.fspath(path)
    candidates = [path, os.path.join(path, "model"), os.path.join(path, name),
                  os.path.join(path, "models", name)]
    for candidate in candidates:
        if os.path.isfile(candidate + ".npz"):
            return candidate
    return candidates[-1] if os.path.isdir(path) else path


def add_workers_flag(parser):
    """``--workers N``: processes, each with one BLAS thread (default :data:`DEFAULT_WORKERS`)."""
    parser.add_argument("--workers", type=POSITIVE_INT, default=DEFAULT_WORKERS,
                        help="worker processes, each one BLAS thread (default: the number of cores, "
                             f"{DEFAULT_WORKERS} here)")
    add_deprecated(parser, "--jobs", "--workers", type=POSITIVE_INT)


def add_training_flags(parser, dtype="float64"):
    """``--dtype`` and ``--quiet``: every command that trains a model takes them."""
    parser.add_argument("--dtype", default=dtype, choices=["float64", "float32"],
                        help=f"floating-point type of parameters and activations (default {dtype})")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def add_layer_flags(parser, defaults=None):
    """The options particular to some cells (``--activation``, ``--init``, ``--scale``,
    ``--forget-bias``), read from the cell classes; :func:`layer_kwargs` gives each to the cells
    that take it. ``defaults`` {cell: {option: value}} overrides a class default for one command
    (e.g. the synthetic task's RNN scale 0.25)."""
    defaults = defaults or {}
    takes = {}
    for cell in sorted(CELLS):
        for name, default in layer_options(cell).items():
            takes.setdefault(name, []).append(f"{cell} {defaults.get(cell, {}).get(name, default)}")
    choices = {"activation": sorted(ACTIVATIONS), "init": sorted(INITS)}
    switches = {name for cell in CELLS for name, default in layer_options(cell).items()
                if isinstance(default, bool)}         # False by default: a flag turns it on
    for name, cells in takes.items():
        if name in switches:
            parser.add_argument("--" + name.replace("_", "-"), action="store_const", const=True, default=None,
                                help=f"only for the cells that take it; default: {', '.join(cells)}")
            continue
        parser.add_argument("--" + name.replace("_", "-"), default=None, choices=choices.get(name),
                            type=str if name in choices else number(), metavar=None if name in choices else "X",
                            help=f"only for the cells that take it; default: {', '.join(cells)}")
    parser.set_defaults(_layer_defaults=defaults)


def layer_kwargs(args, cell):
    """The layer options the ``cell`` class takes, from ``args`` or the defaults; a flag given for
    a cell that does not take it is refused by name."""
    options, kwargs = layer_options(cell), {}
    for name, default in options.items():
        value = getattr(args, name, None)
        kwargs[name] = value if value is not None else \
            getattr(args, "_layer_defaults", {}).get(cell, {}).get(name, default)
    every = {name for other in CELLS for name in layer_options(other)}
    for name in vars(args):
        flag = "--" + name.replace("_", "-")
        if name in every and name not in options and getattr(args, name) is not None:
            raise ValueError(f"{flag} does not apply to the {cell} cell (it takes "
                             f"{', '.join('--' + o.replace('_', '-') for o in options) or 'no options'})")
    return kwargs


def learned_skip_scales(model):
    """{parameter name: final value} of each learned skip scale alpha of a model's layers (empty when
    none is learned), for a run's record."""
    return {name: float(value[0]) for name, value in model.params.items() if name.endswith(".alpha")}


def learned_skip_scales_line(runs):
    """The results table's sentence on learned skip scales: ``runs`` is [(run label, its
    ``skip_scale_final`` record or None)]; [] when no run learned one, else [sentence]."""
    finals = [(label, alpha) for label, learned in runs for alpha in (learned or {}).values()]
    if not finals:
        return []
    return ["Learned skip scale alpha (it started at the configured skip scale), its final value per run: "
            + ", ".join(f"{label} {alpha:.3f}" for label, alpha in finals) + "."]


# ------------------------------------------------------------------------------ saved models
def save_model(path, model, kind, vocab, optimizer=None, extra=None, trainer=None):
    """Save a model with its vocabulary: :func:`numrnn.training.checkpoint.save_checkpoint` with
    ``meta = {"kind": "numrnn.<kind>", "vocab": vocab, "extra": extra}`` (``PATH.npz`` + ``PATH.json``,
    atomic). The one format of the models of ``sst`` and ``charlm-train``."""
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    meta = {"kind": f"numrnn.{kind}", "vocab": vocab, "extra": extra or {}}
    return save_checkpoint(path, model, optimizer, trainer, meta=meta)


def load_model(path, kind):
    """(checkpoint, vocab, extra) of a model saved by :func:`save_model` as ``kind``.

    Raises :class:`numrnn.training.checkpoint.CheckpointError` (a ValueError) naming the file when
    it is missing, damaged, or a model of another kind. Reads the older SST layout too
    (``meta = {"task": "sst", "vocab": ..., ...}``)."""
    ck = load_checkpoint(path)
    meta = ck.meta or {}
    if meta.get("task") == "sst" and "vocab" in meta:           # saved before the one format
        meta = {"kind": "numrnn.sst", "vocab": meta["vocab"],
                "extra": {k: v for k, v in meta.items() if k not in ("task", "vocab")}}
    if meta.get("kind") != f"numrnn.{kind}" or "vocab" not in meta:
        found = meta.get("kind") or ("a model trained by numrnn train" if "task" in meta else "no vocabulary")
        raise CheckpointError(f"checkpoint {os.fspath(path)!r} is not a numrnn {kind} model "
                              f"({found})")
    return ck, meta["vocab"], meta.get("extra", {})


# ------------------------------------------------------------------------------ command line
def command_line(args):
    """The command as it was run, quoted so a shell runs it again: "numrnn train --seed 1 ..."."""
    argv = getattr(args, "argv", None)
    if argv is None:
        argv = sys.argv[1:]
    return " ".join([getattr(args, "prog", None) or "numrnn"] + [shlex.quote(a) for a in argv])


def run_main(parser, argv=None, prog=None):
    """Parse and run a subcommand; return its exit status (:data:`EXIT_STATUSES`).

    Bad input is refused with ``prog <cmd>: error: ...`` and status 2 (argparse's errors, and
    numrnn's ValueError, TypeError and OSError, which name the argument or file; never a
    traceback); any other exception is an internal error: one line that says so, status 3.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        if exit_.code:                  # argparse printed the error (naming the flag)
            return exit_.code
        raise                           # --help
    args.argv, args.prog = argv, prog or parser.prog
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:                      # a bug of numrnn's: say so, briefly
        if os.environ.get("NUMRNN_DEBUG"):
            raise
        print(f"{parser.prog} {args.command}: internal error in numrnn: {type(err).__name__}: "
              f"{err} (please report it; NUMRNN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def build_parser(add_parsers, prog="numrnn", description=None):
    """An argparse parser whose subcommands come from the functions ``add_parsers``
    (each ``add_parser(subparsers)``), with the exit statuses in its epilog."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=EXIT_STATUSES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    subparsers.required = True
    for add_parser in add_parsers:
        add_parser(subparsers)
    return parser


def main(add_parser, argv=None, command=None):
    """The entry point of ``python -m numrnn.experiments.<module>``: the module's subcommands, run
    as ``numrnn`` runs them (same flags, messages and exit statuses). ``command``: the module's one
    subcommand, implied (``python -m numrnn.experiments.figures --quick``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if command is not None and argv[:1] != [command]:
        argv = [command, *argv]
    return run_main(build_parser([add_parser]), argv)


# ------------------------------------------------------------------------------- environment
def environment(threads_per_run=None):
    """Where numbers were measured, with no machine's folders: Python, numpy, the CPU model, the
    BLAS library, its kernel (``architecture``, e.g. SkylakeX or Haswell: float bits differ between
    kernels) and threads, numpy's enabled CPU features, and the load average.

    ``threads_per_run``: the BLAS threads each training run was limited to, if not the default."""
    import platform

    import numpy
    try:
        from threadpoolctl import threadpool_info
        blas = [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                         "threading_layer")} for lib in threadpool_info()]
    except Exception:                               # noqa: BLE001 - recorded, not fatal
        blas = None
    try:
        from numpy._core._multiarray_umath import __cpu_features__
        features = sorted(k for k, on in __cpu_features__.items() if on)
    except ImportError:
        features = None
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"python": platform.python_version(), "numpy": numpy.__version__, "machine": platform.machine(),
            "system": platform.system(), "cpu": cpu, "cpus": os.cpu_count(), "blas": blas,
            "blas_threads_per_run": threads_per_run, "numpy_cpu_features": features,
            "load_average": [round(v, 1) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def environment_line(env, full_record="the .json"):
    """One line for a results table: CPU, BLAS kernel and threads, numpy; from :func:`environment`
    (``full_record``: where the whole record is, or None)."""
    blas = "; ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}" for b in env.get("blas") or ()) \
        or "BLAS unknown"
    threads = env.get("blas_threads_per_run") or ", ".join(str(b["num_threads"]) for b in env.get("blas") or ())
    simd = [f for f in ("AVX512F", "AVX2", "FMA3") if f in (env.get("numpy_cpu_features") or ())]
    return (f"Environment: {env.get('cpu')} ({env.get('cpus')} CPUs, {env.get('machine')}), Python "
            f"{env.get('python')}, numpy {env.get('numpy')}, {blas}, {threads} BLAS thread(s) per run, "
            f"numpy CPU features incl. {', '.join(simd) or 'none of AVX512F/AVX2/FMA3'}; "
            f"load average {env.get('load_average')} when written"
            + (f" (full record in {full_record})." if full_record else "."))



__all__ = ["EXIT_OK", "EXIT_NO", "EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_DIVERGED", "EXIT_STATUSES",
           "DEFAULT_WORKERS", "integer", "number", "POSITIVE_INT", "SEED", "POSITIVE", "NON_NEGATIVE",
           "FRACTION", "add_alias", "deprecated", "add_deprecated", "add_cell_flag", "add_cells_flag",
           "add_layer_flags", "layer_kwargs", "add_out_flag", "results_dir", "figures_dir",
           "models_dir", "add_resume_flag", "add_checkpoint_flag", "find_checkpoint",
           "add_workers_flag", "add_training_flags", "save_model", "load_model", "command_line", "run_main", "build_parser",
           "main", "environment", "environment_line"]
