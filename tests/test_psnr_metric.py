import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, load_model
from keras_denoise.metrics import PSNR, psnr

_TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="only TensorFlow traces unknown sizes"
)


def _result(metric):
    return float(keras.ops.convert_to_numpy(keras.ops.cast(metric.result(), "float32")))


@pytest.mark.parametrize("shape", [(4, 16, 16), (4, 16, 16, 1), (4, 12, 16, 3)])
@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_matches_the_numpy_psnr(shape, data_range, rng):
    clean = rng.random(shape) * data_range
    estimate = clean + 0.05 * data_range * rng.standard_normal(shape)
    metric = PSNR(data_range=data_range)
    metric.update_state(clean, estimate)
    assert _result(metric) == pytest.approx(psnr(clean, estimate, data_range=data_range), rel=1e-4)


def test_averages_per_image_values_over_batches_and_resets(rng):
    clean = rng.random((6, 16, 16, 1))
    estimate = clean + 0.1 * rng.standard_normal(clean.shape)
    metric = PSNR()
    metric.update_state(clean[:2], estimate[:2])
    metric.update_state(clean[2:], estimate[2:])
    assert _result(metric) == pytest.approx(psnr(clean, estimate), rel=1e-4)
    metric.reset_state()
    assert _result(metric) == 0.0


def test_sample_weight_weights_images(rng):
    clean = rng.random((2, 16, 16, 1))
    estimate = clean + np.array([0.1, 0.01])[:, None, None, None]
    metric = PSNR()
    metric.update_state(clean, estimate, sample_weight=np.array([1.0, 0.0]))
    assert _result(metric) == pytest.approx(20.0, rel=1e-3)


def _uint8_pair(rng, shape):
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)


def test_uint8_images_are_scaled_to_the_unit_range():
    metric = PSNR()
    metric.update_state(np.full((2, 8, 8, 1), 100, "uint8"), np.full((2, 8, 8, 1), 110, "uint8"))
    assert _result(metric) == pytest.approx(20.0 * np.log10(25.5), rel=1e-5)


@pytest.mark.parametrize("shape", [(2, 8, 8), (2, 8, 8, 1), (3, 8, 6, 3)])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_uint8_images_match_the_float_images_and_the_numpy_psnr(shape, as_tensor, rng):
    clean, estimate = _uint8_pair(rng, shape)
    convert = keras.ops.convert_to_tensor if as_tensor else np.asarray
    metric = PSNR()
    metric.update_state(convert(clean), convert(estimate))
    scaled = PSNR()
    scaled.update_state(clean / np.float32(255), estimate / np.float32(255))
    assert _result(metric) == pytest.approx(_result(scaled), rel=1e-6)
    assert _result(metric) == pytest.approx(psnr(clean, estimate), rel=1e-5)


@pytest.mark.parametrize("uint8_argument", ["y_true", "y_pred"])
def test_uint8_and_float_images_mix(uint8_argument, rng):
    clean, estimate = _uint8_pair(rng, (2, 8, 8, 1))
    float_estimate = estimate.astype("float32") / 255
    metric = PSNR()
    if uint8_argument == "y_true":
        metric.update_state(clean, float_estimate)
    else:
        metric.update_state(float_estimate, clean)
    assert _result(metric) == pytest.approx(psnr(clean, estimate), rel=1e-5)


def test_uint8_targets_in_compiled_evaluate(rng):
    inputs, targets = _uint8_pair(rng, (4, 8, 8, 1))
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255)])
    model.compile(loss="mse", metrics=[PSNR()])
    logs = model.evaluate(inputs, targets, batch_size=2, verbose=0, return_dict=True)
    assert logs["psnr"] == pytest.approx(psnr(targets, inputs), rel=1e-5)


def test_other_integer_images_are_not_scaled():
    metric = PSNR(data_range=255.0)
    metric.update_state(np.full((1, 8, 8), 100, "int32"), np.full((1, 8, 8), 110, "int32"))
    assert _result(metric) == pytest.approx(20.0 * np.log10(25.5), rel=1e-5)


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_identical_images_are_capped_at_100_db(data_range, rng):
    images = rng.random((3, 16, 16, 1)) * data_range
    metric = PSNR(data_range=data_range)
    metric.update_state(images, images)
    assert _result(metric) == pytest.approx(100.0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_identical_images_are_capped_at_100_db_in_every_dtype(dtype, rng):
    # In float16 the clamp at 1e-10 would underflow to 0 and the PSNR be inf.
    images = rng.random((3, 16, 16, 1))
    with warnings.catch_warnings():
        # JAX without x64 computes a float64 metric in float32, and says so (JAX 0.10.2 on).
        warnings.filterwarnings(
            "ignore", message="Explicitly requested dtype float64", category=UserWarning
        )
        metric = PSNR(dtype=dtype)
        metric.update_state(images, images)
    assert _result(metric) == pytest.approx(100.0, rel=1e-2)


@pytest.mark.parametrize("swap", [False, True])
def test_a_trailing_channel_axis_of_one_is_matched(swap, rng):
    # (N, H, W) against (N, H, W, 1) with N == W: broadcasting would pair every image with
    # every row.
    clean = rng.random((16, 16, 16))
    estimate = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1)
    pair = (clean, estimate[..., None]) if not swap else (clean[..., None], estimate)
    metric = PSNR()
    metric.update_state(*pair)
    assert _result(metric) == pytest.approx(psnr(clean, estimate), rel=1e-4)


def test_targets_without_channel_axis_in_compiled_evaluate(rng):
    clean = rng.random((16, 16, 16)).astype("float32")
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1).astype("float32")
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Identity()])
    model.compile(loss="mse", metrics=[PSNR()])
    logs = model.evaluate(noisy[..., None], clean, batch_size=8, verbose=0, return_dict=True)
    assert logs["psnr"] == pytest.approx(psnr(clean, noisy), rel=1e-4)


@pytest.mark.parametrize(
    ("true_shape", "pred_shape"),
    [((2, 8, 8), (2, 8, 6)), ((2, 8, 8, 3), (2, 8, 8)), ((2, 8, 8, 1), (2, 8, 8, 2))],
)
def test_other_shape_mismatches_raise(true_shape, pred_shape):
    metric = PSNR()
    with pytest.raises(ValueError, match=r"y_true with shape .* y_pred with shape"):
        metric.update_state(np.zeros(true_shape), np.zeros(pred_shape))


def test_config_round_trip_and_serialization():
    metric = PSNR(data_range=255.0, name="peak", dtype="float16")
    config = metric.get_config()
    assert config["data_range"] == 255.0 and config["name"] == "peak"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is PSNR
    assert restored.get_config() == config


@pytest.mark.parametrize(
    "data_range", [0.0, -2.0, float("inf"), float("nan"), 1e-200, 9e-31, 2e30, 1e200]
)
def test_bad_data_range_value(data_range):
    with pytest.raises(ValueError, match="data_range"):
        PSNR(data_range=data_range)


@pytest.mark.parametrize("data_range", [1e-30, 1e-12, 1e12, 1e30])
def test_scores_are_unchanged_when_images_and_data_range_scale_together(data_range, rng):
    # `data_range**2` is 0 or inf in float32 past 1e+-19, and so were the metric's scores.
    clean = rng.random((2, 16, 16, 1))
    estimate = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0.0, 1.0)
    metric, scaled = PSNR(), PSNR(data_range=data_range)
    metric.update_state(clean, estimate)
    scaled.update_state(clean * data_range, estimate * data_range)
    assert _result(scaled) == pytest.approx(_result(metric), rel=1e-5)


@pytest.mark.parametrize("data_range", [1e-30, 1e30])
def test_identical_images_are_capped_at_100_db_at_extreme_data_ranges(data_range, rng):
    images = rng.random((2, 16, 16, 1)) * data_range
    metric = PSNR(data_range=data_range)
    metric.update_state(images, images)
    assert _result(metric) == pytest.approx(100.0)


@pytest.mark.parametrize("data_range", ["1", None, [1.0]])
def test_bad_data_range_type(data_range):
    with pytest.raises(TypeError, match="data_range"):
        PSNR(data_range=data_range)


def test_in_compile_fit_evaluate_and_saved_model(rng, tmp_path):
    images = rng.random((16, 16, 16, 1)).astype("float32")
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4)
    model.compile(metrics=[PSNR()])
    history = model.fit(images, images, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["psnr"][0])
    logs = model.evaluate(images, images, batch_size=8, verbose=0, return_dict=True)
    expected = psnr(images, model.denoise(images))
    assert logs["psnr"] == pytest.approx(expected, rel=1e-3)
    model.save(tmp_path / "model.keras")
    restored = load_model(tmp_path / "model.keras")
    restored_logs = restored.evaluate(images, images, batch_size=8, verbose=0, return_dict=True)
    assert restored_logs["psnr"] == pytest.approx(logs["psnr"], rel=1e-4)


def test_runs_on_the_jax_backend():
    pytest.importorskip("jax")
    script = textwrap.dedent(
        """
        import numpy as np
        from keras_denoise.metrics import PSNR, psnr
        rng = np.random.default_rng(0)
        clean = rng.random((4, 16, 16, 1))
        estimate = clean + 0.1 * rng.standard_normal(clean.shape)
        metric = PSNR()
        metric.update_state(clean, estimate)
        print(float(metric.result()), psnr(clean, estimate))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env
    )
    computed, expected = map(float, result.stdout.split())
    assert computed == pytest.approx(expected, rel=1e-4)


@_TF_ONLY
def test_sizes_unknown_while_tracing_are_not_a_mismatch():
    # A fully convolutional model's output sizes can be unknown in a traced step.
    import tensorflow as tf

    metric = PSNR()
    known, unknown = tf.TensorSpec((None, 8, 8, 1)), tf.TensorSpec((None, None, None, 1))

    @tf.function(input_signature=[known, unknown])
    def update(y_true, y_pred):
        metric.update_state(y_true, y_pred)

    update(np.zeros((2, 8, 8, 1), "float32"), np.full((2, 8, 8, 1), 0.1, "float32"))
    assert _result(metric) == pytest.approx(20.0, abs=1e-4)
