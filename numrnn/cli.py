"""Command line: ``numrnn train ...``, ``numrnn reproduce ...`` and the subcommands of other modules.

Subcommands come from modules that expose ``add_parser(subparsers)``: this module's own
(:func:`add_train_parser`) and the experiment modules listed in
:data:`EXPERIMENTS`. An ``add_parser`` registers a parser and sets ``func`` to a
callable ``func(args) -> int`` (the exit status)::

    def add_parser(subparsers):
        p = subparsers.add_parser("sst", help="...")
        p.add_argument(...)
        p.set_defaults(func=run)

Every command speaks one flag vocabulary (:mod:`numrnn.experiments.common`): ``--hidden-size``,
``--workers``, ``--seeds`` a list, ``--out`` a folder, ``--cell`` from :data:`numrnn.nn.CELLS`.
Exit statuses: 0 done, 2 bad input (``numrnn <command>: error: ...`` naming the flag, file or
value, never a traceback), 3 a training run diverged (where and what is printed).

Examples::

    numrnn train --version D --task first-element --epochs 10 --out runs/d
    numrnn train --resume runs/d --epochs 5
    numrnn reproduce --quick
    numrnn reproduce --seeds 0 1 2 3 4 --workers 2 --parts factorial lengths
"""
import argparse
import importlib
import os
import sys

import numpy as np

from .experiments import common

#: The experiment modules; each adds its subcommands with ``add_parser(subparsers)``.
EXPERIMENTS = ["numrnn.experiments.reproduce", "numrnn.experiments.figures",
               "numrnn.experiments.sst", "numrnn.experiments.charlm", "numrnn.experiments.demo",
               "numrnn.course.cli"]


# ------------------------------------------------------------------------------ train
def add_train_parser(subparsers):
    from .data.tasks import TASKS
    from .nn.schedule import VERSIONS
    from .training.optim import OPTIMIZERS

    p = subparsers.add_parser("train", help="train one version on one task",
                              description="Train one recurrent network on a synthetic task. Exit status "
                              "0 when done, 2 for bad input, 3 when the run diverged (the message says at "
                              "which step and what was not finite; --out saves the parameters kept).")
    p.add_argument("--task", default="first-element", choices=sorted(TASKS))
    p.add_argument("--version", default="D", choices=list(VERSIONS), help="paper version (default D)")
    common.add_cell_flag(p)
    p.add_argument("--T", type=common.POSITIVE_INT, default=100, help="sequence length (default 100)")
    p.add_argument("--D", type=common.POSITIVE_INT, default=6, help="input size of first-element (default 6)")
    p.add_argument("--n-train", type=common.POSITIVE_INT, default=10000)
    p.add_argument("--n-test", type=common.POSITIVE_INT, default=1000)
    p.add_argument("--hidden-size", type=common.POSITIVE_INT, default=64, help="hidden size H (default 64)")
    common.add_alias(p, "--hidden", "--hidden-size", type=common.POSITIVE_INT)
    p.add_argument("--epochs", type=common.POSITIVE_INT, default=10)
    p.add_argument("--batch-size", type=common.POSITIVE_INT, default=100)
    p.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    p.add_argument("--lr", type=common.POSITIVE, default=1e-3)
    p.add_argument("--weight-decay", type=common.NON_NEGATIVE, default=0.0)
    p.add_argument("--clip", type=common.POSITIVE, default=None, help="max global gradient norm")
    common.add_layer_flags(p, defaults={"rnn": {"scale": 0.25}})   # the synthetic task's RNN init
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--seed", type=common.SEED, default=0, help="seeds data, weights and batch order")
    p.add_argument("--eval-every", type=common.POSITIVE_INT, default=None, help="test loss every N steps")
    p.add_argument("--out", default=None, help="folder: save the checkpoint as OUT/model.npz and OUT/model.json")
    p.add_argument("--save", default=None, help=argparse.SUPPRESS)   # old: a checkpoint path prefix
    p.add_argument("--resume", default=None,
                   help="continue training a saved checkpoint (a folder written by --out)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)
    return p


def _task_args(args):
    import inspect
    from .data.tasks import TASKS
    kw = dict(T=args.T, n_train=args.n_train, n_test=args.n_test, seed=args.seed, dtype=args.dtype)
    if "D" in inspect.signature(TASKS[args.task]).parameters:
        kw["D"] = args.D
    return kw


def run_train(args):
    from .training.checkpoint import load_checkpoint, save_checkpoint
    from .training.model import SequenceModel
    from .training.optim import make_optimizer
    from .data.tasks import make_task
    from .training.trainer import Trainer

    if args.resume:
        ck = load_checkpoint(common.checkpoint_in(args.resume))
        meta = ck.meta or {}
        if "task" not in meta:
            raise ValueError(f"checkpoint {args.resume} does not say which task it was trained on")
        task = make_task(meta["task"], **meta["task_args"])
        model, optimizer = ck.model, ck.optimizer
        trainer = Trainer(model, optimizer, batch_size=ck.trainer_state["batch_size"],
                          clip=ck.trainer_state["clip"], progress=not args.quiet,
                          eval_every=args.eval_every)
        trainer.load_state_dict(ck.trainer_state)
    else:
        task = make_task(args.task, **_task_args(args))
        meta = {"task": args.task, "task_args": _task_args(args)}
        model = SequenceModel(task.input_size, args.hidden_size, task.output_size, cell=args.cell,
                              version=args.version, readout=task.readout, loss=task.loss,
                              seed=args.seed, dtype=args.dtype, **common.layer_kwargs(args, args.cell))
        optimizer = make_optimizer(args.optimizer, lr=args.lr, weight_decay=args.weight_decay)
        trainer = Trainer(model, optimizer, batch_size=args.batch_size, clip=args.clip,
                          seed=args.seed, eval_every=args.eval_every, progress=not args.quiet)
    meta["command"] = common.command_line(args)
    trainer.fit(task.x_train, task.y_train, epochs=args.epochs, x_test=task.x_test, y_test=task.y_test)
    with np.errstate(over="ignore", invalid="ignore"):
        test = model.evaluate(task.x_test, task.y_test)
    print(f"{model!r}\n{model.n_params()} parameters; {task.name} T={task.settings['T']}, "
          f"seed {task.settings['seed']}, {trainer.step} steps, {trainer.epoch} epochs")
    print(f"test loss {test:.4g}  baseline {task.baseline:.4g}  normalised {task.normalised(test):.4g}")
    path = os.path.join(args.out, "model") if args.out else args.save
    if path:
        if args.out:
            os.makedirs(args.out, exist_ok=True)
        npz, js = save_checkpoint(path, model, optimizer, trainer, meta=meta)
        print(f"saved {npz} and {js}")
    if trainer.diverged:
        print(f"numrnn train: {trainer.diverged.describe()}", file=sys.stderr)
        return common.EXIT_DIVERGED
    return 0


# ------------------------------------------------------------------------------- main
def build_parser():
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="numrnn", description="Recurrent networks with "
                                     "hand-written BPTT: skip connections and multiple matrices.")
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    subparsers.required = True
    add_train_parser(subparsers)
    for name in EXPERIMENTS:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of ``numrnn`` and ``python -m numrnn``; returns the exit status (0, 2 or 3)."""
    return common.run_main(build_parser(), argv, prog="numrnn")


if __name__ == "__main__":
    sys.exit(main())
