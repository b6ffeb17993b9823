"""Train LeNet-5 (classic or modern) on handwritten digits and export it for serving.

The classic model follows LeCun et al. 1998: scaled tanh, trainable subsampling, the
partial C3 connection table and (optionally) the Euclidean RBF output layer. It is trained
here with Adam and cosine learning-rate decay instead of the paper's stochastic diagonal
Levenberg-Marquardt; `--augment` adds random shifts, rotations and zooms, the paper's
"distortions".

    python -m recipes.lenet5                                   # classic, MNIST
    python -m recipes.lenet5 --dataset digits                  # offline, no files
    python -m recipes.lenet5 --model lenet5_modern --batch-norm --dropout 0.2
    python -m recipes.lenet5 --sanity        # first: can it overfit 128 examples?
"""

import sys

from ._common import (
    CLASSIFIER_SANITY,
    add_data_args,
    add_lenet5_args,
    add_training_args,
    command,
    lenet5_sanity,
    make_parser,
    parse,
    train_lenet5,
    training_config,
)


def build_parser():
    parser = make_parser("lenet5", __doc__)
    add_data_args(parser, dataset="mnist")
    add_lenet5_args(parser)
    add_training_args(
        parser, epochs=30, batch_size=128, learning_rate=1e-3, sanity=CLASSIFIER_SANITY
    )
    return parser


def main(argv=None):
    options = parse(build_parser(), argv)
    if options.sanity:
        return lenet5_sanity(options, training_config(options))
    _, _, metrics, run_dir, _ = train_lenet5("lenet5", options, training_config(options))
    print(f"test error {metrics['test_error_percent']:.2f}%  run folder: {run_dir}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
