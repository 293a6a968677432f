"""Mini-batch training: history, periodic test loss, clipping, divergence as a result.

One training step, in order::

    loss, grads = model.loss_and_grads(x_batch, y_batch)      # exact loss and gradient
    if loss or any gradient is nan/inf: stop, "diverged at step N", keep the parameters as they are
    record loss, the global gradient norm and each parameter's gradient norm (W1, W2 separately)
    grads = clip_by_global_norm(grads, clip)                  # only when clip is set
    optimizer.step(model.params, grads)                       # in place
    if a parameter became nan/inf: restore the step's starting values and stop the same way

Steps are counted from 1: "diverged at step N" means the N-th update was the one refused, and the
model holds the parameters after step N-1. Batches are drawn by a seeded permutation each epoch,
so the same seed gives the same bits; :meth:`Trainer.state_dict` holds everything needed to resume.
"""
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from .._checks import check_int
from ..nn.init import as_generator
from .optim import clip_by_global_norm, global_norm


class Diverged(dict):
    """Where and why a run stopped: {"step": N, "epoch": e, "reason": "..."}; str() says it plainly."""

    def __str__(self):
        return f"diverged at step {self['step']} ({self['reason']})"


class Trainer:
    """Trains a :class:`numrnn.training.model.SequenceModel` with an optimiser from :mod:`numrnn.training.optim`.

    Parameters
    ----------
    model : SequenceModel
    optimizer : numrnn.training.optim.Optimizer
    batch_size : int, default 100
        Larger than the data set: the whole set is one batch (with a warning).
    clip : float, optional
        Max global gradient norm; None for no clipping.
    seed : int or Generator, default 0
        Seeds the order of the batches.
    eval_every : int, optional
        Evaluate the test loss every this many steps (and always at the end of each epoch).
    progress : bool, default True
        Show a tqdm progress bar; False for quiet.
    callback : callable (step, model) -> None, optional
        Called after every ``callback_every`` updates (e.g. for gradient-norm heat maps).
    callback_every : int, default 1
    tbptt : int or (int, int), optional
        Truncated BPTT within each batch (:mod:`numrnn.training.tbptt`): ``k`` or ``(k1, k2)`` updates every
        k1 steps and backpropagates k2 >= k1 steps, the state carried between windows and detached.
        Needs a model with ``readout="all"``; None (default) backpropagates through whole sequences.

    Attributes
    ----------
    history : dict
        "loss" (per batch), "grad_norm" (global, before clipping, per batch),
        "grad_norms" {param: per batch}, "test" [[step, loss], ...], "epoch_time" seconds per
        epoch, "diverged" None or :class:`Diverged`.
    step : int, updates done so far.  epoch : int, epochs finished so far.
    """

    def __init__(self, model, optimizer, batch_size=100, clip=None, seed=0, eval_every=None,
                 progress=True, callback=None, callback_every=1, tbptt=None):
        self.model, self.optimizer = model, optimizer
        self.batch_size = check_int("batch_size", batch_size, 1)
        if clip is not None and not clip > 0:
            raise ValueError(f"clip must be > 0 or None, got {clip}")
        self.clip = clip
        self.eval_every = None if eval_every is None else check_int("eval_every", eval_every, 1)
        self.progress, self.callback = progress, callback
        self.callback_every = check_int("callback_every", callback_every, 1)
        self.tbptt = _check_tbptt(tbptt, model)
        self.rng = as_generator(seed)
        self.step, self.epoch = 0, 0
        self.history = {"loss": [], "grad_norm": [], "grad_norms": {k: [] for k in model.params},
                        "test": [], "epoch_time": [], "diverged": None}

    @property
    def diverged(self):
        return self.history["diverged"]

    # ----------------------------------------------------------------- training
    def fit(self, x, y, epochs=1, x_test=None, y_test=None, lengths=None, mask=None):
        """Train for ``epochs`` more epochs (or until divergence); return :attr:`history`.

        Parameters
        ----------
        x, y : training inputs (N, T, D) or tokens (N, T), and targets as the model's loss wants.
        epochs : int >= 1
        x_test, y_test : optional held-out set, evaluated every ``eval_every`` steps and per epoch.
        lengths, mask : optional per-sequence lengths (N,) or per-step mask (N, T) of the training set.
        """
        epochs = check_int("epochs", epochs, 1)
        n = len(x)
        if len(y) != n:
            raise ValueError(f"x holds {n} sequences but y holds {len(y)}")
        batch = self.batch_size
        if batch > n:
            warnings.warn(f"batch_size {batch} is larger than the data set ({n}); using {n}")
            batch = n
        per_epoch = -(-n // batch)
        bar = tqdm(total=epochs * per_epoch, disable=not self.progress, desc="train", leave=False)
        try:
            for _ in range(epochs):
                if self.diverged:
                    break
                started = time.perf_counter()
                order = self.rng.permutation(n)
                for start in range(0, n, batch):
                    idx = order[start:start + batch]
                    ok = self._train_step(x[idx], y[idx], _take(lengths, idx), _take(mask, idx))
                    bar.update(1)
                    if not ok:
                        break
                    if self.eval_every and self.step % self.eval_every == 0 and x_test is not None:
                        self._evaluate(x_test, y_test)
                    if self.progress and self.step % 10 == 0:
                        bar.set_postfix(loss=f"{self.history['loss'][-1]:.3g}")
                if self.diverged:
                    break
                self.epoch += 1
                self.history["epoch_time"].append(time.perf_counter() - started)
                if x_test is not None and not (self.history["test"] and self.history["test"][-1][0] == self.step):
                    self._evaluate(x_test, y_test)
        finally:
            bar.close()
        return self.history

    def _train_step(self, x, y, lengths, mask):
        """One batch: one update, or one per window with truncated BPTT; False if one was refused."""
        with np.errstate(over="ignore", invalid="ignore"):   # overflow is reported as divergence
            if self.tbptt is None:
                loss, grads, _ = self.model.loss_and_grads(x, y, lengths=lengths, mask=mask,
                                                           train=True)
                return self._update(loss, grads)
            if lengths is not None or mask is not None:
                raise ValueError("tbptt runs over whole streams: lengths and mask are not supported")
            from .tbptt import truncated_steps
            k1, k2 = self.tbptt
            for _, loss, grads, _ in truncated_steps(self.model, x, y, k1, k2):
                if not self._update(loss, grads):
                    return False
            return True

    def _update(self, loss, grads):
        """One optimiser step from (loss, grads); False (and the divergence recorded) if refused."""
        step = self.step + 1
        reason = _nonfinite(loss, grads)
        if reason:
            return self._diverge(step, reason)
        self.history["loss"].append(loss)
        self.history["grad_norm"].append(global_norm(grads))
        for name, g in grads.items():
            self.history["grad_norms"][name].append(float(np.linalg.norm(g)))
        if self.clip is not None:
            grads, _ = clip_by_global_norm(grads, self.clip)
        params = self.model.params
        saved = {k: v.copy() for k, v in params.items()}
        self.optimizer.step(params, grads)
        bad = next((k for k, v in params.items() if not np.all(np.isfinite(v))), None)
        if bad:
            self.model.set_params(saved)
            return self._diverge(step, f"parameter {bad} became nan/inf")
        self.step = step
        if self.callback is not None and step % self.callback_every == 0:
            self.callback(step, self.model)
        return True

    def _diverge(self, step, reason):
        self.history["diverged"] = Diverged(step=step, epoch=self.epoch, reason=reason)
        return False

    def _evaluate(self, x_test, y_test):
        self.history["test"].append([self.step, self.model.evaluate(x_test, y_test)])

    # ------------------------------------------------------------------- resume
    def state_dict(self):
        """Step, epoch, the batch-order generator's state and the history (JSON-able but arrays)."""
        return {"step": self.step, "epoch": self.epoch, "rng": self.rng.bit_generator.state,
                "dropout_rng": self.model.dropout_rng.bit_generator.state,
                "history": self.history, "batch_size": self.batch_size, "clip": self.clip}

    def load_state_dict(self, state):
        """Continue exactly where :meth:`state_dict` was taken (same model and optimiser restored)."""
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.rng.bit_generator.state = state["rng"]
        self.model.dropout_rng.bit_generator.state = state["dropout_rng"]
        history = state["history"]
        if set(history["grad_norms"]) != set(self.model.params):
            raise ValueError("trainer state is for a model with other parameters")
        self.history = history
        if history.get("diverged"):
            self.history["diverged"] = Diverged(history["diverged"])


def _check_tbptt(tbptt, model):
    """None, or (k1, k2) with 1 <= k1 <= k2, for a model whose loss covers every step."""
    if tbptt is None:
        return None
    k1, k2 = (tbptt, tbptt) if not isinstance(tbptt, (tuple, list)) else tuple(tbptt)
    k1, k2 = check_int("tbptt k1", k1, 1), check_int("tbptt k2", k2, 1)
    if k2 < k1:
        raise ValueError(f"tbptt k2 must be >= k1, got k1={k1}, k2={k2}")
    if model.readout_mode != "all":
        raise ValueError("tbptt needs a model with readout='all' (a loss at every step)")
    return k1, k2


def _take(array, idx):
    return None if array is None else array[idx]


def _nonfinite(loss, grads):
    """The reason a step must be refused, or "" if the loss and every gradient are finite."""
    if not np.isfinite(loss):
        return f"loss is {loss}"
    for name, g in grads.items():
        if not np.all(np.isfinite(g)):
            return f"gradient of {name} is nan/inf"
    return ""


__all__ = ["Trainer", "Diverged"]
