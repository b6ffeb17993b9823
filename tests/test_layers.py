"""One serialization test per layer, plus each layer's own arithmetic."""

import keras
import numpy as np
import pytest

from zoo.layers import (
    LENET5_C3_TABLE,
    RBM,
    ContractiveDense,
    EuclideanRBF,
    FanInUniform,
    KLSparsity,
    KSparse,
    MaskingNoise,
    PartialConv2D,
    SaltAndPepperNoise,
    Subsampling2D,
    scaled_tanh,
)

LAYERS = [
    (lambda: Subsampling2D(2, activation=scaled_tanh), (14, 14, 6)),
    (lambda: PartialConv2D(16, 5, connection_table=LENET5_C3_TABLE), (14, 14, 6)),
    (lambda: EuclideanRBF(10, seed=3), (84,)),
    (lambda: keras.layers.Dense(4, kernel_initializer=FanInUniform(seed=1)), (8,)),
    (lambda: MaskingNoise(0.3, seed=1), (8,)),
    (lambda: SaltAndPepperNoise(0.2, low=-1.0, seed=1), (8, 8, 1)),
    (lambda: KSparse(3, alpha=2.0), (8,)),
    (lambda: RBM(5, seed=1), (8,)),
    (lambda: RBM(5, visible="gaussian", learn_sigma=True, persistent_chains=4, seed=1), (8,)),
    (lambda: ContractiveDense(5, contraction=0.2), (8,)),
    (lambda: keras.layers.Dense(4, activity_regularizer=KLSparsity(0.1, 2.0)), (8,)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_keras_round_trip(make, shape, tmp_path):
    inputs = keras.Input(shape)
    model = keras.Model(inputs, make()(inputs))
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype("float32")
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


@pytest.mark.parametrize("make, shape", LAYERS)
def test_config_round_trip(make, shape):
    layer = make()
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_scaled_tanh_maps_one_to_one():
    y = np.asarray(scaled_tanh(np.array([-1.0, 0.0, 1.0, 50.0], "float32")))
    np.testing.assert_allclose(y, [-1.0, 0.0, 1.0, 1.7159], atol=1e-4)


def test_fan_in_uniform_bound_falls_as_one_over_fan_in():
    w = np.asarray(FanInUniform(seed=0)((5, 5, 6, 16)))
    assert np.abs(w).max() <= 2.4 / 150
    assert np.abs(w).max() > 0.9 * 2.4 / 150


def test_euclidean_rbf_is_the_squared_distance():
    layer = EuclideanRBF(3, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    d = np.asarray(layer(x))
    w = np.asarray(layer.prototypes)
    expected = ((x[:, :, None] - w[None]) ** 2).sum(axis=1)
    np.testing.assert_allclose(d, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"connection_table": [[1, 0], [0, 1]]}, "shape"),
        ({"connection_table": [[1, 0, 0]] * 6}, "columns"),
    ],
)
def test_partial_conv_rejects_bad_tables(kwargs, match):
    filters = len(kwargs["connection_table"][0])
    with pytest.raises(ValueError, match=match):
        PartialConv2D(filters if match != "shape" else 3, 5, **kwargs)


def test_partial_conv_rejects_a_table_that_does_not_match_the_input():
    layer = PartialConv2D(16, 5, connection_table=LENET5_C3_TABLE)
    with pytest.raises(ValueError, match="6 rows but the input has 3 channels"):
        layer(np.zeros((1, 14, 14, 3), "float32"))


def test_subsampling_rejects_bad_pool_size():
    with pytest.raises(ValueError, match="pool_size=0"):
        Subsampling2D(0)
