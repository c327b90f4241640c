import re

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


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize(
    "dtype", ["int32", "int64", "uint8", "bool", "complex64", keras.DTypePolicy("int32")]
)
def test_a_dtype_that_is_not_floating_point_is_refused(metric_class, dtype):
    # An int32 PSNR would truncate its mean (25 for 26.15 dB); an int32 SSIM fails in its
    # convolution.
    expected = re.escape(
        "`dtype` must be a floating-point dtype or dtype policy, such as 'float32' or "
        f"'mixed_bfloat16'. Received: dtype={dtype!r}"
    )
    with pytest.raises(ValueError, match=expected):
        metric_class(dtype=dtype)


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize("dtype", ["float", "not_a_dtype", 3, ""])
def test_a_dtype_keras_cannot_read_is_refused_in_the_same_words(metric_class, dtype):
    with pytest.raises(ValueError, match=r"`dtype` must be a floating-point dtype"):
        metric_class(dtype=dtype)


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize(
    ("dtype", "result_dtype"),
    [
        ("bfloat16", "bfloat16"),
        (keras.DTypePolicy("float16"), "float16"),
        (keras.DTypePolicy("mixed_bfloat16"), "bfloat16"),
        ("int8_from_float32", "float32"),
    ],
)
def test_floating_point_dtypes_and_policies_are_accepted(metric_class, dtype, result_dtype):
    assert metric_class(dtype=dtype).get_config()["dtype"] == result_dtype


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
@pytest.mark.parametrize("name", [3, b"psnr", ["psnr"]])
def test_a_name_that_is_not_a_string_is_refused(metric_class, name):
    expected = re.escape(f"`name` must be a string. Received: name={name!r}")
    with pytest.raises(TypeError, match=expected):
        metric_class(name=name)


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
def test_the_name_is_checked_first(metric_class):
    with pytest.raises(TypeError, match="`name` must be a string"):
        metric_class(data_range=-1.0, name=3, dtype="int32")


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
def test_no_name_is_the_default_name(metric_class):
    assert metric_class(name=None).name == metric_class().name


@pytest.mark.parametrize("metric_class", [PSNR, SSIM])
def test_no_dtype_follows_keras_floatx(metric_class):
    rng = np.random.default_rng(0)
    clean = rng.random((4, 16, 16, 1))
    keras.config.set_floatx("float16")  # not float64, which JAX without x64 computes in float32
    try:
        metric = metric_class()
        metric.update_state(clean, np.clip(clean + 0.05, 0, 1))
        assert metric.get_config()["dtype"] == "float16" == _dtype(metric.result())
    finally:
        keras.config.set_floatx("float32")


def test_image_mean_checks_the_name_first():
    # PSNR and SSIM check `name` themselves; the base class promises the same order.
    from keras_denoise._image_mean import ImageMean

    with pytest.raises(TypeError, match="`name` must be a string"):
        ImageMean(name=3, dtype="int32")
