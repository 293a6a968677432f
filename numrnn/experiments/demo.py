"""A two-minute tour: run versions A-D and special forward and backward, and check the gradients.

    numrnn demo [--seed N]

It writes nothing (so it takes no ``--out``); exit status 0 when every gradient check passes, 1
when one fails.
"""
import sys

import numpy as np

from ..nn.gradcheck import gradcheck_layer
from ..nn.rnn import RNN
from ..nn.schedule import VERSIONS, describe
from . import common


def tour(seed=0, steps=12, batch=3, input_size=6, hidden_size=8):
    """Print each version's schedule, ``|h(T-1)|`` and finite-difference errors; True if all pass."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, input_size))
    h0 = rng.standard_normal((batch, hidden_size))
    print(f"x: (B={batch}, T={steps}, D={input_size}), H={hidden_size}, float64, seed={seed}\n")
    passed = True
    for name, (K, S) in VERSIONS.items():
        cell = RNN(input_size, hidden_size, n_matrices=K, skip=S, seed=seed)
        print(f"version {name}: K={K} matrices, skip period S={S}; first steps of the schedule:")
        print("  " + describe(K, S, min(steps, 5)).replace("\n", "\n  "))
        hs, _ = cell.forward(x, h0)
        report = gradcheck_layer(cell, x, h0, seed=seed)
        errors = ", ".join(f"{k} {v:.1e}" for k, v in report.items())
        passed &= report.passed(1e-7)
        print(f"  |h(T-1)| = {np.linalg.norm(hs[:, -1]):.3f}; finite-difference relative errors: "
              f"{errors} -> {'PASS' if report.passed(1e-7) else 'FAIL'}\n")
    return passed


def add_parser(subparsers):
    p = subparsers.add_parser("demo", help="versions A-D and special forward, backward and gradient-checked",
                              description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=common.SEED, default=0, help="seeds the weights and inputs (default 0)")
    p.set_defaults(func=run)
    return p


def run(args):
    """``numrnn demo``: the tour with ``args.seed``; 0 when every check passes, else 1."""
    return common.EXIT_OK if tour(seed=args.seed) else common.EXIT_NO


def main(argv=None):
    """``python -m numrnn.experiments.demo [--seed N]`` = ``numrnn demo ...``."""
    return common.main(add_parser, argv, command="demo")


if __name__ == "__main__":
    sys.exit(main())
