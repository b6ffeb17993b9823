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
    pytest.param(lambda: Subsampling2D(2, activation=scaled_tanh), (14, 14, 6), id="subsampling"),
    pytest.param(
        lambda: PartialConv2D(16, 5, connection_table=LENET5_C3_TABLE),
        (14, 14, 6),
        id="partial_conv",
    ),
    pytest.param(lambda: EuclideanRBF(10, seed=3), (84,), id="rbf"),
    pytest.param(
        lambda: keras.layers.Dense(4, kernel_initializer=FanInUniform(seed=1)),
        (8,),
        id="fan_in_uniform",
    ),
    pytest.param(lambda: MaskingNoise(0.3, seed=1), (8,), id="masking_noise"),
    pytest.param(
        lambda: SaltAndPepperNoise(0.2, low=-1.0, seed=1), (8, 8, 1), id="salt_and_pepper_noise"
    ),
    pytest.param(lambda: KSparse(3, alpha=2.0), (8,), id="ksparse"),
    pytest.param(lambda: RBM(5, seed=1), (8,), id="rbm"),
    pytest.param(
        lambda: RBM(5, visible="gaussian", learn_sigma=True, persistent_chains=4, seed=1),
        (8,),
        id="rbm_gaussian_pcd",
    ),
    pytest.param(lambda: ContractiveDense(5, contraction=0.2), (8,), id="contractive"),
    pytest.param(
        lambda: keras.layers.Dense(4, activity_regularizer=KLSparsity(0.1, 2.0)),
        (8,),
        id="kl_sparsity",
    ),
]


def _behaviour(layer_or_model, x):
    """Outputs at inference and in training, and the losses each call adds.

    Training mode is where the noise layers, KSparse's training k, the contractive and RBM
    losses act; the seeded layers draw the same noise from the same seed state.
    """
    seen = []
    for training in (False, True):
        outputs = np.asarray(layer_or_model(x, training=training))
        seen.append((outputs, [float(loss) for loss in layer_or_model.losses]))
    return seen


def _assert_same_behaviour(got, expected):
    for (outputs, losses), (want_outputs, want_losses) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(outputs, want_outputs)
        assert losses == want_losses


@pytest.mark.parametrize("make, shape", LAYERS)
def test_keras_round_trip(make, shape, tmp_path):
    inputs = keras.Input(shape)
    model = keras.Model(inputs, make()(inputs))
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype("float32")
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    _assert_same_behaviour(_behaviour(reloaded, x), _behaviour(model, x))


@pytest.mark.parametrize("make, shape", LAYERS)
def test_config_round_trip(make, shape):
    layer = make()
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype("float32")
    layer(x)  # builds both; no noise is drawn at inference
    clone(x)
    clone.set_weights(layer.get_weights())
    _assert_same_behaviour(_behaviour(clone, x), _behaviour(layer, x))


@pytest.mark.parametrize(
    "make, values",
    [
        (lambda: MaskingNoise(0.3, seed=1), {0.0}),
        (lambda: SaltAndPepperNoise(0.3, low=-1.0, high=2.0, seed=1), {-1.0, 2.0}),
    ],
    ids=["masking", "salt_and_pepper"],
)
def test_reloaded_noise_layers_corrupt_at_their_rate_with_their_values(make, values, tmp_path):
    inputs = keras.Input((100,))
    keras.Model(inputs, make()(inputs)).save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.full((200, 100), 0.5, "float32")
    noisy = np.asarray(reloaded(x, training=True))
    hit = noisy != 0.5
    assert abs(hit.mean() - 0.3) < 0.01
    assert set(np.unique(noisy[hit])) == values
    np.testing.assert_array_equal(reloaded(x), x)


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
