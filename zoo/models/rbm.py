"""Measuring an RBM: monitors for training, its partition function, the log-probability of data.

`reconstruction_error`, `pseudo_log_likelihood` and `free_energy_gap` are the practical
guide's monitors, and `RBMMonitor` logs them every epoch. `exact_log_partition`
enumerates hidden states (small RBMs, for tests); `ais_log_likelihood` is annealed
importance sampling (Salakhutdinov & Murray 2008) for real ones.

Reference:
    R. Salakhutdinov, I. Murray, "On the quantitative analysis of deep belief networks",
    ICML 2008.
"""

import itertools

import keras
import numpy as np
from keras import ops


def exact_log_partition(rbm):
    """log Z of a Bernoulli-Bernoulli RBM by summing over every hidden configuration.

    `log Z = logsumexp_h [h.c + sum_i softplus(b_i + W_i h)]`, 2^units terms: only for
    RBMs with at most 20 hidden units (for testing estimators such as AIS).
    """
    if rbm.visible != "bernoulli":
        raise ValueError(
            f"exact_log_partition needs Bernoulli visibles. Received: visible={rbm.visible!r}"
        )
    if rbm.units > 20:
        raise ValueError(
            f"exact_log_partition enumerates 2^units states; units must be <= 20. "
            f"Received: units={rbm.units}"
        )
    kernel, b, c = _parameters(rbm)
    states = np.array(list(itertools.product((0.0, 1.0), repeat=rbm.units)))
    terms = states @ c + np.logaddexp(0.0, states @ kernel.T + b).sum(axis=1)
    top = terms.max()
    return float(top + np.log(np.exp(terms - top).sum()))


def ais_log_likelihood(rbm, data, *, runs=100, betas=10000, base_data=None, seed=0):
    """AIS estimate of log Z and of the mean log-probability of `data` under a Bernoulli RBM.

    The base model has no weights and visible biases fitted to `base_data` (default:
    `data`), so its log Z is exact; `betas` intermediate distributions
    `p_beta(v) ~ exp((1 - beta) v.b_A + beta v.b + sum_j softplus(beta (c_j + v W_j)))`
    lead to the RBM, each visited by one Gibbs step, in `runs` independent runs.

    Args:
        rbm: A built `zoo.layers.RBM` with Bernoulli visibles.
        data: Array `(n, visible)` in [0, 1] whose mean log-probability is wanted.
        runs: Independent AIS runs. Defaults to 100.
        betas: Number of inverse temperatures between 0 and 1 (spaced as in the paper:
            denser near 1). Defaults to 10000.
        base_data: Data for the base model's visible biases. Defaults to `data`.
        seed: Seed of the sampler.

    Returns:
        dict with `log_z`, `log_z_low` and `log_z_high` (log of the mean importance weight
        plus and minus three standard errors, as the paper reports), `mean_log_prob`
        (`-mean F(v) - log Z`) and its range from the log Z range.
    """
    if rbm.visible != "bernoulli":
        raise ValueError(
            f"ais_log_likelihood needs Bernoulli visibles. Received: visible={rbm.visible!r}"
        )
    _check_count("runs", runs, 2)
    _check_count("betas", betas, 2)
    data = np.asarray(data, dtype="float64").reshape(len(data), -1)
    if data.min() < 0 or data.max() > 1:
        raise ValueError(
            "data must be in [0, 1] for Bernoulli visibles. "
            f"Received: values in [{data.min()}, {data.max()}]"
        )
    kernel, b, c = _parameters(rbm)
    base = data if base_data is None else np.asarray(base_data, "float64").reshape(-1, len(b))
    p = np.clip(base.mean(axis=0), 1e-3, 1 - 1e-3)
    b_base = np.log(p / (1 - p))
    rng = np.random.default_rng(seed)
    schedule = _beta_schedule(betas)

    def log_f(v, beta):
        return (
            (1 - beta) * v @ b_base
            + beta * v @ b
            + np.logaddexp(0.0, beta * (v @ kernel + c)).sum(axis=1)
        )

    v = (rng.uniform(size=(runs, len(b))) < _sigmoid(b_base)).astype("float64")
    log_w = np.zeros(runs)
    for previous, beta in zip(schedule[:-1], schedule[1:], strict=True):
        log_w += log_f(v, beta) - log_f(v, previous)
        h = (rng.uniform(size=(runs, len(c))) < _sigmoid(beta * (v @ kernel + c))).astype("float64")
        visible_input = (1 - beta) * b_base + beta * (b + h @ kernel.T)
        v = (rng.uniform(size=v.shape) < _sigmoid(visible_input)).astype("float64")
    # log Z at beta = 0: independent visibles, and hidden units with no weights or biases.
    log_z_base = np.logaddexp(0.0, b_base).sum() + len(c) * np.log(2.0)
    top = log_w.max()
    weights = np.exp(log_w - top)
    mean, error = weights.mean(), weights.std(ddof=1) / np.sqrt(runs)
    log_z = log_z_base + top + np.log(mean)
    low = log_z_base + top + np.log(max(mean - 3 * error, np.finfo(float).tiny))
    high = log_z_base + top + np.log(mean + 3 * error)
    free = -(data @ b + np.logaddexp(0.0, data @ kernel + c).sum(axis=1))
    mean_free = float(free.mean())
    return {
        "log_z": float(log_z),
        "log_z_low": float(low),
        "log_z_high": float(high),
        "mean_log_prob": -mean_free - float(log_z),
        "mean_log_prob_low": -mean_free - float(high),
        "mean_log_prob_high": -mean_free - float(low),
        "runs": runs,
        "betas": len(schedule),
    }


def reconstruction_error(rbm, v):
    """Mean squared error between `v` and its mean-field reconstruction E[v | P(h | v)]."""
    v = np.asarray(v, dtype="float32")
    reconstruction = ops.convert_to_numpy(rbm.visible_mean(rbm.hidden_probabilities(v)))
    return float(np.mean(np.square(reconstruction - v)))


def pseudo_log_likelihood(rbm, v, index=None, seed=0):
    """Stochastic pseudo-log-likelihood of binary data, averaged over examples.

    As scikit-learn's `BernoulliRBM.score_samples`: for each example one visible unit i
    (random, or `index`) is flipped, and `n_visible * log sigmoid(F(v flipped) - F(v))`
    estimates `sum_i log P(v_i | v_-i)`.
    """
    if rbm.visible != "bernoulli":
        raise ValueError(
            f"pseudo_log_likelihood needs Bernoulli visibles. Received: visible={rbm.visible!r}"
        )
    v = np.asarray(v, dtype="float32")
    n, n_visible = v.shape
    if index is None:
        index = np.random.default_rng(seed).integers(0, n_visible, size=n)
    flipped = v.copy()
    rows = np.arange(n)
    flipped[rows, index] = 1.0 - flipped[rows, index]
    gap = ops.convert_to_numpy(rbm.free_energy(flipped) - rbm.free_energy(v)).astype("float64")
    return float(np.mean(n_visible * -np.logaddexp(0.0, -gap)))


def free_energy_gap(rbm, train, validation):
    """`mean F(validation) - mean F(train)`: grows when the RBM overfits (the guide's monitor)."""
    train = np.asarray(train, dtype="float32")
    validation = np.asarray(validation, dtype="float32")
    return float(np.mean(rbm.free_energy(validation)) - np.mean(rbm.free_energy(train)))


class RBMMonitor(keras.callbacks.Callback):
    """Adds `reconstruction_error`, `pseudo_log_likelihood` (Bernoulli visibles) and, with
    validation data, `val_reconstruction_error` and `free_energy_gap` to each epoch's logs.

    Put it before the callbacks that read the logs (CSVLogger, EarlyStopping).

    Args:
        rbm: The `zoo.layers.RBM` being trained.
        train_sample: A fixed sample of training data (a few thousand rows is plenty).
        validation: Optional validation data of the same size.
        seed: Seed of the pseudo-likelihood's random flips.
    """

    def __init__(self, rbm, train_sample, validation=None, seed=0):
        super().__init__()
        self.rbm = rbm
        self.train_sample = np.asarray(train_sample, dtype="float32")
        self.validation = None if validation is None else np.asarray(validation, "float32")
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["reconstruction_error"] = reconstruction_error(self.rbm, self.train_sample)
        if self.rbm.visible == "bernoulli":
            logs["pseudo_log_likelihood"] = pseudo_log_likelihood(
                self.rbm, self.train_sample, seed=self.seed + epoch
            )
        if self.validation is not None:
            logs["val_reconstruction_error"] = reconstruction_error(self.rbm, self.validation)
            logs["free_energy_gap"] = free_energy_gap(self.rbm, self.train_sample, self.validation)


def _beta_schedule(n):
    """n inverse temperatures from 0 to 1, a tenth of them below 0.5, as in the paper."""
    first = max(2, n // 10)
    return np.concatenate(
        [np.linspace(0.0, 0.5, first, endpoint=False), np.linspace(0.5, 1.0, n - first)]
    )


def _parameters(rbm):
    return tuple(
        ops.convert_to_numpy(w).astype("float64")
        for w in (rbm.kernel, rbm.visible_bias, rbm.hidden_bias)
    )


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _check_count(arg, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{arg} must be an int >= {low}. Received: {arg}={value!r}")
