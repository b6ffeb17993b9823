"""Where dynamic-range TFLite loses agreement with the float model, and which converter
settings keep it (issue 19): the export of a transfer run, converted with each setting,
compared on the validation images with the SavedModel it came from.

    python -m recipes.transfer --data $ZOO_DATA_DIR/hymenoptera_data --mode partial \\
        --tflite --seed 0 --output-dir runs/tl --export-dir runs/tl_models
    python benchmarks/tflite_agreement.py runs/tl_models/<name>/1

Settings: the default (int8 weights, per-channel for convolutions, inputs quantised per
tensor at run time by the hybrid kernels); per-tensor weights
(`_experimental_disable_per_channel`, a private converter flag of TensorFlow 2.21); the
older, non-MLIR dynamic-range quantiser; and float16 for reference.
"""

import argparse
import os
import pathlib
import sys
import tempfile

import numpy as np
from _common import record, use_local_data


def convert(folder, setting, path):
    """Writes `folder`'s export as `path` with `setting`: zoo's own conversions
    (`zoo.export.export_tflite`), or dynamic-range with one converter flag changed."""
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
    else:  # "old_quantizer"
        converter.experimental_new_dynamic_range_quantizer = False
    path.write_bytes(converter.convert())
    return path


ZOO_SETTINGS = {"float": None, "default": "dynamic", "float16": "float16"}
SETTINGS = ("float", "default", "per_tensor_weights", "old_quantizer", "float16")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("export", type=pathlib.Path, help="a transfer model's export folder")
    parser.add_argument("--name", default="default", help="suffix of the results file")
    args = parser.parse_args(argv)
    use_local_data()
    from zoo import data
    from zoo.export import RESIZED_SIGNATURE, load_export, load_tflite

    val_dir = pathlib.Path(os.environ["ZOO_DATA_DIR"]) / "hymenoptera_data" / "val"
    raw, _ = data.as_numpy(
        data.from_directory(
            val_dir, image_size=224, shuffle=False, batch_size=32, crop_to_aspect_ratio=True
        )
    )  # the 153 validation images as the recipe reads them (raw 0-255, centre crop)
    served = load_export(args.export, endpoint=RESIZED_SIGNATURE)(raw)
    expected = np.asarray(served["probabilities"])
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for setting in SETTINGS:
            path = convert(args.export, setting, pathlib.Path(scratch) / f"{setting}.tflite")
            got = load_tflite(path)(raw)["probabilities"]
            rows[setting] = {
                "bytes": path.stat().st_size,
                "class_agreement": float(np.mean(got.argmax(-1) == expected.argmax(-1))),
                "max_abs_diff": float(np.abs(got - expected).max()),
                "mean_abs_diff": float(np.abs(got - expected).mean()),
            }
    for setting, row in rows.items():
        row["size_ratio"] = row["bytes"] / rows["float"]["bytes"]
        print(setting, row, flush=True)
    record(
        f"tflite_agreement_{args.name}",
        {
            "command": "python benchmarks/tflite_agreement.py " + " ".join(argv or sys.argv[1:]),
            "export": str(args.export),
            "validation_images": len(raw),
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
