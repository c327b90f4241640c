import keras
import numpy as np
import pytest

from keras_denoise.metrics import PSNR, SSIM


def _value(tensor):
    return float(keras.ops.convert_to_numpy(keras.ops.cast(tensor, "float32")))


def _dtype(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    clean = rng.random((32, 16, 16, 1)).astype("float32")
    noisy = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1).astype("float32")
    return clean, noisy


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize(
    ("dtype", "result_dtype", "rel"),
    [
        ("float16", "float16", 2e-3),
        ("mixed_float16", "float16", 2e-3),
        ("bfloat16", "bfloat16", 1e-2),
        ("mixed_bfloat16", "bfloat16", 1e-2),
    ],
)
def test_16_bit_metrics_stay_right_over_thousands_of_images(
    metric_class, dtype, result_dtype, rel, batch
):
    # Accumulated in 16 bits, a PSNR total overflows float16 past 65504 (inf after ~2,200
    # images at 30 dB) and the count stops growing (2,048 in float16, 256 in bfloat16).
    metric, reference = metric_class(dtype=dtype), metric_class()
    for _ in range(100):
        metric.update_state(*batch)
    reference.update_state(*batch)
    assert _dtype(metric.result()) == result_dtype
    assert _value(metric.count) == 3200
    assert _value(metric.result()) == pytest.approx(_value(reference.result()), rel=rel)


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize("dtype", ["float16", "mixed_float16", "bfloat16"])
def test_the_config_keeps_the_16_bit_dtype(metric_class, dtype, batch):
    metric = metric_class(dtype=dtype)
    config = metric.get_config()
    assert config["dtype"] == keras.DTypePolicy(dtype).compute_dtype
    restored = metric_class.from_config(config)
    restored.update_state(*batch)
    assert _dtype(restored.result()) == config["dtype"]
    assert restored.get_config() == config


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize("dtype", [None, "float32"])
def test_other_dtypes_are_those_of_keras_mean(metric_class, dtype, batch):
    metric = metric_class(dtype=dtype)
    metric.update_state(*batch)
    assert metric.dtype == "float32" == metric.get_config()["dtype"]
    assert _dtype(metric.result()) == "float32"
