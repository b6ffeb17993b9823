"""GradientNorms records the gradient norm of each layer's kernel, epoch by epoch."""

import keras
import numpy as np
import pytest

from zoo.callbacks import EvaluateOn, GradientNorms, StopAtTarget


def test_records_one_norm_per_layer_and_epoch_as_computed_by_hand(rng):
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, use_bias=False, name="only")]
    )
    model.compile(keras.optimizers.SGD(0.0), "mse")  # the weights stay put
    monitor = GradientNorms(x, y, batch_size=4)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    kernel = model.get_layer("only").get_weights()[0]
    # MSE = mean over batch and outputs of (x W - y)^2: dL/dW = 2 / (n k) x^T (x W - y)
    by_hand = np.mean(
        [
            np.linalg.norm(2 / 8 * xb.T @ (xb @ kernel - yb))
            for xb, yb in ((x[:4], y[:4]), (x[4:], y[4:]))
        ]
    )
    assert monitor.layer_names == ["only"] and monitor.epochs == [0, 1, 2]
    assert monitor.as_array().shape == (3, 1)
    np.testing.assert_allclose(monitor.as_array()[:, 0], by_hand, rtol=1e-5)


def _deep(activation, initializer, batch_norm=False, depth=8):
    layers = [keras.Input((20,))]
    for i in range(depth):
        layers.append(keras.layers.Dense(32, kernel_initializer=initializer, name=f"dense{i}"))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"bn{i}"))
        layers.append(keras.layers.Activation(activation))
    layers.append(keras.layers.Dense(3, activation="softmax", name="out"))
    model = keras.Sequential(layers)
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def test_the_gradient_vanishes_in_a_deep_sigmoid_network_and_not_with_relu_and_he(rng):
    x = rng.normal(size=(64, 20)).astype("float32")
    y = rng.integers(0, 3, 64)
    small = keras.initializers.RandomNormal(stddev=0.05, seed=0)
    norms = {}
    for label, model in (
        ("sigmoid", _deep("sigmoid", small)),
        ("relu_he", _deep("relu", keras.initializers.HeNormal(seed=0))),
        ("sigmoid_bn", _deep("sigmoid", small, batch_norm=True)),
    ):
        monitor = GradientNorms(x, y, batch_size=32)
        model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
        assert monitor.layer_names == [*(f"dense{i}" for i in range(8)), "out"]
        norms[label] = monitor.as_array()[0]  # before training
    first_to_last = {label: n[0] / n[-2] for label, n in norms.items()}
    assert first_to_last["sigmoid"] < 1e-4  # ~0.125 per layer over 7 layers
    assert 1e-2 < first_to_last["relu_he"] < 1e2
    assert 1e-2 < first_to_last["sigmoid_bn"] < 1e2


def test_recording_leaves_batch_norm_statistics_and_refuses_unknown_layers(rng):
    x = rng.normal(2.0, 1.0, size=(32, 20)).astype("float32")
    y = rng.integers(0, 3, 32)
    model = _deep("relu", "he_normal", batch_norm=True, depth=2)
    monitor = GradientNorms(x, y, layers=["dense1", "out"])
    monitor.set_model(model)
    before = [np.array(v) for v in model.non_trainable_variables]
    monitor.on_train_begin()
    assert monitor.layer_names == ["dense1", "out"] and len(monitor.norms[0]) == 2
    for variable, value in zip(model.non_trainable_variables, before, strict=True):
        np.testing.assert_array_equal(np.array(variable), value)
    with pytest.raises(ValueError, match=r"Received: \['bn0'\]"):
        missing = GradientNorms(x, y, layers=["bn0"])
        missing.set_model(model)
        missing.on_train_begin()


def test_stop_at_target_stops_at_the_first_epoch_that_reaches_it():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # as fit sets it
    stop = StopAtTarget("accuracy", 1.0)
    stop.set_model(model)
    for epoch, accuracy in enumerate([0.5, 0.999, 1.0]):
        stop.on_epoch_end(epoch, {"accuracy": accuracy})
        assert model.stop_training is (accuracy == 1.0)
    assert stop.reached_epoch == 3
    low = StopAtTarget("loss", 0.1, mode="min")
    low.set_model(model)
    low.on_epoch_end(0, {"loss": 0.1})
    assert low.reached_epoch == 1
    with pytest.raises(ValueError, match="'accuracy', which the logs lack"):
        stop.on_epoch_end(3, {"loss": 1.0})


def test_evaluate_on_logs_the_final_weights_measures_before_stop_at_target_reads_them(rng):
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    stop = StopAtTarget("train_accuracy", 1.01)  # never reached: every epoch runs
    history = model.fit(
        x, y, epochs=2, batch_size=8, verbose=0, callbacks=[EvaluateOn(x, y), stop]
    ).history
    final = model.evaluate(x, y, verbose=0, return_dict=True)
    assert history["train_accuracy"][-1] == pytest.approx(final["accuracy"])
    assert history["train_loss"][-1] == pytest.approx(final["loss"], rel=1e-5)
    assert history["train_loss"][-1] != pytest.approx(history["loss"][-1], rel=1e-3)
