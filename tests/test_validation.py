"""The argument checks shared by the whole package, tested directly."""

import re

import numpy as np
import pytest

from keras_denoise import _validation


def test_short_repr_shortens_long_values_and_describes_arrays():
    text = _validation._short_repr(list(range(100)))
    assert len(text) == 80 and text.endswith("...") and text.startswith("[0, 1, 2")
    assert _validation._short_repr((1, 2)) == "(1, 2)"
    array = np.zeros((3, 4), np.float32)
    assert _validation._short_repr(array) == "array(shape=(3, 4), dtype=float32)"


def test_messages_echo_a_short_value():
    # A huge argument is named, not printed in full.
    with pytest.raises(TypeError, match=r"Received: filters=\[\[0, 0, .*\.\.\.$"):
        _validation.check_filters([[0] * 1000], "filters")
    with pytest.raises(TypeError, match=r"Received: seed=array\(shape=\(1000,\), dtype=int64\)$"):
        _validation.check_seed(np.arange(1000), "seed")


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (
            "16",
            TypeError,
            r"`filters` must be a sequence of positive integers\. Received: filters='16'",
        ),
        (b"\x10", TypeError, r"`filters` must be a sequence of positive integers"),
        ((8,) * 9, ValueError, r"`filters` must hold between 1 and 8 integers"),
        ((), ValueError, r"`filters` must hold between 1 and 8 integers"),
        ((8, 2.0), TypeError, r"`filters` must hold integers between 1 and 4096"),
        ((8, True), TypeError, r"`filters` must hold integers between 1 and 4096"),
        ((8, 0), ValueError, r"`filters` must hold integers between 1 and 4096"),
        ((8, 4097), ValueError, r"`filters` must hold integers between 1 and 4096"),
    ],
)
def test_check_filters_refuses(value, error, match):
    with pytest.raises(error, match=match):
        _validation.check_filters(value, "filters")


def test_check_filters_takes_up_to_eight_stages_of_numpy_integers():
    assert _validation.check_filters([np.int64(4)] * 8, "filters") == (4,) * 8


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ((16, 16, 65), r"between 1 and 64 channels\. Received: image_shape=\(16, 16, 65\)"),
        ((16, 16, 0), r"between 1 and 64 channels"),
        ((3, 16, 1), r"height and width between 4 and 8192"),
        ((16, 8193, 1), r"height and width between 4 and 8192"),
    ],
)
def test_check_image_shape_bounds(value, match):
    with pytest.raises(ValueError, match=match):
        _validation.check_image_shape(value)


def test_check_image_shape_takes_the_bounds_themselves():
    assert _validation.check_image_shape((4, 8192, 64)) == (4, 8192, 64)


@pytest.mark.parametrize(
    "policy", [None, "float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"]
)
def test_check_model_dtype_takes_every_floating_policy(policy):
    result = _validation.check_model_dtype(policy)
    assert result.variable_dtype in ("float16", "bfloat16", "float32", "float64")


@pytest.mark.parametrize("dtype", ["int16", "uint16", "int64"])
def test_integer_images_other_than_uint8_get_a_hint(dtype):
    with pytest.raises(TypeError, match=r"dtype .*; convert it with `images\.astype\('float32'\)"):
        _validation.as_float_images(np.zeros((4, 4), dtype))


def test_boolean_images_get_no_integer_hint():
    with pytest.raises(TypeError, match=r"with dtype bool$"):
        _validation.as_float_images(np.zeros((4, 4), bool))


class _Pipeline:
    """Not an array, as a `tf.data.Dataset` is not: NumPy makes it a 0-d object array."""

    def __repr__(self):
        return "<a data pipeline>"


@pytest.mark.parametrize(
    "images", ["abc", b"abc", [[0.1, 0.2], [0.3]], [np.zeros(2), np.zeros(3)], _Pipeline()]
)
def test_images_that_are_not_numeric_arrays(images):
    # A pipeline was said to have "dtype object", without its value.
    received = re.escape(_validation._short_repr(images))
    message = (
        r"^`images` must be a numeric array \(a NumPy array of images, say\)\. "
        rf"Received: images={received}$"
    )
    with pytest.raises(TypeError, match=message):
        _validation.as_float_images(images)


def test_bfloat16_images_are_floats():
    # A mixed_bfloat16 model's outputs convert to ml_dtypes' bfloat16, which NumPy does not
    # count as floating: they were refused as not "floating-point pixels".
    ml_dtypes = pytest.importorskip("ml_dtypes")
    pixels = np.array([[0.0, 0.25, 1.0]], ml_dtypes.bfloat16)
    result = _validation.as_float_images(pixels, check_range=True)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, [[0.0, 0.25, 1.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uint8_images_are_scaled_in_the_dtype_asked_for(dtype):
    result = _validation.as_float_images(np.array([[0, 51, 255]], np.uint8), dtype=dtype)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, np.array([[0, 51, 255]], dtype) / np.asarray(255, dtype))


def test_a_seed_of_none_is_refused_unless_allowed():
    assert _validation.check_seed(None, allow_none=True) is None
    message = r"`seed` must be an integer between 0 and 2\*\*32 - 1\. Received: seed=None$"
    with pytest.raises(TypeError, match=message):
        _validation.check_seed(None)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 images"), (1, "1 image"), (2, "2 images"), (1200, "1,200 images")],
)
def test_counted_says_one_without_plural(count, expected):
    assert _validation.counted(count, "image") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(np.float32(1.01), "1.01"), (np.float32(1.0000001), "1.0000001"), (np.float32(200), "200"),
     (-0.5, "-0.5"), (0.0, "0"), (np.float16(1.5), "1.5"), (1e30, "1e+30"), (3e-6, "3e-06")],
)  # fmt: skip
def test_short_float_gives_the_digits_that_tell_a_float_apart(value, expected):
    assert _validation.short_float(value) == expected


@pytest.mark.parametrize("channels", [1, 3])
def test_check_batch_layout_refuses_one_image_read_as_a_batch(channels):
    shape = (28, 20, channels)
    match = re.escape(
        f"`clean` is ambiguous: one image with {channels} channel"
        f"{'' if channels == 1 else 's'}, or a batch of 28 grayscale images 20 pixels high "
        f"and {channels} wide. Pass one image as a batch of one (`clean[None]`, shape "
        f"(1, 28, 20, {channels})), or narrow images with a channel axis (shape "
        f"(28, 20, {channels}, 1)). Received: clean with shape {shape}"
    )
    with pytest.raises(ValueError, match=match):
        _validation.check_batch_layout(np.zeros(shape), "clean")


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 16, 2), (3, 16, 4), (1, 16, 16, 3), (16, 16)])
def test_check_batch_layout_takes_batches_and_other_ranks(shape):
    _validation.check_batch_layout(np.zeros(shape))
