"""Likelihoods of an RBM, exact and estimated, and the measures that monitor its training.

- `exact_log_partition`: log Z by enumerating every hidden configuration (small RBMs; a
  reference for testing estimators);
- `ais_log_likelihood`: annealed importance sampling estimate of log Z and of the data's
  mean log-probability (Salakhutdinov & Murray 2008);
- `mean_log_probability`: the mean log-probability of other data under a known log Z
  (e.g. validation images, under the log Z that AIS estimated);
- `pseudo_log_likelihood`: the stochastic pseudo-log-likelihood (Besag 1975), as
  scikit-learn's `BernoulliRBM.score_samples` computes it;
- `reconstruction_error` and `free_energy_gap`: the cheap monitors of Hinton's practical
  guide (2010); a free-energy gap between held-out and training data that grows is its
  sign of overfitting. `zoo.callbacks.RBMMonitor` logs them every epoch.

Each takes a built `zoo.layers.RBM` and numpy data with one example per row.

    log_z = exact_log_partition(rbm)                 # at most 20 hidden units
    estimate = ais_log_likelihood(rbm, x_test, runs=100, betas=10000)
    estimate["mean_log_prob"], estimate["log_z_low"], estimate["log_z_high"]

References:
    R. Salakhutdinov, I. Murray, "On the quantitative analysis of deep belief networks",
    ICML 2008.
    J. Besag, "Statistical analysis of non-lattice data", Journal of the Royal
    Statistical Society, Series D (The Statistician) 24(3), 1975.
    G. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
    2010-003, University of Toronto, 2010.
"""

import itertools

import numpy as np
from keras import ops

from zoo._checks import check_float, check_int


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
        betas: Number of inverse temperatures from 0 to 1, spaced as in the paper: 7%
            of them below 0.5, 28% in [0.5, 0.9), 66% in [0.9, 1]. Defaults to 10000.
        base_data: Data for the base model's visible biases. Defaults to `data`.
        seed: Seed of the sampler. Defaults to 0.

    Returns:
        dict with `log_z`, `log_z_low` and `log_z_high` (log of the mean importance weight
        plus and minus three standard errors, as the paper reports), `mean_log_prob`
        (`-mean F(v) - log Z`) and its range from the log Z range.
    """
    if rbm.visible != "bernoulli":
        raise ValueError(
            f"ais_log_likelihood needs Bernoulli visibles. Received: visible={rbm.visible!r}"
        )
    runs = check_int("runs", runs, low=2)
    betas = check_int("betas", betas, low=2)
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

    v = (rng.uniform(size=(runs, len(b))) < _sigmoid(b_base)).astype("float64")
    log_w = np.zeros(runs)
    for previous, beta in zip(schedule[:-1], schedule[1:], strict=True):
        # log p*_beta(v) - log p*_previous(v), with v W + c computed once per step
        hidden_input = v @ kernel + c
        log_w += (beta - previous) * (v @ (b - b_base))
        log_w += (
            np.logaddexp(0.0, beta * hidden_input) - np.logaddexp(0.0, previous * hidden_input)
        ).sum(axis=1)
        h = (rng.uniform(size=hidden_input.shape) < _sigmoid(beta * hidden_input)).astype("float64")
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
    mean_free = _mean_free_energy(data, kernel, b, c)
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


def mean_log_probability(rbm, data, log_z):
    """Mean log-probability in nats, `-mean F(v) - log Z`, of `data` under a Bernoulli RBM
    whose log partition function is `log_z`: e.g. the validation images' under the
    `log_z` that `ais_log_likelihood` estimated for the test images."""
    if rbm.visible != "bernoulli":
        raise ValueError(
            f"mean_log_probability needs Bernoulli visibles. Received: visible={rbm.visible!r}"
        )
    log_z = check_float("log_z", log_z)
    kernel, b, c = _parameters(rbm)
    data = np.asarray(data, dtype="float64").reshape(len(data), -1)
    return -_mean_free_energy(data, kernel, b, c) - log_z


def _mean_free_energy(data, kernel, b, c):
    return float(-(data @ b + np.logaddexp(0.0, data @ kernel + c).sum(axis=1)).mean())


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


def _beta_schedule(n):
    """n inverse temperatures from 0 to 1, spaced as Salakhutdinov & Murray's 14,500:
    1,000 uniform in [0, 0.5), 4,000 in [0.5, 0.9) and 9,500 in [0.9, 1], scaled to n.
    Sharp models need the fine steps near 1."""
    first = max(1, round(n * 1000 / 14500))
    second = max(1, round(n * 4000 / 14500))
    third = max(2, n - first - second)
    return np.concatenate(
        [
            np.linspace(0.0, 0.5, first, endpoint=False),
            np.linspace(0.5, 0.9, second, endpoint=False),
            np.linspace(0.9, 1.0, third),
        ]
    )


def _parameters(rbm):
    return tuple(
        ops.convert_to_numpy(w).astype("float64")
        for w in (rbm.kernel, rbm.visible_bias, rbm.hidden_bias)
    )


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
