"""Adversarial examples by the fast gradient sign method, and training against them.

Goodfellow, Shlens & Szegedy (2015) perturb an input by epsilon in the direction of the
sign of the loss gradient, `x + epsilon * sign(grad_x J(theta, x, y))`: a change of at
most epsilon per pixel, invisible at epsilon = 0.1 on MNIST, that a standard network
misclassifies most of the time (their maxout network: 89.4% error at epsilon = 0.25).
Training on a mix of clean and FGSM examples (their eq. 3, `alpha J(x) + (1 - alpha)
J(x_adv)`) makes the network far more robust to them (17.9% error).

Works on any zoo classifier (or Keras model) whose output is class probabilities (or
logits, with `from_logits=True`):

    x_adv = fgsm(model, x_test, y_test, epsilon=0.25, clip=(0.0, 1.0))
    curve = accuracy_under_attack(model, x_test, y_test, [0, 0.1, 0.25], clip=(0.0, 1.0))
    robust = FGSMTraining(model, epsilon=0.25, clip=(0.0, 1.0))
    robust.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    robust.fit(x_train, y_train, epochs=10)      # trains `model` itself

The input gradient is taken with `tf.GradientTape`: Keras 3 has no backend-neutral way
to differentiate with respect to an input.

Reference:
    I. Goodfellow, J. Shlens, C. Szegedy, "Explaining and harnessing adversarial
    examples", ICLR 2015.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo._checks import check_float, check_int

DEFAULT_LOSS = "sparse_categorical_crossentropy"


def _check_clip(clip):
    """None, or `(low, high)` finite numbers with low < high, as a tuple of floats."""
    if clip is None:
        return None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise ValueError(f"clip must be None or (low, high). Received: clip={clip!r}")
    low = check_float("clip", clip[0])
    high = check_float("clip", clip[1])
    if not low < high:
        raise ValueError(
            f"clip must be None or (low, high) with low < high. Received: clip={clip!r}"
        )
    return (low, high)


def _loss_function(loss, from_logits):
    """A per-example loss function of `(y_true, y_pred)`."""
    if loss == DEFAULT_LOSS:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, reduction=None)
    return keras.losses.get(loss)


def gradient_sign(model, x, y, *, loss=DEFAULT_LOSS, from_logits=False, training=False):
    """`sign(grad_x J(x, y))` for a batch, as a tensor shaped like `x`: the direction FGSM
    moves each input element. `y` None takes the model's own predictions as labels."""
    x = tf.convert_to_tensor(x, dtype="float32")
    loss_fn = loss if callable(loss) else _loss_function(loss, from_logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y_pred = model(x, training=training)
        if y is None:
            y = keras.ops.argmax(keras.ops.stop_gradient(y_pred), axis=-1)
        value = keras.ops.sum(loss_fn(y, y_pred))
    return keras.ops.sign(tape.gradient(value, x))


def fgsm(
    model,
    x,
    y=None,
    epsilon=0.1,
    *,
    clip=None,
    loss=DEFAULT_LOSS,
    from_logits=False,
    batch_size=256,
):
    """Adversarial examples by the fast gradient sign method (Goodfellow et al. 2015).

    `x_adv = clip(x + epsilon * sign(grad_x J(theta, x, y)))`, one gradient per example,
    in batches. A white-box attack: the gradient is the attacked model's own.

    Args:
        model: A Keras classifier whose output is class probabilities (or logits, with
            `from_logits=True`).
        x: Inputs, as the model takes them (numpy or a tensor).
        y: Integer labels; None uses the model's predictions (so that the attack does
            not need, and cannot leak, the true labels). Defaults to None.
        epsilon: Size of the step in input units, >= 0: with inputs in [0, 1], 0.25 is a
            quarter of the pixel range. Defaults to 0.1.
        clip: None, or `(low, high)`: the valid input range the result is clipped to
            (`(0, 1)` for pixels scaled to [0, 1]). Defaults to None.
        loss: The loss J: "sparse_categorical_crossentropy" or a Keras loss (a name or a
            callable of `(y_true, y_pred)`). Defaults to "sparse_categorical_crossentropy".
        from_logits: The model outputs logits (the default loss only). Defaults to False.
        batch_size: Examples per gradient computation. Defaults to 256.

    Returns:
        The adversarial examples as a float32 numpy array shaped like `x`.

    Example:

        x_adv = fgsm(model, x_test, y_test, epsilon=0.25, clip=(0.0, 1.0))
        model.evaluate(x_adv, y_test)
    """
    epsilon = check_float("epsilon", epsilon, low=0)
    clip = _check_clip(clip)
    batch_size = check_int("batch_size", batch_size, low=1)
    x = np.asarray(x, dtype="float32")
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(
                f"y must hold one label per example of x. Received: {len(y)} labels for "
                f"{len(x)} examples"
            )
    batches = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        yb = None if y is None else y[start : start + batch_size]
        step = gradient_sign(model, xb, yb, loss=loss, from_logits=from_logits)
        batches.append(_perturb(xb, step, epsilon, clip))
    return np.concatenate(batches) if batches else x.copy()


def _perturb(x, direction, epsilon, clip):
    """`x + epsilon * direction`, clipped to `clip` when given, as numpy."""
    moved = keras.ops.add(x, keras.ops.multiply(epsilon, direction))
    if clip is not None:
        moved = keras.ops.clip(moved, clip[0], clip[1])
    return keras.ops.convert_to_numpy(moved).astype("float32")


def accuracy_under_attack(model, x, y, epsilons, *, batch_size=256, **kwargs):
    """Accuracy on FGSM examples at each epsilon (0: the clean accuracy).

    Args:
        model: The classifier (see `fgsm`).
        x: Inputs.
        y: Integer labels: the attack's labels and those accuracy is measured against.
        epsilons: The epsilons to try, each >= 0.
        batch_size: Examples per batch. Defaults to 256.
        **kwargs: `clip`, `loss`, `from_logits`, as for `fgsm`.

    Returns:
        A list of dicts, one per epsilon: `epsilon`, `accuracy`, `error_percent` and
        `mean_confidence` (the mean probability of the predicted class; with
        `from_logits`, of its softmax).
    """
    y = np.asarray(y)
    rows = []
    for epsilon in epsilons:
        x_adv = x if epsilon == 0 else fgsm(model, x, y, epsilon, batch_size=batch_size, **kwargs)
        probabilities = model.predict(x_adv, batch_size=batch_size, verbose=0)
        if kwargs.get("from_logits"):
            probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(probabilities))
        accuracy = float(np.mean(probabilities.argmax(-1) == y))
        rows.append(
            {
                "epsilon": float(epsilon),
                "accuracy": accuracy,
                "error_percent": 100.0 * (1.0 - accuracy),
                "mean_confidence": float(probabilities.max(-1).mean()),
            }
        )
    return rows


@keras.saving.register_keras_serializable(package="zoo")
class FGSMTraining(keras.Model):
    """Adversarial training (Goodfellow et al. 2015, eq. 3): fits `classifier` on
    `alpha * J(x, y) + (1 - alpha) * J(fgsm(x), y)`, FGSM examples made against the
    classifier as it is at each step.

    The wrapper only changes the loss (`compute_loss`); the weights trained are the
    classifier's, so export or evaluate `classifier` itself afterwards. Metrics are
    measured on the clean inputs; evaluation (`evaluate`, validation) uses the clean
    loss.

    Args:
        classifier: The Keras classifier to train (probabilities out, or logits with a
            `from_logits` loss).
        epsilon: FGSM step in input units, >= 0. Defaults to 0.25.
        alpha: Weight of the clean loss, in [0, 1]. Defaults to 0.5.
        clip: None or `(low, high)`, the valid input range. Defaults to None.
        from_logits: The classifier outputs logits. Defaults to False.
        name: Model name. Defaults to "fgsm_training".

    Example:

        robust = FGSMTraining(model, epsilon=0.25, clip=(0.0, 1.0))
        robust.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        robust.fit(x_train, y_train, epochs=10)
        export(model, ...)   # the classifier, now trained adversarially
    """

    def __init__(
        self,
        classifier,
        epsilon=0.25,
        alpha=0.5,
        clip=None,
        from_logits=False,
        name="fgsm_training",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.classifier = classifier
        self.epsilon = check_float("epsilon", epsilon, low=0)
        self.alpha = check_float("alpha", alpha, low=0, high=1)
        self.clip = _check_clip(clip)
        self.from_logits = bool(from_logits)
        if classifier.built:  # its weights are all there is (callbacks ask before fit)
            self.built = True

    def build(self, input_shape):
        if not self.classifier.built:
            self.classifier.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        clean = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        if not training or self.alpha == 1:
            return clean
        direction = gradient_sign(
            self.classifier, x, y, from_logits=self.from_logits, training=True
        )
        x_adv = keras.ops.stop_gradient(
            keras.ops.add(x, keras.ops.multiply(self.epsilon, direction))
        )
        if self.clip is not None:
            x_adv = keras.ops.clip(x_adv, *self.clip)
        y_adv = self.classifier(x_adv, training=True)
        adversarial = super().compute_loss(x_adv, y, y_adv, sample_weight, training=training)
        return self.alpha * clean + (1.0 - self.alpha) * adversarial

    def get_config(self):
        return {
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "epsilon": self.epsilon,
            "alpha": self.alpha,
            "clip": self.clip,
            "from_logits": self.from_logits,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(config["classifier"])
        return cls(**config)
