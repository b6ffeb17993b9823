"""Where dynamic-range TFLite loses agreement with the float model, and which converter
settings keep it (issue 19): the export of a transfer run, converted with each setting,
compared on the validation images with the SavedModel it came from.

    python -m recipes.transfer --data $ZOO_DATA_DIR/hymenoptera_data --mode partial \\
        --tflite --seed 0 --output-dir runs/tl --export-dir runs/tl_models
    python benchmarks/tflite_agreement.py runs/tl_models/<name>/1

Settings: the default (int8 weights, per-channel for convolutions, inputs quantised per
tensor at run time by the hybrid kernels); per-tensor weights
(`_experimental_disable_per_channel`, a private converter flag of TensorFlow 2.21); the
older, non-MLIR dynamic-range quantiser; float16 for reference; and two calibrated
settings, whose activation ranges are fixed from training images (never the validation
images compared on): full-integer int8 (int8 weights and activations, float32 in and out)
and 16x8 (int8 weights, int16 activations).
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile

import numpy as np
from _common import record, use_local_data


def convert(folder, setting, path, calibration):
    """Writes `folder`'s export as `path` with `setting`: zoo's own conversions
    (`zoo.export.export_tflite`), dynamic-range with one converter flag changed, or a
    calibrated integer setting whose ranges come from `calibration` (raw images)."""
    import tensorflow as tf

    from zoo.export import RESIZED_SIGNATURE, export_tflite

    if setting in ZOO_SETTINGS:
        return export_tflite(folder, path, quantize=ZOO_SETTINGS[setting])
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(folder), signature_keys=[RESIZED_SIGNATURE]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if setting == "per_tensor_weights":
        converter._experimental_disable_per_channel = True
    elif setting == "old_quantizer":
        converter.experimental_new_dynamic_range_quantizer = False
    else:  # "full_int8" or "int16x8": activation ranges calibrated on training images
        converter.representative_dataset = lambda: ([image[None]] for image in calibration)
        # 16x8 has no ARG_MAX (the class_id output): that op stays float32.
        converter.target_spec.supported_ops = (
            [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if setting == "full_int8"
            else [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
        )
    path.write_bytes(converter.convert())
    return path


# The dynamic-range converter leaves smaller weight tensors in float32.
MIN_QUANTIZED_ELEMENTS = 1024


def quantized_layers(model):
    """(convolution, its batch normalisation) pairs of a transfer model's base whose
    kernels the dynamic-range converter stores as int8."""
    layers = model.base.layers
    return [
        (layer, after)
        for layer, after in zip(layers, layers[1:], strict=False)
        if "Conv" in type(layer).__name__
        and type(after).__name__ == "BatchNormalization"
        and layer.get_weights()[0].size >= MIN_QUANTIZED_ELEMENTS
    ]


def on_int8_grid(layer, norm, kernel):
    """`kernel` rounded as the converter rounds it: batch normalisation folded in, then
    symmetric int8 per output channel (per channel for a depthwise kernel), unfolded."""
    gamma, _, _, variance = norm.get_weights()
    fold = gamma / np.sqrt(variance + norm.epsilon)
    depthwise = type(layer).__name__ == "DepthwiseConv2D"  # kernel (h, w, channels, 1)
    fold = fold[:, None] if depthwise else fold
    folded = kernel * fold
    axes = (0, 1, 3) if depthwise else (0, 1, 2)
    step = np.abs(folded).max(axis=axes, keepdims=True) / 127
    step[step == 0] = 1
    return np.clip(np.round(folded / step), -127, 127) * step / fold


def weight_rounding(model, train, val, expected_val):
    """Which layers' int8 weights cost agreement: the Keras model with the weights of all,
    then of one, of the quantised layers rounded to the int8 grid, activations in float32.
    Agreement with the float model on the training images (where a choice would be made)
    and the validation images."""
    pairs = quantized_layers(model)
    kernels = [layer.get_weights()[0] for layer, _ in pairs]
    expected_train = model.predict(train, verbose=0).argmax(-1)

    def agreement(rounded):
        for (layer, norm), kernel in zip(pairs, kernels, strict=True):
            layer.set_weights(
                [on_int8_grid(layer, norm, kernel) if layer.name in rounded else kernel]
            )
        return {
            "train": float(np.mean(model.predict(train, verbose=0).argmax(-1) == expected_train)),
            "val": float(np.mean(model.predict(val, verbose=0).argmax(-1) == expected_val)),
        }

    names = [layer.name for layer, _ in pairs]
    report = {"all": agreement(set(names))}
    report["only"] = {name: agreement({name}) for name in names}
    agreement(set())  # the float weights back
    return report


def compare(path, raw, reference):
    """Size of the `.tflite` file at `path` and how its probabilities on `raw` agree with
    `reference`'s."""
    from zoo.export import load_tflite

    got = load_tflite(path)(raw)["probabilities"]
    return {
        "bytes": path.stat().st_size,
        "class_agreement": float(np.mean(got.argmax(-1) == reference.argmax(-1))),
        "max_abs_diff": float(np.abs(got - reference).max()),
        "mean_abs_diff": float(np.abs(got - reference).mean()),
    }


ZOO_SETTINGS = {"float": None, "default": "dynamic", "float16": "float16"}
SETTINGS = (
    "float",
    "default",
    "per_tensor_weights",
    "old_quantizer",
    "float16",
    "full_int8",
    "int16x8",
)


def analyse_weights(keras_path, train, val, val_labels, info, expected):
    """The weight-rounding analysis, and the dynamic-range conversion of the model with its
    int8-stored weights moved onto the int8 grid in float32 (so that storing them as int8
    loses nothing and only the run-time quantisation of activations is left)."""
    import keras

    import zoo.models  # noqa: F401  (registers TransferClassifier)
    from zoo.export import export_tflite

    model = keras.saving.load_model(keras_path)
    before = model.predict(val, verbose=0)
    report = {
        "keras_vs_export_max_abs_diff": float(np.abs(before - expected).max()),
        "weight_rounding": weight_rounding(model, train, val, before.argmax(-1)),
    }
    for layer, norm in quantized_layers(model):
        layer.set_weights([on_int8_grid(layer, norm, layer.get_weights()[0])])
    after = model.predict(val, verbose=0)
    on_grid = {
        "val_accuracy_before": float(np.mean(before.argmax(-1) == val_labels)),
        "val_accuracy_on_grid": float(np.mean(after.argmax(-1) == val_labels)),
        "agreement_with_the_model_before": float(np.mean(after.argmax(-1) == before.argmax(-1))),
    }
    with tempfile.TemporaryDirectory() as scratch:
        for setting, quantize in ZOO_SETTINGS.items():
            path = pathlib.Path(scratch) / f"{setting}.tflite"
            export_tflite(model, path, quantize=quantize, info=info)
            on_grid[setting] = compare(path, val, after)
    margin = np.abs(after.max(-1) - 0.5)  # two classes: distance from the decision boundary
    on_grid["images_within_max_abs_diff_of_the_boundary"] = int(
        np.sum(margin < on_grid["default"]["max_abs_diff"])
    )
    report["weights_on_int8_grid"] = on_grid
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("export", type=pathlib.Path, help="a transfer model's export folder")
    parser.add_argument("--name", default="default", help="suffix of the results file")
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=100,
        help="training images that fix the calibrated settings' activation ranges",
    )
    parser.add_argument(
        "--settings", nargs="+", choices=SETTINGS, default=SETTINGS, help="what to convert"
    )
    parser.add_argument(
        "--keras-model",
        type=pathlib.Path,
        help="the run's Keras model that the export came from (its best.keras): adds the "
        "weight-rounding analysis and a conversion of the model with its weights on the "
        "int8 grid",
    )
    args = parser.parse_args(argv)
    use_local_data()
    from zoo import data
    from zoo.export import RESIZED_SIGNATURE, load_export

    folder = pathlib.Path(os.environ["ZOO_DATA_DIR"]) / "hymenoptera_data"

    def read(split, shuffle):
        """Images as the recipe reads them (raw 0-255, centre crop), labels, DatasetInfo."""
        images, info = data.from_directory(
            folder / split,
            image_size=224,
            shuffle=shuffle,
            seed=0,
            batch_size=32,
            crop_to_aspect_ratio=True,
            with_info=True,
        )
        return (*data.as_numpy(images), info)

    raw, labels, _ = read("val", shuffle=False)  # the 153 validation images, compared on
    calibration = read("train", shuffle=True)[0][: args.calibration_images]
    served = load_export(args.export, endpoint=RESIZED_SIGNATURE)(raw)
    expected = np.asarray(served["probabilities"])
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for setting in dict.fromkeys(("float", *args.settings)):
            path = pathlib.Path(scratch) / f"{setting}.tflite"
            convert(args.export, setting, path, calibration)
            rows[setting] = compare(path, raw, expected)
    for setting, row in rows.items():
        row["size_ratio"] = row["bytes"] / rows["float"]["bytes"]
        print(setting, row, flush=True)
    extra = {}
    if args.keras_model:
        train, _, info = read("train", shuffle=False)
        extra = analyse_weights(args.keras_model, train, raw, labels, info, expected)
        print(json.dumps(extra, indent=1), flush=True)
    record(
        f"tflite_agreement_{args.name}",
        {
            "command": "python benchmarks/tflite_agreement.py " + " ".join(argv or sys.argv[1:]),
            "export": str(args.export),
            "validation_images": len(raw),
            "calibration_images": len(calibration),
            # How many validation images the float model puts near the decision boundary
            # (two classes: |p - 0.5| below each distance); any small change flips them.
            "images_near_the_boundary": {
                str(distance): int(np.sum(np.abs(expected.max(-1) - 0.5) < distance))
                for distance in (0.02, 0.05, 0.1, 0.2)
            },
            "rows": rows,
            **extra,
        },
    )


if __name__ == "__main__":
    main()
