"""Keras callbacks shared by recipes: schedules and monitors.

- `MomentumSchedule`: the momentum schedule of Hinton's practical guide (2010) for RBMs,
  0.5 then 0.9;
- `RBMMonitor`: logs an RBM's reconstruction error, pseudo-log-likelihood and free-energy
  gap (`zoo.likelihood`) every epoch, so that `CSVLogger` and `EarlyStopping` see them;
- `EvaluateOn`: logs the loss and metrics on fixed data with the weights at the end of
  each epoch (the training set's, where Keras logs a running mean);
- `StopAtTarget`: stops training when a logged value reaches a target (training
  accuracy 100%: the data are memorised) and records the epoch;
- `GradientNorms`: records the norm of the loss gradient of each layer's kernel every
  epoch, on a fixed sample: the vanishing (or exploding) gradient, layer by layer;
- `RunBackup`: Keras' `BackupAndRestore`, crash-safe: atomic backups, and the best
  model, early stopping and the history carried across a restart;
- `BestModelCheckpoint`: Keras' `ModelCheckpoint(save_best_only=True)` that ignores the
  epochs before `start_from_epoch`, as `EarlyStopping` does, so that the saved model is
  the one early stopping restores.

References:
    G. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
    2010-003, University of Toronto, 2010.
"""

import csv
import json
import os

import keras
import numpy as np
import tensorflow as tf

from zoo._checks import check_choice, check_float, check_int
from zoo.likelihood import free_energy_gap, pseudo_log_likelihood, reconstruction_error


class MomentumSchedule(keras.callbacks.Callback):
    """Raises the optimizer's momentum to `final` from epoch `switch_epoch` on.

    The practical guide's schedule for RBMs: momentum 0.5 while the weights are still
    large and changing fast, then 0.9. Keras optimizers read `momentum` when the train
    function is traced, so the callback rebuilds it when the value changes.

    Args:
        final: Momentum from `switch_epoch` on, in [0, 1). Defaults to 0.9.
        switch_epoch: First epoch (0-based) with the final momentum. Defaults to 5.

    Example:

        model.compile(keras.optimizers.SGD(0.1, momentum=0.5))
        model.fit(x, epochs=20, callbacks=[MomentumSchedule(0.9, switch_epoch=5)])
    """

    def __init__(self, final=0.9, switch_epoch=5):
        super().__init__()
        self.final = check_float("final", final, low=0.0, high=1.0, high_open=True)
        self.switch_epoch = check_int("switch_epoch", switch_epoch, low=0)

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "momentum", 0):
            raise ValueError(
                "MomentumSchedule needs an optimizer built with momentum > 0, such as "
                "keras.optimizers.SGD(0.1, momentum=0.5). Received: "
                f"{type(optimizer).__name__}(momentum={getattr(optimizer, 'momentum', None)})"
            )
        self.initial = float(optimizer.momentum)

    def on_epoch_begin(self, epoch, logs=None):
        momentum = self.final if epoch >= self.switch_epoch else self.initial
        if momentum != self.model.optimizer.momentum:
            self.model.optimizer.momentum = momentum
            self.model.make_train_function(force=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["momentum"] = float(self.model.optimizer.momentum)


class RBMMonitor(keras.callbacks.Callback):
    """Adds `reconstruction_error`, `pseudo_log_likelihood` (Bernoulli visibles) and, with
    validation data, `val_reconstruction_error` and `free_energy_gap` to each epoch's logs.

    Put it before the callbacks that read the logs (CSVLogger, EarlyStopping).

    Args:
        rbm: The `zoo.layers.RBM` being trained.
        train_sample: A fixed sample of training data (a few thousand rows is plenty).
        validation: Optional validation data of the same size.
        seed: Seed of the pseudo-likelihood's random flips.
    """

    def __init__(self, rbm, train_sample, validation=None, seed=0):
        super().__init__()
        self.rbm = rbm
        self.train_sample = np.asarray(train_sample, dtype="float32")
        self.validation = None if validation is None else np.asarray(validation, "float32")
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["reconstruction_error"] = reconstruction_error(self.rbm, self.train_sample)
        if self.rbm.visible == "bernoulli":
            logs["pseudo_log_likelihood"] = pseudo_log_likelihood(
                self.rbm, self.train_sample, seed=self.seed + epoch
            )
        if self.validation is not None:
            logs["val_reconstruction_error"] = reconstruction_error(self.rbm, self.validation)
            logs["free_energy_gap"] = free_energy_gap(self.rbm, self.train_sample, self.validation)


class EvaluateOn(keras.callbacks.Callback):
    """Adds the compiled loss and metrics on fixed data, measured with the weights at the
    end of each epoch, to the epoch's logs as `<prefix><name>` (`train_accuracy`).

    The `accuracy` Keras logs in training is a running mean over the epoch's batches,
    while the weights still change: with a large learning rate it can claim 99% where
    the final weights classify 87% of the same examples right. Put it before the
    callbacks that read the logs (`StopAtTarget`, `CSVLogger`).

    Args:
        x: Inputs (numpy arrays).
        y: Targets.
        prefix: Prefix of the logged names. Defaults to "train_".
        batch_size: Examples per batch of the evaluation. Defaults to 256.
    """

    def __init__(self, x, y, prefix="train_", batch_size=256):
        super().__init__()
        self.x, self.y, self.prefix = x, y, prefix
        self.batch_size = check_int("batch_size", batch_size, low=1)

    def on_epoch_end(self, epoch, logs=None):
        measured = self.model.evaluate(
            self.x, self.y, batch_size=self.batch_size, verbose=0, return_dict=True
        )
        if logs is not None:
            logs.update({f"{self.prefix}{name}": float(v) for name, v in measured.items()})


class StopAtTarget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch whose logged `monitor` reaches
    `target` (at or above it with mode "max", at or below with "min"), and records when.

    Zhang et al. (2017) train until the training accuracy is 100%, and compare how long
    that takes; Keras' `EarlyStopping` stops when a value stops improving instead.

    Args:
        monitor: The logged value to watch. Defaults to "accuracy".
        target: The value to reach. Defaults to 1.0.
        mode: "max" (reach it from below) or "min". Defaults to "max".

    Attributes:
        reached_epoch: The first epoch (1-based) that reached the target, or None.
    """

    def __init__(self, monitor="accuracy", target=1.0, mode="max"):
        super().__init__()
        self.monitor = monitor
        self.target = check_float("target", target)
        self.mode = check_choice("mode", mode, ("max", "min"))
        self.reached_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"StopAtTarget watches {self.monitor!r}, which the logs lack. Received: "
                f"{sorted(logs or {})}"
            )
        reached = value >= self.target if self.mode == "max" else value <= self.target
        if reached and self.reached_epoch is None:
            self.reached_epoch = epoch + 1
            self.model.stop_training = True


class GradientNorms(keras.callbacks.Callback):
    """Records the L2 norm of the loss gradient with respect to each layer's kernel, every
    epoch, on a fixed sample: how much signal reaches each layer (Glorot & Bengio 2010).

    Layers deep in a sigmoid network with small random weights get gradients orders of
    magnitude smaller than the last layers (the vanishing gradient); Glorot or He
    initialisation, ReLU and batch normalisation keep them level. The same sample is used
    every epoch, so that epochs compare: the norms are taken on its batches of
    `batch_size` and averaged, with the model in training mode (batch normalisation
    normalises by the batch, as in training; its moving statistics are left as they
    were). Biases are left out: a kernel per layer, a number per layer.

    Args:
        x: A fixed sample of inputs (a few hundred examples are plenty).
        y: Its targets, as the compiled loss takes them.
        batch_size: Examples per batch the norm is measured on. Defaults to 128.
        layers: Names of the layers to watch, in order; None watches every layer with a
            trainable `kernel`. Defaults to None.
        at_start: Also record before the first epoch (epoch 0). Defaults to True.

    Attributes:
        layer_names: The watched layers, in order.
        epochs: The epoch after which each record was taken (0: before training).
        norms: One list per record, one norm per watched layer.

    Example:

        monitor = GradientNorms(x_train[:512], y_train[:512])
        model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
        monitor.as_array()          # (records, layers): row 0 before training
    """

    def __init__(self, x, y, batch_size=128, layers=None, at_start=True):
        super().__init__()
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        if len(self.x) != len(self.y) or len(self.x) < 1:
            raise ValueError(
                "x and y must hold the same number of examples, at least one. Received: "
                f"{len(self.x)} and {len(self.y)}"
            )
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.layers = None if layers is None else tuple(layers)
        self.at_start = at_start
        self.layer_names, self.epochs, self.norms = [], [], []

    def on_train_begin(self, logs=None):
        if self.model.loss is None:
            raise ValueError("GradientNorms needs a model compiled with a loss.")
        watched = [
            layer
            for layer in self.model.layers
            if getattr(layer, "kernel", None) is not None and layer.trainable
        ]
        if self.layers is not None:
            by_name = {layer.name: layer for layer in watched}
            missing = [name for name in self.layers if name not in by_name]
            if missing:
                raise ValueError(
                    f"layers must name layers with a trainable kernel ({', '.join(by_name)}). "
                    f"Received: {missing}"
                )
            watched = [by_name[name] for name in self.layers]
        self._kernels = [layer.kernel for layer in watched]
        self.layer_names = [layer.name for layer in watched]
        if self.at_start and not self.epochs:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch + 1)

    def as_array(self):
        """The norms as a `(records, layers)` numpy array."""
        return np.asarray(self.norms, dtype="float64").reshape(-1, len(self.layer_names))

    def _record(self, epoch):
        saved = [np.array(v) for v in self.model.non_trainable_variables]
        batches = [
            self._batch_norms(self.x[i : i + self.batch_size], self.y[i : i + self.batch_size])
            for i in range(0, len(self.x), self.batch_size)
        ]
        for variable, value in zip(self.model.non_trainable_variables, saved, strict=True):
            variable.assign(value)  # batch-norm statistics as they were
        self.epochs.append(epoch)
        self.norms.append([float(v) for v in np.mean(batches, axis=0)])

    def _batch_norms(self, x, y):
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self._kernels)
        return [
            0.0 if g is None else float(keras.ops.sqrt(keras.ops.sum(keras.ops.square(g))))
            for g in gradients
        ]


class BestModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Saves the model of the best epoch (`save_best_only`), judging only the epochs from
    `start_from_epoch` on, as `keras.callbacks.EarlyStopping(start_from_epoch=...)` does:
    while a schedule still changes the model (e.g. the k of a k-sparse autoencoder), an
    early epoch can score best without being a model the run is meant to give.

    Args:
        filepath: Where to save the model, as for `ModelCheckpoint`.
        start_from_epoch: Epochs (from 0) before this one are not judged. Defaults to 0.
        **kwargs: `ModelCheckpoint`'s other arguments (`monitor`, `mode`, ...).
    """

    def __init__(self, filepath, *, start_from_epoch=0, **kwargs):
        super().__init__(filepath, save_best_only=True, **kwargs)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, low=0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.start_from_epoch:
            super().on_epoch_end(epoch, logs)


class RunBackup(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, made crash-safe: a run killed at any moment resumes
    with nothing lost and nothing repeated.

    After every epoch it writes to `backup_dir` the model's and optimizer's weights
    (`latest.weights.h5`), the weights of the best epoch so far (`best.weights.h5`, when
    an `EarlyStopping` in `tracked` restores them) and one state file: the epochs done,
    every epoch's logs, and the state of the `tracked` callbacks that follow a best
    value (`ModelCheckpoint`, `EarlyStopping`, `ReduceLROnPlateau`). Each file is
    written beside its target and renamed into place, weights first, so a kill
    mid-write leaves the previous backup whole. On resume it restores all of it, so the
    best model and early stopping see every epoch, not only the resumed ones, and
    rewrites `history_file` from the saved logs: no gaps, no duplicated rows. The
    learning rate resumes with the optimizer's state (its variables are in the weights).

    When training ends the backup is kept, marked finished: fitting the same model
    again with it (a resumed recipe passing a fit that had completed) restores the final
    weights and trains no more epochs; a fit asking for more epochs than the finished one
    did goes on from its last epoch, as a fit with Keras' `initial_epoch` would. An
    unreadable backup is a `ValueError` naming the file and how to start afresh.

    Args:
        backup_dir: The folder of the backup.
        history_file: The `CSVLogger` file to rewrite on resume, or None.
        tracked: The callbacks whose best-value state is saved and restored.
    """

    STATE_FILE = "state.json"
    BEST_WEIGHTS_FILE = "best.weights.h5"

    def __init__(self, backup_dir, *, history_file=None, tracked=()):
        super().__init__(str(backup_dir), delete_checkpoint=False)
        self.history_file = history_file
        self.tracked = tuple(tracked)
        self._state_path = os.path.join(self.backup_dir, self.STATE_FILE)
        self._best_path = os.path.join(self.backup_dir, self.BEST_WEIGHTS_FILE)
        self._history = []
        self._has_best = False  # whether best.weights.h5 holds this fit's best epoch

    # --- restore ---------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._history, self._has_best = [], False
        if not os.path.exists(self._state_path):
            return
        try:
            with open(self._state_path) as f:
                state = json.load(f)
            epoch, history = int(state["epoch"]), list(state["history"])
            self._build_optimizer()
            best_weights = None
            if state.get("best_weights"):
                self.model.load_weights(self._best_path)
                best_weights = self.model.get_weights()
            self.model.load_weights(self._weights_path)  # last: the optimizer's state too
            for callback, saved in zip(self.tracked, state["callbacks"], strict=True):
                _restore_state(callback, saved, best_weights)
        except (OSError, ValueError, KeyError, TypeError) as error:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(
                f"the backup in {self.backup_dir} cannot be read ({detail}); delete that "
                "folder to start this training afresh"
            ) from None
        self._history, self._has_best = history, best_weights is not None
        # A finished fit trains no more, unless this one asks for more epochs than it did
        # (as a fit with Keras' `initial_epoch`): then it goes on from its last epoch.
        asked = self.params["epochs"]
        done = state.get("finished") and asked <= int(state.get("epochs", asked))
        self.model._initial_epoch = asked if done else epoch
        if self.history_file is not None:
            _write_history(self.history_file, history)

    def _build_optimizer(self):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)

    # --- save ------------------------------------------------------------------------

    def on_epoch_end(self, epoch, logs=None):
        self._history.append({"epoch": epoch, **_plain(logs or {})})
        self._current_epoch = epoch + 1
        self._save(finished=False, best_improved=self._best_improved(epoch))

    def on_train_batch_end(self, batch, logs=None):
        pass  # per epoch only: a batch-level backup could not restore the epoch's logs

    def on_train_end(self, logs=None):
        if self._current_epoch or os.path.exists(self._state_path):
            self._save(finished=True, best_improved=False)

    def _best_improved(self, epoch):
        return any(
            isinstance(c, keras.callbacks.EarlyStopping)
            and c.best_weights is not None
            and c.best_epoch == epoch
            for c in self.tracked
        )

    def _save(self, *, finished, best_improved):
        os.makedirs(self.backup_dir, exist_ok=True)
        if best_improved:
            _replace_weights(self.model, self._best_path)
        _replace_weights(self.model, self._weights_path)
        self._has_best = self._has_best or best_improved
        state = {
            "epoch": self._current_epoch,
            "epochs": self.params["epochs"],  # what the fit asked for
            "finished": finished,
            "best_weights": self._has_best,
            "history": self._history,
            "callbacks": [_callback_state(c) for c in self.tracked],
        }
        temporary = f"{self._state_path}.tmp"
        with open(temporary, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self._state_path)


_TRACKED_STATE = {  # the attributes of Keras' callbacks that carry a best value over epochs
    keras.callbacks.ModelCheckpoint: ("best",),
    keras.callbacks.EarlyStopping: ("best", "wait", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("best", "wait", "cooldown_counter"),
}


def _callback_state(callback):
    for kind, names in _TRACKED_STATE.items():
        if isinstance(callback, kind):
            return {name: _plain_value(getattr(callback, name)) for name in names}
    return {}


def _restore_state(callback, saved, best_weights):
    for name, value in saved.items():
        setattr(callback, name, value)
    if isinstance(callback, keras.callbacks.EarlyStopping) and best_weights is not None:
        callback.best_weights = best_weights


def _replace_weights(model, path):
    """`model.save_weights(path)` by a write beside it and a rename into place."""
    temporary = path[: -len(".weights.h5")] + ".tmp.weights.h5"
    model.save_weights(temporary, overwrite=True)
    os.replace(temporary, path)


def _plain_value(value):
    """A JSON-ready number (Python's json keeps inf, as Infinity), or None."""
    if value is None or isinstance(value, (int, np.integer)):
        return None if value is None else int(value)
    return float(value)


def _plain(logs):
    return {k: float(v) for k, v in logs.items() if np.size(v) == 1}


def _write_history(path, rows):
    """The rows as Keras' `CSVLogger` writes them (epoch, then the sorted log keys)."""
    keys = sorted({k for row in rows for k in row} - {"epoch"})
    temporary = f"{path}.tmp"
    with open(temporary, "w", newline="") as f:
        writer = csv.writer(f)
        if rows:
            writer.writerow(["epoch", *keys])
        for row in rows:
            writer.writerow([row["epoch"], *(row.get(k, "NA") for k in keys)])
    os.replace(temporary, path)
