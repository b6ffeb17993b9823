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
"""

import argparse

import keras
import numpy as np

import zoo
from zoo import analysis, data, plots, training
from zoo.layers import KSparseSchedule
from zoo.models import encoder_classifier, greedy_pretrain
from zoo.models.autoencoders import NOISES

SMOKE_EXAMPLES = 256
LOSSES = {"mse": "mse", "bce": "binary_crossentropy"}
# option -> factory argument; options left at None keep the variant's own default
MODEL_OPTIONS = {
    "code_size": "code_size",
    "hidden": "hidden",
    "filters": "filters",
    "activation": "activation",
    "code_activation": "code_activation",
    "output_activation": "output_activation",
    "noise": "noise",
    "noise_level": "noise_level",
    "dropout": "dropout",
    "l1": "l1",
    "kl_target": "target",
    "kl_weight": "sparsity_weight",
    "k": "k",
    "alpha": "alpha",
    "contraction": "contraction",
    "tied": "tied",
}


def build_parser(description=__doc__, **defaults):
    """The recipe's options; `defaults` overrides their defaults (as ae_vs_pca does)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    variants = [name.removeprefix("ae/") for name in zoo.list_models("ae/*")]
    parser.add_argument("--variant", choices=variants, default="dense")
    parser.add_argument("--dataset", default="mnist", help="digits, mnist, fashion_mnist, ...")
    parser.add_argument("--data-dir", default=None, help="folder with the original files")
    parser.add_argument("--validation-percent", type=int, default=10, help="held out of train")
    model = parser.add_argument_group("model (unset options keep the variant's default)")
    model.add_argument("--code-size", type=int)
    model.add_argument("--hidden", type=int, nargs="*", help="dense hidden layers (deep)")
    model.add_argument("--filters", type=int, nargs="+", help="conv blocks (conv)")
    model.add_argument("--activation", help="hidden-layer activation")
    model.add_argument("--code-activation", help="code-layer activation")
    model.add_argument("--output-activation", help="reconstruction activation")
    model.add_argument("--noise", choices=NOISES, help="input corruption (denoising)")
    model.add_argument("--noise-level", type=float, help="probability, or Gaussian stddev")
    model.add_argument("--dropout", type=float, help="dropout before the code")
    model.add_argument("--l1", type=float, help="L1 weight on the code (sparse_l1)")
    model.add_argument("--kl-target", type=float, help="target activation rho (sparse_kl)")
    model.add_argument("--kl-weight", type=float, help="KL penalty weight beta (sparse_kl)")
    model.add_argument("--k", type=int, help="units kept in training (ksparse)")
    model.add_argument("--alpha", type=float, help="inference keeps alpha*k (ksparse)")
    model.add_argument("--k-start", type=int, help="start from this k, lower it to --k")
    model.add_argument("--contraction", type=float, help="Jacobian penalty (contractive)")
    model.add_argument("--tied", action=argparse.BooleanOptionalAction, help="tie weights")
    model.add_argument(
        "--loss",
        choices=sorted(LOSSES),
        default=None,
        help="default: bce for a sigmoid reconstruction, mse otherwise",
    )
    model.add_argument(
        "--greedy-epochs",
        type=_at_least(0),
        default=0,
        help="greedy layer-wise pretraining per layer",
    )
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--probe-examples",
        type=_at_least(-1),
        default=10000,
        help="training examples for the linear probe (0: all; -1: no probe)",
    )
    evaluation.add_argument(
        "--finetune-epochs",
        type=_at_least(0),
        default=0,
        help="after export: train the encoder + a softmax head on the labels this many "
        "epochs and report its test error (pretraining, then fine-tuning)",
    )
    evaluation.add_argument("--export-name", default=None, help="default: ae_<variant>")
    training.add_training_args(parser, epochs=20, batch_size=128, learning_rate=1e-3)
    parser.set_defaults(**defaults)
    return parser


def _at_least(low):
    def parse(text):
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}. Received: {value}")
        return value

    return parse


# --- data ------------------------------------------------------------------------------


def load_data(args):
    """Labelled train, validation and test pipelines in [0, 1], and the dataset info.

    `as_pairs` turns a pipeline into the `(x, x)` pairs an autoencoder trains on.
    """
    return data.load_splits(
        args.dataset,
        args.validation_percent,
        batch_size=args.batch_size,
        normalize="minmax",
        manual_dir=args.data_dir,
        seed=args.seed,
        limit=SMOKE_EXAMPLES if args.smoke else None,
    )


def as_pairs(dataset):
    """An `(x, y)` pipeline as `(x, x)`: the autoencoder's target is its input."""
    return dataset.map(lambda x, _: (x, x))


# --- model -----------------------------------------------------------------------------


def build_model(args, info):
    kwargs = {
        arg: getattr(args, option)
        for option, arg in MODEL_OPTIONS.items()
        if getattr(args, option) is not None
    }
    if args.variant == "conv":
        kwargs.pop("tied", None)
    try:
        return zoo.create_model(
            f"ae/{args.variant}", input_shape=info.input_shape, seed=args.seed, **kwargs
        )
    except TypeError as error:  # an option the variant has no use for
        raise ValueError(
            f"An option does not apply to --variant {args.variant}: {error}. Received: {kwargs}"
        ) from None


def reconstruction_loss(model, args):
    """`--loss`, or the loss that suits the model's output: bce for sigmoid, mse otherwise."""
    sigmoid = _output_activation(model) == "sigmoid"
    if args.loss is None:
        return LOSSES["bce" if sigmoid else "mse"]
    if args.loss == "bce" and not sigmoid:
        raise ValueError(
            "--loss bce needs outputs in [0, 1] (a sigmoid reconstruction); this model's is "
            f"{_output_activation(model)!r}. Received: --loss {args.loss}"
        )
    return LOSSES[args.loss]


def _output_activation(model):
    last = [layer for layer in model.decoder.layers if hasattr(layer, "activation")][-1]
    return last.activation.__name__


def compile_model(model, args):
    model.compile(optimizer=training.make_optimizer(args), loss=reconstruction_loss(model, args))


# --- train, evaluate, export -----------------------------------------------------------


def train(args, model, run_dir, train_ds, val_ds):
    """Greedy pretraining (when asked) then end-to-end training with the recipe callbacks."""
    if args.greedy_epochs:
        x_train, _ = data.as_numpy(train_ds)
        greedy_pretrain(
            model,
            x_train,
            epochs=args.greedy_epochs,
            batch_size=args.batch_size,
            optimizer=lambda: training.make_optimizer(args),
            loss=reconstruction_loss(model, args),
        )
    compile_model(model, args)
    extra, ramp = [], 0
    if args.k_start:  # Makhzani & Frey: lower k over the first half of training
        ramp = max(1, args.epochs // 2)
        extra.append(KSparseSchedule(args.k_start, ramp_epochs=ramp))
    model.fit(
        as_pairs(train_ds),
        validation_data=as_pairs(val_ds),
        epochs=1 if args.smoke else args.epochs,
        shuffle=False,  # the pipeline reshuffles every epoch
        callbacks=training.make_callbacks(run_dir, args, extra=extra, start_from_epoch=ramp),
        verbose=2 if args.smoke else "auto",
    )


def evaluate(args, model, train_ds, test_ds):
    """Reconstruction error, code sparsity and linear-probe accuracy; arrays for figures."""
    x_test, y_test = data.as_numpy(test_ds)
    errors = analysis.reconstruction_errors(model, x_test)
    codes = analysis.encode(model.encoder, x_test)
    metrics = {
        "test_reconstruction_mse": float(errors.mean()),
        "test_loss": float(model.evaluate(as_pairs(test_ds), verbose=0)),
        "code_size": int(codes.shape[1]),
        "code_zero_fraction": analysis.sparsity(codes),
    }
    if args.probe_examples >= 0:
        x_train, y_train = data.as_numpy(train_ds)
        if args.probe_examples:
            x_train, y_train = x_train[: args.probe_examples], y_train[: args.probe_examples]
        probe = analysis.linear_probe(model.encoder, x_train, y_train, x_test, y_test)
        metrics.update(
            probe_accuracy=probe["accuracy"],
            probe_error_percent=probe["error_percent"],
            probe_train_examples=len(x_train),
        )
    return metrics, {"x_test": x_test, "y_test": y_test, "codes": codes, "errors": errors}


def write_figures(model, info, arrays, run_dir, n=10):
    x = arrays["x_test"][:n]
    rows = {"input": x}
    if model.corruption is not None:
        rows["corrupted"] = np.asarray(model.corruption(x, training=True))
    rows["reconstructed"] = model.predict(x, verbose=0)
    plots.plot_image_rows(rows, run_dir / "reconstructions.png", n=min(n, len(x)))
    plots.plot_latent(arrays["codes"], arrays["y_test"], run_dir / "latent.png", info.class_names)
    first = model.encoder.get_layer(f"{model.name}_enc1") if _is_dense(model) else None
    if first is not None:
        plots.plot_filters(
            keras.ops.convert_to_numpy(first.kernel), info.input_shape, run_dir / "filters.png"
        )
    plots.plot_histogram(arrays["codes"], run_dir / "code_histogram.png", xlabel="code activation")


def _is_dense(model):
    return any(layer.name == f"{model.name}_enc1" for layer in model.encoder.layers)


def run(args, recipe="autoencoder"):
    """Data, model, training, evaluation and figures. Returns `(model, info, metrics,
    arrays, run_dir)`; `arrays` holds the test images, labels, codes and errors, and the
    `(train, validation, test)` pipelines under "splits"."""
    run_dir = training.start_run(recipe, args)
    train_ds, val_ds, test_ds, info = load_data(args)
    model = build_model(args, info)
    train(args, model, run_dir, train_ds, val_ds)
    metrics, arrays = evaluate(args, model, train_ds, test_ds)
    metrics["epochs"] = len(training.read_history(run_dir / training.HISTORY_FILE).get("epoch", []))
    write_figures(model, info, arrays, run_dir)
    arrays["splits"] = (train_ds, val_ds, test_ds)
    return model, info, metrics, arrays, run_dir


def finetune(args, model, info, train_ds, val_ds, test_ds):
    """Fine-tunes the encoder with a softmax head on the labels; returns its test error.

    The classifier shares the autoencoder's encoder layers, so this changes the
    autoencoder: run it after the autoencoder is evaluated and exported.
    """
    classifier = encoder_classifier(model, classes=info.num_classes, trainable=True)
    classifier.compile(
        optimizer=training.make_optimizer(args),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    classifier.fit(
        train_ds,
        validation_data=val_ds,
        epochs=args.finetune_epochs,
        shuffle=False,
        verbose=2 if args.smoke else "auto",
    )
    _, accuracy = classifier.evaluate(test_ds, verbose=0)
    return {
        "finetune_epochs": args.finetune_epochs,
        "finetune_test_error_percent": 100.0 * (1.0 - float(accuracy)),
    }


def export_model(args, model, info, metrics):
    """Exports unless `--no-export`; adds `export_path` to `metrics`."""
    training.export_run(args, model, info, metrics, f"ae_{args.variant}")
    return metrics


def main(argv=None):
    args = build_parser().parse_args(argv)
    model, info, metrics, arrays, run_dir = run(args)
    export_model(args, model, info, metrics)
    if args.finetune_epochs > 0:
        metrics.update(finetune(args, model, info, *arrays["splits"]))
    training.finish_run(run_dir, metrics)
    summary = f"test reconstruction MSE {metrics['test_reconstruction_mse']:.5f}"
    if "probe_accuracy" in metrics:
        summary += f", linear probe accuracy {100 * metrics['probe_accuracy']:.2f}%"
    if "finetune_test_error_percent" in metrics:
        summary += f", fine-tuned test error {metrics['finetune_test_error_percent']:.2f}%"
    print(f"{summary}  run folder: {run_dir}")
    return metrics


if __name__ == "__main__":
    main()
