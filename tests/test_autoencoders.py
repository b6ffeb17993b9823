"""Seeded behavioural tests of the autoencoder family and its layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import data
from zoo.export import export, load_export, read_metadata, verify_export
from zoo.layers import (
    ContractiveDense,
    KLSparsity,
    KSparse,
    KSparseSchedule,
    MaskingNoise,
    SaltAndPepperNoise,
    TiedDense,
    ksparse_alpha,
)
from zoo.models import Autoencoder, encoder_classifier, greedy_pretrain
from zoo.models.autoencoders import dense_autoencoder

SMALL = {  # each variant at digits size, small enough for a few quick steps
    "ae/dense": {"code_size": 16},
    "ae/deep": {"hidden": (32, 16), "code_size": 8},
    "ae/conv": {"filters": (8, 16), "code_size": 16},
    "ae/denoising": {"code_size": 32},
    "ae/sparse_l1": {"code_size": 96},
    "ae/sparse_kl": {"code_size": 96},
    "ae/ksparse": {"code_size": 96, "k": 10},
    "ae/contractive": {"code_size": 96},
    "ae/tied": {"code_size": 16, "hidden": (32,)},
}


@pytest.fixture(scope="module")
def digits():
    images, labels = data.as_numpy(data.load("digits", "train", shuffle=False))
    return images, labels


def small(name, **kwargs):
    return zoo.create_model(name, input_shape=(8, 8, 1), **{**SMALL[name], **kwargs})


def test_every_variant_has_small_settings():
    assert set(SMALL) == set(zoo.list_models("ae/*"))


# That each variant trains (below the untrained network's error) and exports is
# tests/test_recipes.py::test_every_autoencoder_variant_trains_and_exports_through_the_recipe.


@pytest.mark.parametrize("name", sorted(SMALL))
def test_encoder_and_decoder_are_usable_sub_models(name, digits):
    images, _ = digits
    model = small(name)
    assert isinstance(model, Autoencoder)
    codes = model.encoder.predict(images[:5], verbose=0)
    assert codes.shape == (5, SMALL[name]["code_size"])
    np.testing.assert_allclose(
        model.decoder.predict(codes, verbose=0), model.predict(images[:5], verbose=0), atol=1e-5
    )


# --- denoising -----------------------------------------------------------------------------


def test_masking_noise_zeroes_about_p_in_training_and_nothing_at_inference():
    layer = MaskingNoise(0.3, seed=1)
    x = np.ones((200, 100), "float32")
    noisy = np.asarray(layer(x, training=True))
    assert abs((noisy == 0).mean() - 0.3) < 0.01
    assert set(np.unique(noisy)) <= {0.0, 1.0}  # kept values are not rescaled
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_salt_and_pepper_noise_sets_about_p_to_low_or_high():
    layer = SaltAndPepperNoise(0.2, seed=1)
    x = np.full((200, 100), 0.5, "float32")
    noisy = np.asarray(layer(x, training=True))
    hit = noisy != 0.5
    assert abs(hit.mean() - 0.2) < 0.01
    assert set(np.unique(noisy[hit])) == {0.0, 1.0}
    assert abs((noisy[hit] == 1.0).mean() - 0.5) < 0.05
    np.testing.assert_array_equal(np.asarray(layer(x)), x)


@pytest.mark.parametrize(
    "noise, layer_type",
    [
        ("masking", MaskingNoise),
        ("salt_and_pepper", SaltAndPepperNoise),
        ("gaussian", keras.layers.GaussianNoise),
    ],
)
def test_denoising_corrupts_in_training_and_reconstructs_clean(noise, layer_type, digits):
    images, _ = digits
    model = zoo.create_model(
        "ae/denoising", input_shape=(8, 8, 1), noise=noise, noise_level=0.3, seed=0
    )
    assert isinstance(model.corruption, layer_type)
    # Inference is deterministic; training is not, because the input is corrupted.
    np.testing.assert_array_equal(model(images[:4]), model(images[:4]))
    assert not np.allclose(model(images[:4], training=True), model(images[:4]))
    # The clean-input encoder sees no noise, even in training mode.
    np.testing.assert_array_equal(
        model.encoder(images[:4], training=True), model.encoder(images[:4], training=True)
    )


# --- sparse --------------------------------------------------------------------------------


def _top(x, k):
    """Mask of the k largest values of each row, by numpy's argsort."""
    kept = np.zeros(x.shape, bool)
    np.put_along_axis(kept, np.argsort(-x, axis=1)[:, :k], True, axis=1)
    return kept


def test_ksparse_keeps_exactly_the_k_largest_and_only_they_get_gradients(rng):
    layer = KSparse(3, alpha=2.0)
    x = rng.normal(size=(6, 10)).astype("float32")
    weights = rng.normal(size=(6, 10)).astype("float32")
    watched = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(watched)
        y = layer(watched, training=True)
        loss = tf.reduce_sum(y * weights)
    kept = _top(x, 3)
    np.testing.assert_array_equal(y, np.where(kept, x, 0.0))
    np.testing.assert_array_equal(tape.gradient(loss, watched), np.where(kept, weights, 0.0))


def test_ksparse_inference_keeps_the_top_alpha_k_and_training_the_top_training_k(rng):
    x = rng.normal(size=(6, 10)).astype("float32")
    layer = KSparse(4, alpha=1.4)  # inference: round(1.4 * 4) = 6 units, not int() = 5
    np.testing.assert_array_equal(layer(x), np.where(_top(x, 6), x, 0.0))
    np.testing.assert_array_equal(layer(x, training=True), np.where(_top(x, 4), x, 0.0))
    layer.training_k.assign(7)  # as KSparseSchedule does; inference still keeps alpha * k
    np.testing.assert_array_equal(layer(x, training=True), np.where(_top(x, 7), x, 0.0))
    np.testing.assert_array_equal(layer(x), np.where(_top(x, 6), x, 0.0))
    np.testing.assert_array_equal(KSparse(3, alpha=5.0)(x), x)  # min(units, 15): all 10


def test_ksparse_ranks_the_last_axis_of_a_sequence_and_keeps_its_count_untrainable(rng):
    x = rng.normal(size=(2, 3, 5)).astype("float32")  # 3 steps of 5 units
    layer = KSparse(4, alpha=1.2)  # k above the 3 steps: only the last axis counts
    expected = np.where(_top(x.reshape(6, 5), 5), x.reshape(6, 5), 0.0).reshape(x.shape)
    np.testing.assert_array_equal(layer(x), expected)  # round(1.2 * 4) = 5 at inference
    training = np.where(_top(x.reshape(6, 5), 4), x.reshape(6, 5), 0.0).reshape(x.shape)
    np.testing.assert_array_equal(layer(x, training=True), training)
    assert layer.trainable_weights == []
    assert [w.path for w in layer.non_trainable_weights] == [f"{layer.name}/training_k"]


def test_ksparse_keeps_the_layers_dtype():
    layer = KSparse(2, dtype="float16")
    y = layer(np.array([[0.5, -1.0, 2.0, 1.0]], "float16"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    np.testing.assert_array_equal(y, [[0.0, 0.0, 2.0, 1.0]])


def test_ksparse_autoencoder_gradients_match_a_numpy_backward_pass(digits):
    images, _ = digits
    model = small("ae/ksparse", seed=0)  # tied, linear code and output, k=10 of 96 units
    enc = model.encoder.get_layer("ae_ksparse_enc1")
    dec = model.decoder.get_layer("ae_ksparse_dec1")
    variables = [enc.kernel, enc.bias, dec.bias]
    assert {id(v) for v in model.trainable_weights} == {id(v) for v in variables}
    batch = images[:16]
    with tf.GradientTape() as tape:
        out = model(batch, training=True)
        loss = tf.reduce_mean(tf.square(out - batch))
    grads = tape.gradient(loss, variables)

    x = batch.reshape(16, -1).astype("float64")
    w, b, c = (np.asarray(v, "float64") for v in variables)
    h = x @ w + b
    mask = _top(h, 10)
    z = h * mask
    x_hat = z @ w.T + c
    np.testing.assert_allclose(np.reshape(out, (16, -1)), x_hat, atol=1e-5)
    g = 2.0 * (x_hat - x) / x.size  # d loss / d x_hat
    g_h = (g @ w) * mask  # back through the tied decoder, then only the kept units
    expected = [x.T @ g_h + g.T @ z, g_h.sum(axis=0), g.sum(axis=0)]  # encoder + decoder path
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)


def test_ksparse_schedule_lowers_k_linearly_to_the_target():
    inputs = keras.Input((20,))
    layer = KSparse(5)
    model = keras.Model(inputs, layer(inputs))
    schedule = KSparseSchedule(start_k=15, ramp_epochs=2)
    schedule.set_model(model)
    seen = []
    for epoch in range(4):
        schedule.on_epoch_begin(epoch)
        seen.append(int(layer.training_k.numpy()))
    assert seen == [15, 10, 5, 5]


def test_ksparse_alpha_sets_every_layers_alpha_for_the_block_and_retraces(rng):
    model = small("ae/ksparse")  # k = 10 of 96 units, alpha 1
    model.encoder.get_layer("ae_ksparse_ksparse").alpha = 3.0
    x = rng.uniform(size=(4, 8, 8, 1)).astype("float32")

    def kept():  # units kept per code, through the compiled predict function
        return set((model.encoder.predict(x, verbose=0) != 0).sum(axis=1).tolist())

    assert kept() == {30}
    with ksparse_alpha(model, 1.0) as layers:
        assert kept() == {10}  # not the predict function traced with alpha 3
        assert [layer.alpha for layer in layers] == [1.0]
    assert kept() == {30} and layers[0].alpha == 3.0
    with pytest.raises(ValueError, match="alpha"):
        with ksparse_alpha(model, 0.5):
            pass


def test_kl_sparsity_adds_exactly_weight_times_the_kl_divergence(rng):
    inputs = keras.Input((6,))
    model = keras.Model(
        inputs,
        keras.layers.Dense(4, "sigmoid", activity_regularizer=KLSparsity(0.1, 2.0))(inputs),
    )
    x = rng.normal(size=(32, 6)).astype("float32")
    rate = np.asarray(model(x)).mean(axis=0)
    kl = np.sum(0.1 * np.log(0.1 / rate) + 0.9 * np.log(0.9 / (1 - rate)))
    assert float(model.losses[0]) == pytest.approx(2.0 * kl, rel=1e-4)


def test_sparse_kl_lowers_the_mean_code_activation(digits):
    images, _ = digits
    model = small("ae/sparse_kl", target=0.05, sparsity_weight=0.1)
    before = np.asarray(model.encoder(images)).mean()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.fit(images, images, batch_size=64, epochs=8, verbose=0)
    after = np.asarray(model.encoder(images)).mean()
    assert after < 0.5 * before and after < 0.15


# --- contractive ---------------------------------------------------------------------------


def _sigmoid_dense(x, w, b):
    return 1.0 / (1.0 + np.exp(-(x @ w + b)))


def test_contractive_penalty_matches_a_finite_difference_jacobian(rng):
    layer = ContractiveDense(3, contraction=0.5, dtype="float64")
    x = rng.normal(size=(5, 4))
    code = np.asarray(layer(x))
    w, b = np.asarray(layer.kernel), np.asarray(layer.bias)
    np.testing.assert_allclose(code, _sigmoid_dense(x, w, b), rtol=1e-12)
    eps = 1e-5
    jacobian = np.stack(
        [
            (_sigmoid_dense(x + eps * e, w, b) - _sigmoid_dense(x - eps * e, w, b)) / (2 * eps)
            for e in np.eye(4)
        ],
        axis=1,
    )  # (batch, inputs, units), numerically, in numpy
    expected = np.mean(np.sum(jacobian**2, axis=(1, 2)))  # batch mean of ||J||_F^2
    assert float(layer.jacobian_penalty(code)) == pytest.approx(expected, rel=1e-7)

    inputs = keras.Input((4,), dtype="float64")
    model = keras.Model(inputs, layer(inputs))
    model(x, training=True)
    assert float(sum(model.losses)) == pytest.approx(0.5 * expected, rel=1e-7)
    model(x, training=False)
    assert not model.losses


def test_contractive_penalty_gradient_matches_finite_differences(rng):
    layer = ContractiveDense(3, contraction=0.5, dtype="float64")
    x = rng.normal(size=(5, 4))
    layer(x)
    w, b = np.asarray(layer.kernel), np.asarray(layer.bias)

    def penalty(kernel):  # 0.5 * mean ||J||_F^2, J[n] = dh/dx = kernel * h'(n) by the chain rule
        code = _sigmoid_dense(x, kernel, b)
        jacobian = kernel[None] * (code * (1.0 - code))[:, None, :]
        return 0.5 * np.mean(np.sum(jacobian**2, axis=(1, 2)))

    with tf.GradientTape() as tape:
        layer(x, training=True)
        loss = tf.add_n(layer.losses)
    grad = np.asarray(tape.gradient(loss, layer.kernel))
    assert float(loss) == pytest.approx(penalty(w), rel=1e-10)
    eps = 1e-6
    numeric = np.zeros_like(w)
    for index in np.ndindex(*w.shape):
        step = np.zeros_like(w)
        step[index] = eps
        numeric[index] = (penalty(w + step) - penalty(w - step)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_contractive_training_lowers_the_jacobian_norm(digits):
    images, _ = digits
    free = small("ae/contractive", contraction=0.0)
    contracted = small("ae/contractive", contraction=0.05)
    norms = []
    for model in (free, contracted):
        keras.utils.set_random_seed(0)
        model.compile(keras.optimizers.Adam(3e-3), "mse")
        model.fit(images, images, batch_size=64, epochs=3, verbose=0)
        layer = model.encoder.get_layer(f"{model.name}_enc1")
        x = images.reshape(len(images), -1)
        norms.append(float(layer.jacobian_penalty(layer(x))))
    assert norms[1] < 0.25 * norms[0]  # about 0.08 with this seed


# --- tied weights --------------------------------------------------------------------------


def _assert_each_kernel_gets_the_sum_of_both_paths(model, images):
    """The gradient on each shared kernel of an `ae/tied` model is what an untied copy gets
    on its encoder kernel plus, transposed, on its decoder kernel (same weights)."""
    twin = dense_autoencoder(input_shape=(8, 8, 1), name="twin", **SMALL["ae/tied"])
    for i in (1, 2):
        enc = model.encoder.get_layer(f"ae_tied_enc{i}")
        dec = model.decoder.get_layer(f"ae_tied_dec{i}")
        twin.encoder.get_layer(f"twin_enc{i}").set_weights(enc.get_weights())
        kernel_copy = np.array(enc.kernel).T
        twin.decoder.get_layer(f"twin_dec{i}").set_weights([kernel_copy, np.asarray(dec.bias)])
    x = images[:32]
    np.testing.assert_allclose(twin(x), model(x), atol=1e-6)

    def gradients(autoencoder, layers):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(autoencoder(x) - x))
        return [np.asarray(g) for g in tape.gradient(loss, [layer.kernel for layer in layers])]

    shared = gradients(model, [model.encoder.get_layer(f"ae_tied_enc{i}") for i in (1, 2)])
    enc_path = gradients(twin, [twin.encoder.get_layer(f"twin_enc{i}") for i in (1, 2)])
    dec_path = gradients(twin, [twin.decoder.get_layer(f"twin_dec{i}") for i in (1, 2)])
    for got, enc_grad, dec_grad in zip(shared, enc_path, dec_path, strict=True):
        np.testing.assert_allclose(got, enc_grad + dec_grad.T, rtol=1e-4, atol=1e-7)


def test_tied_decoder_owns_no_kernel_and_gradients_reach_the_shared_kernel(digits):
    images, _ = digits
    model = small("ae/tied")
    decoder_paths = [w.path for w in model.decoder.weights]
    assert decoder_paths and all(path.endswith("bias") for path in decoder_paths)
    assert all(isinstance(layer, TiedDense) for layer in model.decoder.layers[1:-1])
    assert model.count_params() == 64 * 32 + 32 * 16 + (32 + 16) + (32 + 64)
    _assert_each_kernel_gets_the_sum_of_both_paths(model, images)


def test_tie_survives_keras_save_and_load(tmp_path, digits):
    images, _ = digits
    model = small("ae/tied")
    model.compile("adam", "mse")
    model.fit(images, images, epochs=1, verbose=0)
    model.save(tmp_path / "tied.keras")
    reloaded = keras.saving.load_model(tmp_path / "tied.keras")
    np.testing.assert_array_equal(reloaded(images), model(images))
    assert len(reloaded.weights) == len(model.weights)
    for i in (1, 2):
        dec = reloaded.decoder.get_layer(f"ae_tied_dec{i}")
        assert dec.tied_to is reloaded.encoder.get_layer(f"ae_tied_enc{i}")
    _assert_each_kernel_gets_the_sum_of_both_paths(reloaded, images)
    enc1 = reloaded.encoder.get_layer("ae_tied_enc1")
    enc1.kernel.assign(np.zeros(enc1.kernel.shape))
    dec1 = reloaded.decoder.get_layer("ae_tied_dec1")
    np.testing.assert_array_equal(dec1.kernel, np.zeros((32, 64)))


def test_tied_dense_refuses_what_it_cannot_tie_to():
    with pytest.raises(ValueError, match="tied_to.*Received"):
        TiedDense(keras.layers.Conv2D(3, 3))
    with pytest.raises(ValueError, match="built.*Received"):
        TiedDense(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="tie_scope.*Received: tied_to='nowhere'"):
        TiedDense("nowhere")


# --- deep: greedy pretraining and classifier -----------------------------------------------


class _Snapshots(keras.callbacks.Callback):
    """Weights of the deep model's layers at the start and end of each shallow fit."""

    def __init__(self, deep, names):
        super().__init__()
        self.deep, self.names, self.stages = deep, names, []

    def _weights(self):
        return {name: [w.copy() for w in self._layer(name).get_weights()] for name in self.names}

    def _layer(self, name):
        part = self.deep.encoder if "_enc" in name else self.deep.decoder
        return part.get_layer(name)

    def on_train_begin(self, logs=None):
        self.stages.append([self._weights()])

    def on_train_end(self, logs=None):
        self.stages[-1].append(self._weights())


def test_greedy_pretraining_trains_each_layer_pair_in_order(digits):
    images, _ = digits
    model = small("ae/deep")
    names = [f"ae_deep_{part}{i}" for i in (1, 2, 3) for part in ("enc", "dec")]
    snapshots = _Snapshots(model, names)
    histories = greedy_pretrain(model, images, epochs=2, callbacks=[snapshots])
    assert len(histories) == len(snapshots.stages) == 3
    for stage, (before, after) in enumerate(snapshots.stages, start=1):
        changed = {
            name
            for name in names
            if any(not np.array_equal(a, b) for a, b in zip(before[name], after[name], strict=True))
        }
        assert changed == {f"ae_deep_enc{stage}", f"ae_deep_dec{stage}"}
        assert histories[stage - 1].history["loss"][-1] < histories[stage - 1].history["loss"][0]


def test_greedy_pretraining_refuses_a_conv_autoencoder(digits):
    with pytest.raises(ValueError, match="dense autoencoder.*Received"):
        greedy_pretrain(small("ae/conv"), digits[0])


def test_encoder_classifier_shares_the_encoder(digits):
    images, labels = digits
    model = small("ae/dense")
    probe = encoder_classifier(model, classes=10, trainable=False)
    assert probe.layers[1] is model.encoder
    assert len(probe.trainable_weights) == 2  # the head's kernel and bias
    probe.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = probe.fit(images, labels, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    with pytest.raises(ValueError, match="classes.*Received"):
        encoder_classifier(model, classes=1)


# --- export --------------------------------------------------------------------------------


def test_autoencoder_export_serves_reconstruction_code_and_error(tmp_path):
    ds, info = data.load("digits", "test", normalize="minmax", with_info=True, shuffle=False)
    raw = np.concatenate([x for x, _ in data.load("digits", "test", normalize=None)])[:16]
    model = small("ae/conv")
    path = export(model, "ae_conv", base_dir=tmp_path, info=info)
    check = verify_export(path, model, raw, info)
    assert check["match"], check
    meta = read_metadata(path)
    assert meta["class_names"] == list(info.class_names)  # the dataset's, for reference
    outputs = meta["outputs"]
    assert set(outputs) == {"reconstruction", "code", "reconstruction_error"}
    assert outputs["code"] == "float32 (batch, 16)"
    served = load_export(path)(raw)
    x = np.asarray(info.preprocessing()(raw))
    np.testing.assert_allclose(served["code"], model.encoder(x), atol=1e-5)
    np.testing.assert_allclose(served["reconstruction"], model(x), atol=1e-5)
    squared = np.square(served["reconstruction"] - x).reshape(16, -1)
    np.testing.assert_allclose(served["reconstruction_error"], squared.mean(axis=1), rtol=1e-5)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("ae/dense", {"code_size": 0}, "code_size"),
        ("ae/deep", {"hidden": (32, 0)}, "hidden"),
        ("ae/denoising", {"noise_level": 1.0}, "noise_level"),
        ("ae/denoising", {"noise_level": -0.1}, "noise_level"),
        ("ae/denoising", {"noise": "gaussian", "noise_level": -1.0}, "noise_level"),
        ("ae/denoising", {"noise": "pink"}, "noise"),
        ("ae/dense", {"dropout": 1.0}, "dropout"),
        ("ae/ksparse", {"k": 2000}, "k"),
        ("ae/ksparse", {"k": 0}, "k"),
        ("ae/contractive", {"contraction": -1.0}, "contraction"),
        ("ae/contractive", {"hidden": (64,)}, "hidden"),
        ("ae/sparse_l1", {"l1": -1e-3}, "l1"),
        ("ae/sparse_kl", {"target": 1.5}, "target"),
        ("ae/sparse_kl", {"sparsity_weight": -1.0}, "weight"),
        ("ae/conv", {"input_shape": (27, 27, 1)}, "input_shape"),
        ("ae/conv", {"input_shape": (28, 28)}, "input_shape"),
        ("ae/conv", {"filters": ()}, "filters"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(name, kwargs, match):
    with pytest.raises(ValueError, match=f"{match}.*Received"):
        zoo.create_model(name, **kwargs)


def test_an_unregularised_overcomplete_autoencoder_warns():
    with pytest.warns(UserWarning, match="identity"):
        zoo.create_model("ae/dense", input_shape=(8, 8, 1), code_size=100)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.create_model("ae/sparse_l1", input_shape=(8, 8, 1), code_size=100)
        zoo.create_model("ae/denoising", input_shape=(8, 8, 1), code_size=100)
