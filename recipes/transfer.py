"""Transfer learning three ways (total, partial, minimum training), plus features + SVM.

Trains a classifier on a pretrained keras.applications base in each of three modes:
total (every layer trains from the pretrained start), partial (the last reduction block
and the head train) and minimum (only the head trains), each with early stopping on the
validation loss, and a linear SVM on the frozen base's features beside them (Razavian et
al. 2014). It prints a table (epochs, training accuracy, evaluation accuracy per mode),
draws every mode's learning curves in one figure, and exports the best mode for serving
(SavedModel, optionally TensorFlow Lite).

The image folder holds `train/` and `val/` (or `validation/`) subfolders with one folder
per class inside, like PyTorch's ants/bees set; a folder of class folders alone is split
with `--validation-split`. Images are centre-cropped to the input's aspect ratio, then
resized (`--no-crop` squashes them instead). Each mode's `history.csv` and `best.keras`
go to `<run folder>/<mode>/`; the run folder's `history.csv` holds every mode's columns
side by side and `learning_curves.png` draws them in one figure.

    python -m recipes.transfer --data $ZOO_DATA_DIR/hymenoptera_data --base mobilenet --mode all
    python -m recipes.transfer --data photos/ --mode partial --two-phase --tta 8 --tflite
    python -m recipes.transfer --data photos/ --sanity   # can the head overfit 32 images?
"""

import dataclasses
import re
import sys
import time

import numpy as np
from sklearn.model_selection import GridSearchCV

import zoo
from zoo import analysis, data, export, training
from zoo.layers import image_augmentation
from zoo.models.transfer import BASES, MODES, fine_tune

from ._common import (
    DEFAULT_IMAGE_FOLDER,
    Sanity,
    add_training_args,
    command,
    float_type,
    fraction,
    image_folder_root,
    int_type,
    make_parser,
    non_negative_int,
    parse,
    positive_int,
    report_sanity,
    sanity_check,
    training_config,
    write_run_histories,
)

MODE_CHOICES = (*MODES, "all")
SMALLEST_ALPHA = {"mobilenet": 0.25, "mobilenet_v2": 0.35}
SMOKE = {"batches": 2, "batch_size": 8, "image_size": 96}
SVM_C_GRID = (1e-3, 1e-2, 1e-1, 1.0)
# --sanity: the head on the frozen base (minimum mode, no dropout, no augmentation) on a
# few training images at --smoke's sizes; its cross-entropy from ln(classes) to a tenth.
SANITY = Sanity(32, 100, 0.1, "the training cross-entropy of the head on the frozen base")
TABLE_COLUMNS = {
    "total": "Total",
    "partial": "Partial",
    "minimum": "Minimum",
    "svm": "Features + SVM",
}


def build_parser():
    parser = make_parser("transfer", __doc__)
    parser.add_argument(
        "--data", default=None, help=f"image folder (default $ZOO_DATA_DIR/{DEFAULT_IMAGE_FOLDER})"
    )
    parser.add_argument(
        "--validation-split",
        type=float_type(0, 1, low_open=True, high_open=True),
        default=0.2,
        help="held-out fraction when --data has no train/ and val/ subfolders",
    )
    parser.add_argument(
        "--base", choices=tuple(BASES), default="mobilenet", help="keras.applications base"
    )
    parser.add_argument(
        "--alpha",
        type=float_type(0, low_open=True),
        default=None,
        help="MobileNet width (default: the smallest)",
    )
    parser.add_argument("--weights", default="imagenet", help="imagenet, none, or a .h5 path")
    parser.add_argument(
        "--image-size", type=int_type(32, 1024), default=224, help="input height and width"
    )
    parser.add_argument(
        "--no-crop",
        action="store_true",
        help="squash whole images to the input size (default: centre crop, then resize)",
    )
    parser.add_argument(
        "--mode", choices=MODE_CHOICES, default="all", help="what trains (all: each in turn)"
    )
    parser.add_argument(
        "--trainable-from", default=None, help="partial mode: a base layer name or a fraction"
    )
    parser.add_argument("--dropout", type=fraction, default=0.2, help="dropout before the head")
    parser.add_argument(
        "--head-units", type=positive_int, nargs="*", default=[], help="hidden layers of the head"
    )
    parser.add_argument(
        "--fine-tune-learning-rate",
        type=float_type(0, low_open=True),
        default=1e-4,
        help="learning rate of total and partial (minimum uses --learning-rate)",
    )
    parser.add_argument(
        "--two-phase",
        action="store_true",
        help="total/partial: first train the head alone for --head-epochs",
    )
    parser.add_argument(
        "--head-epochs", type=positive_int, default=5, help="--two-phase: epochs of the head alone"
    )
    parser.add_argument("--no-augment", action="store_true", help="no flips/rotations/zooms")
    parser.add_argument(
        "--rotation", type=float_type(0, 1), default=0.1, help="augmentation: turns"
    )
    parser.add_argument("--zoom", type=float_type(0, 1), default=0.1, help="augmentation: max zoom")
    parser.add_argument(
        "--contrast", type=float_type(0, 1), default=0.1, help="augmentation: contrast"
    )
    parser.add_argument(
        "--tta", type=non_negative_int, default=0, help="also evaluate with m TTA copies"
    )
    parser.add_argument("--no-svm", action="store_true", help="skip the features + SVM baseline")
    parser.add_argument("--feature-layer", default=None, help="base layer for the SVM features")
    parser.add_argument(
        "--pca", type=positive_int, default=None, help="PCA components before the SVM"
    )
    parser.add_argument(
        "--tflite", action="store_true", help="also export TFLite (float, dynamic-range, float16)"
    )
    add_training_args(
        parser,
        epochs=30,
        batch_size=32,
        learning_rate=1e-3,
        lr_schedule="none",
        patience=5,
        export_name_help="transfer_<base>_<data folder>",
        sanity=SANITY,
    )
    return parser


# --- data ------------------------------------------------------------------------------


@dataclasses.dataclass
class Splits:
    train: object  # shuffled, for fitting
    train_eval: object  # in order, for the training accuracy and features
    val: object
    info: data.DatasetInfo


def load_data(options, config):
    """The training and evaluation pipelines of the image folder (raw 0-255 images)."""
    root = image_folder_root(options.data)
    size = SMOKE["image_size"] if config.smoke else options.image_size
    batch_size = SMOKE["batch_size"] if config.smoke else config.batch_size
    common = {
        "image_size": size,
        "batch_size": batch_size,
        "seed": config.seed,
        "crop_to_aspect_ratio": not options.no_crop,
    }
    in_order = {"shuffle": config.smoke}  # evaluation order; shuffled for the smoke subset
    train_dir, val_dir = _split_folders(root)
    if train_dir is not None:
        train, info = data.from_directory(train_dir, with_info=True, **common)
        train_eval = data.from_directory(train_dir, **in_order, **common)
        val = data.from_directory(val_dir, class_names=info.class_names, **in_order, **common)
    else:
        split = {"validation_split": options.validation_split, **common}
        train, info = data.from_directory(root, subset="training", with_info=True, **split)
        train_eval = data.from_directory(root, subset="training", **in_order, **split)
        val = data.from_directory(root, subset="validation", **in_order, **split)
    if info.num_classes < 2:
        raise ValueError(
            f"--data must hold at least 2 class folders. Received: {root} with "
            f"{info.num_classes} ({', '.join(info.class_names)})"
        )
    if config.smoke:  # a few batches of shuffled examples, so that every class is there
        train = train_eval = train.take(SMOKE["batches"])
        val = val.take(SMOKE["batches"])
    return Splits(train, train_eval, val, info)


def sanity_subset(options, config):
    """`(x, y, info)`: `--sanity-examples` training images of the folder (shuffled, so
    that every class is there) at --smoke's image size, raw 0-255, as numpy arrays."""
    root = image_folder_root(options.data)
    common = {
        "image_size": SMOKE["image_size"],
        "batch_size": SMOKE["batch_size"],
        "seed": config.seed,
        "crop_to_aspect_ratio": not options.no_crop,
    }
    train_dir, _ = _split_folders(root)
    if train_dir is not None:
        train, info = data.from_directory(train_dir, with_info=True, **common)
    else:
        split = {"validation_split": options.validation_split, "subset": "training"}
        train, info = data.from_directory(root, with_info=True, **split, **common)
    if info.num_classes < 2:
        raise ValueError(
            f"--data must hold at least 2 class folders. Received: {root} with "
            f"{info.num_classes} ({', '.join(info.class_names)})"
        )
    batches = -(-options.sanity_examples // SMOKE["batch_size"])  # rounded up
    x, y = data.as_numpy(train.take(batches))
    return x[: options.sanity_examples], y[: options.sanity_examples], info


def _data_name(options):
    """The image folder's name for export names (`hymenoptera_data`), safe for them."""
    folder = image_folder_root(options.data).resolve().name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", folder).strip("._-") or "images"


def _split_folders(root):
    """`(train, val)` subfolders when the folder is already split, else `(None, None)`."""
    if not root.is_dir():
        raise ValueError(f"--data must be a folder. Received: {root}")
    train = root / "train"
    for name in ("val", "validation"):
        if train.is_dir() and (root / name).is_dir():
            return train, root / name
    return None, None


# --- models ----------------------------------------------------------------------------


def build_model(options, config, info, mode):
    """A `TransferClassifier` for `mode` (uncompiled)."""
    alpha = options.alpha if options.alpha is not None else SMALLEST_ALPHA.get(options.base)
    trainable_from = options.trainable_from if mode == "partial" else None
    if trainable_from is not None:
        try:
            trainable_from = float(trainable_from)
        except ValueError:
            pass  # a layer name
    augmentation = None
    if not options.no_augment:
        augmentation = image_augmentation(
            rotation=options.rotation,
            zoom=options.zoom,
            contrast=options.contrast,
            seed=config.seed,
        )
    return zoo.models.transfer_model(
        options.base,
        input_shape=info.input_shape,
        alpha=alpha,
        classes=info.num_classes,
        mode=mode,
        trainable_from=trainable_from,
        weights=None if options.weights == "none" else options.weights,
        dropout=options.dropout,
        head_units=tuple(options.head_units),
        augmentation=augmentation,
        name=f"transfer_{options.base}",
    )


# --- train and evaluate ----------------------------------------------------------------


def train_mode(options, config, splits, mode, run_dir):
    """Trains one mode from the pretrained start; returns `(model, history, row)`."""
    model = build_model(options, config, splits.info, mode)
    rate = config.learning_rate if mode == "minimum" else options.fine_tune_learning_rate
    mode_config = dataclasses.replace(config, learning_rate=rate)
    callbacks = training.make_callbacks(run_dir / mode, mode_config)
    (run_dir / mode).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if options.two_phase and mode != "minimum":
        history = fine_tune(
            model, splits.train, splits.val,
            head_epochs=1 if config.smoke else options.head_epochs, epochs=config.fit_epochs,
            mode=mode,
            trainable_from=model.trainable_from, learning_rate=config.learning_rate,
            fine_tune_learning_rate=rate,
            optimizer=lambda r: training.make_optimizer(
                dataclasses.replace(config, learning_rate=r)
            ),
            callbacks=callbacks, verbose=config.fit_verbose,
        )  # fmt: skip
    else:
        model.compile(
            optimizer=training.make_optimizer(mode_config),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            run_eagerly=config.smoke,  # two batches: tracing would take longer than running
        )
        fit = model.fit(
            splits.train,
            validation_data=splits.val,
            epochs=config.fit_epochs,
            shuffle=False,  # the pipeline reshuffles every epoch
            callbacks=callbacks,
            verbose=config.fit_verbose,
        )
        history = fit.history
    seconds = time.perf_counter() - start
    option = "--learning-rate" if mode == "minimum" else "--fine-tune-learning-rate"
    training.check_converged(mode_config, run_dir / mode, model, rate_option=option)
    row = {
        "epochs": len(history["loss"]),
        "training_accuracy": model.evaluate(splits.train_eval, verbose=0)[1],
        "evaluation_accuracy": model.evaluate(splits.val, verbose=0)[1],
        "seconds": seconds,
        "trainable_base_layers": len(model.trainable_base_layers),
    }
    if options.tta:
        x_val, y_val = data.as_numpy(splits.val)
        row["tta_accuracy"] = float(
            np.mean(analysis.predict_tta(model, x_val, m=options.tta).argmax(-1) == y_val)
        )
    return model, history, row


def features_svm(options, config, splits):
    """Feature extraction (Razavian et al. 2014): frozen-base features, optional PCA, a linear SVM
    whose C is chosen by cross-validation on the training set; and retrieval of the
    validation images among the training ones (precision at 5)."""
    start = time.perf_counter()
    model = build_model(options, config, splits.info, "minimum")
    extractor = model.feature_extractor(options.feature_layer)
    x_train, y_train = data.as_numpy(splits.train_eval)
    x_val, y_val = data.as_numpy(splits.val)
    f_train = analysis.extract_features(extractor, x_train)
    f_val = analysis.extract_features(extractor, x_val)
    # The SVM's C by (up to 5-fold) cross-validation on the training features, never val.
    folds = min(5, int(np.bincount(y_train).min()))
    svm = analysis.shallow_classifier("svm", pca_components=options.pca, seed=config.seed)
    if folds >= 2:
        svm = GridSearchCV(svm, {"svc__C": SVM_C_GRID}, cv=folds)
    svm.fit(f_train, y_train)
    indices, _ = analysis.nearest_images(f_train, f_val, k=min(5, len(f_train)))
    return {
        "epochs": None,
        "training_accuracy": float(svm.score(f_train, y_train)),
        "evaluation_accuracy": float(svm.score(f_val, y_val)),
        "seconds": time.perf_counter() - start,
        "feature_size": int(f_train.shape[1]),
        "svm_C": svm.best_params_["svc__C"] if folds >= 2 else svm.get_params()["svc__C"],
        "retrieval_precision_at_5": analysis.retrieval_precision(indices, y_train, y_val),
    }


def format_table(rows):
    """The comparison table (Markdown): a column per mode, rows epochs / training / evaluation."""
    columns = [key for key in TABLE_COLUMNS if key in rows]
    lines = [
        "| | " + " | ".join(TABLE_COLUMNS[key] for key in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    fields = [
        ("Epochs", "epochs", "{}"),
        ("Training acc", "training_accuracy", "{:.4f}"),
        ("Evaluation acc", "evaluation_accuracy", "{:.4f}"),
    ]
    if any("tta_accuracy" in rows[key] for key in columns):
        fields.append(("Evaluation acc, TTA", "tta_accuracy", "{:.4f}"))
    fields.append(("Wall time (s)", "seconds", "{:.0f}"))
    for label, field, fmt in fields:
        cells = [rows[key].get(field) for key in columns]
        lines.append(
            f"| {label} | " + " | ".join("-" if c is None else fmt.format(c) for c in cells) + " |"
        )
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------


def run(options, config, run_dir):
    """The whole run in `run_dir`. Returns `(best_model, splits, metrics)`."""
    splits = load_data(options, config)
    modes = MODES if options.mode == "all" else (options.mode,)
    rows, histories, models = {}, {}, {}
    for mode in modes:
        models[mode], histories[mode], rows[mode] = train_mode(
            options, config, splits, mode, run_dir
        )
    if not options.no_svm:
        rows["svm"] = features_svm(options, config, splits)
    best = max(modes, key=lambda mode: rows[mode]["evaluation_accuracy"])
    metrics = {
        "rows": rows,
        "best_mode": best,
        "best_evaluation_accuracy": rows[best]["evaluation_accuracy"],
        "class_names": list(splits.info.class_names),
    }
    write_run_histories(run_dir, histories, title="total / partial / minimum")
    name = f"transfer_{options.base}_{_data_name(options)}"
    metadata = {**options.export_metadata(), "dataset": str(image_folder_root(options.data))}
    # The best mode's folder: its history.csv is that model's (the run folder's holds every
    # mode's columns, padded).
    path = training.export_run(
        config, run_dir / best, models[best], splits.info, metrics, name, metadata
    )
    if path is not None and options.tflite:
        metrics["tflite"] = export_tflite(models[best], splits, path)
    training.write_json(run_dir / training.METRICS_FILE, metrics)
    return models[best], splits, metrics


def export_tflite(model, splits, saved_model_path):
    """Float, dynamic-range and float16 TFLite files beside the SavedModel, with their
    size and parity against the Keras model on the validation images."""
    x_val, _ = data.as_numpy(splits.val)
    report = {}
    for quantize in (None, "dynamic", "float16"):
        file_name = f"model_{quantize or 'float'}.tflite"
        path = export.export_tflite(
            saved_model_path, saved_model_path / file_name, quantize=quantize
        )
        check = export.verify_tflite(path, model, x_val)
        report[quantize or "float"] = {
            "path": str(path),
            "bytes": path.stat().st_size,
            "class_agreement": check["class_agreement"],
            "max_abs_diff": check["max_abs_diff"],
        }
    report["size_ratio"] = report["dynamic"]["bytes"] / report["float"]["bytes"]
    report["float16_size_ratio"] = report["float16"]["bytes"] / report["float"]["bytes"]
    return report


def sanity(options, config):
    """`--sanity`: the minimum mode's model (the head on the frozen base) without dropout
    or augmentation, trained on a few images at --smoke's sizes. Returns the result as a
    dict."""
    training.set_seed(config.seed)
    x, y, info = sanity_subset(options, config)
    model = build_model(options.replace(dropout=0.0, no_augment=True), config, info, "minimum")
    model.compile(
        optimizer=training.make_optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    result = sanity_check(
        options, config, model, x, y, sanity=SANITY, batch_size=SMOKE["batch_size"]
    )
    return report_sanity(result)


def main(argv=None):
    options = parse(build_parser(), argv)
    config = training_config(options)
    if options.sanity:
        return sanity(options, config)
    with training.run("transfer", config, options.as_dict()) as run_dir:
        _, _, metrics = run(options, config, run_dir)
    print(format_table(metrics["rows"]))
    print(f"best: {metrics['best_mode']}  run folder: {run_dir}")
    if "export_path" in metrics:
        print(f"exported to {metrics['export_path']}")
    return metrics


cli = command(main)

if __name__ == "__main__":
    sys.exit(cli())
