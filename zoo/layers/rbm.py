"""Restricted Boltzmann machine as a Keras layer, trained by contrastive divergence.

The layer is a feature layer (`call` returns P(h = 1 | v)) that also knows its energy,
conditionals and Gibbs sampler. In training (`training=True`) it adds the contrastive
divergence objective `mean F(v_data) - mean F(stop_gradient(v_model))` to the model's
losses; its gradient is the CD-k (or persistent CD) update, so any Keras optimizer,
callback and `model.fit` train it:

    rbm = RBM(256, k=1)
    model = keras.Sequential([keras.Input((784,)), rbm])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.5))
    model.fit(binary_images, epochs=10, batch_size=100)

References:
    G. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
    2010-003 (initialisation, CD-k, monitoring).
    T. Tieleman, "Training restricted Boltzmann machines using approximations to the
    likelihood gradient", ICML 2008 (persistent CD).
    K. Cho, A. Ilin, T. Raiko, "Improved learning of Gaussian-Bernoulli restricted
    Boltzmann machines", ICANN 2011 (the energy with learned visible variances).
"""

import keras
import numpy as np
from keras import ops

from zoo._checks import (
    MAX_CHAINS,
    MAX_GIBBS_STEPS,
    MAX_UNITS,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_regularizer,
    check_seed,
)

VISIBLE_UNITS = ("bernoulli", "gaussian")
_EPSILON = 1e-6


def _eager_tensorflow():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.executing_eagerly()


@keras.saving.register_keras_serializable(package="zoo")
class RBM(keras.layers.Layer):
    """A Bernoulli-Bernoulli or Gaussian-Bernoulli restricted Boltzmann machine.

    Energies (v visible, h hidden, W weights, b visible bias, c hidden bias):

    - Bernoulli visibles: `E(v, h) = -v.b - h.c - v W h`;
    - Gaussian visibles with standard deviations sigma (1 unless learned):
      `E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - h.c - (v / sigma^2) W h`.

    Args:
        units: Hidden units, from 1 to `zoo._checks.MAX_UNITS` (65,536).
        visible: "bernoulli" (default; data in [0, 1]) or "gaussian" (real-valued data,
            standardised, as the practical guide advises).
        k: Gibbs steps of the negative phase (CD-k), from 1 to
            `zoo._checks.MAX_GIBBS_STEPS` (10,000): one training step runs k steps.
            Defaults to 1.
        persistent_chains: 0 (default) for CD-k, which starts each negative chain at the
            data; n > 0 for persistent CD with n chains whose hidden states are kept
            across batches in a non-trainable variable `chains`; at most
            `zoo._checks.MAX_CHAINS` (10,000).
        learn_sigma: Learn the Gaussian visibles' log standard deviations. Defaults to
            False (unit variance).
        mean_field_visible: In CD-k, reconstruct the visibles as their means E[v | h]
            instead of sampling them, as Hinton's MNIST code does (less sampling noise;
            the practical guide, section 3.2). Not for persistent chains, which keep
            sampled states. Defaults to False.
        weight_stddev: Standard deviation of the initial weights, a finite number > 0.
            Defaults to 0.01.
        kernel_regularizer: Optional regularizer of W, e.g. `keras.regularizers.L2(1e-4)`
            for the guide's weight decay of 2e-4 (or its name, "l2").
        seed: Optional int seed of the Gibbs sampler and the initial weights, in
            [0, 2**32 - 1].

    Example:

        rbm = RBM(64)
        features = rbm(images)               # P(h = 1 | v)
        samples = rbm.gibbs(images, k=100)   # a Gibbs chain started at the data
    """

    def __init__(
        self,
        units,
        visible="bernoulli",
        k=1,
        persistent_chains=0,
        learn_sigma=False,
        mean_field_visible=False,
        weight_stddev=0.01,
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        units = check_int("units", units, low=1, high=MAX_UNITS)
        k = check_int("k", k, low=1, high=MAX_GIBBS_STEPS)
        persistent_chains = check_int(
            "persistent_chains", persistent_chains, low=0, high=MAX_CHAINS
        )
        check_choice("visible", visible, VISIBLE_UNITS)
        learn_sigma = check_bool("learn_sigma", learn_sigma)
        mean_field_visible = check_bool("mean_field_visible", mean_field_visible)
        weight_stddev = check_float("weight_stddev", weight_stddev, low=0, low_open=True)
        kernel_regularizer = check_regularizer("kernel_regularizer", kernel_regularizer)
        seed = check_seed("seed", seed)
        if learn_sigma and visible != "gaussian":
            raise ValueError(
                "learn_sigma needs Gaussian visible units. "
                f"Received: learn_sigma={learn_sigma}, visible={visible!r}"
            )
        if mean_field_visible and persistent_chains:
            raise ValueError(
                "mean_field_visible applies to CD-k; persistent chains keep sampled states. "
                f"Received: mean_field_visible={mean_field_visible}, "
                f"persistent_chains={persistent_chains}"
            )
        self.units = units
        self.visible = visible
        self.k = k
        self.persistent_chains = persistent_chains
        self.learn_sigma = learn_sigma
        self.mean_field_visible = mean_field_visible
        self.weight_stddev = weight_stddev
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    # --- weights -------------------------------------------------------------------------

    def build(self, input_shape):
        n_visible = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(n_visible, self.units),
            initializer=keras.initializers.RandomNormal(stddev=self.weight_stddev, seed=self.seed),
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.visible_bias = self.add_weight(
            shape=(n_visible,), initializer="zeros", name="visible_bias"
        )
        self.hidden_bias = self.add_weight(
            shape=(self.units,), initializer="zeros", name="hidden_bias"
        )
        self.log_sigma = None
        if self.visible == "gaussian":
            self.log_sigma = self.add_weight(
                shape=(n_visible,),
                initializer="zeros",
                trainable=self.learn_sigma,
                name="log_sigma",
            )
        self.chains = None
        if self.persistent_chains:
            # The chains' hidden states, all off at first (as scikit-learn's BernoulliRBM).
            self.chains = self.add_weight(
                shape=(self.persistent_chains, self.units),
                initializer="zeros",
                trainable=False,
                name="chains",
            )

    def init_visible_bias(self, data):
        """Sets b_i = log(p_i / (1 - p_i)) from the data's mean p_i (Bernoulli visibles),
        or b_i = the data's mean (Gaussian visibles), as the practical guide advises."""
        data = np.asarray(data, dtype="float32").reshape(len(data), -1)
        if not self.built:
            self.build(data.shape)
        mean = data.mean(axis=0)
        if self.visible == "bernoulli":
            p = np.clip(mean, 0.01, 0.99)
            self.visible_bias.assign(np.log(p / (1.0 - p)))
        else:
            self.visible_bias.assign(mean)

    # --- conditionals and sampling -------------------------------------------------------

    @property
    def sigma(self):
        """Standard deviations of the Gaussian visibles (None for Bernoulli ones)."""
        return None if self.log_sigma is None else ops.exp(self.log_sigma)

    def _scaled(self, v):
        """v / sigma^2 for Gaussian visibles, v for Bernoulli ones."""
        return v if self.log_sigma is None else v / ops.square(self.sigma)

    def _hidden_input(self, v):
        return ops.matmul(self._scaled(v), self.kernel) + self.hidden_bias

    def hidden_probabilities(self, v):
        """P(h_j = 1 | v) = sigmoid(c_j + sum_i W_ij v_i / sigma_i^2)."""
        return ops.sigmoid(self._hidden_input(v))

    def sample_hidden(self, v):
        """A binary sample of h given v."""
        return self._bernoulli(self.hidden_probabilities(v))

    def visible_mean(self, h):
        """E[v | h]: sigmoid(b + W h) for Bernoulli visibles, b + W h for Gaussian ones."""
        activation = ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias
        return ops.sigmoid(activation) if self.visible == "bernoulli" else activation

    def sample_visible(self, h):
        """A sample of v given h: binary, or Gaussian around `visible_mean(h)`."""
        mean = self.visible_mean(h)
        if self.visible == "bernoulli":
            return self._bernoulli(mean)
        noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + self.sigma * noise

    def gibbs(self, v, k=1):
        """Runs k full Gibbs steps v -> h -> v from `v`; returns the last visible sample.

        `k` is at most `zoo._checks.MAX_GIBBS_STEPS`. Inside a traced function (CD-k in
        `fit`) the k steps are unrolled; called eagerly on the TensorFlow backend, a long
        chain runs as one compiled loop instead of k rounds of eager operations.
        """
        check_int("k", k, low=1, high=MAX_GIBBS_STEPS)
        if k > 1 and _eager_tensorflow():
            v = ops.convert_to_tensor(v, self.compute_dtype)
            return self._compiled_chain()(v, ops.convert_to_tensor(k, "int32"))
        for _ in range(k):
            v = self.sample_visible(self.sample_hidden(v))
        return v

    def _compiled_chain(self):
        """A `tf.function` running a Gibbs chain of a tensor-valued length (traced once)."""
        chain = getattr(self, "_chain_function", None)
        if chain is None:
            import tensorflow as tf

            def run(v, k):
                step = lambda _, v: self.sample_visible(self.sample_hidden(v))  # noqa: E731
                return ops.fori_loop(0, k, step, v)

            chain = tf.function(run, reduce_retracing=True)
            object.__setattr__(self, "_chain_function", chain)  # not a tracked attribute
        return chain

    def _bernoulli(self, p):
        draw = keras.random.uniform(ops.shape(p), dtype=p.dtype, seed=self.seed_generator)
        return ops.cast(draw < p, p.dtype)

    # --- energies ------------------------------------------------------------------------

    def energy(self, v, h):
        """E(v, h) for each example, shape `(batch,)`."""
        interaction = ops.sum(ops.matmul(self._scaled(v), self.kernel) * h, axis=-1)
        hidden_term = ops.sum(h * self.hidden_bias, axis=-1)
        return self._visible_term(v) - hidden_term - interaction

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)) for each example, shape `(batch,)`."""
        return self._visible_term(v) - ops.sum(ops.softplus(self._hidden_input(v)), axis=-1)

    def _visible_term(self, v):
        if self.visible == "bernoulli":
            return -ops.sum(v * self.visible_bias, axis=-1)
        return ops.sum(ops.square(v - self.visible_bias) / (2.0 * ops.square(self.sigma)), axis=-1)

    # --- the layer -----------------------------------------------------------------------

    def call(self, inputs, training=False):
        pre_activation = self._hidden_input(inputs)
        probabilities = ops.sigmoid(pre_activation)
        if training:
            # The data is a constant of the CD update: in a stack, an RBM's loss trains that
            # RBM only, never the layers below it.
            data = ops.stop_gradient(inputs)
            data_input = self._own_weights_only(pre_activation, data)
            self.add_loss(self._cd_loss(data, data_input, ops.stop_gradient(probabilities)))
        return probabilities

    def _own_weights_only(self, pre_activation, data):
        """`pre_activation` (= `_hidden_input(data)`) with gradients to this layer's kernel
        and hidden bias only, as if computed from the stopped `data`, without computing
        that product a second time (TensorFlow's graph optimiser does not merge the two:
        at batch 1000 the repeat cost a sixth of a CD-1 step)."""
        if self.learn_sigma:  # the product's gradient also reaches sigma: computed again
            return self._hidden_input(data)
        scaled = ops.stop_gradient(self._scaled(data))
        n_visible = ops.shape(scaled)[-1]

        @ops.custom_gradient
        def own_weights(kernel, hidden_bias):
            def gradient(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                upstream = ops.reshape(upstream, (-1, self.units))
                flat = ops.reshape(scaled, (-1, n_visible))
                return ops.matmul(ops.transpose(flat), upstream), ops.sum(upstream, axis=0)

            return ops.zeros(ops.shape(pre_activation), pre_activation.dtype), gradient

        kernel = ops.convert_to_tensor(self.kernel, pre_activation.dtype)
        hidden_bias = ops.convert_to_tensor(self.hidden_bias, pre_activation.dtype)
        return ops.stop_gradient(pre_activation) + own_weights(kernel, hidden_bias)

    def contrastive_divergence(self, v):
        """`mean F(v) - mean F(v_model)`, v_model a stopped-gradient negative sample.

        Its gradient with respect to the weights is minus the CD-k update (or the
        persistent CD update, whose chains advance by k steps per call). This is the loss
        the layer adds in training.
        """
        pre_activation = self._hidden_input(v)
        return self._cd_loss(v, pre_activation, ops.sigmoid(pre_activation))

    def _cd_loss(self, v, pre_activation, probabilities):
        # Every Gibbs step costs two matrix products, h -> v and v -> h, and the last
        # step's v -> h product also gives the negative free energy; P(h | v_data) starts
        # the CD chain. So CD-1 and PCD-1 cost five products per batch with the two of
        # the weight gradient, as the textbook update.
        if self.chains is None:
            hidden = self._bernoulli(probabilities)
        else:
            hidden = self.chains
        reconstruct = self.visible_mean if self.mean_field_visible else self.sample_visible
        for step in range(self.k):
            negative = ops.stop_gradient(reconstruct(hidden))
            negative_input = self._hidden_input(negative)
            if step < self.k - 1 or self.chains is not None:
                hidden = self._bernoulli(ops.stop_gradient(ops.sigmoid(negative_input)))
        if self.chains is not None:
            self.chains.assign(hidden)
        positive_free = self._visible_term(v) - ops.sum(ops.softplus(pre_activation), axis=-1)
        negative_free = self._visible_term(negative) - ops.sum(
            ops.softplus(negative_input), axis=-1
        )
        return ops.mean(positive_free) - ops.mean(negative_free)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "visible": self.visible,
            "k": self.k,
            "persistent_chains": self.persistent_chains,
            "learn_sigma": self.learn_sigma,
            "mean_field_visible": self.mean_field_visible,
            "weight_stddev": self.weight_stddev,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "seed": self.seed,
        }
