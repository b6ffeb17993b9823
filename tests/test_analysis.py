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


def test_pca_baseline_matches_a_numpy_projection_and_the_variance_it_leaves_out(digits):
    (x_train, _), (x_test, _) = digits
    flat_train = x_train.reshape(len(x_train), -1).astype("float64")
    flat_test = x_test.reshape(len(x_test), -1).astype("float64")
    mean = flat_train.mean(axis=0)
    variances, axes = np.linalg.eigh(np.cov(flat_train.T, bias=True))  # ascending
    top = axes[:, -8:]
    expected = (flat_test - mean) @ top @ top.T + mean  # fitted on train, applied to test

    few = analysis.pca_baseline(x_train, x_test, 8)
    np.testing.assert_allclose(few["reconstruction"].reshape(expected.shape), expected, atol=1e-4)
    expected_errors = np.mean((expected - flat_test) ** 2, axis=1)
    np.testing.assert_allclose(few["errors"], expected_errors, rtol=1e-3, atol=1e-7)
    assert few["mse"] == pytest.approx(expected_errors.mean(), rel=1e-3)
    assert few["explained_variance"] == pytest.approx(variances[-8:].sum() / variances.sum())
    # Training MSE of PCA equals the discarded variance, per pixel.
    on_train = analysis.pca_baseline(x_train, x_train, 8)
    assert on_train["mse"] == pytest.approx(variances[:-8].sum() / 64, rel=1e-3)
    assert analysis.pca_baseline(x_train, x_train, 64)["mse"] == pytest.approx(0.0, abs=1e-8)
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


def test_anomaly_report_by_hand():
    # Ranked: 4 (out), 3 (in), 2.5 (out), 2 (in), 1 (in). Flagged above 2.5: 4 and 3.
    report = analysis.anomaly_report([1.0, 2.0, 3.0], [2.5, 4.0], threshold=2.5)
    assert report["roc_auc"] == pytest.approx(5 / 6)  # 5 of the 6 (out, in) pairs in order
    assert report["average_precision"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert report["precision"] == pytest.approx(1 / 2)
    assert report["recall"] == pytest.approx(1 / 2)  # 2.5 is not above the threshold
    assert report["false_positive_rate"] == pytest.approx(1 / 3)
    assert analysis.fit_threshold([1.0, 2.0, 3.0, 4.0, 5.0], 0.75) == pytest.approx(4.0)


def test_linear_probe_and_reconstruction_errors(digits, rng):
    (x_train, y_train), (x_test, y_test) = digits
    model = zoo.create_model("ae/dense", input_shape=(8, 8, 1), code_size=16)
    errors = analysis.reconstruction_errors(model, x_test)
    squared = np.square(np.asarray(model(x_test)) - x_test).reshape(len(x_test), -1)
    np.testing.assert_allclose(errors, squared.mean(axis=1), rtol=1e-5)
    probe = analysis.linear_probe(model.encoder, x_train, y_train, x_test, y_test)
    assert probe["code_size"] == 16
    assert 0.5 < probe["accuracy"] <= 1.0  # even random relu features separate digits
    assert probe["error_percent"] == pytest.approx(100 * (1 - probe["accuracy"]))
    # Scored on the test set: with its labels shuffled, accuracy falls to chance.
    few = slice(0, 400)
    shuffled = analysis.linear_probe(
        model.encoder,
        x_train[few],
        y_train[few],
        x_test,
        rng.permutation(y_test),
        validation_data=(x_test, y_test),
    )
    assert shuffled["accuracy"] < 0.25
    # The same classifier scores the validation split, with its own labels.
    assert shuffled["validation_accuracy"] > 0.5
    assert shuffled["validation_error_percent"] == pytest.approx(
        100 * (1 - shuffled["validation_accuracy"])
    )
    assert "validation_accuracy" not in probe


def test_sparsity_counts_zero_units():
    codes = np.array([[1e-7, -1.0, -1e-7, 2.0], [0.0, 0.0, 0.0, 3.0]])
    assert analysis.sparsity(codes) == pytest.approx(5 / 8)  # |value| <= 1e-6 is zero
    assert analysis.sparsity(codes, tolerance=1.5) == pytest.approx(6 / 8)
    assert analysis.sparsity(codes.reshape(2, 2, 2)) == pytest.approx(5 / 8)


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
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_load_splits_partitions_train(rng):
    train, val, test, info = data.load_splits("digits", 20, batch_size=50)
    (x_train, y_train), (x_val, y_val) = data.as_numpy(train), data.as_numpy(val)
    n_train, n_val = len(x_train), len(x_val)
    x_all, y_all = data.as_numpy(data.load("digits", "train", shuffle=False))
    assert n_train + n_val == len(x_all)

    def rows(images, labels):  # each example as a row, sorted: the split as a multiset
        table = np.concatenate([images.reshape(len(images), -1), labels[:, None]], axis=1)
        return table[np.lexsort(table.T[::-1])]

    # Every training example is in exactly one part: nothing lost, nothing in both.
    np.testing.assert_array_equal(
        rows(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])),
        rows(x_all, y_all),
    )
    assert abs(n_val / (n_train + n_val) - 0.2) < 0.01
    assert info.num_examples == n_train
    for bad in (0, 100, 12.5):
        with pytest.raises(ValueError, match="validation_percent.*Received"):
            data.load_splits("digits", bad)
