"""Train any autoencoder variant, look at what it learned, and export it for serving.

One recipe for the whole `ae/*` family: undercomplete or overcomplete dense, deep (with
optional greedy layer-wise pretraining), convolutional, denoising (Gaussian, masking or
salt-and-pepper noise), sparse (L1, KL, k-sparse), contractive, tied. It writes into the
run folder:

- `reconstructions.png`: test inputs, their corrupted versions (denoising), reconstructions;
- `latent.png`: the test codes coloured by class (PCA of the codes when wider than 2);
- `filters.png`: the first layer's filters (dense variants);
- `code_histogram.png`: the code activations (how sparse the code is);
- `metrics.json`: test reconstruction error, code sparsity and the linear-probe accuracy of
  the codes (scikit-learn's logistic regression);

and exports the model (reconstruction, code and reconstruction error per image) to
`saved_models/<export name>/<version>/`.

    python -m recipes.autoencoder --variant dense --code-size 32
    python -m recipes.autoencoder --variant denoising --noise masking --noise-level 0.25
    python -m recipes.autoencoder --variant ksparse --code-size 1000 --k 25 --k-start 100
    python -m recipes.autoencoder --variant deep --hidden 512 256 --greedy-epochs 5
    python -m recipes.autoencoder --variant conv --dataset digits --filters 16 32
    python -m recipes.autoencoder --variant sparse_kl --sanity   # can it overfit 128 images?
"""

import sys

from zoo import training
from zoo.models import encoder_classifier

from ._common import (
    RECONSTRUCTION_SANITY,
    add_autoencoder_args,
    add_data_args,
    add_training_args,
    autoencoder_sanity,
    command,
    export_name,
    make_parser,
    non_negative_int,
    parse,
    run_autoencoder,
    training_config,
)


def build_parser():
    parser = make_parser("autoencoder", __doc__)
    add_data_args(parser, dataset="mnist").add_argument(
        "--normalize",
        choices=("minmax", "zscore"),
        default="minmax",
        help="input scaling: minmax ([0, 1]) or zscore (zero mean, unit variance over the "
        "training pixels; needs --output-activation linear for the variants whose "
        "reconstruction is a sigmoid)",
    )
    add_autoencoder_args(parser)
    parser.add_argument(
        "--finetune-epochs",
        type=non_negative_int,
        default=0,
        help="after export: train the encoder + a softmax head on the labels this many "
        "epochs and report its test error (pretraining, then fine-tuning)",
    )
    add_training_args(
        parser,
        epochs=20,
        batch_size=128,
        learning_rate=1e-3,
        export_name_help="ae_<variant>, then _<dataset> unless mnist",
        sanity=RECONSTRUCTION_SANITY,
    )
    return parser


def finetune(options, config, model, info, train_ds, val_ds, test_ds):
    """Fine-tunes the encoder with a softmax head on the labels; returns its test error.

    The classifier shares the autoencoder's encoder layers, so this changes the
    autoencoder: run it after the autoencoder is evaluated and exported.
    """
    classifier = encoder_classifier(model, classes=info.num_classes, trainable=True)
    classifier.compile(
        optimizer=training.make_optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    classifier.fit(
        train_ds,
        validation_data=val_ds,
        epochs=options.finetune_epochs,
        shuffle=False,
        verbose=config.fit_verbose,
    )
    _, accuracy = classifier.evaluate(test_ds, verbose=0)
    return {
        "finetune_epochs": options.finetune_epochs,
        "finetune_test_error_percent": 100.0 * (1.0 - float(accuracy)),
    }


def run(options, config, run_dir):
    """Train, evaluate, export and (when asked) fine-tune; returns the metrics."""
    model, info, metrics, arrays = run_autoencoder(options, config, run_dir, options.normalize)
    name = export_name(f"ae_{options.variant}", options.dataset)
    metadata = options.export_metadata()
    training.export_run(config, run_dir, model, info, metrics, name, metadata)
    if options.finetune_epochs > 0:
        metrics.update(finetune(options, config, model, info, *arrays["splits"]))
    training.finish_run(run_dir, metrics)
    return metrics


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    if options.sanity:
        return autoencoder_sanity(options, config, options.normalize)
    with training.run("autoencoder", config, options.as_dict()) as run_dir:
        metrics = run(options, config, run_dir)
    summary = f"test reconstruction MSE {metrics['test_reconstruction_mse']:.5f}"
    if "probe_accuracy" in metrics:
        summary += f", linear probe accuracy {100 * metrics['probe_accuracy']:.2f}%"
    if "finetune_test_error_percent" in metrics:
        summary += f", fine-tuned test error {metrics['finetune_test_error_percent']:.2f}%"
    print(f"{summary}  run folder: {run_dir}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
