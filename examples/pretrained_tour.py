"""A tour of zoo's shipped checkpoints: RBM filters, autoencoder reconstructions, LeNet-5.

Notebook-style (`# %%` cells, which VS Code, Spyder and Jupytext run one at a time), or
as a script from the repository root:

    python examples/pretrained_tour.py      # writes docs/figures/pretrained_*.png

No training: every model comes with `weights="mnist"` or `weights="fashion_mnist"`
(`zoo weights` lists the checkpoints). Needs the MNIST and Fashion-MNIST files in
`ZOO_DATA_DIR` (../shared/data here) for the test images.
"""

# %% Set-up: the offline data and where the figures go
import os
import pathlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if "ZOO_DATA_DIR" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
    os.environ["ZOO_DATA_DIR"] = str(REPO.parent / "shared" / "data")
FIGURES = REPO / "docs" / "figures"

import keras  # noqa: E402

import zoo  # noqa: E402
from zoo import plots, pretrained  # noqa: E402

# %% The Bernoulli RBM's filters: each hidden unit's weights as a 28x28 image
rbm = zoo.create_model("rbm", weights="mnist")  # 500 hidden units, CD-1 on binarised MNIST
kernel = keras.ops.convert_to_numpy(rbm.rbms[0].kernel)
plots.plot_filters(
    kernel, (28, 28, 1), FIGURES / "pretrained_rbm_filters.png", n=64,
    title='rbm, weights="mnist": the first 64 of 500 filters',
)  # fmt: skip

# %% Reconstructions by the autoencoders (and the RBM's up-down pass) of test digits
entry = pretrained.checkpoint("ae/dense", "mnist")
digits, _ = pretrained.evaluation_data(entry, limit=10)  # first 10 test images, in [0, 1]
rows = {"input": digits}
for variant in ("dense", "conv", "denoising", "sparse_kl", "contractive"):
    model = zoo.create_model(f"ae/{variant}", weights="mnist")
    rows[variant] = model.predict(digits, verbose=0)
binary = pretrained.prepare(pretrained.checkpoint("rbm", "mnist"), digits * 255)
rows["rbm"] = np.asarray(rbm.reconstruct(binary))  # from binarised digits
plots.plot_image_rows(
    rows, FIGURES / "pretrained_ae_reconstructions.png",
    title='MNIST test digits reconstructed by zoo\'s models, weights="mnist"',
)  # fmt: skip

# %% Fashion-MNIST: the conv autoencoder, and LeNet-5 modern's predictions
fashion = pretrained.checkpoint("ae/conv", "fashion_mnist")
clothes, labels = pretrained.evaluation_data(fashion, limit=10)
conv = zoo.create_model("ae/conv", weights="fashion_mnist")
plots.plot_image_rows(
    {"input": clothes, "ae/conv": conv.predict(clothes, verbose=0)},
    FIGURES / "pretrained_fashion_reconstructions.png",
    title='Fashion-MNIST test images, ae/conv weights="fashion_mnist"',
)  # fmt: skip
classifier_entry = pretrained.checkpoint("lenet5_modern", "fashion_mnist")
classifier = zoo.create_model("lenet5_modern", weights="fashion_mnist")
x, _ = pretrained.evaluation_data(classifier_entry, limit=10)  # z-scored, as in training
names = classifier_entry["input"]["class_names"]
predicted = np.argmax(classifier.predict(x, verbose=0), axis=-1)
for true, guess in zip(labels, predicted, strict=True):
    print(f"{names[true]:>12} -> {names[guess]}")

# %% Every checkpoint's recorded test metric, measured again on the first 500 test images
for entry in pretrained.checkpoints():
    model = zoo.create_model(entry["model"], weights=entry["name"])
    raw, labels = pretrained.subset_images(entry["dataset"])  # as the manifest's subset
    metric = entry["metric"]
    value = pretrained.measure(model, metric["name"], pretrained.prepare(entry, raw), labels)
    print(
        f"{entry['model']:>15} {entry['name']:<14} {metric['name']:<24} {value:.4g} "
        f"(manifest: {metric['subset']['value']:.4g} on these 500, "
        f"{metric['value']:.4g} on all {metric['examples']:,})"
    )
