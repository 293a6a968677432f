r"""Synthetic long-memory tasks, each seeded, each with the loss of a trivial baseline.

- ``first-element`` (the paper's): x(t) ~ U[low, high]^D for t = 0..T-1; the target is x[0, 0], the
  first entry of the first input. MSE. Baseline: always predict the mean, whose MSE is the target's
  variance, :math:`(high - low)^2 / 12 = 1/3` for U[-1, 1].
- ``adding`` (Hochreiter & Schmidhuber 1997; Le et al. 2015): two channels, values U[0, 1] and
  markers; exactly two steps are marked, one in each half of the sequence; the target is the sum of
  the two marked values. MSE. Baseline: predict 1, MSE = Var(u1 + u2) = 1/6 ≈ 0.167.
- ``copy`` (Arjovsky et al. 2016): 10 symbols from {1..8}, then T-1 blanks (0), a delimiter (9),
  and 10 more blanks; the output is blank for T+10 steps and then the 10 symbols. Inputs are one-hot
  (10 channels), the loss is cross-entropy at every step. Baseline: blanks and then a uniform guess
  over the 8 symbols, :math:`10 \log 8 / (T + 20)`.

Every task is drawn from ``seed`` (an integer >= 0) through two independent streams
(``SeedSequence(seed).spawn(2)``), so the test set does not change when the training set size does.
Every argument is checked: a bad one is a TypeError or ValueError that names it.

The baseline reported with each :class:`Task` is *measured* on its test set (the MSE of predicting the
test-target mean, or the copy baseline's exact formula), and the theoretical value is in
``Task.settings["baseline_theory"]``.
"""
import inspect
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_choice, check_dtype, check_int

N_SYMBOLS, N_RECALL, BLANK, DELIMITER = 8, 10, 0, 9


@dataclass
class Task:
    """A data set and what a model needs to know about it.

    x_train : (N, T, D) float inputs.  y_train : (N, O) float targets, or (N, T) int labels for "ce".
    x_test, y_test : the held-out set, same layout.
    loss : "mse" or "ce".  readout : "last" or "all".
    input_size, output_size : D and O (classes for "ce").
    baseline : the loss of the trivial predictor on the test set (see the module docstring).
    target_var : Var of the test targets ("mse" tasks), the denominator of the normalised MSE.
    settings : the arguments that made the task (name, sizes, seed, theoretical baseline).
    """
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    loss: str
    readout: str
    input_size: int
    output_size: int
    baseline: float
    target_var: float = float("nan")
    settings: dict = field(default_factory=dict)

    def normalised(self, loss):
        """loss / baseline: 1 means no better than the trivial predictor, 0 is perfect.

        A non-finite loss (a diverged run) gives a non-finite result; a baseline of 0 (a test set
        of one example has no variance) is a ValueError.
        """
        if isinstance(loss, (bool, np.bool_)) or not isinstance(loss, (numbers.Real, np.floating)):
            raise TypeError(f"loss must be a real number, got {type(loss).__name__} {loss!r}")
        if self.baseline == 0:
            raise ValueError(f"task {self.name!r} has a baseline of 0 (its test set has no variance; "
                             f"n_test={self.settings.get('n_test')}), so a normalised loss is undefined")
        return float(loss) / self.baseline


def _check_seed(seed):
    """The seed as an int >= 0 (what SeedSequence takes), or an error naming ``seed``."""
    return check_int("seed", seed, 0)


def _check_bound(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def _streams(seed):
    train, test = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(train), np.random.default_rng(test)


def first_element(T=100, D=6, n_train=10000, n_test=1000, seed=0, low=-1.0, high=1.0,
                  dtype=np.float32):
    """The paper's task: remember x[0, 0] over T steps of D-dim inputs U[low, high].

    Parameters
    ----------
    T, D : int >= 1 (sequence length, input size)
    n_train, n_test : int >= 1
    seed : int >= 0
    low, high : finite real numbers, low < high, whose range fits ``dtype``
    dtype : float32 or float64
    """
    T, D = check_int("T", T, 1), check_int("D", D, 1)
    dtype = check_dtype("dtype", dtype)
    low, high = _check_bound("low", low), _check_bound("high", high)
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    if not math.isfinite(high - low) or max(-low, high) > float(np.finfo(dtype).max):
        raise ValueError(f"the range [low, high] = [{low}, {high}] overflows {dtype.name}")

    def draw(rng, n):
        x = rng.uniform(low, high, size=(n, T, D)).astype(dtype)
        return x, x[:, 0, :1].copy()

    return _regression("first-element", draw, n_train, n_test, seed, D,
                       dict(T=T, D=D, low=low, high=high, baseline_theory=(high - low) ** 2 / 12))


def adding(T=100, n_train=10000, n_test=1000, seed=0, dtype=np.float32):
    """The adding problem: sum of the two marked values, one marker in each half of the sequence.

    T >= 2, n_train and n_test >= 1, seed >= 0 (integers); dtype float32 or float64.
    """
    T = check_int("T", T, 2)
    dtype = check_dtype("dtype", dtype)

    def draw(rng, n):
        values = rng.uniform(0, 1, size=(n, T))
        first = rng.integers(0, T // 2, size=n)
        second = rng.integers(T // 2, T, size=n)
        markers = np.zeros((n, T))
        markers[np.arange(n), first] = markers[np.arange(n), second] = 1.0
        x = np.stack([values, markers], axis=-1).astype(dtype)
        y = (values[np.arange(n), first] + values[np.arange(n), second])[:, None].astype(dtype)
        return x, y

    return _regression("adding", draw, n_train, n_test, seed, 2, dict(T=T, baseline_theory=1 / 6))


def _draw(task, draw, rng, n, n_name, settings):
    """``draw(rng, n)``; a set too large to allocate is an error naming the sizes."""
    try:
        return draw(rng, n)
    except (ValueError, MemoryError) as err:
        sizes = ", ".join(f"{k}={v}" for k, v in [(n_name, n), *settings.items()] if k in (n_name, "T", "D"))
        raise type(err)(f"task {task!r} with {sizes} is too large to build: {err}") from None


def _regression(name, draw, n_train, n_test, seed, D, settings):
    n_train, n_test = check_int("n_train", n_train, 1), check_int("n_test", n_test, 1)
    seed = _check_seed(seed)
    train_rng, test_rng = _streams(seed)
    x_train, y_train = _draw(name, draw, train_rng, n_train, "n_train", settings)
    x_test, y_test = _draw(name, draw, test_rng, n_test, "n_test", settings)
    var = float(np.var(y_test.astype(np.float64)))
    return Task(name, x_train, y_train, x_test, y_test, loss="mse", readout="last", input_size=D,
                output_size=1, baseline=var, target_var=var,
                settings=dict(name=name, n_train=n_train, n_test=n_test, seed=seed, **settings))


def copy_memory(T=100, n_train=10000, n_test=1000, seed=0, dtype=np.float32):
    """Copy memory: recall 10 symbols after T blanks; one-hot inputs, labels at every step.

    T, n_train, n_test >= 1 and seed >= 0 (integers); dtype (of the one-hot inputs) float32 or float64.
    """
    T = check_int("T", T, 1)
    n_train, n_test = check_int("n_train", n_train, 1), check_int("n_test", n_test, 1)
    seed, dtype = _check_seed(seed), check_dtype("dtype", dtype)
    L = T + 2 * N_RECALL

    def draw(rng, n):
        symbols = rng.integers(1, N_SYMBOLS + 1, size=(n, N_RECALL))
        tokens = np.full((n, L), BLANK)
        tokens[:, :N_RECALL] = symbols
        tokens[:, T + N_RECALL - 1] = DELIMITER
        labels = np.full((n, L), BLANK)
        labels[:, -N_RECALL:] = symbols
        return np.eye(N_SYMBOLS + 2, dtype=dtype)[tokens], labels

    train_rng, test_rng = _streams(seed)
    x_train, y_train = _draw("copy", draw, train_rng, n_train, "n_train", dict(T=T))
    x_test, y_test = _draw("copy", draw, test_rng, n_test, "n_test", dict(T=T))
    baseline = N_RECALL * np.log(N_SYMBOLS) / L
    return Task("copy", x_train, y_train, x_test, y_test, loss="ce", readout="all",
                input_size=N_SYMBOLS + 2, output_size=N_SYMBOLS + 2, baseline=float(baseline),
                settings=dict(name="copy", T=T, n_train=n_train, n_test=n_test, seed=seed,
                              baseline_theory=float(baseline)))


TASKS = {"first-element": first_element, "adding": adding, "copy": copy_memory}


def make_task(name, **kwargs):
    """Build a task by name: "first-element", "adding" or "copy" (keyword arguments as each function).

    An unknown name, or an argument the task does not take, is an error naming it.
    """
    if not isinstance(name, str):
        raise TypeError(f"task must be a name (str), one of {sorted(TASKS)}; got {type(name).__name__}")
    check_choice("task", name, TASKS)
    accepted = list(inspect.signature(TASKS[name]).parameters)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"task {name!r} takes no argument {', '.join(unknown)}; it takes {', '.join(accepted)}")
    return TASKS[name](**kwargs)


__all__ = ["Task", "first_element", "adding", "copy_memory", "make_task", "TASKS"]
