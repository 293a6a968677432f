"""What every ``numrnn`` command shares: one flag vocabulary, flag types that name the flag, the
command line as it was run, checkpoint folders, and the exit statuses.

Flags mean the same everywhere: ``--hidden-size`` (old ``--hidden``), ``--workers`` (old
``--jobs``), ``--seeds 0 1 2`` (always a list), ``--out`` (always a folder), ``--cell`` (a key of
:data:`numrnn.nn.CELLS`). Old spellings stay as hidden aliases (:func:`add_alias`).

Exit statuses: 0 done; 2 bad input (the message names the flag, file or value); 3 the run
diverged (:data:`EXIT_DIVERGED`: a non-finite loss, gradient or update; the message says at which
step and what, and which parameters were kept and saved); 1 an internal error (a bug: reported in
one line, the traceback with ``NUMRNN_DEBUG=1``); 130 interrupted.
"""
import argparse
import math
import os
import shlex
import sys

#: Exit status of a command whose training run diverged.
EXIT_DIVERGED = 3
#: Exit status of a command refused for bad input (argparse uses it too).
EXIT_BAD_INPUT = 2


# ------------------------------------------------------------------------------- flag types
def integer(minimum=None):
    """An argparse ``type=``: an integer >= ``minimum``; argparse names the flag in the error."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def number(low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type=``: a finite float in the range (bounds excluded when ``*_open``)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if (low is not None and (value < low or (low_open and value == low))) or \
                (high is not None and (value > high or (high_open and value == high))):
            lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
            hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
            raise argparse.ArgumentTypeError(f"must lie in {lo}, {hi}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


#: Common flag types.
POSITIVE_INT, SEED = integer(1), integer(0)
POSITIVE, NON_NEGATIVE = number(low=0, low_open=True), number(low=0)
FRACTION = number(low=0, high=1, high_open=True)


def add_alias(parser, old, new, **kwargs):
    """Accept ``old`` as a hidden spelling of ``new`` (same destination, not shown by --help)."""
    dest = new.lstrip("-").replace("-", "_")
    parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def add_cell_flag(parser, default="rnn", many=False):
    """``--cell`` (or ``--cells`` with ``many``) with the choices of the registry numrnn.nn.CELLS."""
    from ..nn import CELLS
    if many:
        parser.add_argument("--cells", nargs="+", default=default, choices=sorted(CELLS),
                            help=f"cell types (default: {' '.join(default)})")
    else:
        parser.add_argument("--cell", default=default, choices=sorted(CELLS),
                            help=f"cell type (default {default})")


def add_layer_flags(parser, defaults=None):
    """The options particular to some cells (``--activation``, ``--init``, ``--scale``,
    ``--forget-bias``), read from the cell classes; :func:`layer_kwargs` gives each to the cells
    that take it. ``defaults`` {cell: {option: value}} overrides a class default for one command
    (e.g. the synthetic task's RNN scale 0.25)."""
    from ..nn import CELLS
    from ..nn.activations import ACTIVATIONS
    from ..nn.init import INITS
    from ..training.model import layer_options
    defaults = defaults or {}
    takes = {}
    for cell in sorted(CELLS):
        for name, default in layer_options(cell).items():
            takes.setdefault(name, []).append(f"{cell} {defaults.get(cell, {}).get(name, default)}")
    choices = {"activation": sorted(ACTIVATIONS), "init": sorted(INITS)}
    for name, cells in takes.items():
        parser.add_argument("--" + name.replace("_", "-"), default=None, choices=choices.get(name),
                            type=str if name in choices else number(), metavar=None if name in choices else "X",
                            help=f"only for the cells that take it; default: {', '.join(cells)}")
    parser.set_defaults(_layer_defaults=defaults)


def layer_kwargs(args, cell):
    """The layer options the ``cell`` class takes, from ``args`` or the defaults; a flag given for
    a cell that does not take it is refused by name."""
    from ..nn import CELLS
    from ..training.model import layer_options
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


# ------------------------------------------------------------------------------ command line
def command_line(args):
    """The command as it was run, quoted so a shell runs it again: "numrnn train --seed 1 ..."."""
    argv = getattr(args, "argv", None)
    if argv is None:
        argv = sys.argv[1:]
    return " ".join([getattr(args, "prog", None) or "numrnn"] + [shlex.quote(a) for a in argv])


def checkpoint_in(path, name="model"):
    """A checkpoint path from a folder (``FOLDER/model``) or, as before, a path prefix."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(os.sep):
        return os.path.join(path, name)
    return path


def run_main(parser, argv=None, prog=None):
    """Parse and run a subcommand, refusing bad input with ``prog <cmd>: error: ...`` and status 2.

    Used by ``numrnn`` and by ``python -m numrnn.experiments.<module>``; numrnn's own errors
    (ValueError, TypeError, OSError) never show a traceback.
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
        print(f"{parser.prog} {args.command}: internal error: {type(err).__name__}: {err} "
              f"(please report it; NUMRNN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


__all__ = ["EXIT_DIVERGED", "EXIT_BAD_INPUT", "integer", "number", "POSITIVE_INT", "SEED",
           "POSITIVE", "NON_NEGATIVE", "FRACTION", "add_alias", "add_cell_flag", "add_layer_flags",
           "layer_kwargs", "command_line", "checkpoint_in", "run_main"]
