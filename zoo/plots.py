"""Figures with matplotlib (Agg backend: no screen needed)."""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history, path, title=None):
    """Learning curves: one panel per metric, training and validation together.

    Args:
        history: dict of metric name -> values per epoch, as `keras.callbacks.History.history`
            or `zoo.training.read_history` give it; `val_*` keys join their metric's panel.
        path: Where to write the figure (PNG).
        title: Optional figure title.

    Returns:
        The path written.
    """
    names = [k for k in history if not k.startswith("val_") and k not in ("epoch",)]
    if not names:
        raise ValueError(f"history has no metric to plot. Received keys: {sorted(history)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], label="validation")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_title(name)
        if name == "learning_rate":
            ax.set_yscale("log")
    return _save(fig, path, title)


def plot_runs(histories, path, metrics=("accuracy", "loss"), title=None):
    """Learning curves of several runs in one figure: one panel per metric, one colour per
    run, training solid and validation dashed.

    Args:
        histories: dict of run label -> history dict (as for `plot_history`).
        path: Where to write the figure (PNG).
        metrics: The metrics to plot, one panel each.
        title: Optional figure title.

    Returns:
        The path written.
    """
    if not histories:
        raise ValueError("histories must hold at least one run. Received: {}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (label, history) in enumerate(histories.items()):
            colour = colours[i % len(colours)]
            for key, style, suffix in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
                if key in history:
                    values = history[key]
                    ax.plot(range(1, len(values) + 1), values, style, color=colour,
                            label=f"{label} ({suffix})")  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend(fontsize="small")
    return _save(fig, path, title)


def plot_lines(panels, path, title=None):
    """Line charts side by side: each panel a dict with `title`, `xlabel`, `ylabel` and
    `series` (label -> `(x, y)`), and optionally `marker` (e.g. "o") and `ylim`.

    Args:
        panels: The panels, left to right.
        path: Where to write the PNG.
        title: Optional figure title.

    Returns:
        The path written.
    """
    if not panels:
        raise ValueError("panels must hold at least one panel. Received: []")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for label, (x, y) in panel["series"].items():
            ax.plot(x, y, marker=panel.get("marker"), label=label)
        ax.set_title(panel.get("title", ""))
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
        if "ylim" in panel:
            ax.set_ylim(*panel["ylim"])
        if len(panel["series"]) > 1:
            ax.legend(fontsize="small")
    return _save(fig, path, title)


def _display(image):
    """An image as RGB in [0, 1] as `imshow` would show it alone: one channel in grey scaled
    to its own range, colour clipped to [0, 1]."""
    image = np.asarray(image, dtype="float64")
    if image.shape[-1] != 1:
        return np.clip(image[..., :3], 0, 1)
    grey = image[..., 0]
    spread = grey.max() - grey.min()
    grey = (grey - grey.min()) / spread if spread > 0 else np.zeros_like(grey)
    return np.repeat(grey[..., None], 3, axis=-1)


_IMAGE_GAP = 2  # white pixels between the images of a row


def _strip(images, gap=_IMAGE_GAP, count=None):
    """Images side by side in one RGB array, `gap` white pixels apart; white tiles fill the
    strip up to `count` images."""
    tiles = [_display(image) for image in images]
    tiles += [np.ones_like(tiles[0])] * ((count or len(tiles)) - len(tiles))
    white = np.ones((tiles[0].shape[0], gap, 3))
    return np.concatenate([part for tile in tiles for part in (tile, white)][:-1], axis=1)


def plot_image_rows(rows, path, n=10, title=None, captions=None):
    """A grid of images, one row per entry of `rows` (e.g. input / corrupted / reconstructed).

    Each row is drawn as one strip of images (one axes per row, not per image: ten times
    faster to draw); each single-channel image is scaled to its own range as `imshow`
    would show it alone.

    Args:
        rows: dict of row label -> batch of images `(n, height, width, channels)`.
        path: Where to write the PNG.
        n: Images per row. Defaults to 10.
        title: Optional figure title.
        captions: Optional dict of row label -> a caption per image (shown above it),
            e.g. the predicted class and its probability.
    """
    captions = captions or {}
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.2 * n, 1.3 * len(rows)), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items(), strict=True):
        strip = _strip(images[:n])
        ax.imshow(strip)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label)
        width = (strip.shape[1] + _IMAGE_GAP) / len(images[:n])  # one image and its gap
        for c, caption in enumerate(captions.get(label, [])[:n]):
            x = (c + 0.5) * width - _IMAGE_GAP / 2  # the image's centre
            ax.text(x, -1, caption, ha="center", va="bottom", fontsize=8)
    return _save(fig, path, title)


def plot_heatmaps(
    matrices, path, xlabel, ylabel, colorbar="value", log=True, row_labels=None, title=None
):
    """Matrices side by side on one colour scale, e.g. a gradient norm per layer (rows)
    and epoch (columns) for each of several networks.

    Args:
        matrices: dict of panel label -> 2-D array `(rows, columns)`; row 0 is drawn at
            the bottom.
        path: Where to write the PNG.
        xlabel: What the columns are.
        ylabel: What the rows are.
        colorbar: What the colours show. Defaults to "value".
        log: Colour by log10 of the values (positive ones). Defaults to True.
        row_labels: Optional tick label of each row (the rows' indices otherwise).
        title: Optional figure title.
    """
    if not matrices:
        raise ValueError("matrices must hold at least one panel. Received: {}")
    shown = {}
    for label, matrix in matrices.items():
        matrix = np.asarray(matrix, dtype="float64")
        shown[label] = np.log10(np.maximum(matrix, 1e-30)) if log else matrix
    low = min(float(np.min(m)) for m in shown.values())
    high = max(float(np.max(m)) for m in shown.values())
    fig, axes = plt.subplots(
        1, len(shown), figsize=(2.6 * len(shown) + 1, 3.6), squeeze=False, sharey=True
    )
    for ax, (label, matrix) in zip(axes[0], shown.items(), strict=True):
        image = ax.imshow(
            matrix, origin="lower", aspect="auto", vmin=low, vmax=high, cmap="viridis"
        )
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(xlabel)
    if row_labels is not None:
        axes[0][0].set_yticks(range(len(row_labels)), labels=row_labels, fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    fig.colorbar(image, ax=axes[0].tolist(), label=f"log10 {colorbar}" if log else colorbar)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_latent(codes, labels, path, class_names=None, title=None):
    """Codes as a 2-D scatter coloured by class; codes wider than 2 are projected by PCA."""
    codes = np.asarray(codes).reshape(len(codes), -1)
    axis_names = ("code 1", "code 2")
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA

        codes = PCA(n_components=2, random_state=0).fit_transform(codes)
        axis_names = ("PC 1 of the codes", "PC 2 of the codes")
    elif codes.shape[1] == 1:
        codes = np.concatenate([codes, np.zeros_like(codes)], axis=1)
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=4, alpha=0.7)
    handles, names = points.legend_elements()
    if class_names is not None:
        names = [class_names[int(i)] for i in np.unique(labels)]
    ax.legend(handles, names, fontsize=7, markerscale=0.8, loc="best")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    return _save(fig, path, title)


def plot_filters(kernel, image_shape, path, n=64, title=None):
    """The first `n` columns of a first-layer dense kernel, each shown as an image.

    Each filter is scaled to its own range (as `imshow` would scale it alone) and the
    filters are tiled into one image with a one-pixel gap: one axes instead of `n`, which
    draws in a tenth of the time.
    """
    kernel = np.asarray(kernel)
    n = min(n, kernel.shape[1])
    cols = int(np.ceil(np.sqrt(n)))
    filters = [kernel[:, i].reshape(image_shape)[..., :1] for i in range(n)]  # 1st channel
    strips = [_strip(filters[i : i + cols], gap=1, count=cols) for i in range(0, n, cols)]
    gap = np.ones((1, strips[0].shape[1], 3))
    fig, ax = plt.subplots(figsize=(cols, len(strips)))
    ax.imshow(np.concatenate([part for strip in strips for part in (strip, gap)][:-1]))
    ax.axis("off")
    return _save(fig, path, title)


def plot_histogram(values, path, labels=None, threshold=None, xlabel="value", title=None):
    """Overlaid histograms of one or more arrays, with an optional vertical threshold line."""
    values = values if isinstance(values, (list, tuple)) else [values]
    labels = labels or [None] * len(values)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for array, label in zip(values, labels, strict=True):
        ax.hist(np.ravel(array), bins=60, alpha=0.6, label=label, density=True)
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label="threshold")
    if any(labels) or threshold is not None:
        ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    return _save(fig, path, title)


def _save(fig, path, title):
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
