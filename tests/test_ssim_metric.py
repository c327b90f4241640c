import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, GaussianNoise, load_model
from keras_denoise.metrics import SSIM, ssim


def _result(metric):
    return float(keras.ops.convert_to_numpy(metric.result()))


@pytest.mark.parametrize("shape", [(4, 32, 32), (4, 32, 32, 1), (3, 32, 24, 3), (2, 11, 11, 1)])
@pytest.mark.parametrize("noise_factor", [0.05, 0.3])
def test_matches_the_scikit_image_ssim(shape, noise_factor, rng):
    clean = rng.random(shape).astype("float32")
    estimate = GaussianNoise(noise_factor, seed=0)(clean)
    metric = SSIM()
    metric.update_state(clean, estimate)
    # float32 agrees with scikit-image's float64 to about 3e-7 on every backend.
    assert _result(metric) == pytest.approx(ssim(clean, estimate), abs=1e-5)


@pytest.mark.parametrize("noise_factor", [0.05, 0.5])
def test_matches_the_scikit_image_ssim_on_dark_digits(noise_factor):
    # On black backgrounds, as in MNIST, the local means are near 0 and K1's constant
    # sets the luminance term: random mid-grey images would hardly notice a wrong K1.
    clean = np.zeros((4, 28, 28, 1), "float32")
    clean[:, 8:20, 12:16] = 1.0
    estimate = GaussianNoise(noise_factor, seed=0)(clean)
    metric = SSIM()
    metric.update_state(clean, estimate)
    assert _result(metric) == pytest.approx(ssim(clean, estimate), abs=1e-5)


def test_data_range_is_used(rng):
    clean = rng.random((2, 16, 16, 1)) * 255.0
    estimate = clean + 10.0 * rng.standard_normal(clean.shape)
    metric = SSIM(data_range=255.0)
    metric.update_state(clean, estimate)
    assert _result(metric) == pytest.approx(ssim(clean, estimate, data_range=255.0), abs=1e-3)


def test_averages_per_image_values_over_batches_and_resets(rng):
    clean = rng.random((5, 16, 16, 1))
    estimate = np.clip(clean + 0.2 * rng.standard_normal(clean.shape), 0, 1)
    metric = SSIM()
    metric.update_state(clean[:2], estimate[:2])
    metric.update_state(clean[2:], estimate[2:])
    assert _result(metric) == pytest.approx(ssim(clean, estimate), abs=1e-3)
    metric.reset_state()
    assert _result(metric) == 0.0


def test_sample_weight_weights_images(rng):
    clean = rng.random((2, 16, 16, 1))
    estimate = np.concatenate([GaussianNoise(0.3, seed=0)(clean[:1]), clean[1:]])
    metric = SSIM()
    metric.update_state(clean, estimate, sample_weight=np.array([1.0, 0.0]))
    assert _result(metric) == pytest.approx(ssim(clean[:1], estimate[:1]), abs=1e-3)
    # The second image, left out, scores 1: the mean of both is far higher.
    assert ssim(clean, estimate) > _result(metric) + 0.1


def test_identical_images_score_one_and_noise_lowers_it(rng):
    clean = rng.random((3, 16, 16, 1))
    metric = SSIM()
    metric.update_state(clean, clean)
    assert _result(metric) == pytest.approx(1.0, abs=1e-5)
    scores = []
    for noise_factor in (0.1, 0.3):
        metric.reset_state()
        metric.update_state(clean, GaussianNoise(noise_factor, seed=0)(clean))
        scores.append(_result(metric))
    assert 1.0 > scores[0] > scores[1]


def _uint8_pair(rng, shape):
    clean = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.integers(-40, 41, shape)
    return clean, np.clip(clean + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(2, 16, 16), (2, 16, 16, 1), (2, 12, 16, 3)])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_uint8_images_match_the_float_images_and_the_scikit_image_ssim(shape, as_tensor, rng):
    clean, estimate = _uint8_pair(rng, shape)
    convert = keras.ops.convert_to_tensor if as_tensor else np.asarray
    metric = SSIM()
    metric.update_state(convert(clean), convert(estimate))
    scaled = SSIM()
    scaled.update_state(clean / np.float32(255), estimate / np.float32(255))
    assert _result(metric) == pytest.approx(_result(scaled), abs=1e-6)
    assert _result(metric) == pytest.approx(ssim(clean, estimate), abs=1e-3)


@pytest.mark.parametrize("uint8_argument", ["y_true", "y_pred"])
def test_uint8_and_float_images_mix(uint8_argument, rng):
    clean, estimate = _uint8_pair(rng, (2, 16, 16, 1))
    float_estimate = estimate.astype("float32") / 255
    metric = SSIM()
    if uint8_argument == "y_true":
        metric.update_state(clean, float_estimate)
        expected = ssim(clean, estimate)
    else:
        metric.update_state(float_estimate, clean)
        expected = ssim(estimate, clean)
    assert _result(metric) == pytest.approx(expected, abs=1e-3)


def test_uint8_targets_in_compiled_evaluate(rng):
    inputs, targets = _uint8_pair(rng, (4, 16, 16, 1))
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Rescaling(1 / 255)])
    model.compile(loss="mse", metrics=[SSIM()])
    logs = model.evaluate(inputs, targets, batch_size=2, verbose=0, return_dict=True)
    assert logs["ssim"] == pytest.approx(ssim(targets, inputs), abs=1e-3)


@pytest.mark.parametrize("swap", [False, True])
def test_a_trailing_channel_axis_of_one_is_matched(swap, rng):
    clean = rng.random((4, 16, 16))
    estimate = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1)
    pair = (clean, estimate[..., None]) if not swap else (clean[..., None], estimate)
    metric = SSIM()
    metric.update_state(*pair)
    assert _result(metric) == pytest.approx(ssim(clean, estimate), abs=1e-4)


def test_targets_without_channel_axis_in_compiled_evaluate(rng):
    clean = rng.random((8, 16, 16)).astype("float32")
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1).astype("float32")
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Identity()])
    model.compile(loss="mse", metrics=[SSIM()])
    logs = model.evaluate(noisy[..., None], clean, batch_size=4, verbose=0, return_dict=True)
    assert logs["ssim"] == pytest.approx(ssim(clean, noisy), abs=1e-3)


def test_other_shape_mismatches_raise():
    metric = SSIM()
    with pytest.raises(ValueError, match=r"y_true with shape .* y_pred with shape"):
        metric.update_state(np.zeros((2, 16, 16, 3)), np.zeros((2, 16, 16)))


def test_config_round_trip_and_serialization():
    metric = SSIM(data_range=2.0, name="structure")
    config = metric.get_config()
    assert config["data_range"] == 2.0 and config["name"] == "structure"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is SSIM
    assert restored.get_config() == config


@pytest.mark.parametrize(
    "data_range", [0.0, -1.0, float("inf"), float("nan"), 1e-200, 9e-31, 2e30, 1e200]
)
def test_bad_data_range_value(data_range):
    with pytest.raises(ValueError, match="data_range"):
        SSIM(data_range=data_range)


@pytest.mark.parametrize("data_range", [1e-30, 1e-12, 1e12, 1e30])
def test_scores_are_unchanged_when_images_and_data_range_scale_together(data_range, rng):
    # SSIM's constants `(K * data_range)**2` are 0 or inf in float32 past 1e+-17, and the
    # local statistics of the images alike, so the scores were nan.
    clean = rng.random((2, 16, 16, 1))
    estimate = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0.0, 1.0)
    metric, scaled = SSIM(), SSIM(data_range=data_range)
    metric.update_state(clean, estimate)
    scaled.update_state(clean * data_range, estimate * data_range)
    assert _result(scaled) == pytest.approx(_result(metric), abs=1e-5)


@pytest.mark.parametrize("data_range", [1e-30, 1e30])
def test_identical_images_score_one_at_extreme_data_ranges(data_range):
    zeros = np.zeros((2, 16, 16, 1))
    metric = SSIM(data_range=data_range)
    metric.update_state(zeros, zeros)
    assert _result(metric) == pytest.approx(1.0)


@pytest.mark.parametrize("data_range", ["1", None])
def test_bad_data_range_type(data_range):
    with pytest.raises(TypeError, match="data_range"):
        SSIM(data_range=data_range)


@pytest.mark.parametrize("shape", [(2, 10, 16, 1), (2, 16, 8), (16, 16), (1, 2, 16, 16, 1)])
def test_bad_image_shapes(shape):
    metric = SSIM()
    with pytest.raises(ValueError, match="y_true"):
        metric.update_state(np.zeros(shape), np.zeros(shape))


def test_in_compile_fit_evaluate_and_saved_model(rng, tmp_path):
    images = rng.random((16, 16, 16, 1)).astype("float32")
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4)
    model.compile(metrics=[SSIM()])
    history = model.fit(images, images, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["ssim"][0])
    logs = model.evaluate(images, images, batch_size=8, verbose=0, return_dict=True)
    assert logs["ssim"] == pytest.approx(ssim(images, model.denoise(images)), abs=1e-3)
    model.save(tmp_path / "model.keras")
    restored = load_model(tmp_path / "model.keras")
    restored_logs = restored.evaluate(images, images, batch_size=8, verbose=0, return_dict=True)
    assert restored_logs["ssim"] == pytest.approx(logs["ssim"], abs=1e-5)


def test_runs_on_the_jax_backend():
    pytest.importorskip("jax")
    script = textwrap.dedent(
        """
        import numpy as np
        from keras_denoise.metrics import SSIM, ssim
        rng = np.random.default_rng(0)
        clean = rng.random((4, 32, 32, 3))
        estimate = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0.0, 1.0)
        metric = SSIM()
        metric.update_state(clean, estimate)
        print(float(metric.result()), ssim(clean, estimate))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env
    )
    computed, expected = map(float, result.stdout.split())
    assert computed == pytest.approx(expected, abs=1e-3)
