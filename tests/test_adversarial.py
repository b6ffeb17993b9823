"""FGSM (Goodfellow et al. 2015) against a hand-computed gradient, and its effect on a
trained classifier; adversarial training's loss is the paper's eq. 3."""

import keras
import numpy as np
import pytest

from zoo import adversarial


def _softmax_regression(rng):
    """A linear softmax classifier on 4 inputs with known weights."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    kernel = rng.normal(size=(4, 3)).astype("float32")
    bias = rng.normal(size=3).astype("float32")
    model.layers[0].set_weights([kernel, bias])
    return model, kernel, bias


def _gradient_by_hand(x, y, kernel, bias):
    """d cross-entropy / dx of softmax(x W + b): W (p - onehot(y)), per example."""
    logits = x @ kernel + bias
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p - np.eye(3)[y]) @ kernel.T, p


def test_fgsm_steps_epsilon_along_the_sign_of_the_input_gradient(rng):
    model, kernel, bias = _softmax_regression(rng)
    x = rng.uniform(0.2, 0.8, size=(6, 4)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    gradient, p = _gradient_by_hand(x, y, kernel, bias)
    x_adv = adversarial.fgsm(model, x, y, epsilon=0.1, batch_size=4)  # two batches
    np.testing.assert_allclose(x_adv, x + 0.1 * np.sign(gradient), atol=1e-6)
    # clipped to the valid range; epsilon 0 changes nothing
    clipped = adversarial.fgsm(model, x, y, epsilon=0.5, clip=(0.0, 1.0))
    np.testing.assert_allclose(clipped, np.clip(x + 0.5 * np.sign(gradient), 0, 1), atol=1e-6)
    np.testing.assert_array_equal(adversarial.fgsm(model, x, y, epsilon=0.0), x)
    # without labels: the model's own predictions are the labels
    predicted, _ = _gradient_by_hand(x, p.argmax(-1), kernel, bias)
    np.testing.assert_allclose(
        adversarial.fgsm(model, x, epsilon=0.1), x + 0.1 * np.sign(predicted), atol=1e-6
    )
    with pytest.raises(ValueError, match="Received: epsilon=-0.1"):
        adversarial.fgsm(model, x, y, epsilon=-0.1)
    with pytest.raises(ValueError, match=r"Received: clip=\(1, 0\)"):
        adversarial.fgsm(model, x, y, clip=(1, 0))


def test_adversarial_training_loss_is_the_papers_mix_of_clean_and_fgsm_losses(rng, tmp_path):
    model, kernel, bias = _softmax_regression(rng)
    x = rng.uniform(0.2, 0.8, size=(6, 4)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    robust = adversarial.FGSMTraining(model, epsilon=0.2, alpha=0.3, clip=(0.0, 1.0))
    robust.compile("sgd", "sparse_categorical_crossentropy")
    gradient, p = _gradient_by_hand(x, y, kernel, bias)
    _, p_adv = _gradient_by_hand(np.clip(x + 0.2 * np.sign(gradient), 0, 1), y, kernel, bias)
    clean = -np.log(p[np.arange(6), y]).mean()
    fooled = -np.log(p_adv[np.arange(6), y]).mean()
    assert fooled > clean
    loss = robust.compute_loss(x, y, robust(x), training=True)
    assert float(loss) == pytest.approx(0.3 * clean + 0.7 * fooled, rel=1e-5)
    assert float(robust.compute_loss(x, y, robust(x), training=False)) == pytest.approx(
        clean, rel=1e-5
    )
    robust.fit(x, y, epochs=1, verbose=0)  # trains the classifier's own weights
    assert not np.allclose(model.layers[0].get_weights()[0], kernel)
    robust.save(tmp_path / "robust.keras")
    loaded = keras.saving.load_model(tmp_path / "robust.keras")
    assert (loaded.epsilon, loaded.alpha, loaded.clip) == (0.2, 0.3, (0.0, 1.0))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
