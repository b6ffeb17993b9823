"""Activation functions that Keras does not ship."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
def scaled_tanh(x):
    """LeCun's squashing function `1.7159 * tanh(2x / 3)`.

    LeCun et al. 1998, "Gradient-based learning applied to document recognition",
    Appendix A: with these constants f(1) = 1 and f(-1) = -1, and the second
    derivative is largest at +-1.

    Args:
        x: Input tensor.

    Returns:
        A tensor of the same shape, in (-1.7159, 1.7159).
    """
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))
