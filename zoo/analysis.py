"""What to measure on learned representations, and shallow models on top of them.

Autoencoders: PCA baseline, anomaly scores, linear probe. Transfer learning: features
from a frozen network, optional PCA, a scikit-learn classifier (SVM, logistic regression,
k-NN), as in Razavian et al. 2014 ("CNN features off-the-shelf"), nearest-neighbour image
retrieval, and test-time augmentation (Krizhevsky et al. 2012).
scikit-learn does the classical parts; this module only feeds it features.

    errors = reconstruction_errors(model, x_test)
    probe = linear_probe(model.encoder, x_train, y_train, x_test, y_test)
    svm = shallow_classifier("svm", pca_components=64).fit(features, labels)
    neighbours, distances = nearest_images(features, query_features, k=5)
"""

import numpy as np
from sklearn import metrics
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from zoo._checks import check_choice, check_float, check_int

SHALLOW_CLASSIFIERS = ("svm", "logistic", "knn")


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
    check_int("n_components", n_components, low=1)
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
    check_float("quantile", quantile, low=0, high=1, low_open=True, high_open=True)
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


def linear_probe(
    encoder, x_train, y_train, x_test, y_test, *, validation_data=None, C=1.0, max_iter=1000
):
    """Test accuracy of a logistic regression on the (standardised) codes.

    The encoder stays fixed: this measures how linearly separable its codes make the
    classes, the usual way to compare unsupervised features.

    Args:
        validation_data: Optional `(x_val, y_val)` scored by the same classifier, for
            choosing settings without reading the test set.

    Returns:
        dict with `accuracy`, `error_percent` and `code_size`; with `validation_data`,
        also `validation_accuracy` and `validation_error_percent`.
    """
    train_codes = encode(encoder, x_train)
    test_codes = encode(encoder, x_test)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    classifier.fit(train_codes, np.asarray(y_train))
    accuracy = float(classifier.score(test_codes, np.asarray(y_test)))
    result = {
        "accuracy": accuracy,
        "error_percent": 100.0 * (1.0 - accuracy),
        "code_size": int(train_codes.shape[1]),
    }
    if validation_data is not None:
        x_val, y_val = validation_data
        validation = float(classifier.score(encode(encoder, x_val), np.asarray(y_val)))
        result.update(
            validation_accuracy=validation, validation_error_percent=100.0 * (1.0 - validation)
        )
    return result


def sparsity(codes, tolerance=1e-6):
    """Mean fraction of code units whose magnitude is at most `tolerance`, per example."""
    codes = np.asarray(codes).reshape(len(codes), -1)
    return float(np.mean(np.abs(codes) <= tolerance))


# --- transfer learning: features, shallow classifiers, retrieval, TTA -----------------


def shallow_classifier(kind="svm", *, pca_components=None, seed=0, **params):
    """A scikit-learn pipeline for features: standardise, optional PCA, then a classifier.

    Args:
        kind: "svm" (`SVC`, linear kernel unless `kernel=` is given), "logistic"
            (`LogisticRegression`) or "knn" (`KNeighborsClassifier`, 5 neighbours unless
            `n_neighbors=` is given).
        pca_components: Optional int (or fraction of variance in (0, 1)) for a PCA after
            standardising (Razavian et al. 2014 reduce the dimension before the SVM).
        seed: Random state of PCA and the classifier.
        **params: Passed to the classifier.

    Returns:
        An unfitted `sklearn.pipeline.Pipeline`.
    """
    check_choice("kind", kind, SHALLOW_CLASSIFIERS)
    if kind == "svm":
        classifier = SVC(**{"kernel": "linear", "random_state": seed, **params})
    elif kind == "logistic":
        classifier = LogisticRegression(**{"max_iter": 2000, "random_state": seed, **params})
    else:
        classifier = KNeighborsClassifier(**params)
    steps = [StandardScaler()]
    if pca_components is not None:
        steps.append(PCA(n_components=pca_components, random_state=seed))
    return make_pipeline(*steps, classifier)


def extract_features(extractor, images, batch_size=64):
    """Features of `images` (a numpy batch) from a feature model, flattened to `(n, d)`."""
    return encode(extractor, images, batch_size=batch_size)


def nearest_images(index_features, query_features, k=5, metric="cosine"):
    """Content-based retrieval: the `k` indexed images closest to each query.

    Returns:
        `(indices, distances)`, each of shape `(queries, k)`, nearest first.
    """
    check_int("k", k, low=1, high=len(index_features))  # at most the indexed images
    search = NearestNeighbors(n_neighbors=k, metric=metric).fit(index_features)
    distances, indices = search.kneighbors(query_features)
    return indices, distances


def retrieval_precision(indices, index_labels, query_labels):
    """Precision at k: the mean fraction of retrieved images with the query's label."""
    retrieved = np.asarray(index_labels)[indices]
    return float(np.mean(retrieved == np.asarray(query_labels)[:, None]))


def predict_tta(model, images, augmentation=None, m=8, batch_size=32):
    """Test-time augmentation: the mean of the model's predictions over `m` augmented copies.

    For each test example, make `m` augmented versions, predict each and average the
    predictions (as Krizhevsky et al. 2012 average over crops and flips).

    Args:
        model: A classifier taking `images`.
        images: A numpy batch of model inputs (raw images for zoo's transfer models).
        augmentation: A layer active with `training=True`; defaults to
            `model.augmentation` (a `TransferClassifier` built with one).
        m: Number of augmented copies per image (>= 1).
        batch_size: Images per forward pass.

    Returns:
        Mean probabilities, shape `(n, classes)`.
    """
    augmentation = (
        augmentation if augmentation is not None else getattr(model, "augmentation", None)
    )
    if augmentation is None:
        raise ValueError(
            "augmentation must be given for a model without one. Received: augmentation=None"
        )
    check_int("m", m, low=1)
    images = np.asarray(images, dtype="float32")
    means = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        copies = [
            np.asarray(model(augmentation(batch, training=True), training=False)) for _ in range(m)
        ]
        means.append(np.mean(copies, axis=0))
    return np.concatenate(means)
