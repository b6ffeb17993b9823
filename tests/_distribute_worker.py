"""LeNet-5 trained on scikit-learn's 8x8 digits under a strategy, for
tests/test_distribute.py; run as a program in the worker processes.

    python tests/_distribute_worker.py STRATEGY OUT_DIR [EPOCHS]

writes `OUT_DIR/<worker role name>.npz` (the weights) and `.json` (test accuracy and
replicas). The test runs `train` in its own process for the single-process reference.
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EPOCHS = 3
BATCH_SIZE = 128  # the global batch
LEARNING_RATE = 0.01
SEED = 0


def train(strategy, epochs=EPOCHS):
    """Trains LeNet-5 under `strategy`; returns (weights, test accuracy)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from zoo import data

    keras.utils.set_random_seed(SEED)
    train_ds = data.load("digits", "train", batch_size=BATCH_SIZE, seed=SEED)
    options = tf.data.Options()  # the same shuffled global batches on every worker, split
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds = train_ds.with_options(options)
    x_test, y_test = data.as_numpy(data.load("digits", "test"))
    import zoo

    with strategy.scope():
        model = zoo.create_model("lenet5", input_shape=(8, 8, 1))
        model.compile(
            keras.optimizers.Adam(LEARNING_RATE),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    model.fit(train_ds, epochs=epochs, verbose=0)
    predicted = np.argmax(model(x_test, training=False), axis=-1)
    return model.get_weights(), float(np.mean(predicted == y_test))


def main(strategy_name, out_dir, epochs=EPOCHS):
    import numpy as np

    from zoo import distribute

    strategy = distribute.make_strategy(strategy_name)  # first: before any TF operation
    weights, accuracy = train(strategy, int(epochs))
    name = distribute.worker_role().name
    out = pathlib.Path(out_dir)
    np.savez(out / f"{name}.npz", *weights)
    result = {"accuracy": accuracy, "replicas": distribute.replicas(strategy)}
    (out / f"{name}.json").write_text(json.dumps(result))
    print(name, result)


if __name__ == "__main__":
    main(*sys.argv[1:])
