"""Mini-batch training: the one update-with-rollback loop of numrnn, divergence as a result.

One training step, in order::

    loss, grads = model.loss_and_grads(x_batch, y_batch)      # exact loss and gradient
    if the loss, a gradient or any value on the way (dhs ...) is nan/inf: stop, "diverged at step N"
    record loss, the global gradient norm and each parameter's gradient norm (W1, W2 separately)
    grads = clip_by_global_norm(grads, clip)                  # only when clip is set
    optimizer.step(model.params, grads)                       # in place, all or nothing
    if the update (a parameter or optimiser slot) would be nan/inf: nothing changes, stop the same way

Steps are counted from 1: "diverged at step N" means the N-th update was the one refused. The model
then holds **the last parameters whose loss was finite**: those after step N-1 if step N's loss
was finite (a gradient or the update overflowed), else those after step N-2 (step N-1 led to
parameters whose loss is nan/inf). :class:`Diverged` records both numbers; the run stays stopped.

Options fold in what the experiments need, so that no experiment writes its own loop:

- ``tbptt=k`` or ``(k1, k2)``: truncated BPTT along each batch, one update per window
  (:mod:`numrnn.training.tbptt`); ``reset_every=R`` restarts the carried state from zeros every R
  steps (the char-LM's streams); ``max_updates`` stops after that many updates.
- ``shuffle=False`` keeps the data's order (parallel text streams must stay in order).
- ``Adam(lazy=("embed.E",))``: the embedding rows of each batch's tokens only (SST).
- ``on_epoch_end``: callables ``f(trainer) -> stop?`` after each epoch, e.g. :class:`EarlyStopping`.
- :meth:`Trainer.fit_batches` takes ready-made batches (padded, length-bucketed sentences).

Batches are drawn by a seeded permutation each epoch, so the same seed gives the same bits;
:meth:`Trainer.state_dict` holds everything needed to resume.
"""
import time
import warnings

import numpy as np

from .._checks import NonFiniteError, check_int, check_real, check_seed
from .._progress import tqdm
from ..nn.protocol import require_protocol
from ..nn.init import as_generator
from .model import check_data
from .optim import Optimizer, clip_by_global_norm, global_norm
from .tbptt import check_tbptt, truncated_steps


TEST_NAMES = ("x_test", "y_test", "test_lengths", "test_mask")


class Diverged(dict):
    """Where and why a run stopped, the one divergence record of numrnn.

    Keys: "step" (the update refused, from 1), "epoch" (epochs finished before it), "reason"
    (what was not finite), "kept" (the step whose parameters the model holds: the last ones whose
    loss was finite; 0 means the initial parameters), "kept_finite" (False only when even those
    were not known to have a finite loss: a first step, or the first after a resume, whose loss
    was not finite). str() says it plainly.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setdefault("kept", self["step"] - 1)           # records written before "kept" existed
        self.setdefault("kept_finite", True)

    def __str__(self):
        return f"diverged at step {self['step']} ({self['reason']})"

    def describe(self):
        """One sentence for people: where, why, and which parameters the model kept."""
        kept = "its initial parameters" if self["kept"] == 0 else f"the parameters after step {self['kept']}"
        if self["kept_finite"]:
            return f"{self}; the model keeps {kept}, the last whose loss was finite"
        return f"{self}; the model keeps {kept}, whose loss is not finite either (nothing earlier was kept)"


class EarlyStopping:
    """An ``on_epoch_end`` callback: keep the parameters of the best epoch by ``score``, stop after
    ``patience`` epochs without a gain, and give the model the best parameters back at the end.

    Parameters
    ----------
    score : callable model -> float
        Higher is better (e.g. dev accuracy). The first epoch is always the best so far.
    patience : int >= 1
    initial : float, optional
        The score before training, reported as :attr:`best` until an epoch finishes.

    Attributes
    ----------
    scores : list, one per epoch.  best_epoch : int (0: none yet).  best : float.
    """

    def __init__(self, score, patience, initial=None):
        if not callable(score):
            raise TypeError(f"score must be a callable model -> float, got {type(score).__name__}")
        self.score, self.patience = score, check_int("patience", patience, 1)
        self.scores, self.best_epoch, self.best, self._params = [], 0, initial, None

    def start(self, trainer):
        """Remember the parameters training starts from (the fallback if no epoch finishes)."""
        if self._params is None:
            self._params = {k: v.copy() for k, v in trainer.model.params.items()}

    def __call__(self, trainer):
        score = self.score(trainer.model)
        self.scores.append(score)
        if self.best_epoch == 0 or score > self.best:
            self.best_epoch, self.best = trainer.epoch, score
            self._params = {k: v.copy() for k, v in trainer.model.params.items()}
            return False
        return trainer.epoch - self.best_epoch >= self.patience

    def finish(self, trainer):
        """Give the model the parameters of the best epoch (or those training started from)."""
        if self._params is not None:
            trainer.model.set_params(self._params)


class Trainer:
    """Trains a :class:`numrnn.training.model.SequenceModel` with an optimiser from :mod:`numrnn.training.optim`.

    Parameters
    ----------
    model : SequenceModel
    optimizer : numrnn.training.optim.Optimizer
    batch_size : int, default 100
        Larger than the data set: the whole set is one batch (with a warning).
    clip : float > 0, optional
        Max global gradient norm; None for no clipping.
    seed : int >= 0 or Generator, default 0
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
        Needs a model with ``readout="all"`` whose layer carries state; None (default)
        backpropagates through whole sequences.
    reset_every : int, optional
        With ``tbptt``: restart the carried state from zeros every R steps of a sequence.
    max_updates : int, optional
        Stop after this many updates (the epoch in progress ends there).
    shuffle : bool, default True
        Draw the batches in a new random order each epoch; False keeps the data's order.
    on_epoch_end : callable (trainer) -> bool, or a list of them, optional
        Called after each epoch (after the test evaluation); a true result stops training. An
        object with ``start(trainer)``/``finish(trainer)`` methods (e.g. :class:`EarlyStopping`) has
        them called when :meth:`fit` starts and ends.

    Attributes
    ----------
    history : dict
        "loss" (per update), "grad_norm" (global, before clipping, per update),
        "grad_norms" {param: per update}, "test" [[step, loss], ...], "epoch_time" and
        "epoch_cpu_time" seconds per epoch, "epoch_loss" (per epoch, the batch losses weighted
        by their sequences), "diverged" None or :class:`Diverged`.
    step : int, updates done so far.  epoch : int, epochs finished so far.
    """

    def __init__(self, model, optimizer, batch_size=100, clip=None, seed=0, eval_every=None,
                 progress=True, callback=None, callback_every=1, tbptt=None, reset_every=None,
                 max_updates=None, shuffle=True, on_epoch_end=None):
        if not all(hasattr(model, a) for a in ("params", "loss_and_grads", "set_params")):
            raise TypeError(f"model must be a SequenceModel, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an optimiser of numrnn.training.optim (e.g. Adam()), "
                            f"got {type(optimizer).__name__} {optimizer!r}")
        self.model, self.optimizer = model, optimizer
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.clip = None if clip is None else check_real("clip", clip, low=0, low_open=True)
        self.eval_every = None if eval_every is None else check_int("eval_every", eval_every, 1)
        self.progress = bool(progress)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be a callable (step, model), got {type(callback).__name__}")
        self.callback = callback
        self.callback_every = check_int("callback_every", callback_every, 1)
        self.tbptt = _check_tbptt(tbptt, model)
        self.reset_every = None if reset_every is None else check_int("reset_every", reset_every, 1)
        if self.reset_every is not None and self.tbptt is None:
            raise ValueError("reset_every restarts the state carried by tbptt: give tbptt too")
        self.max_updates = None if max_updates is None else check_int("max_updates", max_updates, 1)
        self.shuffle = bool(shuffle)
        hooks = [] if on_epoch_end is None else \
            list(on_epoch_end) if isinstance(on_epoch_end, (list, tuple)) else [on_epoch_end]
        for hook in hooks:
            if not callable(hook):
                raise TypeError(f"on_epoch_end must be a callable (trainer) -> stop, or a list of them, "
                                f"got {type(hook).__name__}")
        self.on_epoch_end = hooks
        self.lazy = tuple(getattr(optimizer, "lazy", ()))
        for name in self.lazy:
            if name not in _sparse_rows(model):
                raise ValueError(f"the optimiser updates {name!r} lazily, but only an embedding's rows "
                                 f"can be: this model's are {sorted(_sparse_rows(model)) or 'none'}")
        self.rng = as_generator(check_seed("seed", seed))
        self.step, self.epoch = 0, 0
        self._previous = None        # the parameters before the last update, while their loss was finite
        self.history = {"loss": [], "grad_norm": [], "grad_norms": {k: [] for k in model.params},
                        "test": [], "epoch_time": [], "epoch_cpu_time": [], "epoch_loss": [],
                        "diverged": None}

    @property
    def diverged(self):
        return self.history["diverged"]

    # ----------------------------------------------------------------- training
    def fit(self, x, y, epochs=1, x_test=None, y_test=None, lengths=None, mask=None,
            test_lengths=None, test_mask=None):
        """Train for ``epochs`` more epochs (or until divergence or a stop); return :attr:`history`.

        Every argument is checked before the first step (the test set too), each error naming it.

        Parameters
        ----------
        x, y : training inputs (N, T, D) floats, or tokens (N, T) with an embedding, and targets as
            the model's loss wants: (N, O) or (N, T, O) floats for "mse", (N,) or (N, T) integer
            labels for "ce". Array-likes (lists) are converted.
        epochs : int >= 1
        x_test, y_test : optional held-out set, evaluated every ``eval_every`` steps and per epoch.
        lengths, mask : optional per-sequence lengths (N,) ("last" readout) or per-step weights
            (N, T) >= 0 ("all" readout) of the training set.
        test_lengths, test_mask : the same for the test set.
        """
        epochs = check_int("epochs", epochs, 1)
        x, y, lengths, mask = check_data(self.model, x, y, lengths, mask)
        test = None
        if x_test is not None or y_test is not None:
            if x_test is None:
                raise ValueError("y_test is given without x_test")
            test = check_data(self.model, x_test, y_test, test_lengths, test_mask, names=TEST_NAMES)
        elif test_lengths is not None or test_mask is not None:
            raise ValueError("test_lengths/test_mask are given without x_test and y_test")
        n, batch = len(x), self.batch_size
        if batch > n:
            warnings.warn(f"batch_size {batch} is larger than the data set ({n}); using {n}")
            batch = n

        def batches(rng):
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                yield x[idx], y[idx], _take(lengths, idx), _take(mask, idx)

        return self._run(batches, epochs, -(-n // batch), test)

    def fit_batches(self, batches, epochs=1, x_test=None, y_test=None):
        """Train on ready-made batches: ``batches(rng)`` yields (x, y, lengths, mask) per batch.

        For data that :meth:`fit` cannot hold in one array (sentences padded per batch, bucketed
        by length); ``rng`` is the trainer's seeded generator, so a seeded ``batches`` gives the
        same bits. Each batch is checked as :meth:`fit` checks its data.
        """
        epochs = check_int("epochs", epochs, 1)
        if not callable(batches):
            raise TypeError(f"batches must be a callable rng -> iterable of (x, y, lengths, mask), "
                            f"got {type(batches).__name__}")
        test = None if x_test is None else check_data(self.model, x_test, y_test, names=TEST_NAMES)

        def checked(rng):
            for x, y, lengths, mask in batches(rng):
                yield check_data(self.model, x, y, lengths, mask,
                                 names=[f"{n} (a batch)" for n in ("x", "y", "lengths", "mask")])

        return self._run(checked, epochs, None, test)

    def _run(self, batches, epochs, per_epoch, test):
        """The loop: epochs of batches of updates, the test set, the epoch hooks."""
        for hook in self.on_epoch_end:
            getattr(hook, "start", lambda trainer: None)(self)
        bar = tqdm(total=None if per_epoch is None else epochs * per_epoch, disable=not self.progress,
                   desc="train", leave=False)
        try:
            for _ in range(epochs):
                if self.diverged or self._done():
                    break
                wall, cpu, total, count = time.perf_counter(), time.process_time(), 0.0, 0
                for x, y, lengths, mask in batches(self.rng):
                    losses = self._train_step(x, y, lengths, mask)
                    for loss in losses:
                        total += loss * len(x)
                        count += len(x)
                    bar.update(1)
                    if self.diverged or self._done():
                        break
                    if self.eval_every and test is not None and self.step % self.eval_every == 0:
                        self._evaluate(*test)
                    if self.progress and self.history["loss"]:
                        bar.set_postfix(loss=f"{self.history['loss'][-1]:.3g}", refresh=False)
                if self.diverged:
                    break
                self.epoch += 1
                self.history["epoch_time"].append(time.perf_counter() - wall)
                self.history["epoch_cpu_time"].append(time.process_time() - cpu)
                self.history["epoch_loss"].append(total / count if count else float("nan"))
                if test is not None and not (self.history["test"] and self.history["test"][-1][0] == self.step):
                    self._evaluate(*test)
                stops = [bool(hook(self)) for hook in self.on_epoch_end]
                if any(stops):
                    break
        finally:
            bar.close()
        for hook in self.on_epoch_end:
            getattr(hook, "finish", lambda trainer: None)(self)
        return self.history

    def _done(self):
        return self.max_updates is not None and self.step >= self.max_updates

    def _train_step(self, x, y, lengths, mask):
        """One batch: one update, or one per window with truncated BPTT; the losses of the updates
        made (the run is marked diverged if one was refused)."""
        losses = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # reported as divergence
            try:
                if self.tbptt is None:
                    loss, grads, info = self.model.loss_and_grads(x, y, lengths=lengths, mask=mask,
                                                                  train=True)
                    dhs = info.get("dhs")
                    if np.isfinite(loss) and dhs is not None and not np.all(np.isfinite(dhs)):
                        self._diverge(self.step + 1, "the gradient on the hidden states (dhs) is nan/inf")
                        return losses
                    if self._update(loss, grads, x):
                        losses.append(loss)
                    return losses
                k1, k2 = self.tbptt
                R = x.shape[1] if self.reset_every is None else self.reset_every
                for a in range(0, x.shape[1], R):
                    xs, ys = x[:, a:a + R], y[:, a:a + R]
                    for w, loss, grads, _ in truncated_steps(self.model, xs, ys, k1, k2):
                        if not self._update(loss, grads, xs[:, w.start:w.end]):
                            return losses
                        losses.append(loss)
                        if self._done():
                            return losses
                return losses
            except NonFiniteError as err:       # a layer's own check met a nan/inf on the way
                self._diverge(self.step + 1, f"a non-finite value in the forward or backward: {err}",
                              loss_finite=False)
                return losses

    def _update(self, loss, grads, x):
        """One optimiser step from (loss, grads); False (and the divergence recorded) if refused."""
        step = self.step + 1
        if not np.isfinite(loss):
            return self._diverge(step, f"loss is {loss}", loss_finite=False)
        bad = next((k for k, g in grads.items() if not np.all(np.isfinite(g))), None)
        if bad:
            return self._diverge(step, f"gradient of {bad} is nan/inf")
        rows = {}
        if self.lazy:                           # the embedding rows of the batch's tokens only
            rows = {name: np.unique(x) for name in self.lazy}
            grads = {k: g[rows[k]] if k in rows else g for k, g in grads.items()}
        self.history["loss"].append(loss)
        self.history["grad_norm"].append(global_norm(grads))
        for name, g in grads.items():
            self.history["grad_norms"][name].append(float(np.linalg.norm(g)))
        if self.clip is not None:
            grads, _ = clip_by_global_norm(grads, self.clip)
        previous = {k: (v[rows[k]] if k in rows else v).copy() for k, v in self.model.params.items()}
        try:
            self.optimizer.step(self.model.params, grads, rows=rows or None)
        except NonFiniteError as err:           # nothing was changed
            for key in ("loss", "grad_norm"):
                self.history[key].pop()
            for name in grads:
                self.history["grad_norms"][name].pop()
            return self._diverge(step, str(err))
        self._previous = (previous, rows)
        self.step = step
        if self.callback is not None and step % self.callback_every == 0:
            self.callback(step, self.model)
        return True

    def _diverge(self, step, reason, loss_finite=True):
        """Record the divergence; if the current parameters' loss is not finite, step back one update."""
        kept, kept_finite = step - 1, loss_finite
        if not loss_finite and self._previous is not None:
            previous, rows = self._previous
            for name, target in self.model.params.items():
                if name in rows:
                    target[rows[name]] = previous[name]
                else:
                    target[...] = previous[name]
            kept, kept_finite = step - 2, True
        self._previous = None
        self.history["diverged"] = Diverged(step=step, epoch=self.epoch, reason=reason, kept=kept,
                                            kept_finite=kept_finite)
        return False

    def _evaluate(self, x_test, y_test, lengths=None, mask=None):
        with np.errstate(over="ignore", invalid="ignore"):
            loss = self.model.evaluate(x_test, y_test, lengths=lengths, mask=mask)
        self.history["test"].append([self.step, loss])

    # ------------------------------------------------------------------- resume
    def state_dict(self):
        """Step, epoch, the batch-order generator's state and the history (JSON-able but arrays)."""
        return {"step": self.step, "epoch": self.epoch, "rng": self.rng.bit_generator.state,
                "dropout_rng": self.model.dropout_rng.bit_generator.state,
                "history": self.history, "batch_size": self.batch_size, "clip": self.clip}

    def load_state_dict(self, state):
        """Continue exactly where :meth:`state_dict` was taken (same model and optimiser restored).

        A state that is not such a dict (missing keys, a history without gradient norms) is refused
        with a ValueError naming what it lacks, before anything is changed.
        """
        if not isinstance(state, dict):
            raise TypeError(f"trainer state must be the dict of Trainer.state_dict(), got {type(state).__name__}")
        missing = [key for key in ("step", "epoch", "rng", "dropout_rng", "history") if key not in state]
        if missing or not isinstance(state["history"], dict) or "grad_norms" not in state["history"]:
            what = ", ".join(map(repr, missing)) if missing else "'history' with 'grad_norms'"
            raise ValueError(f"trainer state lacks {what}: give the dict of Trainer.state_dict() (e.g. "
                             f"load_checkpoint(...).trainer_state)")
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.rng.bit_generator.state = state["rng"]
        self.model.dropout_rng.bit_generator.state = state["dropout_rng"]
        history = dict(state["history"])
        if set(history["grad_norms"]) != set(self.model.params):
            raise ValueError("trainer state is for a model with other parameters")
        for key in ("epoch_cpu_time", "epoch_loss"):       # states saved before these existed
            history.setdefault(key, [])
        self.history = history
        if history.get("diverged"):
            self.history["diverged"] = Diverged(history["diverged"])


def _sparse_rows(model):
    """Parameters whose gradient lives on the rows of the batch's tokens (an embedding's)."""
    return {"embed.E"} if getattr(model, "embedding", None) is not None else set()


def _check_tbptt(tbptt, model):
    """None, or (k1, k2) with 1 <= k1 <= k2, for a model whose loss covers every step."""
    if tbptt is None:
        return None
    k1, k2 = check_tbptt(tbptt)
    if model.readout_mode != "all":
        raise ValueError("tbptt needs a model with readout='all' (a loss at every step)")
    require_protocol(model.layer, "Trainer(tbptt=...)", state=True)
    return k1, k2


def _take(array, idx):
    return None if array is None else array[idx]


__all__ = ["Trainer", "Diverged", "EarlyStopping"]
