"""Figures with matplotlib (Agg backend: no screen needed)."""

import matplotlib

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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
