"""One serialization test per layer, plus each layer's own arithmetic."""

import json
import re

import keras
import numpy as np
import pytest
from keras import ops

from zoo.layers import (
    LENET5_C3_TABLE,
    RBM,
    ContractiveDense,
    EuclideanRBF,
    FanInUniform,
    KLSparsity,
    KSparse,
    KSparseSchedule,
    MaskingNoise,
    PartialConv2D,
    SaltAndPepperNoise,
    Subsampling2D,
    TiedDense,
    scaled_tanh,
    tie_scope,
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


def test_fan_in_uniform_is_seeded_in_the_dtype_asked_and_a_single_input_gets_the_full_limit():
    seeded = FanInUniform(seed=3)
    again = FanInUniform.from_config(seeded.get_config())
    np.testing.assert_array_equal(seeded((4, 5)), again((4, 5)))  # the seed survives config
    unseeded = FanInUniform()
    assert not np.array_equal(unseeded((4, 5)), unseeded((4, 5)))  # a fresh draw each call
    w = FanInUniform(seed=0)((1, 2000), dtype="float64")  # fan-in 1
    assert keras.backend.standardize_dtype(w.dtype) == "float64"
    assert 0.99 * 2.4 < np.abs(np.asarray(w)).max() <= 2.4


def test_subsampling_names_its_weights_and_keeps_unknown_sizes_unknown():
    layer = Subsampling2D(2, name="s2")
    assert layer.compute_output_shape((None, None, 9, 3)) == (None, None, 4, 3)
    assert layer.compute_output_shape((None, 9, None, 3)) == (None, 4, None, 3)
    layer.build((None, 8, 8, 3))
    assert [w.path for w in layer.weights] == ["s2/coefficient", "s2/bias"]


def test_partial_conv_names_what_is_wrong_with_a_table():
    with _raises_exactly(
        "connection_table must be a 0/1 matrix of shape (input_maps, filters=3). "
        "Received: connection_table with shape (2, 2)"
    ):
        PartialConv2D(3, 5, connection_table=[[1, 0], [0, 1]])
    with _raises_exactly(
        "Every output map needs at least one input map. Received: connection_table whose "
        "columns [1, 3] are all zero"
    ):
        PartialConv2D(4, 5, connection_table=[[1, 0, 1, 0], [1, 0, 0, 0]])
    layer = PartialConv2D(2, 3, connection_table=np.array([[1, 0], [1, 1]], "float32"))
    assert json.dumps(layer.get_config()["connection_table"]) == "[[1, 0], [1, 1]]"


def test_partial_conv_masks_in_the_layers_dtype():
    layer = PartialConv2D(2, 1, connection_table=[[1, 0], [1, 1]], dtype="float64")
    x = np.random.default_rng(0).normal(size=(1, 3, 3, 2))
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float64"
    kernel, bias = (np.asarray(w) for w in layer.weights)
    masked = kernel[0, 0] * np.array([[1, 0], [1, 1]])  # map 0 reads input map 0 only
    np.testing.assert_allclose(y, x @ masked + bias, rtol=1e-12)


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


def test_partial_conv_counts_a_bias_per_map_only_when_it_has_biases():
    table = [[1, 0, 1], [1, 1, 0]]  # 4 connections of 2 input maps to 3 output maps
    with_bias = PartialConv2D(3, 2, connection_table=table)
    without = PartialConv2D(3, 2, connection_table=table, use_bias=False)
    assert with_bias.count_connections() == 4 * 2 * 2 + 3
    assert without.count_connections() == 4 * 2 * 2


def test_salt_and_pepper_noise_keeps_the_layers_dtype():
    layer = SaltAndPepperNoise(0.5, low=-1.0, high=2.0, seed=0, dtype="float16")
    noisy = layer(np.full((4, 50), 0.5, "float16"), training=True)
    assert keras.backend.standardize_dtype(noisy.dtype) == "float16"
    assert set(np.unique(np.asarray(noisy))) == {-1.0, 0.5, 2.0}


def test_subsampling_rejects_bad_pool_size():
    with pytest.raises(ValueError, match="pool_size=0"):
        Subsampling2D(0)


def _raises_exactly(message, error=ValueError):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


_RATE = "a finite number >= 0 and < 1"
_OPEN_UNIT = "a finite number > 0 and < 1"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MaskingNoise(-0.1), f"rate must be {_RATE}. Received: rate=-0.1"),
        (lambda: MaskingNoise(1.0), f"rate must be {_RATE}. Received: rate=1.0"),
        (lambda: SaltAndPepperNoise(1.5), f"rate must be {_RATE}. Received: rate=1.5"),
        (
            lambda: SaltAndPepperNoise(0.1, low=1.0, high=1.0),
            "low must be < high. Received: low=1.0, high=1.0",
        ),
        (lambda: KSparse(0), "k must be an int >= 1. Received: k=0"),
        (
            lambda: KSparse(2, alpha=0.9),
            "alpha must be a finite number >= 1. Received: alpha=0.9",
        ),
        (
            lambda: KSparse(2, alpha=float("nan")),
            "alpha must be a finite number >= 1. Received: alpha=nan",
        ),
        (lambda: KLSparsity(0.0), f"target must be {_OPEN_UNIT}. Received: target=0.0"),
        (lambda: KLSparsity(1.0), f"target must be {_OPEN_UNIT}. Received: target=1.0"),
        (
            lambda: KLSparsity(0.1, -1.0),
            "weight must be a finite number >= 0. Received: weight=-1.0",
        ),
        (lambda: KSparseSchedule(0, 3), "start_k must be an int >= 1. Received: start_k=0"),
        (
            lambda: KSparseSchedule(5, 0),
            "ramp_epochs must be an int >= 1. Received: ramp_epochs=0",
        ),
        (lambda: EuclideanRBF(0), "units must be an int >= 1 and <= 65536. Received: units=0"),
        (lambda: FanInUniform(0.0), "limit must be a finite number > 0. Received: limit=0.0"),
        (
            lambda: ContractiveDense(3, contraction=-0.1),
            "contraction must be a finite number >= 0. Received: contraction=-0.1",
        ),
        (
            lambda: ContractiveDense(3, activation="relu"),
            "ContractiveDense's closed-form Jacobian needs activation='sigmoid'. "
            "Received: activation='relu'",
        ),
        (
            lambda: Subsampling2D((2, 0)),
            "pool_size must be a positive int or a pair of them. Received: pool_size=(2, 0)",
        ),
        (
            lambda: Subsampling2D((2, 2, 2)),
            "pool_size must be a positive int or a pair of them. Received: pool_size=(2, 2, 2)",
        ),
        (
            lambda: TiedDense("nowhere"),
            "tied_to names a layer that is not in any tie_scope: load the model that holds it "
            "first and create this layer inside `tie_scope(that_model)`. "
            "Received: tied_to='nowhere'",
        ),
        (
            lambda: TiedDense(keras.layers.Dense(3, name="loose")),
            "tied_to must be built (called on an input) before it is tied to. "
            "Received: tied_to='loose', not built",
        ),
        (
            lambda: TiedDense(KSparse(1)),
            "tied_to must be a keras.layers.Dense layer. Received: tied_to=<KSparse",
        ),
        (
            lambda: KSparse(5)(np.zeros((1, 4), "float32")),
            "k must be at most the number of units (4). Received: k=5",
        ),
    ],
)
def test_bad_arguments_are_refused_with_a_message_naming_them(make, message):
    if message.endswith("<KSparse"):  # the repr carries a memory address
        with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
            make()
        return
    with _raises_exactly(message):
        make()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: KSparse(2.0), "k must be an int >= 1. Received: k=2.0 of type float"),
        (lambda: KSparse(True), "k must be an int >= 1. Received: k=True of type bool"),
        (
            lambda: MaskingNoise("0.1"),
            f"rate must be {_RATE}. Received: rate='0.1' of type str",
        ),
        (
            lambda: EuclideanRBF(4, trainable_prototypes="yes"),
            "trainable_prototypes must be True or False. "
            "Received: trainable_prototypes='yes' of type str",
        ),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_with_a_type_error(make, message):
    with _raises_exactly(message, TypeError):
        make()


def test_the_limits_of_each_range_are_accepted():
    x = np.ones((2, 4), "float32")
    assert np.asarray(MaskingNoise(0.0)(x, training=True)).sum() == 8  # rate 0: unchanged
    assert np.asarray(SaltAndPepperNoise(0.0, low=-1.0, high=-0.5)(x, training=True)).sum() == 8
    kept = np.asarray(KSparse(4, alpha=1.0)(x))  # k = units, alpha 1
    np.testing.assert_array_equal(kept, x)
    assert np.count_nonzero(np.asarray(KSparse(1)(np.arange(4.0)[None]))) == 1
    assert KSparseSchedule(1, 1).start_k == 1
    assert Subsampling2D(1).pool_size == (1, 1) and Subsampling2D((1, 2)).pool_size == (1, 2)
    assert EuclideanRBF(1).units == 1
    assert ContractiveDense(2, contraction=0.0).contraction == 0.0
    assert KLSparsity(0.5, 0.0).weight == 0.0
    assert np.abs(np.asarray(FanInUniform(1e-9)((3, 2)))).max() <= 1e-9 / 3


def test_layers_take_their_documented_defaults():
    assert ContractiveDense(4).contraction == 0.1
    assert (KLSparsity().target, KLSparsity().weight) == (0.05, 1.0)
    assert KSparse(3).alpha == 1.0
    assert Subsampling2D().pool_size == (2, 2)  # LeNet-5's S2 and S4
    default, zero, one = EuclideanRBF(4), EuclideanRBF(4, seed=0), EuclideanRBF(4, seed=1)
    for layer in (default, zero, one):
        layer.build((None, 30))
    assert default.trainable_weights == []  # fixed prototypes, as in the paper
    np.testing.assert_array_equal(default.prototypes, zero.prototypes)
    assert not np.array_equal(default.prototypes, one.prototypes)


def test_rbf_measures_distances_along_the_last_axis_in_the_layers_dtype():
    x = np.random.default_rng(0).normal(size=(2, 3, 5))  # float64 sequences of 5 features
    layer = EuclideanRBF(4, dtype="float64")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float64"
    w = np.asarray(layer.prototypes)
    assert w.shape == (5, 4) and set(np.unique(w)) == {-1.0, 1.0}
    np.testing.assert_allclose(y, ((x[..., None] - w) ** 2).sum(axis=-2), rtol=1e-12)


def test_kl_sparsity_stays_finite_for_saturated_units_and_in_float64():
    # A unit that is always on (mean 1) is clipped to 1 - 1e-7, as units always off are
    # clipped to 1e-7: KL(0.05 || 1 - 1e-7) = 0.05 log(0.05 / (1 - 1e-7)) + 0.95 log(0.95 / 1e-7).
    x = np.ones((8, 2), "float64")
    x[:, 1] = 0.0
    rho, eps = 0.05, 1e-7

    def kl(rate):
        return rho * np.log(rho / rate) + (1 - rho) * np.log((1 - rho) / (1 - rate))

    penalty = KLSparsity(rho, weight=0.5)(ops.convert_to_tensor(x))
    assert keras.backend.standardize_dtype(penalty.dtype) == "float64"
    expected = 0.5 * (kl(1 - eps) + kl(eps)) * 8  # times the batch size (see the docstring)
    assert float(penalty) == pytest.approx(expected, rel=1e-6)


def test_impulse_noise_is_seeded_and_keeps_masks():
    x = np.random.default_rng(0).uniform(size=(50, 40)).astype("float32")
    for make in (lambda s: MaskingNoise(0.3, seed=s), lambda s: SaltAndPepperNoise(0.3, seed=s)):
        same = [np.asarray(make(5)(x, training=True)) for _ in range(2)]
        np.testing.assert_array_equal(same[0], same[1])  # the seed fixes the first draw
        assert not np.array_equal(same[0], np.asarray(make(6)(x, training=True)))
        layer = make(5)
        assert layer.supports_masking is True and layer.get_config()["seed"] == 5
        assert not np.array_equal(
            np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))
        )  # a seeded layer still draws new noise on every call
    salted = np.asarray(SaltAndPepperNoise(0.5, seed=1)(x, training=True))
    hit = salted != x
    assert 0.4 < (salted[hit] == 1.0).mean() < 0.6  # half salt, half pepper


def test_initializers_and_training_k_survive_a_config_round_trip():
    sub = Subsampling2D(2, coefficient_initializer="zeros", bias_initializer="ones")
    clone = Subsampling2D.from_config(sub.get_config())
    clone.build((None, 4, 4, 3))
    np.testing.assert_array_equal(np.asarray(clone.coefficient), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(clone.bias), np.ones(3))
    inputs = keras.Input((3,))
    encode = keras.layers.Dense(2, name="encode")
    model = keras.Model(inputs, encode(inputs))
    tied = TiedDense(encode, bias_initializer="ones")
    config = tied.get_config()
    assert config["bias_initializer"]["class_name"] == "Ones"
    with tie_scope(model):
        copy = TiedDense.from_config(config)
    copy.build((None, 2))
    np.testing.assert_array_equal(np.asarray(copy.bias), np.ones(3))
    ksparse = KSparse(2)
    ksparse.build((None, 5))
    assert ksparse.trainable_weights == []
    assert ksparse.training_k.name == "training_k" and tuple(ksparse.training_k.shape) == ()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: KSparse(2, alpha=1.5), id="ksparse"),
        pytest.param(lambda: EuclideanRBF(3, seed=1), id="rbf"),
        pytest.param(lambda: ContractiveDense(3, contraction=0.5), id="contractive"),
        pytest.param(lambda: RBM(3, seed=1), id="rbm"),
    ],
)
def test_a_batch_of_sequences_is_treated_row_by_row(make):
    """Layers that act on the last axis give the same rows for (batch, time, features)."""
    layer = make()
    x = np.random.default_rng(0).uniform(size=(2, 5, 6)).astype("float32")
    rows = np.asarray(layer(x.reshape(10, 6), training=False))
    sequences = np.asarray(layer(x, training=False))
    assert sequences.shape == (2, 5, rows.shape[-1])
    assert layer.compute_output_shape((2, 5, 6)) == (2, 5, rows.shape[-1])
    np.testing.assert_allclose(sequences.reshape(rows.shape), rows, rtol=1e-5, atol=1e-6)
    if isinstance(layer, ContractiveDense):  # the penalty is a mean over rows either way
        code = layer(x)
        flat = float(layer.jacobian_penalty(ops.reshape(code, (10, 3))))
        assert float(layer.jacobian_penalty(code)) == pytest.approx(flat, rel=1e-5)
    if isinstance(layer, RBM):
        free = np.asarray(layer.free_energy(x)).reshape(10)
        np.testing.assert_allclose(free, np.asarray(layer.free_energy(x.reshape(10, 6))), rtol=1e-5)


def test_rbf_prototypes_are_seeded_plus_minus_one_and_fixed_unless_asked():
    first, again, other = (EuclideanRBF(4, seed=s) for s in (3, 3, 4))
    for layer in (first, again, other):
        layer.build((None, 84))
    np.testing.assert_array_equal(np.asarray(first.prototypes), np.asarray(again.prototypes))
    assert not np.array_equal(np.asarray(first.prototypes), np.asarray(other.prototypes))
    assert first.prototypes.name == "prototypes" and first.prototypes.dtype == "float32"
    assert first.trainable_weights == [] and first.get_config()["seed"] == 3
    learning = EuclideanRBF(4, trainable_prototypes=True)
    learning.build((None, 6))
    assert learning.trainable_weights == [learning.prototypes]
    assert learning.get_config()["trainable_prototypes"] is True


def test_contractive_penalty_is_only_added_for_a_positive_weight():
    x = np.random.default_rng(0).uniform(size=(4, 6)).astype("float32")
    off = ContractiveDense(3, contraction=0.0)
    off(x, training=True)
    assert off.losses == []
    on = ContractiveDense(3, contraction=0.2)
    on(x, training=True)
    assert len(on.losses) == 1


def test_init_visible_bias_builds_and_reads_images():
    images = np.random.default_rng(0).uniform(size=(50, 2, 3)).astype("float32")
    images[:, 0, :2] = [1.0, 0.0]  # a pixel always on and one always off
    flat = images.reshape(50, 6)
    rbm = RBM(2)
    rbm.init_visible_bias(images)  # not built yet: builds for 6 visible units
    p = np.clip(flat.mean(0), 0.01, 0.99)  # finite logits for the constant pixels
    np.testing.assert_allclose(np.asarray(rbm.visible_bias), np.log(p / (1 - p)), rtol=1e-5)
    np.testing.assert_allclose(rbm.visible_bias[:2], [np.log(99), -np.log(99)], rtol=1e-6)
    gaussian = RBM(2, visible="gaussian")
    gaussian.init_visible_bias(images)
    np.testing.assert_allclose(np.asarray(gaussian.visible_bias), flat.mean(0), rtol=1e-6)


def test_tied_dense_decodes_sequences_with_or_without_a_bias():
    inputs = keras.Input((3, 4))  # 3 steps of 4 features
    encode = keras.layers.Dense(2, name="encode")
    code = encode(inputs)
    for use_bias in (True, False):
        tied = TiedDense(encode, use_bias=use_bias, bias_initializer="ones")
        model = keras.Model(inputs, tied(code))
        assert model.output_shape == (None, 3, 4)
        x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        kernel, bias = (np.asarray(w) for w in encode.weights)
        expected = (x @ kernel + bias) @ kernel.T + (1.0 if use_bias else 0.0)
        np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-6)
        assert len(tied.trainable_weights) == (1 if use_bias else 0)  # the kernel is encode's
    with _raises_exactly(
        "tied_dense_2 is tied to 'encode', which has 2 units, so its input must have 2 "
        "features. Received: input_shape=(None, 2, 3)"
    ):
        TiedDense(encode, name="tied_dense_2").build((None, 2, 3))


def test_tie_scope_finds_layers_inside_nested_models():
    inputs = keras.Input((4,))
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="deep_enc")])
    outer = keras.Model(inputs, inner(inputs))
    with tie_scope(outer):
        tied = TiedDense("deep_enc")
    assert tied.tied_to is inner.layers[0]


def test_ksparse_schedule_finds_layers_in_nested_models_and_checks_its_limits():
    inputs = keras.Input((6,))
    inner = keras.Sequential([keras.Input((6,)), KSparse(2, name="inner_k")])
    model = keras.Model(inputs, inner(inputs))
    schedule = KSparseSchedule(start_k=6, ramp_epochs=1)
    schedule.set_model(model)
    schedule.on_epoch_begin(0)
    assert int(inner.layers[0].training_k) == 6
    schedule.on_epoch_begin(1)
    assert int(inner.layers[0].training_k) == 2
    assert KSparseSchedule(1, 1).ramp_epochs == 1
    for bad in (2.0, True):
        message = f"start_k must be an int >= 1. Received: start_k={bad!r} of type "
        with _raises_exactly(message + type(bad).__name__, TypeError):
            KSparseSchedule(bad, 1)
