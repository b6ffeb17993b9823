"""What to measure on a trained autoencoder: PCA baseline, anomaly scores, linear probe.

scikit-learn does the classical parts (PCA, logistic regression, ROC AUC); this module
only feeds it codes and reconstruction errors.

    errors = reconstruction_errors(model, x_test)
    pca = pca_baseline(x_train, x_test, n_components=32)
    probe = linear_probe(model.encoder, x_train, y_train, x_test, y_test)
"""

import numpy as np
from sklearn import metrics
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def reconstruction_errors(model, x, batch_size=256):
    """Mean squared reconstruction error of each example (numpy, shape `(n,)`)."""
    x = np.asarray(x, dtype="float32")
    reconstruction = model.predict(x, batch_size=batch_size, verbose=0)
    return np.mean(np.square(reconstruction - x).reshape(len(x), -1), axis=1)


def pca_baseline(x_train, x_test, n_components, seed=0):
    """PCA with `n_components` fitted on `x_train`: test reconstructions and their error.

    Returns:
        dict with `reconstruction` (shaped like `x_test`), `errors` (per example), `mse`,
        `explained_variance` (fraction) and the fitted `pca`.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be an int >= 1. Received: {n_components!r}")
    x_test = np.asarray(x_test, dtype="float32")
    flat_train = np.asarray(x_train, dtype="float32").reshape(len(x_train), -1)
    flat_test = x_test.reshape(len(x_test), -1)
    pca = PCA(n_components=n_components, random_state=seed).fit(flat_train)
    reconstruction = pca.inverse_transform(pca.transform(flat_test))
    errors = np.mean(np.square(reconstruction - flat_test), axis=1)
    return {
        "reconstruction": reconstruction.reshape(x_test.shape),
        "errors": errors,
        "mse": float(errors.mean()),
        "explained_variance": float(pca.explained_variance_ratio_.sum()),
        "pca": pca,
    }


def fit_threshold(train_errors, quantile=0.99):
    """The anomaly threshold: the `quantile` of the training data's reconstruction errors."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1). Received: quantile={quantile}")
    return float(np.quantile(np.asarray(train_errors), quantile))


def anomaly_report(inlier_scores, outlier_scores, threshold):
    """How well scores separate outliers (positive class) from inliers.

    Args:
        inlier_scores: Anomaly scores (e.g. reconstruction errors) of in-distribution data.
        outlier_scores: Scores of out-of-distribution data.
        threshold: Scores above it are flagged as anomalies (see `fit_threshold`).

    Returns:
        dict with `roc_auc` and `average_precision` (threshold-free), and `precision`,
        `recall` and `false_positive_rate` of the flags at `threshold`.
    """
    inlier_scores = np.asarray(inlier_scores)
    outlier_scores = np.asarray(outlier_scores)
    scores = np.concatenate([inlier_scores, outlier_scores])
    truth = np.concatenate([np.zeros(len(inlier_scores)), np.ones(len(outlier_scores))])
    flagged = scores > threshold
    return {
        "roc_auc": float(metrics.roc_auc_score(truth, scores)),
        "average_precision": float(metrics.average_precision_score(truth, scores)),
        "threshold": float(threshold),
        "precision": float(metrics.precision_score(truth, flagged, zero_division=0)),
        "recall": float(metrics.recall_score(truth, flagged)),
        "false_positive_rate": float(flagged[: len(inlier_scores)].mean()),
    }


def encode(encoder, x, batch_size=256):
    """The codes of `x`, flattened to `(n, features)`."""
    codes = encoder.predict(np.asarray(x, dtype="float32"), batch_size=batch_size, verbose=0)
    return codes.reshape(len(codes), -1)


def linear_probe(encoder, x_train, y_train, x_test, y_test, *, C=1.0, max_iter=1000):
    """Test accuracy of a logistic regression on the (standardised) codes.

    The encoder stays fixed: this measures how linearly separable its codes make the
    classes, the usual way to compare unsupervised features.

    Returns:
        dict with `accuracy`, `error_percent` and `code_size`.
    """
    train_codes = encode(encoder, x_train)
    test_codes = encode(encoder, x_test)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    classifier.fit(train_codes, np.asarray(y_train))
    accuracy = float(classifier.score(test_codes, np.asarray(y_test)))
    return {
        "accuracy": accuracy,
        "error_percent": 100.0 * (1.0 - accuracy),
        "code_size": int(train_codes.shape[1]),
    }


def sparsity(codes, tolerance=1e-6):
    """Mean fraction of code units whose magnitude is at most `tolerance`, per example."""
    codes = np.asarray(codes).reshape(len(codes), -1)
    return float(np.mean(np.abs(codes) <= tolerance))
