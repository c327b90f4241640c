import re

import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, anomaly_scores, anomaly_threshold, roc_auc, roc_curve


class _Shift:
    """A stand-in model whose reconstruction is the input plus an offset (or an array)."""

    def __init__(self, offset):
        self.offset = np.asarray(offset, dtype=np.float32)

    def denoise(self, images, *, batch_size=64):
        return np.asarray(images, dtype=np.float32) + self.offset


@pytest.fixture(scope="module")
def tiny_model():
    return ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=2)


# ROC curve and AUC


def test_roc_curve_hand_computed():
    fpr, tpr, thresholds = roc_curve([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    np.testing.assert_array_equal(fpr, [0.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.8, 0.4, 0.35, 0.1])


def test_roc_curve_ties_make_one_diagonal_step():
    # All scores tie: one step from (0, 0) straight to (1, 1).
    fpr, tpr, thresholds = roc_curve([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])
    np.testing.assert_array_equal(fpr, [0.0, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 1.0])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.5])
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5


def test_roc_auc_ties_count_one_half():
    # Pairs (anomalous, normal): (2 vs 1) win, (2 vs 2) tie, (3 vs 1) win, (3 vs 2) win.
    scores = [1.0, 2.0, 2.0, 3.0]
    is_anomaly = [0, 0, 1, 1]
    assert roc_auc(scores, is_anomaly) == pytest.approx((3 + 0.5) / 4)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([0.1, 0.2, 0.3, 0.8, 0.9], 1.0), ([0.9, 0.8, 0.7, 0.2, 0.1], 0.0)],
    ids=["perfect", "reversed"],
)
def test_roc_auc_extremes(scores, expected):
    is_anomaly = np.array([0, 0, 0, 1, 1])
    assert roc_auc(scores, is_anomaly) == expected


def test_roc_auc_is_the_probability_of_ranking_a_pair_right(rng):
    scores = rng.integers(0, 20, size=60).astype(np.float64)  # many ties
    is_anomaly = rng.random(60) < 0.4
    anomalous, normal = scores[is_anomaly], scores[~is_anomaly]
    difference = anomalous[:, None] - normal[None, :]
    expected = np.mean((difference > 0) + 0.5 * (difference == 0))
    assert roc_auc(scores, is_anomaly) == pytest.approx(expected)


def test_roc_auc_of_random_scores_is_near_one_half(rng):
    aucs = [roc_auc(rng.random(200), rng.random(200) < 0.5) for _ in range(50)]
    # The AUC of 100 vs 100 random scores has a standard deviation near 0.04.
    assert abs(np.mean(aucs) - 0.5) < 0.02
    assert 0.02 < np.std(aucs) < 0.07


def test_roc_curve_is_monotone_and_ends_at_corners(rng):
    fpr, tpr, thresholds = roc_curve(rng.normal(size=100), rng.random(100) < 0.3)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.all(np.diff(thresholds) < 0)


def _roc_by_definition(scores, is_anomaly):
    """ROC points straight from the definition: rates of scores >= each threshold."""
    thresholds = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    fpr = [np.mean(scores[~is_anomaly] >= threshold) for threshold in thresholds]
    tpr = [np.mean(scores[is_anomaly] >= threshold) for threshold in thresholds]
    return np.array(fpr), np.array(tpr), thresholds


def _auc_by_pairs(scores, is_anomaly):
    """Mann-Whitney: the fraction of (anomalous, normal) pairs ranked right, ties one half."""
    wins = [
        1.0 if anomalous > normal else 0.5 if anomalous == normal else 0.0
        for anomalous in scores[is_anomaly]
        for normal in scores[~is_anomaly]
    ]
    return sum(wins) / len(wins)


def test_roc_with_some_ties_hand_computed():
    # Normal: 0.2, 0.5, 0.1, 0.5; anomalous: 0.5, 0.9. At 0.5, one anomalous and two
    # normal images tie: one diagonal step. AUC: 0.9 beats all 4, 0.5 beats 2 and ties 2.
    scores = [0.2, 0.5, 0.5, 0.9, 0.1, 0.5]
    is_anomaly = [0, 1, 0, 1, 0, 0]
    fpr, tpr, thresholds = roc_curve(scores, is_anomaly)
    np.testing.assert_array_equal(fpr, [0.0, 0.0, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 0.5, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.5, 0.2, 0.1])
    assert roc_auc(scores, is_anomaly) == pytest.approx((4 + 2 + 2 * 0.5) / 8)


@pytest.mark.parametrize("decimals", [0, 1, None], ids=["many-ties", "some-ties", "no-ties"])
@pytest.mark.parametrize("size", [7, 80])
def test_roc_matches_the_definition(rng, decimals, size):
    scores = rng.normal(size=size)
    if decimals is not None:
        scores = np.round(scores, decimals)
    is_anomaly = np.arange(size) % 3 == 0  # both classes, at shuffled ranks
    rng.shuffle(is_anomaly)
    fpr, tpr, thresholds = roc_curve(scores, is_anomaly)
    expected_fpr, expected_tpr, expected_thresholds = _roc_by_definition(scores, is_anomaly)
    np.testing.assert_array_equal(thresholds, expected_thresholds)
    np.testing.assert_allclose(fpr, expected_fpr, rtol=1e-12)
    np.testing.assert_allclose(tpr, expected_tpr, rtol=1e-12)
    assert roc_auc(scores, is_anomaly) == pytest.approx(_auc_by_pairs(scores, is_anomaly))


def test_roc_takes_integer_scores_and_labels():
    assert roc_auc(np.array([1, 2, 3]), np.array([0, 1, 1])) == 1.0


@pytest.mark.parametrize(
    ("scores", "is_anomaly", "match"),
    [
        ([0.1, 0.2], [1, 1], "one normal and one anomalous.*only True"),
        ([0.1, 0.2], [0, 0], "one normal and one anomalous.*only False"),
        ([0.1, 0.2, 0.3], [0, 1], "one value per score"),
        ([0.1, 0.2], [], r"one value per score, shape \(2,\)\. Received: .* shape \(0,\)"),
        ([0.1, 0.2], [0, 2], "is_anomaly"),
        ([0.1, np.nan], [0, 1], "scores with 1 such values, the first nan at index 1"),
        ([0.1, -np.inf, np.nan], [0, 1, 0], "2 such values, the first -inf at index 1"),
        ([[0.1, 0.2]], [0, 1], "scores"),
        ([[0.1, 0.2], [0.3]], [0, 1], r"`scores` must be a 1-D array\. Received: scores=\[\["),
        ([0.1, 0.2], [[0, 1], [1]], r"`is_anomaly` must be a 1-D array\. Received: is_anomaly="),
        ([], [], "scores"),
    ],
)
def test_roc_curve_rejects_bad_values(scores, is_anomaly, match):
    with pytest.raises(ValueError, match=match):
        roc_curve(scores, is_anomaly)


@pytest.mark.parametrize(
    ("scores", "is_anomaly", "match"),
    [
        (["a", "b"], [0, 1], "scores"),
        ([True, False], [0, 1], "scores with dtype bool"),
        ([0.1, 0.2], [0.0, 1.0], "is_anomaly"),
    ],
)
def test_roc_auc_rejects_bad_types(scores, is_anomaly, match):
    with pytest.raises(TypeError, match=match):
        roc_auc(scores, is_anomaly)


# Threshold


def test_anomaly_threshold_flags_the_expected_fraction(rng):
    scores = rng.exponential(size=10_000)
    threshold = anomaly_threshold(scores, quantile=0.95)
    assert isinstance(threshold, float)
    assert np.mean(scores > threshold) == pytest.approx(0.05, abs=0.001)


@pytest.mark.parametrize(
    ("quantile", "expected"), [(0.0, 1.0), (0.5, 3.0), (0.9, 4.6), (1.0, 5.0)]
)  # 0.9: interpolated between the two highest scores
def test_anomaly_threshold_quantiles(quantile, expected):
    assert anomaly_threshold([5.0, 1.0, 3.0, 2.0, 4.0], quantile=quantile) == expected


def test_anomaly_threshold_default_is_the_99th_percentile():
    assert anomaly_threshold(np.arange(101.0)) == pytest.approx(99.0)


@pytest.mark.parametrize("quantile", [-0.1, 1.5, float("nan")])
def test_anomaly_threshold_rejects_bad_quantiles(quantile):
    with pytest.raises(ValueError, match="quantile"):
        anomaly_threshold([1.0, 2.0], quantile=quantile)


def test_anomaly_threshold_rejects_non_numeric_quantile():
    with pytest.raises(TypeError, match="quantile"):
        anomaly_threshold([1.0, 2.0], quantile="high")


def test_anomaly_threshold_rejects_empty_scores():
    with pytest.raises(ValueError, match="scores"):
        anomaly_threshold([])


# Scores


@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 8, 8, 1)])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_anomaly_scores_shape_and_dtype(tiny_model, rng, shape, dtype):
    images = rng.random(shape)
    images = (images * 255).astype(np.uint8) if dtype == "uint8" else images.astype(dtype)
    scores = anomaly_scores(tiny_model, images, batch_size=2)
    assert scores.shape == (5,)
    assert scores.dtype == np.float32
    assert np.all(scores >= 0)


def test_anomaly_scores_match_the_reconstruction_error(tiny_model, rng):
    images = rng.random((4, 8, 8, 1), dtype=np.float32)
    reconstructions = tiny_model.denoise(images)
    expected = np.mean(np.square(images - reconstructions), axis=(1, 2, 3))
    np.testing.assert_allclose(anomaly_scores(tiny_model, images), expected, rtol=1e-5)


def test_anomaly_scores_keep_a_batch_of_equal_sides_as_a_batch():
    # (8, 8, 8) is 8 grayscale images here, never one 8-channel image.
    model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=2)
    assert anomaly_scores(model, np.zeros((8, 8, 8))).shape == (8,)


def _bce(target, prediction):
    return -(target * np.log(prediction) + (1 - target) * np.log(1 - prediction))


# Image i is constant at LEVELS[i]; its reconstruction is off by OFFSETS[i] in its top half
# and exact in its bottom half, so each score is the mean of the two halves' errors.
LEVELS = np.array([0.2, 0.5, 0.7])
OFFSETS = np.array([0.1, -0.2, 0.25])


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("mse", [0.01 / 2, 0.04 / 2, 0.0625 / 2]),
        ("mae", [0.1 / 2, 0.2 / 2, 0.25 / 2]),
        ("bce", (_bce(LEVELS, LEVELS + OFFSETS) + _bce(LEVELS, LEVELS)) / 2),
    ],
)
def test_anomaly_score_metrics(metric, expected):
    images = np.ones((3, 4, 4), dtype=np.float32) * LEVELS[:, None, None].astype(np.float32)
    offsets = np.zeros((3, 4, 4, 1), dtype=np.float32)
    offsets[:, :2] = OFFSETS[:, None, None, None]
    scores = anomaly_scores(_Shift(offsets), images, metric=metric)
    assert scores.shape == (3,)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)


def test_bce_of_saturated_reconstructions_is_clipped_as_in_keras():
    # A reconstruction of exactly 0 where the image is 1 (and 1 where it is 0) costs
    # -log(1e-7), as in Keras's loss, not an infinite or otherwise capped score.
    images = np.zeros((2, 4, 4, 1), dtype=np.float32)
    images[0, :2] = 1.0
    reconstructions = 1.0 - images
    reconstructions[1, 2:] = 0.0  # image 1: wrong in its top half, right in its bottom half
    scores = anomaly_scores(_Shift(reconstructions - images), images, metric="bce")
    # Keras's clip, 1e-7; the scores are computed in float64, where 1 - 1e-7 does not round.
    wrong = -np.log(keras.config.epsilon())
    np.testing.assert_allclose(scores, [wrong, wrong / 2], rtol=1e-6)


@pytest.mark.parametrize(("metric", "expected"), [("mse", 0.25), ("mae", 0.5)])
def test_mse_and_mae_take_images_outside_the_unit_range(metric, expected):
    # Standardized images, say: only the cross-entropy needs pixels in [0, 1].
    images = np.linspace(-1.0, 2.0, 2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    scores = anomaly_scores(_Shift(0.5), images, metric=metric)
    np.testing.assert_allclose(scores, [expected, expected], rtol=1e-6)


def test_anomaly_scores_rank_worse_reconstructions_higher():
    images = np.full((2, 4, 4), 0.5, dtype=np.float32)
    assert anomaly_scores(_Shift(0.2), images)[0] > anomaly_scores(_Shift(0.1), images)[0]


@pytest.mark.parametrize("model", [None, "model"])
def test_anomaly_scores_need_a_model_with_denoise(model):
    with pytest.raises(TypeError, match=f"model={model!r}"):
        anomaly_scores(model, np.zeros((2, 8, 8), "float32"))


def test_anomaly_scores_reject_unknown_metric(tiny_model):
    with pytest.raises(ValueError, match="metric"):
        anomaly_scores(tiny_model, np.zeros((2, 8, 8)), metric="psnr")


def test_anomaly_scores_bce_needs_images_in_unit_range(tiny_model):
    with pytest.raises(ValueError, match="images"):
        anomaly_scores(tiny_model, np.full((2, 8, 8), 2.0), metric="bce")


def test_anomaly_scores_need_a_batch(tiny_model):
    with pytest.raises(ValueError, match="images"):
        anomaly_scores(tiny_model, np.zeros((8, 8)))


@pytest.mark.parametrize("shape", [(2, 9, 9), (2, 16, 16, 1)])
def test_anomaly_scores_reject_images_of_the_wrong_size(tiny_model, shape):
    # The argument is `images`, its shape as given: not the 4-D batch made for the model.
    match = re.escape(
        "`images` must hold images of the shape `model` takes (8, 8, 1). "
        f"Received: images with shape {shape}"
    )
    with pytest.raises(ValueError, match=match):
        anomaly_scores(tiny_model, np.zeros(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_anomaly_scores_refuse_non_finite_reconstructions(bad):
    # A diverged model's NaN reconstructions gave NaN scores without an error.
    offsets = np.zeros((3, 4, 4, 1), dtype=np.float32)
    offsets[1, 2, 3] = bad
    match = (
        r"`model` must reconstruct the images as finite values \(NaN or infinite ones come "
        r"from a model whose training diverged\)\. Received: reconstructions with 1 such values"
    )
    with pytest.raises(ValueError, match=match):
        anomaly_scores(_Shift(offsets), np.full((3, 4, 4), 0.5, dtype=np.float32))


def test_anomaly_scores_refuse_a_diverged_model(rng):
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=2, batch_norm=False)
    model.set_weights([np.full_like(weight, np.nan) for weight in model.get_weights()])
    with pytest.raises(ValueError, match=r"`model` must reconstruct .* training diverged"):
        anomaly_scores(model, rng.random((3, 16, 16)))


def test_anomaly_scores_reject_bad_batch_size(tiny_model):
    with pytest.raises(ValueError, match="batch_size"):
        anomaly_scores(tiny_model, np.zeros((2, 8, 8)), batch_size=0)


@pytest.mark.slow
def test_trained_autoencoder_scores_noise_as_anomalous(rng):
    # Normal images: dark, nearly blank 16x16 images with a faint random blob.
    normal = np.zeros((256, 16, 16, 1), dtype=np.float32)
    rows, columns = rng.integers(2, 14, size=(2, 256))
    for image, row, column in zip(normal, rows, columns, strict=True):
        image[row - 2 : row + 2, column - 2 : column + 2] = 0.3
    model = ConvAutoencoder(
        image_shape=(16, 16, 1), latent_dim=4, encoder_filters=(8, 8), decoder_filters=(8, 8)
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    model.fit(normal, normal, epochs=10, batch_size=32, verbose=0)

    test_normal = normal[:40]
    noise = rng.random((40, 16, 16, 1), dtype=np.float32)
    scores = anomaly_scores(model, np.concatenate([test_normal, noise]))
    is_anomaly = np.repeat([False, True], 40)
    assert roc_auc(scores, is_anomaly) > 0.9
    threshold = anomaly_threshold(anomaly_scores(model, normal), quantile=0.99)
    assert np.mean(scores[is_anomaly] > threshold) > 0.9
