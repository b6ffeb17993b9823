"""A dense layer that reuses the transposed kernel of another dense layer (tied weights)."""

import contextlib

import keras
from keras import ops

from zoo._checks import check_activation, check_bool

_SCOPES = []


@contextlib.contextmanager
def tie_scope(*models):
    """Lets `TiedDense.from_config` find the layers it ties to by name inside `models`.

    Loading a model that holds tied layers does this for you (`zoo.models.Autoencoder`
    deserializes its encoder first, then its decoder inside `tie_scope(encoder)`).
    """
    _SCOPES.append(models)
    try:
        yield
    finally:
        _SCOPES.pop()


@keras.saving.register_keras_serializable(package="zoo")
class TiedDense(keras.layers.Layer):
    """`activation(inputs @ tied_to.kernel.T + bias)`: a decoder layer with tied weights.

    The layer owns only its bias; the kernel belongs to `tied_to` (one owner, so one set of
    weights, updated by the gradients of both uses). Its config stores the partner's name,
    and loading resolves it again, so the tie survives a `.keras` round trip.

    Args:
        tied_to: A built `keras.layers.Dense` (or subclass) whose kernel, transposed, is
            this layer's kernel; or its name, inside `tie_scope(model)`.
        activation: Activation function. Defaults to None (linear).
        use_bias: Whether to add a bias of its own. Defaults to True.
        bias_initializer: Defaults to "zeros".

    Example:

        encode = keras.layers.Dense(32, activation="relu")
        h = encode(x)
        x_hat = TiedDense(encode, activation="sigmoid")(h)
    """

    def __init__(self, tied_to, activation=None, use_bias=True, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        partner = _resolve(tied_to) if isinstance(tied_to, str) else tied_to
        if not isinstance(partner, keras.layers.Dense):
            raise ValueError(
                f"tied_to must be a keras.layers.Dense layer. Received: tied_to={tied_to!r}"
            )
        if not partner.built:
            raise ValueError(
                f"tied_to must be built (called on an input) before it is tied to. "
                f"Received: tied_to={partner.name!r}, not built"
            )
        # Not an attribute Keras tracks: the partner, not this layer, owns the kernel.
        object.__setattr__(self, "_tied_to", partner)
        if not isinstance(activation, dict):  # a dict is a serialized one, from a config
            activation = check_activation("activation", activation, allow_none=True)
        self.activation = keras.activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def tied_to(self):
        return self._tied_to

    @property
    def kernel(self):
        """The partner's kernel, transposed: shape `(partner units, partner inputs)`."""
        return ops.transpose(self._tied_to.kernel)

    @property
    def units(self):
        return int(self._tied_to.kernel.shape[0])

    def build(self, input_shape):
        expected = int(self._tied_to.kernel.shape[1])
        if input_shape[-1] != expected:
            raise ValueError(
                f"{self.name} is tied to {self._tied_to.name!r}, which has {expected} units, "
                f"so its input must have {expected} features. Received: input_shape="
                f"{tuple(input_shape)}"
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer, name="bias"
            )

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "tied_to": self._tied_to.name,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def _resolve(name):
    for models in reversed(_SCOPES):
        for model in models:
            found = _find_layer(model, name)
            if found is not None:
                return found
    raise ValueError(
        f"tied_to names a layer that is not in any tie_scope: load the model that holds it "
        f"first and create this layer inside `tie_scope(that_model)`. Received: tied_to={name!r}"
    )


def _find_layer(model, name):
    for layer in getattr(model, "layers", ()):
        if layer.name == name:
            return layer
        found = _find_layer(layer, name)
        if found is not None:
            return found
    return None
