"""Train LeNet-5 (classic or modern) on handwritten digits and export it for serving.

The classic model follows LeCun et al. 1998: scaled tanh, trainable subsampling, the
partial C3 connection table and (optionally) the Euclidean RBF output layer. It is trained
here with Adam and cosine learning-rate decay instead of the paper's stochastic diagonal
Levenberg-Marquardt; `--augment` adds random shifts, rotations and zooms, the paper's
"distortions".

    python -m recipes.lenet5                                   # classic, MNIST
    python -m recipes.lenet5 --dataset digits                  # offline, no files
    python -m recipes.lenet5 --model lenet5_modern --batch-norm --dropout 0.2
"""

import argparse

import keras

import zoo
from zoo import data, training
from zoo.models.lenet import HEADS

SMOKE_EXAMPLES = 256


def build_parser(description=__doc__, **defaults):
    """The recipe's options; `defaults` overrides their defaults (as the quickstart does)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=zoo.list_models("lenet5*"), default="lenet5")
    parser.add_argument("--dataset", default="mnist", help="digits, mnist, fashion_mnist, ...")
    parser.add_argument("--data-dir", default=None, help="folder with the original files")
    parser.add_argument("--image-size", type=int, default=28, help="resize images to this")
    parser.add_argument(
        "--normalize", choices=("minmax", "zscore"), default="zscore", help="as in the paper"
    )
    parser.add_argument("--validation-percent", type=int, default=10, help="held out of train")
    parser.add_argument("--head", choices=HEADS, default="softmax", help="lenet5's output layer")
    parser.add_argument("--batch-norm", action="store_true", help="lenet5_modern only")
    parser.add_argument("--dropout", type=float, default=0.0, help="lenet5_modern only")
    parser.add_argument("--augment", action="store_true", help="random shift/rotation/zoom")
    parser.add_argument("--shift", type=float, default=0.1, help="augmentation: max shift")
    parser.add_argument("--rotation", type=float, default=10.0, help="augmentation: degrees")
    parser.add_argument("--zoom", type=float, default=0.1, help="augmentation: max zoom")
    parser.add_argument("--export-name", default=None, help="default: the model name")
    training.add_training_args(parser, epochs=30, batch_size=128, learning_rate=1e-3)
    parser.set_defaults(**defaults)
    return parser


# --- data ------------------------------------------------------------------------------


def load_data(args):
    """Train, validation and test pipelines and the dataset info."""
    train, val, test, info = data.load_splits(
        args.dataset,
        args.validation_percent,
        batch_size=args.batch_size,
        normalize=args.normalize,
        image_size=args.image_size,
        manual_dir=args.data_dir,
        seed=args.seed,
        limit=smoke_limit(args),
    )
    if args.augment:
        augment = augmentation(args, info)
        train = train.map(lambda x, y: (augment(x, training=True), y))
    return train, val, test, info


def smoke_limit(args):
    """Examples per split: a few batches under --smoke, all otherwise."""
    return SMOKE_EXAMPLES if args.smoke else None


def augmentation(args, info):
    """Random shifts, rotations and zooms, filling with the normalised background."""
    background = -info.offset / info.scale
    fill = {"fill_mode": "constant", "fill_value": background, "seed": args.seed}
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(args.shift, args.shift, **fill),
            keras.layers.RandomRotation(args.rotation / 360.0, **fill),
            keras.layers.RandomZoom(args.zoom, args.zoom, **fill),
        ],
        name="augmentation",
    )


# --- model -----------------------------------------------------------------------------


def build_model(args, info):
    kwargs = {"input_shape": info.input_shape, "classes": info.num_classes}
    if args.model == "lenet5":
        kwargs["head"] = args.head
    else:
        kwargs.update(batch_norm=args.batch_norm, dropout=args.dropout)
    model = zoo.create_model(args.model, **kwargs)
    model.compile(
        optimizer=training.make_optimizer(args),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


# --- train, evaluate, export -----------------------------------------------------------


def train_and_export(args, recipe="lenet5"):
    """The whole run. Returns `(model, info, metrics, run_dir, export_path)`."""
    run_dir = training.start_run(recipe, args)
    train, val, test, info = load_data(args)
    model = build_model(args, info)
    model.fit(
        train,
        validation_data=val,
        epochs=1 if args.smoke else args.epochs,
        callbacks=training.make_callbacks(run_dir, args),
        verbose=2 if args.smoke else "auto",
    )
    test_loss, test_accuracy = model.evaluate(test, verbose=0)
    metrics = {
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "test_error_percent": 100.0 * (1.0 - test_accuracy),
        "epochs": len(training.read_history(run_dir / training.HISTORY_FILE).get("epoch", [])),
    }
    export_path = training.export_run(args, model, info, metrics, args.model)
    training.finish_run(run_dir, metrics)
    return model, info, metrics, run_dir, export_path


def main(argv=None):
    args = build_parser().parse_args(argv)
    _, _, metrics, run_dir, _ = train_and_export(args)
    print(f"test error {metrics['test_error_percent']:.2f}%  run folder: {run_dir}")
    return metrics


if __name__ == "__main__":
    main()
