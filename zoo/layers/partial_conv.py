"""Convolution with a partial connection table between input and output maps."""

import numpy as np
from keras import layers, ops, saving

# LeCun et al. 1998, Table I: which of the 6 S2 maps (rows) feed each of the 16 C3 maps
# (columns). Maps 0-5 see 3 contiguous inputs, 6-11 four contiguous, 12-14 four
# non-contiguous, and map 15 all six.
LENET5_C3_TABLE = (
    (1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1),
    (1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1),
    (1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1),
    (0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1),
    (0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1),
    (0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1),
)


@saving.register_keras_serializable(package="zoo")
class PartialConv2D(layers.Conv2D):
    """`Conv2D` whose output maps each see only the input maps a connection table names.

    LeNet-5's C3 layer (LeCun et al. 1998, section II.B, Table I): breaking the symmetry
    between maps and keeping the number of connections reasonable. The kernel keeps the
    full `Conv2D` shape and is multiplied by a fixed 0/1 mask in every call, so the
    masked weights take no part in the output and receive zero gradient. Initialisers
    see the full kernel shape, so a fan-in based one uses every input map (150 for C3),
    not each output map's own connected fan-in (75, 100 or 150 in the paper).

    Args:
        filters: Number of output maps; must equal the table's number of columns.
        kernel_size: As for `keras.layers.Conv2D`.
        connection_table: Nested sequence of 0/1 of shape `(input_maps, filters)`;
            entry `[i][j]` connects input map `i` to output map `j`.
        **kwargs: Any other `keras.layers.Conv2D` argument.

    Example:

    >>> c3 = PartialConv2D(16, 5, connection_table=LENET5_C3_TABLE)
    >>> c3(keras.ops.ones((1, 14, 14, 6))).shape
    (1, 10, 10, 16)
    """

    def __init__(self, filters, kernel_size, connection_table, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        table = np.asarray(connection_table)
        if table.ndim != 2 or table.shape[1] != filters or not np.isin(table, (0, 1)).all():
            raise ValueError(
                "connection_table must be a 0/1 matrix of shape (input_maps, filters="
                f"{filters}). Received: connection_table with shape {table.shape}"
            )
        if not table.any(axis=0).all():
            raise ValueError(
                "Every output map needs at least one input map. Received: connection_table "
                f"whose columns {np.flatnonzero(~table.any(axis=0)).tolist()} are all zero"
            )
        self.connection_table = table.astype(int).tolist()

    def build(self, input_shape):
        in_maps = input_shape[-1]
        if in_maps != len(self.connection_table):
            raise ValueError(
                f"connection_table has {len(self.connection_table)} rows but the input has "
                f"{in_maps} channels. Received: input_shape={input_shape}"
            )
        super().build(input_shape)
        mask = np.asarray(self.connection_table, dtype="float32")[None, None]
        self._mask = ops.convert_to_tensor(np.broadcast_to(mask, self.kernel.shape))

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self._mask, kernel.dtype))

    def count_connections(self):
        """Number of weights that take part in the output (plus biases)."""
        kh, kw = self.kernel_size
        used = int(np.sum(self.connection_table)) * kh * kw
        return used + (self.filters if self.use_bias else 0)

    def get_config(self):
        return {**super().get_config(), "connection_table": self.connection_table}
