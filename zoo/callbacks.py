"""Keras callbacks shared by recipes: schedules and monitors.

- `MomentumSchedule`: the momentum schedule of Hinton's practical guide (2010) for RBMs,
  0.5 then 0.9;
- `RBMMonitor`: logs an RBM's reconstruction error, pseudo-log-likelihood and free-energy
  gap (`zoo.likelihood`) every epoch, so that `CSVLogger` and `EarlyStopping` see them.

References:
    G. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
    2010-003, University of Toronto, 2010.
"""

import keras
import numpy as np

from zoo._checks import check_float, check_int
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
