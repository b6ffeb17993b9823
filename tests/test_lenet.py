"""LeNet-5 is the paper's network; both variants learn digits."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import data, pretrained


def _layer(model, suffix):
    return model.get_layer(f"{model.name}_{suffix}")


def test_lenet5_has_the_papers_layers_and_parameter_counts():
    model = zoo.create_model("lenet5")
    assert _layer(model, "pad").output.shape[1:] == (32, 32, 1)  # 28x28 padded to 32x32
    assert _layer(model, "c1").count_params() == 156
    assert _layer(model, "s2").count_params() == 12  # a coefficient and a bias per map
    assert _layer(model, "c3").count_connections() == 1516  # Table I, as in the paper
    assert _layer(model, "s4").count_params() == 32
    assert _layer(model, "c5").count_params() == 48120
    assert _layer(model, "f6").count_params() == 10164
    assert _layer(model, "c5").output.shape[1:] == (1, 1, 120)


# LeCun, Bottou, Bengio & Haffner 1998, Table I, written out as printed: row i is S2 map i,
# column j is C3 map j, an X marks a connection.
PAPER_TABLE_I = """
X...XXX..XXXX.XX
XX...XXX..XXXX.X
XXX...XXX..X.XXX
.XXX..XXXX..X.XX
..XXX..XXXX.XX.X
...XXX..XXXX.XXX
"""


def _paper_table():
    rows = PAPER_TABLE_I.split()
    return np.array([[char == "X" for char in row] for row in rows])


def test_c3_table_is_table_one_of_the_paper():
    table = _paper_table()
    assert table.shape == (6, 16) and table.sum() == 60
    np.testing.assert_array_equal(np.asarray(zoo.layers.LENET5_C3_TABLE, bool), table)


def test_each_c3_map_reads_exactly_the_s2_maps_table_one_lists():
    model = zoo.create_model("lenet5")
    c3 = _layer(model, "c3")
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 14, 14, 6)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        maps = tf.reduce_sum(c3(x), axis=(0, 1, 2))  # one number per C3 map
    jacobian = tape.jacobian(maps, x).numpy()  # (16, 1, 14, 14, 6)
    reads = np.abs(jacobian).sum(axis=(1, 2, 3)) > 0  # (C3 map, S2 map)
    np.testing.assert_array_equal(reads.T, _paper_table())


def test_masked_c3_weights_get_no_gradient():
    model = zoo.create_model("lenet5")
    c3 = _layer(model, "c3")
    x = np.random.default_rng(0).normal(size=(2, 14, 14, 6)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(c3(x) ** 2)
    grad = tape.gradient(loss, c3.kernel).numpy()
    table = np.asarray(c3.connection_table, dtype=bool)
    assert np.abs(grad[:, :, ~table]).max() == 0
    assert np.abs(grad[:, :, table]).min() > 0


def test_subsampling_feeds_the_squashing_function():
    model = zoo.create_model("lenet5")
    s2 = _layer(model, "s2")
    x = np.random.default_rng(0).normal(size=(1, 28, 28, 6)).astype("float32")
    s2.coefficient.assign(np.full(6, 2.0, "float32"))
    s2.bias.assign(np.full(6, 0.5, "float32"))
    pooled = x.reshape(1, 14, 2, 14, 2, 6).mean(axis=(2, 4))
    expected = 1.7159 * np.tanh((2.0 * pooled + 0.5) * 2.0 / 3.0)
    np.testing.assert_allclose(np.asarray(s2(x)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        (
            "lenet5",
            {"head": "rbf"},
            ["input", "pad", "c1", "s2", "c3", "s4", "c5", "flatten", "f6", "rbf",
             "neg_distance", "predictions"],
        ),
        (
            "lenet5_modern",
            {"units": (8,)},
            ["input", "pad", "conv1", "conv1_relu", "pool1", "conv2", "conv2_relu", "pool2",
             "flatten", "fc1", "fc1_relu", "logits", "predictions"],
        ),
    ],
)  # fmt: skip
def test_every_layer_is_named_after_the_model(name, kwargs, expected):
    model = zoo.create_model(name, **kwargs)
    assert [layer.name for layer in model.layers] == [f"{name}_{e}" for e in expected]


def test_non_square_inputs_are_padded_to_32_by_32_in_each_direction():
    model = zoo.create_model("lenet5", input_shape=(28, 20, 1))
    pad = _layer(model, "pad")
    assert pad.padding == ((2, 2), (6, 6))
    assert pad.output.shape[1:] == (32, 32, 1)


def test_32x32_inputs_are_not_padded():
    model = zoo.create_model("lenet5", input_shape=(32, 32, 1))
    assert not any(layer.name.endswith("_pad") for layer in model.layers)


@pytest.mark.parametrize(
    "name, kwargs",
    [  # the plain LeNet-5 learns digits in tests/test_recipes.py::test_quickstart
        ("lenet5", {"head": "rbf"}),
        ("lenet5_modern", {"batch_norm": True, "dropout": 0.2}),
    ],
)
def test_learns_digits_in_a_few_epochs(name, kwargs):
    train, info = data.load(
        "digits",
        "train",
        image_size=28,
        normalize="zscore",
        batch_size=32,
        seed=0,
        with_info=True,
    )
    model = zoo.create_model(name, **kwargs)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(train, epochs=4, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.8


def test_rbf_head_outputs_probabilities_from_distances():
    model = zoo.create_model("lenet5", head="rbf")
    rbf = _layer(model, "rbf")
    assert not rbf.trainable_weights  # fixed prototypes, as in the paper
    assert set(np.unique(np.asarray(rbf.prototypes))) == {-1.0, 1.0}
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    f6 = keras.Model(model.input, _layer(model, "f6").output)
    features = np.asarray(f6(x), "float64")
    prototypes = np.asarray(rbf.prototypes, "float64")  # (84, classes)
    distances = ((features[:, :, None] - prototypes[None]) ** 2).sum(axis=1)
    logits = -distances - (-distances).max(axis=1, keepdims=True)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-6)


def test_bad_head_and_dropout_name_the_value():
    with pytest.raises(ValueError, match="head='euclid'"):
        zoo.create_model("lenet5", head="euclid")
    with pytest.raises(ValueError, match="dropout=1.5"):
        zoo.create_model("lenet5_modern", dropout=1.5)


def test_include_top_false_returns_f6_features():
    model = zoo.create_model("lenet5", include_top=False)
    assert model.output_shape == (None, 84)


def test_weights_file_is_loaded(tmp_path):
    source = zoo.create_model("lenet5")
    path = tmp_path / "lenet5.weights.h5"
    source.save_weights(path)
    copy = zoo.create_model("lenet5", weights=str(path))
    x = np.random.default_rng(1).uniform(size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(copy(x)), np.asarray(source(x)))


_INPUT_SHAPE_MESSAGE = (
    "input_shape must be (height, width, channels) with height and width in [1, 32] and "
    "channels in [1, 4096]. Received: input_shape="
)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_shape": (28, 33, 1)}, ValueError, _INPUT_SHAPE_MESSAGE + "(28, 33, 1)"),
        ({"input_shape": (28, 28.0, 1)}, TypeError, _INPUT_SHAPE_MESSAGE + "(28, 28.0, 1)"),
        ({"input_shape": (28, 28, 0)}, ValueError, _INPUT_SHAPE_MESSAGE + "(28, 28, 0)"),
        ({"input_shape": (8, 8, 4097)}, ValueError, _INPUT_SHAPE_MESSAGE + "(8, 8, 4097)"),
        (
            {"classes": 1},
            ValueError,
            "classes must be an int >= 2 and <= 65536. Received: classes=1",
        ),
        (
            {"classes": 2.0},
            TypeError,
            "classes must be an int >= 2 and <= 65536. Received: classes=2.0 of type float",
        ),
        (
            {"include_top": 1},
            TypeError,
            "include_top must be True or False. Received: include_top=1 of type int",
        ),
        (
            {"include_top": False, "classes": 3},
            ValueError,
            "classes does not apply to {name} with include_top=False; it applies to the "
            "classifier (include_top=True). Received: classes=3",
        ),
        (
            {"weights": "missing.weights.h5"},
            ValueError,
            "weights must be None, the path of a weights file saved by this model, or the "
            "name of a checkpoint shipped for {name}: {shipped}. "
            "Received: weights='missing.weights.h5'",
        ),
    ],
)
@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_bad_arguments_are_refused_naming_them(name, kwargs, error, message):
    shipped = ", ".join(map(repr, pretrained.names(name)))  # zoo/pretrained/manifest.json
    with pytest.raises(error, match=f"^{re.escape(message.format(name=name, shipped=shipped))}$"):
        zoo.create_model(name, **kwargs)


def test_two_classes_and_many_channels_are_accepted():
    model = zoo.create_model("lenet5", input_shape=(28, 28, 40), classes=2)
    assert model.output_shape == (None, 2)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
@pytest.mark.parametrize("input_shape", [(64, 64, 1), (28, 28)])
def test_inputs_lenet_cannot_take_are_refused(name, input_shape):
    with pytest.raises(ValueError, match="input_shape.*Received"):
        zoo.create_model(name, input_shape=input_shape)


def _normalised(model, layer_name, x):
    """What `layer_name` outputs on `x` (its layer's inputs come from the model's)."""
    layer = _layer(model, layer_name)
    return keras.ops.convert_to_numpy(keras.Model(model.input, layer.output)(x))


def test_modern_lenet_normalisations_normalise_over_what_their_papers_say():
    x = np.random.default_rng(0).normal(3.0, 2.0, (4, 28, 28, 1)).astype("float32")
    kwargs = {"filters": (6, 8), "units": (12,), "kernel_initializer": "glorot_uniform"}
    # instance: each map of each example, over its positions (Ulyanov et al. 2016)
    out = _normalised(zoo.create_model("lenet5_modern", norm="instance", **kwargs), "conv1_in", x)
    assert np.abs(out.mean(axis=(1, 2))).max() < 1e-4
    assert out.std(axis=(1, 2)) == pytest.approx(np.ones((4, 6)), abs=1e-2)
    # group: gcd(6, 4) = 2 groups of 3 maps, each over its maps and positions (Wu & He)
    out = _normalised(zoo.create_model("lenet5_modern", norm="group", **kwargs), "conv1_gn", x)
    groups = out.reshape(4, -1, 2, 3)
    assert np.abs(groups.mean(axis=(1, 3))).max() < 1e-4
    assert np.abs(out.mean(axis=(1, 2))).max() > 1e-2  # not each map on its own
    # layer: each example and position over the channels; dense layers: over the units
    model = zoo.create_model("lenet5_modern", norm="layer", **kwargs)
    assert np.abs(_normalised(model, "conv2_ln", x).mean(axis=-1)).max() < 1e-4
    assert np.abs(_normalised(model, "fc1_ln", x).mean(axis=-1)).max() < 1e-4
    # instance on a dense layer, which has no positions: layer norm
    dense = _layer(zoo.create_model("lenet5_modern", norm="instance", **kwargs), "fc1_in")
    assert isinstance(dense, keras.layers.LayerNormalization)


def test_modern_lenet_activation_initializer_and_the_older_batch_norm_spelling():
    model = zoo.create_model(
        "lenet5_modern", activation="sigmoid", kernel_initializer="glorot_uniform"
    )
    assert _layer(model, "fc2_sigmoid").activation is keras.activations.sigmoid
    for layer in ("conv1", "conv2", "fc1", "fc2"):
        assert type(_layer(model, layer).kernel_initializer).__name__ == "GlorotUniform"
        assert _layer(model, layer).use_bias  # no normalisation: a bias
    older = zoo.create_model("lenet5_modern", batch_norm=True)
    newer = zoo.create_model("lenet5_modern", norm="batch")
    assert [layer.name for layer in older.layers] == [layer.name for layer in newer.layers]
    assert isinstance(_layer(newer, "conv1_bn"), keras.layers.BatchNormalization)
    assert not _layer(newer, "conv1").use_bias
    with pytest.raises(ValueError, match="batch_norm=True is norm='batch'.*norm='layer'"):
        zoo.create_model("lenet5_modern", batch_norm=True, norm="layer")
    with pytest.raises(ValueError, match="activation must be one of 'relu', 'leaky_relu'"):
        zoo.create_model("lenet5_modern", activation="relu6")
    with pytest.raises(ValueError, match="'he_normal'.*Received: kernel_initializer='he'"):
        zoo.create_model("lenet5_modern", kernel_initializer="he")
