"""A cell that is not numrnn's passes the whole cell contract with no edit of tests/test_cells.py:
tests/toy_cell.py (a leaky tanh RNN: one module with its reference functions and one registry
entry) is registered through the contract's hook, NUMRNN_TEST_EXTRA_CELLS, and test_cells.py runs
every test it runs for numrnn's cells on it too."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from numrnn.nn import CELLS

HERE = Path(__file__).resolve().parent


def _pytest(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
               **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "pytest", str(HERE / "test_cells.py"), "-q",
                           "-p", "no:cacheprovider", *args], capture_output=True, text=True, env=env, cwd=HERE.parent)


def test_the_toy_cell_passes_the_whole_cell_contract_unedited():
    hook = {"NUMRNN_TEST_EXTRA_CELLS": "toy_cell"}
    ids = _pytest("--collect-only", "-k", "gru or leaky", env_extra=hook).stdout.splitlines()
    per_cell = sum(i.startswith("tests/test_cells.py::") and "gru" in i for i in ids)
    assert per_cell > 40 and sum(i.startswith("tests/test_cells.py::") and "leaky" in i for i in ids) == per_cell
    assert "leaky" not in CELLS                                           # registered only by the hook
    run = _pytest("-k", "leaky", env_extra=hook)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"{per_cell} passed" in run.stdout


def test_the_registry_refuses_a_taken_name_and_unregisters():
    import toy_cell
    entry = toy_cell.ENTRIES["leaky"]
    CELLS.register("leaky-tmp", entry)
    try:
        assert CELLS["leaky-tmp"] is toy_cell.LeakyRNN and CELLS.entry("leaky-tmp") is entry
        layer = CELLS["leaky-tmp"](2, 3, skip=2, alpha=0.3, seed=0)
        x, G = np.ones((1, 5, 2)), np.ones((1, 5, 3))
        hs, cache = layer.forward(x)
        ref_hs, ref_dx, ref_grads, _ = entry.reference(layer, x, G)
        np.testing.assert_allclose(hs, ref_hs, rtol=1e-12)
        try:
            CELLS.register("leaky-tmp", entry)
        except ValueError as err:
            assert "cell 'leaky-tmp' is registered already (LeakyRNN)" in str(err)
        else:
            raise AssertionError("a second registration under the same name was accepted")
    finally:
        CELLS.unregister("leaky-tmp")
    assert "leaky-tmp" not in CELLS
