"""The RBM layer: energies, conditionals, contrastive divergence, persistent chains."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import RBM
from zoo.models.rbm import (
    RBMMonitor,
    ais_log_likelihood,
    exact_log_partition,
    pseudo_log_likelihood,
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


def test_free_energy_and_log_partition_match_brute_force_sums():
    rbm = _random_rbm(4, 3)
    v, h = _all_states(4), _all_states(3)
    energies = np.array([[float(rbm.energy(vi[None], hj[None])[0]) for hj in h] for vi in v])
    free = -np.log(np.exp(-energies).sum(axis=1))
    np.testing.assert_allclose(np.asarray(rbm.free_energy(v)), free, rtol=1e-5)
    assert exact_log_partition(rbm) == pytest.approx(np.log(np.exp(-energies).sum()), rel=1e-6)


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
    model.compile(keras.optimizers.SGD(0.1, momentum=0.5))
    model.fit(data, epochs=60, batch_size=20, verbose=0)
    start = (np.random.default_rng(1).uniform(size=(200, 6)) < 0.5).astype("float32")
    samples = np.asarray(rbm.gibbs(start, k=100))
    matches = (samples[:, None, :] == patterns[None]).all(axis=2)
    assert matches.any(axis=1).mean() > 0.9
    assert 0.25 < matches[:, 0].mean() < 0.75  # both modes, not one


def test_persistent_chains_persist_across_batches(rng):
    rbm = RBM(4, persistent_chains=16, seed=0)
    model = keras.Sequential([keras.Input((6,)), rbm])
    model.compile(keras.optimizers.SGD(0.05))
    assert rbm.chains in model.non_trainable_weights
    data = (rng.uniform(size=(64, 6)) < 0.5).astype("float32")
    model.fit(data, epochs=1, batch_size=32, verbose=0)
    after_one = np.asarray(rbm.chains).copy()
    assert set(np.unique(after_one)) <= {0.0, 1.0} and after_one.any()
    # With k Gibbs steps per batch from the stored chains, a model whose weights make
    # every unit copy its state forward keeps the chains exactly where they were.
    rbm.kernel.assign(np.zeros((6, 4)))
    rbm.hidden_bias.assign(np.zeros(4))
    rbm.visible_bias.assign(np.where(after_one[0] > 0, 50.0, -50.0))
    model.compile(keras.optimizers.SGD(0.0))
    model.fit(data, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_array_equal(np.asarray(rbm.chains), np.tile(after_one[0], (16, 1)))


def test_call_is_the_hidden_probabilities_and_adds_the_cd_loss_only_in_training(rng):
    rbm = _random_rbm(5, 3)
    v = (rng.uniform(size=(4, 5)) < 0.5).astype("float32")
    model = keras.Sequential([keras.Input((5,)), rbm])
    np.testing.assert_allclose(model(v), rbm.hidden_probabilities(v), rtol=1e-6)
    assert not model.losses
    model(v, training=True)
    assert len(model.losses) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0}, "units"),
        ({"units": 4, "k": 0}, "k"),
        ({"units": 4, "visible": "poisson"}, "visible"),
        ({"units": 4, "learn_sigma": True}, "learn_sigma"),
        ({"units": 4, "persistent_chains": -1}, "persistent_chains"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=f"{match}.*Received"):
        RBM(**kwargs)


def test_exact_log_partition_refuses_large_or_gaussian_rbms():
    with pytest.raises(ValueError, match="units.*Received"):
        exact_log_partition(_random_rbm(3, 21))
    with pytest.raises(ValueError, match="visible.*Received"):
        exact_log_partition(_random_rbm(3, 2, visible="gaussian"))


@pytest.mark.parametrize("seed", [0, 1])
def test_ais_agrees_with_the_exact_log_partition_on_small_rbms(seed, rng):
    rbm = _random_rbm(12, 8, seed=seed)
    rbm.kernel.assign(np.asarray(rbm.kernel) * 0.5)
    data = (rng.uniform(size=(50, 12)) < 0.3).astype("float32")
    exact = exact_log_partition(rbm)
    estimate = ais_log_likelihood(rbm, data, runs=100, betas=2000, seed=seed)
    assert estimate["log_z"] == pytest.approx(exact, abs=0.1)
    assert estimate["log_z_low"] <= estimate["log_z"] <= estimate["log_z_high"]
    exact_log_prob = -float(np.mean(rbm.free_energy(data))) - exact
    assert estimate["mean_log_prob"] == pytest.approx(exact_log_prob, abs=0.1)


def test_ais_refuses_data_outside_zero_one(rng):
    rbm = _random_rbm(4, 2)
    with pytest.raises(ValueError, match="data must be in \\[0, 1\\].*Received"):
        ais_log_likelihood(rbm, rng.normal(size=(5, 4)))


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
