"""Command line: ``numrnn train ...``, ``numrnn reproduce ...`` and the subcommands of other modules.

Subcommands come from modules that expose ``add_parser(subparsers)``: this module's own
(:func:`add_train_parser`) and the experiment modules listed in :data:`EXPERIMENTS`. An
``add_parser`` registers a parser and sets ``func`` to a callable ``func(args) -> int`` (the exit
status)::

    def add_parser(subparsers):
        p = subparsers.add_parser("sst", help="...")
        p.add_argument(...)
        p.set_defaults(func=run)

Every command speaks one flag vocabulary (:mod:`numrnn.experiments.common`): ``--out`` the root of
everything it writes (``OUT/results``, ``OUT/figures/<command>``, ``OUT/models``), ``--resume`` a
switch, ``--checkpoint PATH`` to read a model, ``--cell``/``--cells`` from :data:`numrnn.nn.CELLS`
with the cells' own options, ``--seeds`` a list, ``--workers``, ``--quiet``, ``--dtype``.
Exit statuses (:data:`numrnn.experiments.common.EXIT_STATUSES`): 0 yes, 1 no (a check failed, a
run diverged), 2 bad input, 3 an internal error.

Examples::

    numrnn train --version D --task first-element --epochs 10 --out runs/d
    numrnn train --resume --out runs/d --epochs 5
    numrnn reproduce --quick --out runs/quick
    numrnn reproduce --seeds 0 1 2 3 4 --workers 2 --parts factorial lengths
"""
import importlib
import inspect
import os
import sys

import numpy as np

from .data.tasks import TASKS, make_task
from .experiments import common
from .nn.schedule import VERSIONS
from .training.checkpoint import load_checkpoint, save_checkpoint
from .training.model import SequenceModel
from .training.optim import OPTIMIZERS, make_optimizer
from .training.trainer import Trainer

#: The experiment modules; each adds its subcommands with ``add_parser(subparsers)``.
EXPERIMENTS = ["numrnn.experiments.reproduce", "numrnn.experiments.figures",
               "numrnn.experiments.sst", "numrnn.experiments.sst_predict",
               "numrnn.experiments.charlm", "numrnn.experiments.demo", "numrnn.course.cli"]

#: Where ``numrnn train`` saves its model under ``--out``: OUT/models/train.npz and .json.
TRAIN_MODEL = "train"


# ------------------------------------------------------------------------------ train
def add_train_parser(subparsers):
    p = subparsers.add_parser("train", help="train one version on one task",
                              description="Train one recurrent network on a synthetic task and save it "
                              "as OUT/models/train.npz and .json. Exit status 0 when done, 1 when the run "
                              "diverged (the message says at which step and what was not finite; the "
                              "last good parameters are saved), 2 for bad input, 3 for an internal error.")
    p.add_argument("--task", default="first-element", choices=sorted(TASKS))
    p.add_argument("--version", default="D", choices=list(VERSIONS), help="paper version (default D)")
    common.add_cell_flag(p)
    p.add_argument("--steps", type=common.POSITIVE_INT, default=100, help="sequence length T (default 100)")
    common.add_deprecated(p, "--T", "--steps", type=common.POSITIVE_INT)
    p.add_argument("--input-size", type=common.POSITIVE_INT, default=6,
                   help="input size D of first-element (default 6)")
    common.add_deprecated(p, "--D", "--input-size", type=common.POSITIVE_INT)
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
    p.add_argument("--seed", type=common.SEED, default=0, help="seeds data, weights and batch order")
    p.add_argument("--eval-every", type=common.POSITIVE_INT, default=None, help="test loss every N steps")
    common.add_training_flags(p)
    common.add_out_flag(p, f"OUT/models/{TRAIN_MODEL}.npz and .json")
    common.add_resume_flag(p, f"the model, optimiser and trainer of OUT/models/{TRAIN_MODEL}")
    common.add_checkpoint_flag(p, "continue training this saved model (its task, settings and "
                                  "optimiser), saving to --out")
    common.add_deprecated(p, "--save", "--out (saves OUT/models/train)", dest="save")
    p.set_defaults(func=run_train, save=None)
    return p


def _resume_argv(argv):
    """The old ``--resume FOLDER`` becomes ``--checkpoint FOLDER`` (with its one line)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--resume" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            common.deprecated("--resume FOLDER", "--checkpoint FOLDER (--resume is now a switch)")
            argv[i] = "--checkpoint"
        elif arg.startswith("--resume="):
            common.deprecated("--resume=FOLDER", "--checkpoint FOLDER (--resume is now a switch)")
            argv[i] = "--checkpoint=" + arg.split("=", 1)[1]
    return argv


def _task_args(args):
    kw = dict(T=args.steps, n_train=args.n_train, n_test=args.n_test, seed=args.seed, dtype=args.dtype)
    if "D" in inspect.signature(TASKS[args.task]).parameters:
        kw["D"] = args.input_size
    return kw


def run_train(args):
    model_path = os.path.join(common.models_dir(args.out), TRAIN_MODEL)
    source = model_path if args.resume else args.checkpoint
    if args.resume and args.checkpoint:
        raise ValueError("--resume continues OUT/models/train; --checkpoint continues another model: "
                         "give one of them")
    if source:
        ck = load_checkpoint(common.find_checkpoint(source, TRAIN_MODEL))
        meta = ck.meta or {}
        if "task" not in meta:
            raise ValueError(f"checkpoint {source} does not say which task it was trained on")
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
    path = args.save or model_path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    npz, js = save_checkpoint(path, model, optimizer, trainer, meta=meta)
    print(f"saved {npz} and {js}")
    if trainer.diverged:
        print(f"numrnn train: {trainer.diverged.describe()}", file=sys.stderr)
        return common.EXIT_NO
    return common.EXIT_OK


# ------------------------------------------------------------------------------- main
def build_parser():
    """The argument parser with every available subcommand."""
    return common.build_parser(
        [add_train_parser] + [importlib.import_module(name).add_parser for name in EXPERIMENTS],
        prog="numrnn", description="Recurrent networks with hand-written BPTT: skip connections and "
                                   "multiple matrices.")


def main(argv=None):
    """Entry point of ``numrnn`` and ``python -m numrnn``; returns the exit status (0, 1, 2 or 3)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        argv = _resume_argv(argv)
    return common.run_main(build_parser(), argv, prog="numrnn")


if __name__ == "__main__":
    sys.exit(main())
