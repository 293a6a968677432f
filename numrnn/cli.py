"""Command line: ``numrnn train ...``, ``numrnn reproduce ...`` and the subcommands of other modules.

Subcommands come from modules that expose ``add_parser(subparsers)``: this module's own
(:func:`add_train_parser`) and the experiment modules listed in
:data:`EXPERIMENTS`. An ``add_parser`` registers a parser and sets ``func`` to a
callable ``func(args) -> int`` (the exit status)::

    def add_parser(subparsers):
        p = subparsers.add_parser("sst", help="...")
        p.add_argument(...)
        p.set_defaults(func=run)

Examples::

    numrnn train --version D --task first-element --epochs 10 --save runs/d
    numrnn train --resume runs/d --epochs 5
    numrnn reproduce --quick
    numrnn reproduce --seeds 0 1 2 3 4 --workers 2 --parts factorial lengths
"""
import argparse
import importlib
import shlex
import sys

#: The experiment modules; each adds its subcommands with ``add_parser(subparsers)``.
EXPERIMENTS = ["numrnn.experiments.reproduce", "numrnn.experiments.figures",
               "numrnn.experiments.sst", "numrnn.experiments.charlm", "numrnn.experiments.demo"]


# ------------------------------------------------------------------------------ train
def add_train_parser(subparsers):
    p = subparsers.add_parser("train", help="train one version on one task",
                              description="Train one recurrent network on a synthetic task.")
    p.add_argument("--task", default="first-element", help="first-element, adding or copy")
    p.add_argument("--version", default="D", help="A, B, C, D or special")
    p.add_argument("--cell", default="rnn", help="rnn, lstm or gru")
    p.add_argument("--T", type=int, default=100, help="sequence length (default 100)")
    p.add_argument("--D", type=int, default=6, help="input size of first-element (default 6)")
    p.add_argument("--n-train", type=int, default=10000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=64, help="hidden size H (default 64)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--optimizer", default="adam", help="sgd, momentum, rmsprop or adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--clip", type=float, default=None, help="max global gradient norm")
    p.add_argument("--init", default="normal", help="normal, orthogonal or identity (RNN)")
    p.add_argument("--scale", type=float, default=None,
                   help="gain of the recurrent init (default 0.25 for the RNN, 1 for the LSTM)")
    p.add_argument("--dtype", default="float64", help="float64 or float32")
    p.add_argument("--seed", type=int, default=0, help="seeds data, weights and batch order")
    p.add_argument("--eval-every", type=int, default=None, help="test loss every N steps")
    p.add_argument("--save", default=None, help="checkpoint path (writes PATH.npz and PATH.json)")
    p.add_argument("--resume", default=None, help="continue training a saved checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)
    return p


def _task_args(args):
    kw = dict(T=args.T, n_train=args.n_train, n_test=args.n_test, seed=args.seed, dtype=args.dtype)
    if args.task == "first-element":
        kw["D"] = args.D
    return kw


def run_train(args):
    from .training.checkpoint import load_checkpoint, save_checkpoint
    from .training.model import SequenceModel
    from .training.optim import make_optimizer
    from .data.tasks import make_task
    from .training.trainer import Trainer

    if args.resume:
        ck = load_checkpoint(args.resume)
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
        layer_kw = {"init": args.init}
        scale = args.scale if args.scale is not None else (0.25 if args.cell == "rnn" else 1.0)
        layer_kw["scale"] = scale
        model = SequenceModel(task.input_size, args.hidden, task.output_size, cell=args.cell,
                              version=args.version, readout=task.readout, loss=task.loss,
                              seed=args.seed, dtype=args.dtype, **layer_kw)
        optimizer = make_optimizer(args.optimizer, lr=args.lr, weight_decay=args.weight_decay)
        trainer = Trainer(model, optimizer, batch_size=args.batch_size, clip=args.clip,
                          seed=args.seed, eval_every=args.eval_every, progress=not args.quiet)
    meta["command"] = "numrnn " + " ".join(shlex.quote(a) for a in args.argv)
    trainer.fit(task.x_train, task.y_train, epochs=args.epochs, x_test=task.x_test, y_test=task.y_test)
    test = model.evaluate(task.x_test, task.y_test)
    print(f"{model!r}\n{model.n_params()} parameters; {task.name} T={task.settings['T']}, "
          f"seed {task.settings['seed']}, {trainer.step} steps, {trainer.epoch} epochs")
    print(f"test loss {test:.4g}  baseline {task.baseline:.4g}  normalised {task.normalised(test):.4g}")
    if trainer.diverged:
        print(f"{trainer.diverged}; the model keeps the parameters of step {trainer.step}")
    if args.save:
        npz, js = save_checkpoint(args.save, model, optimizer, trainer, meta=meta)
        print(f"saved {npz} and {js}")
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
    """Entry point of ``numrnn`` and ``python -m numrnn``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"numrnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
