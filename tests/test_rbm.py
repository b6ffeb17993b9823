"""RBMs and DBNs: energies, CD, persistent chains, AIS, monitors, stacks, pretraining."""

import itertools
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.callbacks import MomentumSchedule, RBMMonitor
from zoo.layers import RBM
from zoo.likelihood import (
    _beta_schedule,
    ais_log_likelihood,
    exact_log_partition,
    free_energy_gap,
    mean_log_probability,
    pseudo_log_likelihood,
    reconstruction_error,
)
from zoo.models.rbm import (
    RBMStack,
    check_visible_data,
    dbn_autoencoder,
    dbn_classifier,
    pretrain,
)


def _random_rbm(n_visible, units, visible="bernoulli", seed=0, **kwargs):
    rbm = RBM(units, visible=visible, seed=seed, **kwargs)
    rbm.build((None, n_visible))
    rng = np.random.default_rng(seed)
    rbm.kernel.assign(rng.normal(0, 1.0, (n_visible, units)))
    rbm.visible_bias.assign(rng.normal(0, 1.0, n_visible))
    rbm.hidden_bias.assign(rng.normal(0, 1.0, units))
    return rbm


def _all_states(n):
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)), "float32")


def test_cd_loss_gradient_is_the_cd_update(rng):
    rbm = _random_rbm(5, 3, seed=1)
    v = tf.constant((rng.uniform(size=(8, 5)) < 0.5).astype("float32"))
    negative = tf.constant((rng.uniform(size=(8, 5)) < 0.5).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(rbm.free_energy(v)) - tf.reduce_mean(rbm.free_energy(negative))
    grad = tape.gradient(loss, rbm.kernel.value).numpy()
    ph_data = np.asarray(rbm.hidden_probabilities(v))
    ph_model = np.asarray(rbm.hidden_probabilities(negative))
    update = (v.numpy().T @ ph_data - negative.numpy().T @ ph_model) / 8
    np.testing.assert_allclose(-grad, update, rtol=1e-5, atol=1e-6)


def test_gaussian_visible_mean_is_linear_in_h(rng):
    rbm = _random_rbm(6, 4, visible="gaussian")
    h = rng.uniform(size=(3, 4)).astype("float32")
    kernel, bias = np.asarray(rbm.kernel), np.asarray(rbm.visible_bias)
    np.testing.assert_allclose(rbm.visible_mean(h), h @ kernel.T + bias, rtol=1e-5, atol=1e-6)
    mixed = rbm.visible_mean(0.3 * h[:1] + 0.7 * h[1:2])
    expected = 0.3 * rbm.visible_mean(h[:1]) + 0.7 * rbm.visible_mean(h[1:2])
    np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-6)


def test_an_rbm_learns_a_two_pattern_distribution():
    patterns = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], "float32")
    data = np.repeat(patterns, 200, axis=0)
    rbm = RBM(4, k=1, seed=0)
    model = keras.Sequential([keras.Input((6,)), rbm])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.5), steps_per_execution=20)
    model.fit(data, epochs=60, batch_size=20, verbose=0)
    start = (np.random.default_rng(1).uniform(size=(200, 6)) < 0.5).astype("float32")
    samples = np.asarray(rbm.gibbs(start, k=100))
    matches = (samples[:, None, :] == patterns[None]).all(axis=2)
    assert matches.any(axis=1).mean() > 0.9
    assert 0.25 < matches[:, 0].mean() < 0.75  # both modes, not one


def test_persistent_chains_persist_across_batches(rng):
    rbm = RBM(4, persistent_chains=16, seed=0)
    model = keras.Sequential([keras.Input((4,)), rbm])
    model.compile(keras.optimizers.SGD(0.05))
    assert rbm.chains in model.non_trainable_weights
    assert not np.asarray(rbm.chains).any()  # hidden states start all off
    data = (rng.uniform(size=(64, 4)) < 0.5).astype("float32")
    model.fit(data, epochs=1, batch_size=32, verbose=0)
    after_one = np.asarray(rbm.chains)
    assert set(np.unique(after_one)) <= {0.0, 1.0} and after_one.any()
    # Weights that make v copy h and h copy v: a chain stays where it is, and the data
    # (all ones) never enters it. The chains only keep their pattern if each batch
    # continues them.
    rbm.kernel.assign(100.0 * np.eye(4))
    rbm.visible_bias.assign(np.full(4, -50.0))
    rbm.hidden_bias.assign(np.full(4, -50.0))
    pattern = np.tile([1.0, 0.0, 1.0, 0.0], (16, 1))
    rbm.chains.assign(pattern)
    model.compile(keras.optimizers.SGD(0.0))
    model.fit(np.ones((64, 4), "float32"), epochs=2, batch_size=16, verbose=0)
    np.testing.assert_array_equal(np.asarray(rbm.chains), pattern)


def test_call_is_the_hidden_probabilities_and_adds_the_cd_loss_only_in_training(rng):
    rbm = _random_rbm(5, 3)
    v = (rng.uniform(size=(4, 5)) < 0.5).astype("float32")
    model = keras.Sequential([keras.Input((5,)), rbm])
    np.testing.assert_allclose(model(v), rbm.hidden_probabilities(v), rtol=1e-6)
    assert not model.losses
    model(v, training=True)
    assert len(model.losses) == 1


@pytest.mark.parametrize(
    "visible, kwargs",
    [("bernoulli", {}), ("gaussian", {}), ("gaussian", {"learn_sigma": True})],
)
def test_the_loss_added_in_training_has_the_gradient_of_contrastive_divergence(
    visible, kwargs, rng
):
    # call() shares the data's product between its output and the loss; the loss's
    # gradient must still be contrastive_divergence's, and reach no input.
    shared, reference = (_random_rbm(5, 3, visible, seed=3, k=2, **kwargs) for _ in "ab")
    v = tf.constant((rng.uniform(size=(2, 4, 5)) < 0.5).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(v)
        shared(v, training=True)
        loss = shared.losses[0]
        expected = reference.contrastive_divergence(v)  # the same seed draws the same
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    for mine, theirs in zip(shared.trainable_weights, reference.trainable_weights, strict=True):
        got, want = tape.gradient(loss, mine.value), tape.gradient(expected, theirs.value)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    assert tape.gradient(loss, v) is None or not np.asarray(tape.gradient(loss, v)).any()


def _raises_exactly(message):
    """pytest.raises(ValueError) whose message is exactly `message`."""
    return pytest.raises(ValueError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units must be an int >= 1 and <= 65536. Received: units=0"),
        ({"units": 65_537}, "units must be an int >= 1 and <= 65536. Received: units=65537"),
        ({"units": 4, "k": 0}, "k must be an int >= 1 and <= 10000. Received: k=0"),
        ({"units": 4, "k": 10_001}, "k must be an int >= 1 and <= 10000. Received: k=10001"),
        (
            {"units": 4, "persistent_chains": -1},
            "persistent_chains must be an int >= 0 and <= 10000. Received: persistent_chains=-1",
        ),
        (
            {"units": 4, "persistent_chains": 10_001},
            "persistent_chains must be an int >= 0 and <= 10000. Received: persistent_chains=10001",
        ),
        (
            {"units": 4, "visible": "poisson"},
            "visible must be one of 'bernoulli', 'gaussian'. Received: visible='poisson'",
        ),
        (
            {"units": 4, "learn_sigma": True},
            "learn_sigma needs Gaussian visible units. "
            "Received: learn_sigma=True, visible='bernoulli'",
        ),
        (
            {"units": 4, "weight_stddev": 0.0},
            "weight_stddev must be a finite number > 0. Received: weight_stddev=0.0",
        ),
        (
            {"units": 4, "seed": -1},
            "seed must be None or an int >= 0 and <= 4294967295. Received: seed=-1",
        ),
        (
            {"units": 4, "kernel_regularizer": "l7"},
            "kernel_regularizer must be None, a keras.regularizers.Regularizer or one of "
            "'l1', 'l2', 'orthogonal_regularizer'. Received: kernel_regularizer='l7'",
        ),
        (
            {"units": 4, "mean_field_visible": True, "persistent_chains": 2},
            "mean_field_visible applies to CD-k; persistent chains keep sampled states. "
            "Received: mean_field_visible=True, persistent_chains=2",
        ),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with _raises_exactly(message):
        RBM(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": True}, "units must be an int >= 1 and <= 65536. Received: units=True"),
        ({"units": 2.0}, "units must be an int >= 1 and <= 65536. Received: units=2.0"),
        (
            {"units": 4, "mean_field_visible": 1},
            "mean_field_visible must be True or False. Received: mean_field_visible=1",
        ),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_with_a_type_error(kwargs, message):
    value = list(kwargs.values())[-1]  # the offending one
    with pytest.raises(TypeError, match=f"^{re.escape(message)} of type {type(value).__name__}$"):
        RBM(**kwargs)


def test_the_smallest_allowed_arguments_are_accepted():
    rbm = RBM(1, k=1, persistent_chains=0, weight_stddev=1e-9)
    assert (rbm.units, rbm.k, rbm.persistent_chains) == (1, 1, 0)
    rbm.build((None, 3))
    assert rbm.chains is None and rbm.log_sigma is None
    assert RBM(2, persistent_chains=1).persistent_chains == 1
    with _raises_exactly("k must be an int >= 1 and <= 10000. Received: k=0"):
        rbm.gibbs(np.zeros((1, 3), "float32"), k=0)


def test_config_keeps_every_argument():
    rbm = RBM(
        3, visible="gaussian", k=2, persistent_chains=4, learn_sigma=True, weight_stddev=0.5,
        kernel_regularizer=keras.regularizers.L2(1e-3), seed=7, name="r",
    )  # fmt: skip
    config = rbm.get_config()
    expected = {
        "units": 3, "visible": "gaussian", "k": 2, "persistent_chains": 4, "learn_sigma": True,
        "mean_field_visible": False, "weight_stddev": 0.5, "seed": 7, "name": "r",
    }  # fmt: skip
    assert {key: config[key] for key in expected} == expected
    clone = RBM.from_config(config)
    assert clone.kernel_regularizer.l2 == pytest.approx(1e-3)
    assert RBM(2, mean_field_visible=True).get_config()["mean_field_visible"] is True


def test_exact_log_partition_refuses_large_or_gaussian_rbms():
    with pytest.raises(ValueError, match="units.*Received"):
        exact_log_partition(_random_rbm(3, 21))
    with pytest.raises(ValueError, match="visible.*Received"):
        exact_log_partition(_random_rbm(3, 2, visible="gaussian"))
    # 20 hidden units is the largest it enumerates; with 2 visibles, log Z is also a sum
    # over the 4 visible states: log Z = logsumexp_v [v.b + sum_j softplus(c_j + v W_j)].
    rbm = _random_rbm(2, 20, seed=5)
    kernel, b, c = _np_params(rbm)
    v = _all_states(2).astype("float64")
    terms = v @ b + np.logaddexp(0.0, v @ kernel + c).sum(axis=1)
    assert exact_log_partition(rbm) == pytest.approx(np.logaddexp.reduce(terms), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_ais_agrees_with_the_exact_log_partition_on_small_rbms(seed, rng):
    rbm = _random_rbm(12, 8, seed=seed)
    rbm.kernel.assign(np.asarray(rbm.kernel) * 0.5)
    data = (rng.uniform(size=(50, 12)) < 0.3).astype("float32")
    exact = exact_log_partition(rbm)
    estimate = ais_log_likelihood(rbm, data, runs=100, betas=2000, seed=seed)
    assert estimate["log_z"] == pytest.approx(exact, abs=0.1)
    assert estimate["log_z_low"] <= exact <= estimate["log_z_high"]  # three standard errors
    assert estimate["log_z_high"] - estimate["log_z_low"] < 0.5
    exact_log_prob = -float(np.mean(rbm.free_energy(data))) - exact
    assert estimate["mean_log_prob"] == pytest.approx(exact_log_prob, abs=0.1)
    other = (rng.uniform(size=(30, 12)) < 0.6).astype("float32")
    exact_other = -float(np.mean(rbm.free_energy(other))) - exact
    assert mean_log_probability(rbm, other, exact) == pytest.approx(exact_other, rel=1e-6)
    assert mean_log_probability(rbm, data, estimate["log_z"]) == pytest.approx(
        estimate["mean_log_prob"], rel=1e-12
    )


def test_mean_log_probability_refuses_gaussian_rbms_and_a_non_finite_log_z():
    with pytest.raises(ValueError, match="Received: log_z=nan"):
        mean_log_probability(_random_rbm(4, 2, seed=0), np.zeros((1, 4)), float("nan"))
    gaussian = _random_rbm(4, 2, visible="gaussian")
    with pytest.raises(ValueError, match="Received: visible='gaussian'"):
        mean_log_probability(gaussian, np.zeros((1, 4)), 1.0)


def test_pseudo_log_likelihood_averaged_over_units_is_the_exact_one():
    rbm = _random_rbm(5, 3, seed=2)
    v_all = _all_states(5)
    log_p = -np.asarray(rbm.free_energy(v_all), "float64")  # unnormalised log p(v)
    v = v_all[[3, 17, 30]]
    exact = []
    for row in v:
        total = 0.0
        for i in range(5):
            other = row.copy()
            other[i] = 1 - other[i]
            a = log_p[int("".join(str(int(x)) for x in row), 2)]
            b = log_p[int("".join(str(int(x)) for x in other), 2)]
            total += a - np.logaddexp(a, b)
        exact.append(total)
    averaged = np.mean([pseudo_log_likelihood(rbm, v, index=np.full(3, i)) for i in range(5)])
    assert averaged == pytest.approx(np.mean(exact), rel=1e-5)


def test_monitor_logs_the_guides_measures_every_epoch(rng):
    data = (rng.uniform(size=(400, 12)) < np.linspace(0.1, 0.9, 12)).astype("float32")
    rbm = RBM(6, seed=0)
    model = keras.Sequential([keras.Input((12,)), rbm])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.5))
    monitor = RBMMonitor(rbm, data[:300], validation=data[300:])
    history = model.fit(data[:300], epochs=5, batch_size=20, callbacks=[monitor], verbose=0)
    for key in (
        "reconstruction_error",
        "val_reconstruction_error",
        "pseudo_log_likelihood",
        "free_energy_gap",
    ):
        assert len(history.history[key]) == 5, key
    errors = history.history["reconstruction_error"]
    assert errors[-1] < errors[0]


# --- stacks, DBNs, pretraining -----------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    images = load_digits().images.astype("float32") / 16.0
    return (images > 0.5).astype("float32")[..., None]  # binarised, (1797, 8, 8, 1)


def test_pretraining_trains_each_rbm_on_the_hidden_probabilities_below(digits):
    stack = zoo.create_model("dbn", input_shape=(8, 8, 1), hidden=(32, 16), seed=0)
    flat = digits.reshape(len(digits), -1)
    before = reconstruction_error(stack.rbms[0], flat)
    seen, visible_biases = [], []

    class Inputs(keras.callbacks.Callback):
        def __init__(self, index):
            super().__init__()
            self.index = index

        def on_train_begin(self, logs=None):
            seen.append((self.index, self.model.input_shape[-1]))
            rbm = self.model.layers[-1]
            visible_biases.append(np.asarray(rbm.visible_bias).copy())

    histories = pretrain(
        stack, digits, epochs=[8, 4], batch_size=20, validation_data=digits[:200],
        callbacks=lambda i: [Inputs(i)],  # a callable makes each RBM's own callbacks
    )  # fmt: skip
    assert seen == [(1, 64), (2, 32)]  # 1-based, as documented
    assert reconstruction_error(stack.rbms[0], flat) < 0.5 * before
    top = histories[1].history["reconstruction_error"]
    assert len(top) == 4 and top[-1] < top[0]
    assert histories[0].history["momentum"] == [0.5] * 5 + [0.9] * 3
    assert "free_energy_gap" in histories[0].history
    # the first RBM's visible biases start at the logits of the pixels' means (the guide)
    p = np.clip(flat.mean(axis=0), 0.01, 0.99)
    np.testing.assert_allclose(visible_biases[0], np.log(p / (1 - p)), rtol=1e-5, atol=1e-5)
    # the second RBM trained on P(h | v) of the first: its monitor measured exactly those
    h1 = np.asarray(stack.rbms[0].hidden_probabilities(flat))
    assert top[-1] == pytest.approx(reconstruction_error(stack.rbms[1], h1), rel=1e-6)
    binary_h1 = (h1 > 0.5).astype("float32")  # samples instead of probabilities would differ
    assert top[-1] != pytest.approx(reconstruction_error(stack.rbms[1], binary_h1), rel=1e-3)


def test_an_rbm_loss_in_a_stack_does_not_train_the_rbms_below(rng):
    stack = zoo.create_model("dbn", input_shape=(6,), hidden=(4, 3), seed=0)
    x = tf.constant((rng.uniform(size=(8, 6)) < 0.5).astype("float32"))
    with tf.GradientTape() as tape:
        stack(x, training=True)
        upper = stack.losses[1]
    grads = tape.gradient(upper, [stack.rbms[0].kernel.value, stack.rbms[1].kernel.value])
    assert grads[0] is None or not np.asarray(grads[0]).any()
    assert np.asarray(grads[1]).any()


def test_dbn_classifier_starts_from_the_rbms_weights(rng):
    stack = zoo.create_model("dbn", input_shape=(4, 4, 1), hidden=(6, 5), seed=0)
    for rbm in stack.rbms:
        rbm.hidden_bias.assign(rng.normal(size=rbm.units))
    classifier = dbn_classifier(stack, classes=3, dropout=0.2)
    for i, rbm in enumerate(stack.rbms, start=1):
        kernel, bias = classifier.get_layer(f"dbn_classifier_dense{i}").get_weights()
        np.testing.assert_array_equal(kernel, np.asarray(rbm.kernel))
        np.testing.assert_array_equal(bias, np.asarray(rbm.hidden_bias))
    x = rng.uniform(size=(5, 4, 4, 1)).astype("float32")
    features = keras.Model(classifier.input, classifier.get_layer("dbn_classifier_dense2").output)
    np.testing.assert_allclose(features(x), stack(x), rtol=1e-5, atol=1e-6)
    # copies: training the classifier leaves the RBMs alone
    classifier.get_layer("dbn_classifier_dense1").kernel.assign(np.zeros((16, 6)))
    assert np.asarray(stack.rbms[0].kernel).any()
    with pytest.raises(ValueError, match="classes.*Received"):
        dbn_classifier(stack, classes=1)


def test_gaussian_stack_classifier_and_autoencoder_reproduce_its_passes(rng):
    stack = zoo.create_model("dbn", input_shape=(6,), hidden=(5, 4), visible="gaussian", seed=0)
    first = stack.rbms[0]
    x = rng.normal(3.0, 2.0, size=(300, 6)).astype("float32")
    pretrain(stack, x, epochs=1, monitor_examples=0)
    np.testing.assert_allclose(np.asarray(stack.visible_data(x)).std(0), 1.0, rtol=1e-2)
    first.kernel.assign(rng.normal(size=(6, 5)))
    classifier = dbn_classifier(stack, classes=2)
    assert _names(classifier)[:3] == [
        "dbn_classifier_input", "dbn_classifier_flatten", "dbn_classifier_standardize"
    ]  # fmt: skip
    features = keras.Model(
        classifier.input, classifier.get_layer(f"{classifier.name}_dense2").output
    )
    np.testing.assert_allclose(features(x[:7]), stack(x[:7]), rtol=1e-4, atol=1e-5)
    autoencoder = dbn_autoencoder(stack)
    visible = stack.visible_data(x[:7])
    expected = stack.rbms[0].visible_mean(stack.rbms[1].visible_mean(stack.up(x[:7])))
    np.testing.assert_allclose(autoencoder(visible), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        stack.reconstruct(x[:7]), np.asarray(expected) * np.asarray(x.std(0)) + x.mean(0),
        rtol=1e-3, atol=1e-3,
    )  # fmt: skip


def test_learned_sigma_folds_into_the_classifier_kernel(rng):
    stack = zoo.create_model("gaussian_rbm", input_shape=(5,), units=3, learn_sigma=True)
    stack.rbms[0].log_sigma.assign(rng.normal(0, 0.3, size=5))
    classifier = dbn_classifier(stack, classes=2)
    x = rng.normal(size=(4, 5)).astype("float32")
    hidden = keras.Model(classifier.input, classifier.get_layer(f"{classifier.name}_dense1").output)
    np.testing.assert_allclose(hidden(x), stack(x), rtol=1e-5, atol=1e-6)


def test_an_adapted_stack_round_trips_through_keras_files(tmp_path, rng):
    stack = zoo.create_model("gaussian_rbm", input_shape=(4, 2), units=3, persistent_chains=5)
    x = rng.normal(2.0, 3.0, size=(100, 4, 2)).astype("float32")
    pretrain(stack, x, epochs=1, monitor_examples=0)
    stack.save(tmp_path / "stack.keras")
    reloaded = keras.saving.load_model(tmp_path / "stack.keras")
    np.testing.assert_allclose(reloaded(x), stack(x), rtol=1e-6)
    np.testing.assert_array_equal(reloaded.rbms[0].chains, stack.rbms[0].chains)
    assert reloaded.rbms[0].persistent_chains == 5


def test_samples_and_reconstructions_have_the_input_shape(digits):
    stack = zoo.create_model("dbn", input_shape=(8, 8, 1), hidden=(16, 8), seed=0)
    assert stack.sample(digits[:3], steps=5).shape == (3, 8, 8, 1)
    assert stack.reconstruct(digits[:3]).shape == (3, 8, 8, 1)
    single = zoo.create_model("rbm", input_shape=(8, 8, 1), units=16)
    assert single.sample(digits[:4], steps=3).shape == (4, 8, 8, 1)


def test_bernoulli_data_outside_zero_one_is_refused_or_fixed_on_request(digits):
    stack = zoo.create_model("rbm", input_shape=(8, 8, 1), units=4)
    grey = digits * 255.0
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\].*Received.*\[0, 255\]"):
        pretrain(stack, grey, epochs=1)
    stack.compile(keras.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]"):
        stack.fit(grey, epochs=1, verbose=0)
    clipped = check_visible_data(stack, np.array([[-0.5, 0.5, 1.7]]), "clip")
    np.testing.assert_array_equal(clipped, [[0.0, 0.5, 1.0]])
    binary = check_visible_data(stack, np.array([[0.2, 0.5, 0.6]]), "binarize")
    np.testing.assert_array_equal(binary, [[0.0, 0.0, 1.0]])  # above one half is on
    assert binary.dtype == "float32"
    probabilities = check_visible_data(stack, np.array([[0.0, 0.25, 1.0]]))
    np.testing.assert_array_equal(probabilities, [[0.0, 0.25, 1.0]])  # checked, kept
    with _raises_exactly(
        "x must be in [0, 1] for Bernoulli visible units (scale it, or pass binarize/clip). "
        "Received: x with values in [0.2, 1.5]"
    ):
        check_visible_data(stack, np.array([[0.2, 1.5]]))
    doubles = digits[:5].astype("float64")  # numpy's default dtype, as users pass it
    np.testing.assert_allclose(stack.up(doubles), stack.up(digits[:5]), rtol=1e-6)
    with pytest.raises(ValueError, match="finite"):
        check_visible_data(stack, np.array([[np.nan]]))
    with pytest.raises(ValueError, match="mode.*Received"):
        check_visible_data(stack, digits, "round")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hidden": ()}, "hidden"),
        ({"hidden": (500, 0)}, "hidden"),
        ({"k": 0}, "k"),
        ({"visible": "poisson"}, "visible"),
        ({"input_shape": (0, 28)}, "input_shape"),
    ],
)
def test_bad_dbn_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=f"{match}.*Received"):
        zoo.create_model("dbn", **kwargs)


def test_stack_factories_pass_every_argument_to_their_rbms():
    stack = zoo.create_model(
        "dbn", input_shape=(6,), hidden=[5, 3], visible="gaussian", k=2,
        mean_field_visible=True, kernel_regularizer=keras.regularizers.L2(1e-3), seed=7,
    )  # fmt: skip
    first, second = (rbm.get_config() for rbm in stack.rbms)
    assert (first["name"], second["name"]) == ("dbn_rbm1", "dbn_rbm2")
    assert (first["units"], second["units"]) == (5, 3)
    assert (first["visible"], second["visible"]) == ("gaussian", "bernoulli")
    assert (first["seed"], second["seed"]) == (8, 9)  # one seed per RBM
    for config in (first, second):
        assert (config["k"], config["mean_field_visible"]) == (2, True)
        assert config["kernel_regularizer"]["config"]["l2"] == pytest.approx(1e-3)
    chains = zoo.create_model("dbn", input_shape=(6,), hidden=(4, 2), persistent_chains=3)
    assert [rbm.persistent_chains for rbm in chains.rbms] == [3, 3]
    assert chains.rbms[0].get_config()["seed"] is None
    sigma = zoo.create_model("gaussian_rbm", input_shape=(6,), units=3, learn_sigma=True)
    assert sigma.rbms[0].get_config()["learn_sigma"] is True
    assert zoo.create_model("dbn", input_shape=(6,), hidden=(1,)).rbms[0].units == 1
    hidden = "hidden must be a tuple of ints, each >= 1 and <= 65536, length >= 1."
    with _raises_exactly(f"{hidden} Received: hidden=[4, 0]"):
        zoo.create_model("dbn", hidden=[4, 0])
    with _raises_exactly(f"{hidden} Received: hidden=()"):
        zoo.create_model("dbn", hidden=())
    with pytest.raises(TypeError, match=rf"^{re.escape(hidden)} Received: hidden=5 of type int$"):
        zoo.create_model("dbn", hidden=5)


@pytest.mark.parametrize(
    "factory, kwargs, message",
    [
        ("rbm", {"units": 0}, "units must be an int >= 1 and <= 65536. Received: units=0"),
        ("rbm", {"units": 65_537},
         "units must be an int >= 1 and <= 65536. Received: units=65537"),
        ("gaussian_rbm", {"units": 65_537},
         "units must be an int >= 1 and <= 65536. Received: units=65537"),
        ("dbn", {"hidden": (4, 65_537)},
         "hidden must be a tuple of ints, each >= 1 and <= 65536, length >= 1. "
         "Received: hidden=(4, 65537)"),
        ("rbm", {"k": 10_001}, "k must be an int >= 1 and <= 10000. Received: k=10001"),
        ("gaussian_rbm", {"k": 10_001},
         "k must be an int >= 1 and <= 10000. Received: k=10001"),
        ("dbn", {"k": 10_001}, "k must be an int >= 1 and <= 10000. Received: k=10001"),
        ("dbn", {"k": 0}, "k must be an int >= 1 and <= 10000. Received: k=0"),
        ("dbn", {"visible": "poisson"},
         "visible must be one of 'bernoulli', 'gaussian'. Received: visible='poisson'"),
    ],
)  # fmt: skip
def test_stack_factories_bound_units_and_gibbs_steps(factory, kwargs, message):
    with _raises_exactly(message):
        zoo.create_model(factory, input_shape=(6,), **kwargs)


def test_stack_factories_accept_the_bounds_themselves():
    assert zoo.create_model("rbm", input_shape=(2,), units=65_536).rbms[0].units == 65_536
    assert zoo.create_model("dbn", input_shape=(2,), hidden=(3, 65_536)).rbms[1].units == 65_536
    assert zoo.create_model("gaussian_rbm", input_shape=(2,), k=10_000).rbms[0].k == 10_000


def test_rbms_whose_sizes_do_not_chain_are_refused():
    lower, upper = RBM(8, name="lower"), RBM(4, name="upper")
    lower.build((None, 10))
    upper.build((None, 9))
    with _raises_exactly(
        "The RBMs' sizes do not chain: RBM 2 (upper) has 9 visible units but its input has "
        "8. Received: input_shape=(10,), units=[8, 4]"
    ):
        RBMStack([lower, upper], input_shape=(10,))
    with _raises_exactly(
        "The RBMs' sizes do not chain: RBM 1 (upper) has 9 visible units but its input has "
        "10. Received: input_shape=(10,), units=[4]"
    ):
        RBMStack([upper], input_shape=(10,))
    with _raises_exactly(
        "Only the first RBM of a stack may have Gaussian visibles; the others see hidden "
        "probabilities. Received: visible='gaussian' for RBM 3"
    ):
        RBMStack([RBM(4), RBM(3), RBM(2, visible="gaussian")], input_shape=(10,))
    for bad in ([], [keras.layers.Dense(3)]):
        message = r"^rbms must be a non-empty list of zoo\.layers\.RBM\. Received: rbms=\["
        with pytest.raises(ValueError, match=message):
            RBMStack(bad, input_shape=(10,))


def test_a_stack_is_named_rbm_unstandardised_and_takes_keras_model_arguments(tmp_path):
    stack = RBMStack([RBM(3, name="only")], input_shape=(4,), trainable=False)
    assert stack.name == "rbm" and stack.normalization is None and not stack.trainable
    assert _names(stack) == ["rbm_input", "rbm_flatten", "only"]
    standardising = RBMStack([RBM(3, name="g", visible="gaussian")], (4,), True, name="s")
    assert _names(standardising) == ["s_input", "s_flatten", "s_standardize", "g"]
    # A factory's weights= loads a stack's saved weights.
    trained = zoo.create_model("rbm", input_shape=(4,), units=3, seed=1)
    trained.save_weights(tmp_path / "rbm.weights.h5")
    loaded = zoo.create_model("rbm", input_shape=(4,), units=3, weights=tmp_path / "rbm.weights.h5")
    for mine, theirs in zip(loaded.weights, trained.weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(TypeError, match=r"^hidden must be .* Received: hidden=\(4, 2\.5\)$"):
        zoo.create_model("dbn", hidden=(4, 2.5))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": [1]}, "epochs must be an int or one int per RBM (2). Received: epochs=[1]"),
        ({"epochs": [1, 0]},
         "epochs must be a tuple of ints, each >= 1. Received: epochs=[1, 0]"),
        ({"epochs": 0}, "epochs must be an int >= 1. Received: epochs=0"),
        ({"batch_size": 0}, "batch_size must be an int >= 1. Received: batch_size=0"),
        (
            {"monitor_examples": -1},
            "monitor_examples must be an int >= 0. Received: monitor_examples=-1",
        ),
        (
            {"validation_data": np.full((3, 64), 2.0)},
            "validation_data must be in [0, 1] for Bernoulli visible units (scale it, or pass "
            "binarize/clip). Received: validation_data with values in [2, 2]",
        ),
    ],
)  # fmt: skip
def test_pretrain_refuses_bad_arguments_naming_them(kwargs, message, digits):
    stack = zoo.create_model("dbn", input_shape=(8, 8, 1), hidden=(4, 3))
    with _raises_exactly(message):
        pretrain(stack, digits, **kwargs)


class _Compiled(keras.callbacks.Callback):
    """Records how pretraining compiled and fits each RBM's model."""

    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        self.seen.append(
            {
                "name": self.model.name,
                "optimizer": optimizer,
                "learning_rate": float(optimizer.learning_rate),
                "steps_per_execution": self.model.steps_per_execution,
                "steps": self.params["steps"],
            }
        )


def test_pretrain_compiles_each_rbm_with_the_guides_sgd_and_the_options_given(rng, capsys):
    bernoulli = zoo.create_model("dbn", input_shape=(6,), hidden=(4, 3), seed=0)
    x = (rng.uniform(size=(30, 6)) < 0.5).astype("float32")
    seen = []
    histories = pretrain(
        bernoulli, x, epochs=[3, 1], batch_size=7, momentum_switch_epoch=1,
        steps_per_execution=1, callbacks=[_Compiled(seen)],
    )  # fmt: skip
    assert capsys.readouterr().out == ""  # verbose=0 by default
    assert [entry["name"] for entry in seen] == ["dbn_pretrain1", "dbn_pretrain2"]
    assert [entry["learning_rate"] for entry in seen] == [pytest.approx(0.1)] * 2
    assert [entry["steps"] for entry in seen] == [5, 5]  # 30 rows in batches of 7
    assert seen[0]["steps_per_execution"] == 1
    assert isinstance(seen[0]["optimizer"], keras.optimizers.SGD)
    assert histories[0].history["momentum"] == [0.5, 0.9, 0.9]  # switched at epoch 1
    assert "val_reconstruction_error" not in histories[0].history  # no validation data
    assert "reconstruction_error" in histories[1].history

    gaussian = zoo.create_model("gaussian_rbm", input_shape=(6,), units=3, seed=0)
    seen.clear()
    pretrain(gaussian, rng.normal(size=(30, 6)), epochs=1, callbacks=[_Compiled(seen)])
    assert seen[0]["learning_rate"] == pytest.approx(0.01)  # the guide's rate for Gaussians
    assert seen[0]["steps_per_execution"] == 10

    seen.clear()
    pretrain(
        bernoulli, x, epochs=1, optimizer=lambda: keras.optimizers.Adam(0.003),
        monitor_examples=0, callbacks=[_Compiled(seen)],
    )  # fmt: skip
    first, second = (entry["optimizer"] for entry in seen)
    assert isinstance(first, keras.optimizers.Adam) and first is not second  # one each
    assert float(first.learning_rate) == pytest.approx(0.003)
    seen.clear()
    histories = pretrain(
        bernoulli, x, epochs=1, optimizer="rmsprop", validation_data=x[:10],
        callbacks=[_Compiled(seen)],
    )  # fmt: skip
    assert isinstance(seen[0]["optimizer"], keras.optimizers.RMSprop)
    assert "val_reconstruction_error" in histories[1].history  # validation reaches RBM 2


def test_pretrain_takes_batches_of_one_and_fixes_data_in_the_mode_asked(digits):
    stack = zoo.create_model("rbm", input_shape=(8, 8, 1), units=3, seed=0)
    grey = digits[:10] * 1.5  # outside [0, 1]: clipped on request, for validation too
    pretrain(stack, grey, epochs=1, batch_size=1, validation_data=grey, data_mode="clip")
    with _raises_exactly("stack must be a zoo RBMStack. Received: stack=Sequential"):
        pretrain(keras.Sequential([keras.Input((3,))]), digits)


def test_momentum_schedule_changes_the_momentum_the_optimizer_uses():
    inputs = keras.Input((1,))
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
    model = keras.Model(inputs, dense(inputs))
    model.compile(keras.optimizers.SGD(1.0, momentum=0.5), loss=lambda y, p: keras.ops.sum(p))
    one = np.ones((1, 1), "float32")
    history = model.fit(
        one, one, epochs=3, batch_size=1, verbose=0, callbacks=[MomentumSchedule(0.9, 1)]
    )
    # gradient 1 each step; velocity m <- mu m - 1: -1 (mu 0.5), then -1.9, -2.71 (mu 0.9)
    assert float(np.asarray(dense.kernel)[0, 0]) == pytest.approx(-(1 + 1.9 + 2.71))
    assert history.history["momentum"] == [0.5, 0.9, 0.9]
    with pytest.raises(ValueError, match="momentum > 0.*Received"):
        model.compile(keras.optimizers.SGD(1.0), loss="mse")
        model.fit(one, one, epochs=1, verbose=0, callbacks=[MomentumSchedule()])
    with _raises_exactly("final must be a finite number >= 0.0 and < 1.0. Received: final=1.0"):
        MomentumSchedule(final=1.0)
    with _raises_exactly("switch_epoch must be an int >= 0. Received: switch_epoch=-1"):
        MomentumSchedule(switch_epoch=-1)


def test_mean_field_cd_reconstructs_visible_probabilities(rng):
    rbm = _random_rbm(5, 3, seed=3, mean_field_visible=True)
    rbm.hidden_bias.assign(np.full(3, 50.0))  # every hidden unit on: h = 1 for sure
    v = (rng.uniform(size=(4, 5)) < 0.5).astype("float32")
    negative = 1 / (1 + np.exp(-(np.asarray(rbm.visible_bias) + np.asarray(rbm.kernel).sum(1))))
    expected = np.mean(rbm.free_energy(v)) - np.mean(rbm.free_energy(np.tile(negative, (4, 1))))
    assert float(rbm.contrastive_divergence(v)) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="mean_field_visible.*persistent_chains=4"):
        RBM(3, mean_field_visible=True, persistent_chains=4)


# --- exact small cases, computed by hand in numpy (independent of the layer's own code) ---


def _np_params(rbm):
    kernel = np.asarray(rbm.kernel, "float64")
    b = np.asarray(rbm.visible_bias, "float64")
    c = np.asarray(rbm.hidden_bias, "float64")
    return kernel, b, c


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_free_energy(rbm, v):
    """F(v) = -v.b - sum_j log(1 + exp(c_j + v W_j)) of a Bernoulli RBM, by hand."""
    kernel, b, c = _np_params(rbm)
    return -v @ b - np.log1p(np.exp(c + v @ kernel)).sum(1)


def _bernoulli_energy(v, h, kernel, b, c):
    """E(v, h) = -v.b - h.c - v W h, every v against every h: shape (len(v), len(h))."""
    return -(v @ b)[:, None] - (h @ c)[None, :] - v @ kernel @ h.T


def test_bernoulli_energy_free_energy_and_partition_function_by_hand():
    rbm = _random_rbm(4, 3)
    kernel, b, c = _np_params(rbm)
    v, h = _all_states(4).astype("float64"), _all_states(3).astype("float64")
    energies = _bernoulli_energy(v, h, kernel, b, c)
    pairs = [(i, j) for i in range(16) for j in range(8)]
    v32, h32 = v.astype("float32"), h.astype("float32")
    got = np.asarray(rbm.energy(v32[[i for i, _ in pairs]], h32[[j for _, j in pairs]]))
    np.testing.assert_allclose(got, [energies[i, j] for i, j in pairs], rtol=1e-5, atol=1e-5)
    # F(v) = -log sum_h exp(-E(v, h)), and its closed form -v.b - sum_j log(1 + e^{c_j + vW_j})
    free = -np.log(np.exp(-energies).sum(axis=1))
    np.testing.assert_allclose(free, -v @ b - np.log1p(np.exp(c + v @ kernel)).sum(1))
    np.testing.assert_allclose(np.asarray(rbm.free_energy(v32)), free, rtol=1e-5, atol=1e-5)
    log_z = np.log(np.exp(-energies).sum())
    assert exact_log_partition(rbm) == pytest.approx(log_z, rel=1e-6)
    # P(h_j = 1 | v) and P(v_i = 1 | h) from the joint table, marginalising by hand
    joint = np.exp(-energies)
    p_h = np.stack([(joint * h[None, :, j]).sum(1) / joint.sum(1) for j in range(3)], axis=1)
    np.testing.assert_allclose(np.asarray(rbm.hidden_probabilities(v32)), p_h, rtol=1e-5)
    p_v = np.stack([(joint * v[:, i, None]).sum(0) / joint.sum(0) for i in range(4)], axis=1)
    np.testing.assert_allclose(np.asarray(rbm.visible_mean(h32)), p_v, rtol=1e-5)


def _gaussian_rbm(rng, n_visible=4, units=3):
    rbm = _random_rbm(n_visible, units, visible="gaussian", learn_sigma=True)
    sigma = np.array([0.5, 2.0, 1.5, 0.8])[:n_visible]
    rbm.log_sigma.assign(np.log(sigma))
    return rbm, sigma


def test_gaussian_energy_and_conditionals_with_sigma_not_one_by_hand(rng):
    rbm, sigma = _gaussian_rbm(rng)
    kernel, b, c = _np_params(rbm)
    v = rng.normal(0.0, 2.0, size=(6, 4)).astype("float32")
    h = _all_states(3)
    # Cho, Ilin & Raiko 2011: E = sum_i (v_i - b_i)^2 / (2 s_i^2) - h.c - sum_ij v_i/s_i^2 W_ij h_j
    energies = (
        (((v - b) ** 2) / (2 * sigma**2)).sum(1)[:, None]
        - (h @ c)[None, :]
        - (v / sigma**2) @ kernel @ h.T
    )
    for j in range(len(h)):
        got = np.asarray(rbm.energy(v, np.tile(h[j], (6, 1))))
        np.testing.assert_allclose(got, energies[:, j], rtol=1e-4, atol=1e-4)
    free = -np.log(np.exp(-energies).sum(axis=1))
    np.testing.assert_allclose(np.asarray(rbm.free_energy(v)), free, rtol=1e-4, atol=1e-4)
    # P(h_j = 1 | v) = sigmoid(c_j + sum_i W_ij v_i / s_i^2)
    expected_h = _np_sigmoid(c + (v / sigma**2) @ kernel)
    np.testing.assert_allclose(rbm.hidden_probabilities(v), expected_h, rtol=1e-5, atol=1e-6)
    # p(v | h) is Gaussian with mean b + W h and standard deviation s: the energy is a
    # quadratic in v whose curvature gives 1/s^2 and whose minimum is at the mean.
    mean = b + h @ kernel.T
    np.testing.assert_allclose(rbm.visible_mean(h), mean, rtol=1e-5, atol=1e-5)
    many = np.repeat(h[5:6], 20000, axis=0).astype("float32")
    samples = np.asarray(rbm.sample_visible(many))
    np.testing.assert_allclose(samples.mean(0), mean[5], atol=0.05)
    np.testing.assert_allclose(samples.std(0), sigma, rtol=0.03)


def _transition(rbm):
    """The visible chain of one Gibbs step, T[v, v'] = sum_h P(h | v) P(v' | h), by hand."""
    kernel, b, c = _np_params(rbm)
    v, h = _all_states(kernel.shape[0]).astype("float64"), _all_states(kernel.shape[1])
    p_h1 = _np_sigmoid(c + v @ kernel)  # (V, units)
    p_h = np.prod(np.where(h[None] == 1, p_h1[:, None], 1 - p_h1[:, None]), axis=2)  # (V, H)
    p_v1 = _np_sigmoid(b + h @ kernel.T)  # (H, visible)
    p_v = np.prod(np.where(v[None] == 1, p_v1[:, None], 1 - p_v1[:, None]), axis=2)  # (H, V)
    return p_h @ p_v, v, p_h1


def _expected_cd_update(rbm, data_index, k):
    """E[-dL/dW] of CD-k: <v P(h|v)>_data - <v P(h|v)> over the chain k steps from the data."""
    transition, v, p_h1 = _transition(rbm)
    start = np.zeros((len(data_index), len(v)))
    start[np.arange(len(data_index)), data_index] = 1.0
    negative = (start @ np.linalg.matrix_power(transition, k)).mean(0)  # distribution of v_k
    outer = v[:, :, None] * p_h1[:, None, :]  # v P(h | v)^T for every v
    return outer[data_index].mean(0) - np.tensordot(negative, outer, axes=1)


def _ml_update(rbm, data_index):
    """The exact log-likelihood gradient: the model term from p(v) by enumeration."""
    kernel, b, c = _np_params(rbm)
    v = _all_states(kernel.shape[0]).astype("float64")
    log_p = -_np_free_energy(rbm, v)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    outer = v[:, :, None] * _np_sigmoid(c + v @ kernel)[:, None, :]
    return outer[data_index].mean(0) - np.tensordot(p, outer, axes=1)


@pytest.mark.parametrize("k", [1, 3])
def test_cd_k_gradient_is_the_expected_update_of_a_k_step_chain(k):
    rbm = _random_rbm(4, 3, seed=4, k=k)
    rbm.kernel.assign(2.0 * np.asarray(rbm.kernel))  # a slowly mixing chain: k matters
    data_index = np.array([0, 5, 10, 15, 3])
    exact = {j: _expected_cd_update(rbm, data_index, j) for j in (1, 3)}
    assert np.abs(exact[1] - exact[3]).max() > 0.05  # the test can tell CD-1 from CD-3
    repeats = 8000
    v = tf.constant(np.repeat(_all_states(4)[data_index], repeats, axis=0))
    with tf.GradientTape() as tape:
        loss = rbm.contrastive_divergence(v)
    update = -tape.gradient(loss, rbm.kernel.value).numpy()
    # Monte Carlo over 40,000 chains: standard error below 0.003 per entry
    np.testing.assert_allclose(update, exact[k], atol=0.015)


def test_cd_k_expected_update_approaches_the_likelihood_gradient_as_k_grows():
    rbm = _random_rbm(4, 3, seed=4)
    data_index = np.array([0, 5, 10, 15, 3])
    ml = _ml_update(rbm, data_index)
    gaps = [np.abs(_expected_cd_update(rbm, data_index, k) - ml).max() for k in (1, 2, 5, 50)]
    assert gaps[0] > 0.01 and gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-6
    # and the layer's CD-50 gradient, averaged over many chains, is the likelihood gradient
    long = RBM(3, k=50, seed=4)
    long.build((None, 4))
    for mine, theirs in zip(long.weights, rbm.weights, strict=True):
        mine.assign(theirs)
    v = tf.constant(np.repeat(_all_states(4)[data_index], 2000, axis=0))
    with tf.GradientTape() as tape:
        loss = long.contrastive_divergence(v)
    np.testing.assert_allclose(-tape.gradient(loss, long.kernel.value).numpy(), ml, atol=0.02)


def test_persistent_chains_advance_k_gibbs_steps_per_batch():
    rbm = _random_rbm(4, 3, seed=5, k=2, persistent_chains=6000)
    kernel, b, c = _np_params(rbm)
    transition, v, p_h1 = _transition(rbm)
    # chains start with every hidden unit off: v_1 ~ P(v | h = 0), then k - 1 more steps
    start = np.prod(np.where(v == 1, _np_sigmoid(b), 1 - _np_sigmoid(b)), axis=1)
    negative = start @ np.linalg.matrix_power(transition, rbm.k - 1)
    data = np.ones((10, 4), "float32")
    with tf.GradientTape() as tape:
        loss = rbm.contrastive_divergence(tf.constant(data))
    update = -tape.gradient(loss, rbm.kernel.value).numpy()
    outer = v[:, :, None] * p_h1[:, None, :]
    expected = outer[-1] - np.tensordot(negative, outer, axes=1)
    np.testing.assert_allclose(update, expected, atol=0.02)


def test_ais_temperatures_are_spaced_as_salakhutdinov_and_murray():
    for n, counts in [(14500, (1000, 4000, 9500)), (145000, (10000, 40000, 95000)),
                      (15, (1, 4, 10)), (145, (10, 40, 95))]:  # fmt: skip
        betas = _beta_schedule(n)
        assert len(betas) == n and betas[0] == 0.0 and betas[-1] == 1.0
        assert (np.diff(betas) > 0).all()
        below_half = int((betas < 0.5).sum())
        assert (below_half, int((betas < 0.9).sum()) - below_half) == counts[:2], n
        np.testing.assert_allclose(np.diff(betas[: counts[0] + 1]), 0.5 / counts[0])
    assert len(_beta_schedule(3)) == 4  # at least one step below 0.5, one below 0.9, two above


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"runs": 1}, "runs must be an int >= 2. Received: runs=1"),
        ({"betas": 1}, "betas must be an int >= 2. Received: betas=1"),
        ({"data": [[0.0, 1.5, 0.0, 1.0]]},
         "data must be in [0, 1] for Bernoulli visibles. Received: values in [0.0, 1.5]"),
        ({"data": [[-0.5, 0.5, 0.0, 1.0]]},
         "data must be in [0, 1] for Bernoulli visibles. Received: values in [-0.5, 1.0]"),
    ],
)  # fmt: skip
def test_ais_refuses_bad_arguments_naming_them(kwargs, message, rng):
    rbm = _random_rbm(4, 2)
    kwargs = {"data": rng.uniform(size=(5, 4)), **kwargs}
    with _raises_exactly(message):
        ais_log_likelihood(rbm, **kwargs)
    with _raises_exactly(
        "ais_log_likelihood needs Bernoulli visibles. Received: visible='gaussian'"
    ):
        ais_log_likelihood(_random_rbm(4, 2, visible="gaussian"), rng.uniform(size=(5, 4)))


def test_ais_accepts_the_smallest_run_and_schedule_and_images(rng):
    rbm = _random_rbm(4, 2)
    images = (rng.uniform(size=(5, 2, 2)) < 0.5).astype("float32")  # reshaped to rows
    estimate = ais_log_likelihood(rbm, images, runs=2, betas=2)
    assert (estimate["runs"], estimate["betas"]) == (2, 4)
    exact = exact_log_partition(rbm)
    free = np.asarray(rbm.free_energy(images.reshape(5, 4)), "float64")
    assert estimate["mean_log_prob"] == pytest.approx(-free.mean() - estimate["log_z"])
    assert abs(estimate["log_z"] - exact) < 2.0
    assert np.isfinite(estimate["log_z_high"])  # two runs are enough for a standard error


def test_ais_reports_three_standard_errors_either_side(rng):
    rbm = _random_rbm(6, 3, seed=2)
    data = (rng.uniform(size=(30, 6)) < 0.5).astype("float32")
    estimate = ais_log_likelihood(rbm, data, runs=20, betas=50, seed=1)
    assert sorted(estimate) == sorted([
        "log_z", "log_z_low", "log_z_high", "mean_log_prob", "mean_log_prob_low",
        "mean_log_prob_high", "runs", "betas",
    ])  # fmt: skip
    # log_z +- log(1 +- 3 se / mean): the same relative error either side
    above = np.expm1(estimate["log_z_high"] - estimate["log_z"])
    below = -np.expm1(estimate["log_z_low"] - estimate["log_z"])
    assert 0.0 < below < 1.0 and above == pytest.approx(below, rel=1e-9)
    free = np.asarray(rbm.free_energy(data), "float64").mean()
    assert estimate["mean_log_prob"] == pytest.approx(-free - estimate["log_z"], rel=1e-6)
    assert estimate["mean_log_prob_low"] == pytest.approx(-free - estimate["log_z_high"], rel=1e-6)
    assert estimate["mean_log_prob_high"] == pytest.approx(-free - estimate["log_z_low"], rel=1e-6)


def test_a_stack_serves_features_reconstructions_and_free_energies(rng):
    from zoo.export import serving_outputs

    stack = zoo.create_model("dbn", input_shape=(2, 3), hidden=(4, 2), seed=0)
    x = (rng.uniform(size=(5, 2, 3)) < 0.5).astype("float32")
    v = x.reshape(5, 6).astype("float64")
    (w1, b1, c1), (w2, b2, c2) = (_np_params(rbm) for rbm in stack.rbms)
    h1 = _np_sigmoid(v @ w1 + c1)
    h2 = _np_sigmoid(h1 @ w2 + c2)
    down = _np_sigmoid(_np_sigmoid(h2 @ w2.T + b2) @ w1.T + b1)
    served = serving_outputs(stack, x)
    assert sorted(served) == ["features", "free_energy", "reconstruction"]
    np.testing.assert_allclose(served["features"], h2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["reconstruction"], down.reshape(5, 2, 3), atol=1e-5)
    free = -v @ b1 - np.log1p(np.exp(v @ w1 + c1)).sum(1)
    np.testing.assert_allclose(served["free_energy"], free, rtol=1e-5, atol=1e-5)


def test_fit_trains_a_single_rbm_stack_on_checked_data(digits):
    stack = zoo.create_model("rbm", input_shape=(8, 8, 1), units=8, seed=0)
    stack.compile(keras.optimizers.SGD(0.1))
    before = np.asarray(stack.rbms[0].kernel).copy()
    history = stack.fit(digits[:200], None, 20, epochs=3, verbose=0)  # positional y, batch
    assert len(history.history["loss"]) == 3
    assert not np.allclose(np.asarray(stack.rbms[0].kernel), before)


@pytest.mark.parametrize("steps", [1, 20])
def test_sampling_runs_the_chain_for_the_steps_asked(steps):
    stack = zoo.create_model("rbm", input_shape=(4,), units=3, seed=4)
    rbm = stack.rbms[0]
    reference = _random_rbm(4, 3, seed=4)
    for mine, theirs in zip(rbm.weights, reference.weights, strict=True):
        mine.assign(2.0 * np.asarray(theirs))  # slow mixing: 1 and 20 steps differ
    transition, v, p_h1 = _transition(rbm)
    kernel, b, _ = _np_params(rbm)
    means = _np_sigmoid(b + p_h1 @ kernel.T)  # the mean-field image of each state
    start = 12  # v = 1100, a state the chain leaves slowly
    expected = {k: np.linalg.matrix_power(transition, k)[start] @ means for k in (1, 20)}
    assert np.abs(expected[1] - expected[20]).max() > 0.1
    chains = np.repeat(_all_states(4)[start : start + 1], 6000, axis=0)
    samples = np.asarray(stack.sample(chains, steps=steps))
    np.testing.assert_allclose(samples.mean(0), expected[steps], atol=0.02)


def test_ais_is_seeded_and_its_base_model_is_fitted_to_base_data(rng):
    rbm = _random_rbm(6, 3, seed=1)
    data = (rng.uniform(size=(40, 6)) < 0.5).astype("float32")
    data[:, 0], data[:, 1] = 0.0, 1.0  # units always off / on: base biases clipped, finite
    exact = exact_log_partition(rbm)
    first = ais_log_likelihood(rbm, data, runs=50, betas=300, seed=3)
    assert ais_log_likelihood(rbm, data, runs=50, betas=300, seed=3) == first
    assert ais_log_likelihood(rbm, data, runs=50, betas=300, seed=4) != first
    assert first["log_z"] == pytest.approx(exact, abs=0.2)
    other = (rng.uniform(size=(20, 3, 2)) < 0.9).astype("float32")  # images, other biases
    based = ais_log_likelihood(rbm, data, runs=50, betas=300, base_data=other, seed=3)
    assert based["log_z"] != first["log_z"]
    assert based["log_z"] == pytest.approx(exact, abs=0.2)


def test_ais_from_a_base_model_equal_to_the_target_is_exact_with_no_spread():
    # With no weights and visible biases equal to the data's log-odds, the RBM is the AIS
    # base model (Salakhutdinov & Murray's base-rate model) times constant hidden factors:
    # every run carries the same importance weight, so log Z is exact and the three-
    # standard-error range is empty. A base model fitted otherwise leaves a spread.
    data = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 1]], "float32")
    p = data.mean(axis=0)  # 0.75 0.75 0.75 0.25
    rbm = _random_rbm(4, 3, seed=2)
    rbm.kernel.assign(np.zeros((4, 3)))
    rbm.visible_bias.assign(np.log(p / (1 - p)))
    estimate = ais_log_likelihood(rbm, data, runs=20, betas=50, seed=0)
    assert estimate["log_z"] == pytest.approx(exact_log_partition(rbm), abs=1e-6)
    assert estimate["log_z_high"] - estimate["log_z_low"] < 1e-6  # float32 biases
    other = ais_log_likelihood(rbm, data, runs=20, betas=50, base_data=data[:2], seed=0)
    assert other["log_z_high"] - other["log_z_low"] > 1e-3


def test_ais_with_few_temperatures_is_unbiased_given_many_runs():
    # E[importance weight] = Z / Z_base for any number of temperatures, if each Gibbs step
    # leaves its intermediate distribution invariant. With 4 temperatures and 100,000 runs
    # the exact log Z lies within three standard errors, which are narrow (0.004 each); a
    # step that draws the hidden units jointly (one shared uniform) misses by 0.15.
    rbm = _random_rbm(4, 3, seed=1)
    rbm.kernel.assign(2.0 * np.asarray(rbm.kernel))
    data = (np.random.default_rng(0).uniform(size=(30, 4)) < 0.5).astype("float32")
    estimate = ais_log_likelihood(rbm, data, runs=100_000, betas=4, seed=0)
    assert estimate["log_z_low"] <= exact_log_partition(rbm) <= estimate["log_z_high"]
    assert estimate["log_z_high"] - estimate["log_z_low"] < 0.05


def test_ais_defaults_are_the_documented_runs_temperatures_and_seed(rng):
    rbm = _random_rbm(4, 3, seed=0)
    data = (rng.uniform(size=(10, 4)) < 0.5).astype("float32")
    default = ais_log_likelihood(rbm, data)
    assert (default["runs"], default["betas"]) == (100, 10000)
    assert default == ais_log_likelihood(rbm, data, runs=100, betas=10000, seed=0)


def test_measures_take_float64_and_integer_arrays_and_the_monitor_seeds_from_zero(rng):
    rbm = _random_rbm(6, 4, seed=3)
    data = rng.uniform(size=(40, 6)) < 0.4
    single = data.astype("float32")
    for x in (data.astype("float64"), data.astype("uint8")):
        assert reconstruction_error(rbm, x) == pytest.approx(reconstruction_error(rbm, single))
        gap = free_energy_gap(rbm, x[:20], x[20:])
        assert gap == pytest.approx(free_energy_gap(rbm, single[:20], single[20:]))
        pll = pseudo_log_likelihood(rbm, x, seed=1)
        assert pll == pytest.approx(pseudo_log_likelihood(rbm, single, seed=1))
    logs = {}
    RBMMonitor(rbm, data.astype("float64")).on_epoch_end(2, logs)
    assert logs["pseudo_log_likelihood"] == pseudo_log_likelihood(rbm, single, seed=0 + 2)
    RBMMonitor(rbm, single).on_epoch_end(0)  # no logs given: nothing to add to, no error


def test_pseudo_likelihood_seed_defaults_to_zero(rng):
    rbm = _random_rbm(6, 4, seed=3)
    v = (rng.uniform(size=(30, 6)) < 0.5).astype("float32")
    assert pseudo_log_likelihood(rbm, v) == pseudo_log_likelihood(rbm, v, seed=0)
    assert pseudo_log_likelihood(rbm, v) != pseudo_log_likelihood(rbm, v, seed=1)


def test_gibbs_runs_one_step_by_default():
    v = np.repeat(_all_states(4)[5:6], 200, axis=0)
    one_step = _random_rbm(4, 3, seed=7).gibbs(v, 1)
    np.testing.assert_array_equal(_random_rbm(4, 3, seed=7).gibbs(v), one_step)
    assert not np.array_equal(_random_rbm(4, 3, seed=7).gibbs(v, 2), one_step)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_an_eager_chain_runs_compiled_and_draws_what_its_single_steps_draw(visible):
    v = np.repeat(_all_states(4)[5:6], 50, axis=0)
    chain = _random_rbm(4, 3, visible=visible, seed=7).gibbs(v, 30)
    stepwise, w = _random_rbm(4, 3, visible=visible, seed=7), v
    for _ in range(30):
        w = stepwise.gibbs(w, 1)  # thirty eager steps, each drawing from the seed state
    np.testing.assert_allclose(np.asarray(chain), np.asarray(w), atol=1e-5)


def _names(model):
    return [layer.name for layer in model.layers]


def test_unrolled_models_name_every_layer_after_the_stack_or_the_name_given():
    stack = zoo.create_model("dbn", input_shape=(4, 2), hidden=(5, 3, 2))
    autoencoder = dbn_autoencoder(stack)
    assert autoencoder.name == "dbn_autoencoder"
    assert (autoencoder.encoder.name, autoencoder.decoder.name) == (
        "dbn_autoencoder_encoder", "dbn_autoencoder_decoder"
    )  # fmt: skip
    assert _names(autoencoder.encoder) == [
        "dbn_autoencoder_encoder_input", "dbn_autoencoder_enc1", "dbn_autoencoder_enc2",
        "dbn_autoencoder_enc3",
    ]  # fmt: skip
    assert _names(autoencoder.decoder) == [
        "dbn_autoencoder_decoder_input", "dbn_autoencoder_dec3", "dbn_autoencoder_dec2",
        "dbn_autoencoder_dec1",
    ]  # fmt: skip
    assert dbn_autoencoder(stack, name="mine").encoder.name == "mine_encoder"
    classifier = dbn_classifier(stack, classes=2, dropout=0.5)
    assert classifier.name == "dbn_classifier"
    assert _names(classifier) == [
        "dbn_classifier_input", "dbn_classifier_flatten", "dbn_classifier_dense1",
        "dbn_classifier_dropout1", "dbn_classifier_dense2", "dbn_classifier_dropout2",
        "dbn_classifier_dense3", "dbn_classifier_dropout3",
        "dbn_classifier_predictions",
    ]  # fmt: skip
    assert dbn_classifier(stack, classes=2, name="head").name == "head"
    reloaded = RBMStack.from_config(stack.get_config())
    assert reloaded.name == "dbn" and _names(reloaded) == _names(stack)


def test_energies_of_a_batch_of_sequences_are_those_of_its_rows(rng):
    rbm = _random_rbm(4, 3)
    v = (rng.uniform(size=(2, 5, 4)) < 0.5).astype("float32")
    h = (rng.uniform(size=(2, 5, 3)) < 0.5).astype("float32")
    flat = np.asarray(rbm.energy(v.reshape(10, 4), h.reshape(10, 3))).reshape(2, 5)
    np.testing.assert_allclose(np.asarray(rbm.energy(v, h)), flat, rtol=1e-6)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_cd_loss_of_a_batch_of_sequences_is_that_of_its_rows(visible, rng):
    v = (rng.uniform(size=(2, 5, 4)) < 0.5).astype("float32")
    sigma = visible == "gaussian"  # learned sigma != 1 enters the visible term
    sequences, rows = (_random_rbm(4, 3, visible, seed=2, k=2, learn_sigma=sigma) for _ in "ab")
    sequences(v, training=True)
    rows(v.reshape(10, 4), training=True)  # the same seed draws the same samples
    assert float(sequences.losses[0]) == pytest.approx(float(rows.losses[0]), rel=1e-6)
    fresh = RBM(3, visible=visible)
    assert fresh(v).shape == (2, 5, 3) and fresh.kernel.shape == (4, 3)  # built on the last axis


def test_weights_start_seeded_with_the_stddev_asked_and_are_regularised():
    first, second = (RBM(200, seed=4, name="r") for _ in "ab")
    assert (first.k, first.persistent_chains, first.visible) == (1, 0, "bernoulli")  # CD-1
    first.build((None, 300))
    second.build((None, 300))
    kernel = np.asarray(first.kernel)
    np.testing.assert_array_equal(kernel, second.kernel)
    assert abs(kernel.std() - 0.01) < 0.0003 and abs(kernel.mean()) < 0.0003  # the guide's
    assert [w.path for w in first.weights] == ["r/kernel", "r/visible_bias", "r/hidden_bias"]
    assert not np.asarray(first.visible_bias).any() and not np.asarray(first.hidden_bias).any()
    fixed = RBM(3, visible="gaussian", name="g")
    learned = RBM(3, visible="gaussian", learn_sigma=True, name="l")
    persistent = RBM(3, persistent_chains=5, name="p")
    for rbm in (fixed, learned, persistent):
        rbm.build((None, 4))
    assert [w.path for w in fixed.weights][3:] == ["g/log_sigma"]
    assert [w.path for w in persistent.weights][3:] == ["p/chains"]
    assert len(fixed.trainable_weights) == 3  # sigma fixed at 1
    assert [w.path for w in learned.trainable_weights][3:] == ["l/log_sigma"]
    assert [w.path for w in persistent.non_trainable_weights] == ["p/chains"]
    for start in (learned.log_sigma, persistent.chains):  # sigma 1; chains all off
        np.testing.assert_array_equal(start, np.zeros(start.shape))
    wide = RBM(200, weight_stddev=0.1, seed=4)
    wide.build((None, 300))
    assert abs(np.asarray(wide.kernel).std() - 0.1) < 0.003
    regularised = _random_rbm(4, 3, kernel_regularizer=keras.regularizers.L2(0.1))
    regularised(np.zeros((1, 4), "float32"))
    l2 = 0.1 * float(np.sum(np.square(regularised.kernel)))
    assert float(sum(regularised.losses)) == pytest.approx(l2, rel=1e-5)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_an_rbm_samples_and_trains_in_float64(visible, rng):
    rbm = _random_rbm(4, 3, visible=visible, seed=2, dtype="float64")
    v = (rng.uniform(size=(6, 4)) < 0.5).astype("float64")
    h = rbm.sample_hidden(v)
    for tensor in (h, rbm.sample_visible(h), rbm.gibbs(v, 2)):
        assert keras.backend.standardize_dtype(tensor.dtype) == "float64"
    rbm(v, training=True)
    assert keras.backend.standardize_dtype(rbm.losses[0].dtype) == "float64"


def test_standardisation_floors_variances_and_reconstructions_undo_it(rng):
    stack = zoo.create_model("gaussian_rbm", input_shape=(4,), units=3, seed=0)
    x = rng.normal(2.0, 0.3, size=(200, 4)).astype("float32")
    x[:, 0] = 5.0  # constant in training
    pretrain(stack, x, epochs=1, monitor_examples=0)
    variance = x.astype("float64").var(0)
    expected = np.maximum(variance, 0.01 * variance.mean())  # 1% of the mean variance
    np.testing.assert_allclose(np.ravel(stack.normalization.variance), expected, rtol=1e-3)
    kernel, b, c = _np_params(stack.rbms[0])
    z = (x - x.mean(0)) / np.sqrt(expected)
    h = _np_sigmoid(c + z @ kernel)  # unit sigma
    expected_x = (h @ kernel.T + b) * np.sqrt(expected) + x.mean(0)
    np.testing.assert_allclose(stack.reconstruct(x), expected_x, rtol=1e-3, atol=1e-3)


def test_classifier_arguments_are_checked_and_its_head_is_softmax(rng):
    stack = zoo.create_model("dbn", input_shape=(5,), hidden=(4, 3), seed=0)
    for bad, error in ((1, ValueError), (2.5, TypeError), (True, TypeError)):
        message = rf"^classes must be an int >= 2\. Received: classes={bad}"
        with pytest.raises(error, match=message):
            dbn_classifier(stack, classes=bad)
    assert dbn_classifier(stack).output_shape == (None, 10)  # the documented default
    for bad in (1.0, -0.1, float("nan")):
        message = rf"^dropout must be a finite number >= 0\.0 and < 1\.0\. Received: dropout={bad}$"
        with pytest.raises(ValueError, match=message):
            dbn_classifier(stack, dropout=bad)
    classifier = dbn_classifier(stack, classes=2, dropout=0.0)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in classifier.layers)
    x = rng.uniform(size=(6, 5)).astype("float32")
    kernel, bias = classifier.get_layer("dbn_classifier_predictions").get_weights()
    logits = np.asarray(stack(x), "float64") @ kernel + bias
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(classifier(x), softmax, rtol=1e-4, atol=1e-6)


def _exact_log_conditionals(rbm, v):
    """log P(v_i | v_-i) for every row and unit, from free energies computed by hand."""
    out = np.empty(v.shape)
    for i in range(v.shape[1]):
        flipped = v.copy()
        flipped[:, i] = 1 - flipped[:, i]
        gap = _np_free_energy(rbm, v) - _np_free_energy(rbm, flipped)
        out[:, i] = -np.logaddexp(0.0, gap)
    return out


def test_stochastic_pseudo_likelihood_is_seeded_and_unbiased(rng):
    rbm = _random_rbm(5, 3, seed=2)
    rbm.visible_bias.assign(np.array([6.0, 0.0, 0.0, 0.0, 0.0]))  # unit 0 stands apart
    v = np.tile(_all_states(5), (60, 1)).astype("float64")  # float64 rows are accepted
    exact = 5 * _exact_log_conditionals(rbm, v).mean()  # n_visible * mean over units and rows
    estimate = pseudo_log_likelihood(rbm, v, seed=3)
    assert estimate == pseudo_log_likelihood(rbm, v, seed=3)
    assert estimate != pseudo_log_likelihood(rbm, v, seed=4)
    assert estimate == pytest.approx(exact, abs=0.3)
    without_unit_0 = 5 * _exact_log_conditionals(rbm, v)[:, 1:].mean()
    assert abs(without_unit_0 - exact) > 1.0  # an estimate that never flips unit 0 is off
    with pytest.raises(
        ValueError,
        match=r"^pseudo_log_likelihood needs Bernoulli visibles\. Received: visible='gaussian'$",
    ):
        pseudo_log_likelihood(_random_rbm(5, 3, visible="gaussian"), v)


def test_monitor_logs_what_the_measures_give_by_hand(rng):
    data = (rng.uniform(size=(300, 6)) < 0.4).astype("float64")  # float64 rows accepted
    train, validation = data[:200], data[200:]
    rbm = RBM(4, seed=0)
    model = keras.Sequential([keras.Input((6,)), rbm])
    model.compile(keras.optimizers.SGD(0.1))
    monitor = RBMMonitor(rbm, train, validation=validation, seed=5)
    logs = model.fit(train, epochs=2, batch_size=50, callbacks=[monitor], verbose=0).history
    kernel, b, c = _np_params(rbm)

    def reconstruction(x):
        return np.mean((_np_sigmoid(b + _np_sigmoid(c + x @ kernel) @ kernel.T) - x) ** 2)

    assert logs["reconstruction_error"][-1] == pytest.approx(reconstruction(train), rel=1e-4)
    assert logs["val_reconstruction_error"][-1] == pytest.approx(
        reconstruction(validation), rel=1e-4
    )
    gap = _np_free_energy(rbm, validation).mean() - _np_free_energy(rbm, train).mean()
    assert logs["free_energy_gap"][-1] == pytest.approx(gap, rel=1e-4, abs=1e-5)
    assert logs["pseudo_log_likelihood"][-1] == pytest.approx(
        pseudo_log_likelihood(rbm, train, seed=5 + 1), rel=1e-6
    )  # the seed moves on with the epoch
    assert logs["pseudo_log_likelihood"][0] != logs["pseudo_log_likelihood"][-1]
    gaussian = RBM(4, visible="gaussian", seed=0)
    gaussian_model = keras.Sequential([keras.Input((6,)), gaussian])
    gaussian_model.compile(keras.optimizers.SGD(0.01))
    logged = gaussian_model.fit(
        train, epochs=1, batch_size=50, callbacks=[RBMMonitor(gaussian, train)], verbose=0
    ).history
    assert "pseudo_log_likelihood" not in logged and "free_energy_gap" not in logged
    assert "reconstruction_error" in logged


def test_visible_data_checks_apply_to_bernoulli_layers_and_not_to_gaussian_ones():
    wide = np.array([[-2.0, 0.5, 5.0]])
    with pytest.raises(ValueError, match=r"^x must be in \[0, 1\] for Bernoulli visible units"):
        check_visible_data(RBM(2), wide)  # a layer, not a stack
    np.testing.assert_array_equal(check_visible_data(RBM(2, visible="gaussian"), wide), wide)
    assert check_visible_data(RBM(2), np.array([[0, 1]])).dtype == np.float32
