"""Keras callbacks shared by recipes: schedules and monitors.

- `MomentumSchedule`: the momentum schedule of Hinton's practical guide (2010) for RBMs,
  0.5 then 0.9;
- `RBMMonitor`: logs an RBM's reconstruction error, pseudo-log-likelihood and free-energy
  gap (`zoo.likelihood`) every epoch, so that `CSVLogger` and `EarlyStopping` see them;
- `GradientNorms`: records the norm of the loss gradient of each layer's kernel every
  epoch, on a fixed sample: the vanishing (or exploding) gradient, layer by layer.

References:
    G. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
    2010-003, University of Toronto, 2010.
"""

import keras
import numpy as np
import tensorflow as tf

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
