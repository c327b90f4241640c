import builtins
import re

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from strategies import image_batches, seeds

from keras_denoise import GaussianNoise
from keras_denoise.metrics import PSNR, SSIM, psnr, ssim

SHAPES = [(16, 16), (3, 16, 16), (3, 16, 16, 1), (3, 16, 16, 3)]


def _pair(rng, shape, dtype):
    clean = rng.random(shape)
    estimate = np.clip(clean + 0.1 * rng.standard_normal(shape), 0.0, 1.0)
    if dtype == "uint8":
        return np.round(clean * 255).astype(np.uint8), np.round(estimate * 255).astype(np.uint8)
    return clean.astype(dtype), estimate.astype(dtype)


def _number_of_images(shape):
    return 1 if len(shape) == 2 else shape[0]


def test_module_exports():
    import keras_denoise.metrics as metrics

    assert metrics.__all__ == ["psnr", "ssim", "PSNR", "SSIM"]


def test_psnr_matches_hand_computation():
    clean = np.zeros((2, 4, 4))
    estimate = np.zeros((2, 4, 4))
    estimate[0, 0, 0] = 1.0  # MSE 1/16
    estimate[1] = 0.5  # MSE 1/4
    expected = np.array([10 * np.log10(16), 10 * np.log10(4)])
    np.testing.assert_allclose(psnr(clean, estimate, reduction="none"), expected)
    assert psnr(clean, estimate) == pytest.approx(expected.mean())


def _paper_ssim(clean, estimate, *, data_range=1.0, **options):
    """scikit-image's SSIM with Wang et al.'s settings (Gaussian window, sigma 1.5)."""
    return structural_similarity(clean, estimate, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=data_range, **options)


def test_ssim_data_range_reaches_scikit_image(rng):
    clean, estimate = rng.random((2, 16, 16)), rng.random((2, 16, 16))
    expected = _paper_ssim(clean[0], estimate[0], data_range=4.0)
    value = ssim(clean[:1], estimate[:1], data_range=4.0)
    assert value == pytest.approx(expected, rel=1e-6)
    assert value != pytest.approx(ssim(clean[:1], estimate[:1]), rel=1e-3)


def test_psnr_data_range_scales_the_peak():
    clean = np.zeros((8, 8))
    estimate = np.full((8, 8), 0.1)
    assert psnr(clean, estimate, data_range=2.0) == pytest.approx(
        psnr(clean, estimate) + 20 * np.log10(2.0)
    )


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 3)])
def test_psnr_matches_scikit_image_for_one_image(rng, shape):
    clean, estimate = _pair(rng, shape, "float64")
    expected = peak_signal_noise_ratio(clean, estimate, data_range=1.0)
    assert psnr(clean[None], estimate[None]) == pytest.approx(expected, rel=1e-6)


def test_psnr_keeps_float64_precision(rng):
    # Errors of 1e-7 give about 140 dB: rounding the pair to float32 (steps of 6e-8
    # near 1) before subtracting them moved the result by about 0.1 dB.
    clean = rng.uniform(0.5, 1.0, (2, 16, 16))
    estimate = clean + 1e-7 * rng.standard_normal(clean.shape)
    expected = [
        peak_signal_noise_ratio(c, e, data_range=1.0) for c, e in zip(clean, estimate, strict=True)
    ]
    np.testing.assert_allclose(psnr(clean, estimate, reduction="none"), expected, rtol=1e-9)


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 3)])
def test_ssim_matches_scikit_image_for_one_image(rng, shape):
    clean, estimate = _pair(rng, shape, "float64")
    expected = _paper_ssim(clean, estimate, channel_axis=-1 if len(shape) == 3 else None)
    assert ssim(clean[None], estimate[None]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_reductions_shapes_and_types(metric, shape, dtype, rng):
    clean, estimate = _pair(rng, shape, dtype)
    values = metric(clean, estimate, reduction="none")
    assert values.shape == (_number_of_images(shape),)
    assert values.dtype == np.float64
    mean = metric(clean, estimate)
    assert type(mean) is float
    assert mean == pytest.approx(values.mean())


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_uint8_is_read_as_scaled_float(metric, rng):
    clean, estimate = _pair(rng, (2, 16, 16), "uint8")
    assert metric(clean, estimate) == pytest.approx(metric(clean / 255.0, estimate / 255.0))


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_symmetric(metric, rng):
    clean, estimate = _pair(rng, (3, 16, 16, 3), "float64")
    assert metric(clean, estimate) == pytest.approx(metric(estimate, clean))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no "divide by zero" on the way
def test_identical_images_score_inf_psnr_and_unit_ssim(rng):
    images = rng.random((3, 16, 16))
    assert psnr(images, images) == np.inf
    np.testing.assert_array_equal(psnr(images, images, reduction="none"), np.inf)
    assert ssim(images, images) == pytest.approx(1.0)


def test_one_identical_image_makes_the_mean_psnr_inf(rng):
    clean = rng.random((2, 16, 16))
    estimate = clean.copy()
    estimate[1] += 0.1
    values = psnr(clean, estimate, reduction="none")
    assert values[0] == np.inf and np.isfinite(values[1])
    assert psnr(clean, estimate) == np.inf


def test_per_image_values_are_independent_of_the_batch(rng):
    clean, estimate = _pair(rng, (4, 16, 16, 1), "float64")
    for metric in (psnr, ssim):
        batch = metric(clean, estimate, reduction="none")
        single = [metric(clean[i, ..., 0], estimate[i, ..., 0]) for i in range(4)]
        np.testing.assert_allclose(batch, single)


def test_rank_3_is_a_batch_of_grayscale_images(rng):
    clean, estimate = _pair(rng, (5, 16, 16), "float64")
    assert psnr(clean, estimate, reduction="none").shape == (5,)
    with_channel_axis = ssim(clean[..., None], estimate[..., None], reduction="none")
    np.testing.assert_allclose(ssim(clean, estimate, reduction="none"), with_channel_axis)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_scores_fall_as_noise_rises(metric, rng):
    clean = rng.random((4, 16, 16))
    scores = [
        metric(clean, GaussianNoise(noise_factor, clip=None, seed=0)(clean))
        for noise_factor in (0.05, 0.1, 0.2, 0.4)
    ]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 4


def test_psnr_of_gaussian_noise_is_near_theory():
    clean = np.full((20, 16, 16), 0.5)
    noisy = GaussianNoise(0.1, clip=None, seed=0)(clean)
    assert psnr(clean, noisy) == pytest.approx(20.0, abs=0.1)


@pytest.mark.parametrize("narrow", ["height", "width"])  # the window fits the smaller side
@pytest.mark.parametrize("side", [1, 4, 7, 10])
def test_ssim_handles_images_smaller_than_the_window(side, narrow, rng):
    # With a channel axis: a rank-3 batch 1 pixel wide reads as one image (and is refused).
    shape = (2, side, side + 3, 1) if narrow == "height" else (2, side + 3, side, 1)
    clean, estimate = _pair(rng, shape, "float64")
    values = ssim(clean, estimate, reduction="none")
    assert np.all((values >= -1.0) & (values <= 1.0))
    assert ssim(clean, clean) == pytest.approx(1.0)
    # The widest odd window that fits the smaller side.
    expected = [
        _paper_ssim(reference[..., 0], image[..., 0], win_size=side - 1 + side % 2)
        for reference, image in zip(clean, estimate, strict=True)
    ]
    np.testing.assert_allclose(values, expected, rtol=1e-9)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("shape", [(2, 16, 15), (2, 8, 32), (2, 16, 16, 1)])
def test_shape_mismatch_is_rejected(metric, shape):
    # Even with as many pixels: the images would be compared in another layout.
    expected = re.escape(f"clean with shape (2, 16, 16), estimate with shape {shape}")
    with pytest.raises(ValueError, match=expected):
        metric(np.zeros((2, 16, 16)), np.zeros(shape))


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("data_range", [0.0, -1.0, np.inf, np.nan, 1e-200, 9e-31, 2e30, 1e200])
def test_bad_data_range_value(metric, data_range):
    with pytest.raises(ValueError, match="data_range"):
        metric(np.zeros((8, 8)), np.ones((8, 8)), data_range=data_range)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_a_data_range_out_of_bounds_names_the_bounds(metric):
    # data_range=1e200 overflowed in `data_range**2` (OverflowError); 1e-200 gave -inf and nan.
    expected = re.escape(
        "`data_range` must be a number between 1e-30 and 1e+30. Received: data_range=1e+200"
    )
    with pytest.raises(ValueError, match=expected):
        metric(np.zeros((8, 8)), np.ones((8, 8)), data_range=1e200)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("data_range", [1e-30, 1e-12, 1e12, 1e30])
def test_scores_are_unchanged_when_images_and_data_range_scale_together(metric, data_range, rng):
    clean, estimate = _pair(rng, (2, 16, 16), "float64")
    expected = metric(clean, estimate)
    scaled = metric(clean * data_range, estimate * data_range, data_range=data_range)
    assert scaled == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("data_range", [1e-30, 1e30])
def test_extreme_data_ranges_give_finite_scores(data_range):
    zeros = np.zeros((1, 16, 16))
    assert np.isfinite(psnr(zeros, np.full((1, 16, 16), 0.5), data_range=data_range))
    assert ssim(zeros, zeros, data_range=data_range) == 1.0


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("data_range", ["1", None, True])
def test_bad_data_range_type(metric, data_range):
    with pytest.raises(TypeError, match="data_range"):
        metric(np.zeros((8, 8)), np.ones((8, 8)), data_range=data_range)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("reduction", ["sum", "MEAN", None, 0])
def test_bad_reduction(metric, reduction):
    with pytest.raises(ValueError, match="reduction"):
        metric(np.zeros((8, 8)), np.ones((8, 8)), reduction=reduction)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("name", ["clean", "estimate"])
@pytest.mark.parametrize(
    "bad, error",
    [
        (np.zeros((8, 8), dtype=np.int32), TypeError),
        (np.zeros((8, 8), dtype=bool), TypeError),
        ("image", TypeError),
        (np.zeros(8), ValueError),
        (np.zeros((1, 1, 8, 8, 1)), ValueError),
        (np.zeros((0, 8)), ValueError),
        (np.full((8, 8), np.nan), ValueError),
        (np.full((8, 8), np.inf), ValueError),
    ],
)
def test_bad_images(metric, name, bad, error):
    arrays = {"clean": np.zeros((8, 8)), "estimate": np.zeros((8, 8))}
    arrays[name] = bad
    with pytest.raises(error, match=name):
        metric(arrays["clean"], arrays["estimate"])


def test_ssim_without_scikit_image_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("skimage"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"keras-denoise\[skimage\]"):
        ssim(np.zeros((16, 16)), np.zeros((16, 16)))


@given(
    clean=image_batches(max_batch=3, min_side=11, max_side=16),
    seed=seeds,
    noise_factor=st.floats(0.01, 1.0),
)
def test_property_psnr_symmetric_inf_for_identical_and_falls_with_noise(clean, seed, noise_factor):
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(clean.shape).astype("float32")
    weaker = clean + np.float32(noise_factor / 2) * noise
    stronger = clean + np.float32(noise_factor) * noise
    assert psnr(clean, weaker) == pytest.approx(psnr(weaker, clean))
    assert psnr(clean, clean) == np.inf
    # Doubling the same noise quadruples the MSE: exactly 6.02 dB lower PSNR, per image.
    drop = psnr(clean, weaker, reduction="none") - psnr(clean, stronger, reduction="none")
    np.testing.assert_allclose(drop, 20 * np.log10(2), atol=1e-3)
    assert ssim(clean, clean) == pytest.approx(1.0)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="Keras's other backends compute float64 in float32 (see keras.backend.result_type)",
)
@pytest.mark.parametrize(("metric_class", "function"), [(PSNR, psnr), (SSIM, ssim)])
def test_float64_keras_metrics_keep_double_precision(metric_class, function, rng):
    # A near-perfect estimate: in float32, the rounding of pixels near 0.5 (about 3e-8)
    # would move a PSNR of 80 dB by thousandths of a dB, and an SSIM by about 1e-7.
    clean = rng.random((2, 16, 16, 1))
    estimate = clean + 1e-4 * rng.standard_normal(clean.shape)
    metric = metric_class(dtype="float64")
    metric.update_state(clean, estimate)
    result = metric.result()
    assert keras.backend.standardize_dtype(result.dtype) == "float64"
    assert float(result) == pytest.approx(function(clean, estimate), abs=1e-9)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("channels", [1, 3])
def test_one_image_with_channels_needs_a_batch_axis(rng, metric, channels):
    # As `read_image` returns it: read as a batch, 16 images 1 or 3 pixels wide.
    clean, estimate = _pair(rng, (16, 16, channels), "float64")
    with pytest.raises(ValueError, match=r"`clean` is ambiguous: one image with"):
        metric(clean, estimate)
    assert np.isfinite(metric(clean[None], estimate[None]))
