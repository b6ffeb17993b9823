"""Analysis tools for trained autoencoders, and the figures."""

import numpy as np
import pytest

import zoo
from zoo import analysis, data, plots


@pytest.fixture(scope="module")
def digits():
    train = data.as_numpy(data.load("digits", "train", shuffle=False))
    test = data.as_numpy(data.load("digits", "test", shuffle=False))
    return train, test


def test_pca_baseline_matches_the_variance_it_leaves_out(digits):
    (x_train, _), _ = digits
    full = analysis.pca_baseline(x_train, x_train, 64)
    assert full["mse"] == pytest.approx(0.0, abs=1e-8)
    few = analysis.pca_baseline(x_train, x_train, 8)
    assert few["reconstruction"].shape == x_train.shape
    # Training MSE of PCA equals the discarded variance, per pixel.
    discarded = np.var(x_train.reshape(len(x_train), -1), axis=0).sum() * (
        1 - few["explained_variance"]
    )
    assert few["mse"] == pytest.approx(discarded / 64, rel=1e-3)
    with pytest.raises(ValueError, match="n_components.*Received"):
        analysis.pca_baseline(x_train, x_train, 0)


def test_anomaly_report_on_separable_and_overlapping_scores(rng):
    inliers = rng.normal(0.0, 1.0, 1000)
    perfect = analysis.anomaly_report(inliers, inliers + 100.0, threshold=50.0)
    assert perfect["roc_auc"] == 1.0 and perfect["precision"] == perfect["recall"] == 1.0
    same = analysis.anomaly_report(inliers, rng.normal(0.0, 1.0, 1000), threshold=1.0)
    assert abs(same["roc_auc"] - 0.5) < 0.05
    threshold = analysis.fit_threshold(inliers, 0.9)
    report = analysis.anomaly_report(inliers, inliers + 100.0, threshold)
    assert report["false_positive_rate"] == pytest.approx(0.1, abs=0.002)
    with pytest.raises(ValueError, match="quantile.*Received"):
        analysis.fit_threshold(inliers, 1.0)


def test_linear_probe_and_reconstruction_errors(digits):
    (x_train, y_train), (x_test, y_test) = digits
    model = zoo.create_model("ae/dense", input_shape=(8, 8, 1), code_size=16)
    errors = analysis.reconstruction_errors(model, x_test)
    assert errors.shape == (len(x_test),)
    np.testing.assert_allclose(errors, np.asarray(model.reconstruction_error(x_test)), rtol=1e-5)
    probe = analysis.linear_probe(model.encoder, x_train, y_train, x_test, y_test)
    assert probe["code_size"] == 16
    assert 0.5 < probe["accuracy"] <= 1.0  # even random relu features separate digits
    assert probe["error_percent"] == pytest.approx(100 * (1 - probe["accuracy"]))


def test_sparsity_counts_zero_units():
    codes = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0]])
    assert analysis.sparsity(codes) == pytest.approx(5 / 8)


def test_figures_are_written(tmp_path, rng, digits):
    (x_train, y_train), _ = digits
    paths = [
        plots.plot_image_rows({"a": x_train[:5], "b": x_train[5:10]}, tmp_path / "rows.png", 5),
        plots.plot_latent(rng.normal(size=(50, 5)), y_train[:50], tmp_path / "latent.png"),
        plots.plot_latent(rng.normal(size=(50, 2)), y_train[:50], tmp_path / "latent2.png"),
        plots.plot_filters(rng.normal(size=(64, 20)), (8, 8, 1), tmp_path / "filters.png"),
        plots.plot_histogram(
            [rng.normal(size=100), rng.normal(size=100)],
            tmp_path / "hist.png",
            labels=["in", "out"],
            threshold=0.5,
        ),
    ]
    for path in paths:
        assert path.stat().st_size > 1000


def test_load_splits_partitions_train(rng):
    train, val, test, info = data.load_splits("digits", 20, batch_size=50)
    n_train = len(data.as_numpy(train)[0])
    n_val = len(data.as_numpy(val)[0])
    assert n_train + n_val == len(data.as_numpy(data.load("digits", "train"))[0])
    assert abs(n_val / (n_train + n_val) - 0.2) < 0.01
    assert info.num_examples == n_train
    for bad in (0, 100, 12.5):
        with pytest.raises(ValueError, match="validation_percent.*Received"):
            data.load_splits("digits", bad)
