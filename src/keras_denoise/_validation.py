"""Argument checks shared by every public function and class.

Every check raises *before* any backend work starts, with a message that names
the argument and echoes the value received, in the Keras style::

    `latent_dim` must be a positive integer. Received: latent_dim=0
"""

from __future__ import annotations

import math
import numbers
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np

# Upper bounds that keep a crafted configuration from allocating unbounded memory.
MAX_FILTERS = 4096
MAX_LATENT_DIM = 65536
MAX_IMAGE_SIDE = 8192
MAX_CHANNELS = 64
MAX_NOISE_FACTOR = 1e6
# The most weights a model's convolutions (and, separately, its dense layers) may hold: 1 GiB
# in float32, so a crafted config fails before building instead of allocating without bound.
MAX_WEIGHTS = 2**28
MAX_BATCH_SIZE = 1 << 20
MAX_EPOCHS = 1 << 20
MAX_STAGES = 8
# The most 3x3 convolutions `UNetDenoiser` accepts in one block.
MAX_CONVOLUTIONS = 16
# Largest seed accepted: `keras.utils.set_random_seed` seeds NumPy, which takes at most 2**32 - 1.
MAX_SEED = 2**32 - 1
# What NumPy raises for a file that is not a readable `.npy` or `.npz` (zlib's error for a
# damaged compressed member of an `.npz`).
NUMPY_FILE_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def numpy_file_problem(error: BaseException) -> str:
    """`error`, from NumPy loading a file without pickles, in a user's words.

    NumPy takes any file that is neither `.npy` nor zip for a pickle, and says
    it "contains pickled (object) data", as of a text file.
    """
    if isinstance(error, ValueError) and str(error).startswith("This file contains pickled"):
        return "it is not a NumPy file: neither an `.npy` array nor an `.npz` archive"
    return str(error)
# `keras.random.SeedGenerator` keeps its state in int32 on the torch backend.
MAX_LAYER_SEED = 2**31 - 1
# The data ranges the image metrics accept: SSIM divides products of two terms of the order of
# `data_range**2` (its constants are `(K * data_range)**2`, K 0.01 and 0.03), which these bounds
# keep normal float64 numbers (1e-127 to 1e120), and `data_range` a normal float32 number.
MIN_DATA_RANGE = 1e-30
MAX_DATA_RANGE = 1e30


def _short_repr(value: Any, limit: int = 80) -> str:
    """`repr(value)`, shortened for arrays and long values."""
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def short_float(value: Any) -> str:
    """The shortest digits that tell a NumPy float from its neighbours: 1.0000001, not 1."""
    number = float(value)  # for the comparisons; `value` keeps its precision for the digits
    if number == 0 or 1e-4 <= abs(number) < 1e16:
        return np.format_float_positional(value, trim="-")
    return np.format_float_scientific(value, trim="-")


def check_batch_layout(images: np.ndarray, name: str = "images") -> None:
    """Refuse a rank-3 batch `(N, height, width)` that reads as one image with channels.

    Read as a batch, one `(height, width, 1 or 3)` image (as `read_image` returns) would be
    `height` images 1 or 3 pixels wide, scored or drawn without an error.
    """
    shape = images.shape
    if images.ndim == 3 and shape[-1] in (1, 3):
        message = (
            f"`{name}` is ambiguous: one image with {counted(shape[-1], 'channel')}, or a "
            f"batch of {shape[0]} grayscale images {shape[1]} pixels high and {shape[2]} wide. "
            f"Pass one image as a batch of one (`{name}[None]`, shape {(1, *shape)}), or "
            f"narrow images with a channel axis (shape {(*shape, 1)}). "
            f"Received: {name} with shape {shape}"
        )
        raise ValueError(message)


def check_within_clip(
    images: np.ndarray, clip: tuple[float, float] | None, name: str = "images"
) -> None:
    """Refuse clean `images` outside [0, 1] and `clip`, when their noisy copies are clipped.

    Float pixels in 0-255 (not scaled to [0, 1]) have noisy copies clipped to [0, 1]: a
    model would learn toward pixels its inputs never reach. `clip=None` takes any range.
    """
    if clip is None:
        return
    bounds = (min(0.0, clip[0]), max(1.0, clip[1]))
    if images.min() < bounds[0] or images.max() > bounds[1]:
        allowed = "[0, 1]" if bounds == (0.0, 1.0) else f"[{bounds[0]:g}, {bounds[1]:g}]"
        message = (
            f"`{name}` must hold pixels in {allowed} (floats, or uint8 0-255), as the noisy "
            f"images are clipped to `clip` {clip}; pass clip=None for other ranges. "
            f"Received: {name} with values in "
            f"[{short_float(images.min())}, {short_float(images.max())}]"
        )
        raise ValueError(message)


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, plural unless one: "1 image", "1,200 images"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def is_int(value: Any) -> bool:
    """Whether `value` is an integer (and not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value: Any, name: str, *, maximum: int | None = None) -> int:
    """Return `value` as an `int` if it is an integer in `[1, maximum]`."""
    if not is_int(value) or value < 1:
        message = f"`{name}` must be a positive integer. Received: {name}={_short_repr(value)}"
        raise ValueError(message) if is_int(value) else TypeError(message)
    if maximum is not None and value > maximum:
        message = (
            f"`{name}` must be at most {maximum}. Received: {name}={_short_repr(value)}"
        )
        raise ValueError(message)
    return int(value)


@overload
def check_seed(
    value: Any, name: str = "seed", *, allow_none: Literal[False] = False, maximum: int = MAX_SEED
) -> int: ...
@overload
def check_seed(
    value: Any, name: str = "seed", *, allow_none: bool, maximum: int = MAX_SEED
) -> int | None: ...
def check_seed(
    value: Any, name: str = "seed", *, allow_none: bool = False, maximum: int = MAX_SEED
) -> int | None:
    """Return `value` as an `int` if it is an integer in `[0, maximum]` (or `None`, if allowed).

    Bools and non-integers raise `TypeError`; integers outside the range raise
    `ValueError`. NumPy integer types are accepted. `maximum` is `MAX_SEED`
    for NumPy's generators, `MAX_LAYER_SEED` for `keras.random.SeedGenerator`.
    """
    if value is None and allow_none:
        return None
    bound = {MAX_SEED: "2**32 - 1", MAX_LAYER_SEED: "2**31 - 1"}.get(maximum, str(maximum))
    expected = f"an integer between 0 and {bound}{' or None' if allow_none else ''}"
    if not is_int(value):
        message = f"`{name}` must be {expected}. Received: {name}={_short_repr(value)}"
        raise TypeError(message)
    if not 0 <= value <= maximum:
        message = f"`{name}` must be {expected}. Received: {name}={_short_repr(value)}"
        raise ValueError(message)
    return int(value)


def check_nonnegative_float(value: Any, name: str, *, maximum: float | None = None) -> float:
    """Return `value` as a `float` if it is a finite real number `>= 0`."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        message = f"`{name}` must be a non-negative number. Received: {name}={_short_repr(value)}"
        raise TypeError(message)
    try:
        number = float(value)
    except OverflowError:  # an integer past float64's range
        number = math.inf
    if not math.isfinite(number) or number < 0:
        message = (
            f"`{name}` must be a finite, non-negative number. "
            f"Received: {name}={_short_repr(value)}"
        )
        raise ValueError(message)
    if maximum is not None and number > maximum:
        message = f"`{name}` must be at most {maximum}. Received: {name}={_short_repr(value)}"
        raise ValueError(message)
    return number


def check_noise_factor(value: Any, name: str = "noise_factor") -> float:
    """Return `value` as a `float` from 0 to `MAX_NOISE_FACTOR`.

    The noise is drawn in float32, where a factor near its largest value (3.4e38)
    would overflow to infinite pixels; on images in [0, 1] any factor far above 1
    only saturates them.
    """
    return check_nonnegative_float(value, name, maximum=MAX_NOISE_FACTOR)


def check_data_range(value: Any, name: str = "data_range") -> float:
    """Return `value` as a `float` if it is a number from `MIN_DATA_RANGE` to `MAX_DATA_RANGE`.

    Bools and non-numbers raise `TypeError`; other values, NaN included, `ValueError`.
    """
    expected = f"a number between {MIN_DATA_RANGE:g} and {MAX_DATA_RANGE:g}"
    message = f"`{name}` must be {expected}. Received: {name}={_short_repr(value)}"
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(message)
    try:
        number = float(value)
    except OverflowError:  # an integer past float64's range
        number = math.inf
    if not MIN_DATA_RANGE <= number <= MAX_DATA_RANGE:  # False for NaN too
        raise ValueError(message)
    return number


def check_finite_output(values: np.ndarray, what: str, received: str) -> None:
    """Refuse NaN or infinite `values` that a model returned, as from a diverged training.

    The message reads "`model` must {what} (...). Received: {received} with N such values".
    """
    finite = np.isfinite(values)
    if not finite.all():
        message = (
            f"`model` must {what} (NaN or infinite ones come from a model whose training "
            f"diverged). Received: {received} with {int(finite.size - finite.sum())} such values"
        )
        raise ValueError(message)


def row_number(value: Any, key: str) -> float:
    """An `evaluate` row's number under `key`, or `TypeError`.

    JSON's null under "psnr" is an infinite PSNR (noise factor 0), as
    `keras-denoise evaluate --json` writes it; strings and bools are no numbers.
    """
    if value is None and key == "psnr":
        return math.inf
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        message = f"`{key}` must be a number. Received: {key}={_short_repr(value)}"
        raise TypeError(message)
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    """Return `value` if it is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        message = f"`{name}` must be True or False. Received: {name}={_short_repr(value)}"
        raise TypeError(message)
    return bool(value)


def check_filters(value: Any, name: str, *, maximum: int = MAX_FILTERS) -> tuple[int, ...]:
    """Return `value` as a tuple of ints in `[1, maximum]` (1 to `MAX_STAGES` of them)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        message = (
            f"`{name}` must be a sequence of positive integers. "
            f"Received: {name}={_short_repr(value)}"
        )
        raise TypeError(message)
    if not 1 <= len(value) <= MAX_STAGES:
        message = (
            f"`{name}` must hold between 1 and {MAX_STAGES} integers. "
            f"Received: {name}={_short_repr(value)}"
        )
        raise ValueError(message)
    for item in value:
        if not is_int(item) or not 1 <= item <= maximum:
            message = (
                f"`{name}` must hold integers between 1 and {maximum}. "
                f"Received: {name}={_short_repr(value)}"
            )
            raise ValueError(message) if is_int(item) else TypeError(message)
    return tuple(int(item) for item in value)


# The keywords `keras.Model(inputs, outputs, ...)` acts on besides `dtype` (which the models of
# this package read themselves); it silently ignores any other.
MODEL_KEYWORDS = ("name", "trainable")


def check_convolutions(value: Any, levels: int) -> tuple[int, ...]:
    """`value` as one count of convolutions per level (an int applies to every level)."""
    if is_int(value):
        count = check_positive_int(value, "convolutions", maximum=MAX_CONVOLUTIONS)
        return (count,) * levels
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        message = (
            "`convolutions` must be a positive integer, or a sequence of one per level. "
            f"Received: convolutions={_short_repr(value)}"
        )
        raise TypeError(message)
    counts = check_filters(value, "convolutions", maximum=MAX_CONVOLUTIONS)
    if len(counts) != levels:
        message = (
            f"`convolutions` must hold one count per level of `filters` ({levels}). "
            f"Received: convolutions={value!r}"
        )
        raise ValueError(message)
    return counts


def check_model_kwargs(kwargs: dict, owner: str) -> None:
    """Refuse keywords that neither `owner` nor `keras.Model` would use (typos, say)."""
    unknown = sorted(set(kwargs) - set(MODEL_KEYWORDS))
    if unknown:
        received = ", ".join(f"{key}={_short_repr(kwargs[key])}" for key in unknown)
        message = (
            f"`{owner}` got unexpected keyword arguments: {', '.join(unknown)}. It takes its "
            f"hyperparameters and `name`, `dtype` and `trainable`. Received: {received}"
        )
        raise TypeError(message)
    if "trainable" in kwargs:  # keras.Model would take any truthy value
        check_bool(kwargs["trainable"], "trainable")


def check_model_dtype(value: Any) -> Any:
    """`value` (a dtype policy, its name, or None for Keras's default) as a `DTypePolicy`.

    Only floating-point policies: a model's weights are initialized at random,
    which an integer or boolean policy cannot do.
    """
    import keras

    try:
        policy = keras.dtype_policies.get(value or keras.config.dtype_policy())
    except (TypeError, ValueError):
        policy = None
    floating = ("float16", "bfloat16", "float32", "float64")
    if policy is None or policy.variable_dtype not in floating or policy.quantization_mode:
        message = (
            "`dtype` must be a floating-point dtype policy, such as 'float32' or "
            f"'mixed_bfloat16'. Received: dtype={_short_repr(value)}"
        )
        raise ValueError(message)
    return policy


def check_shape_triple(value: Any, name: str = "image_shape") -> None:
    """Refuse `value` unless it is a sequence of three items, `(height, width, channels)`.

    `TypeError` for a value that is no sequence (a string, a number, None),
    `ValueError` for a sequence of another length.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
        message = (
            f"`{name}` must be a tuple (height, width, channels). "
            f"Received: {name}={_short_repr(value)}"
        )
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(message)
        raise ValueError(message)


def check_image_shape(value: Any, name: str = "image_shape", *, min_side: int = 4) -> tuple:
    """Return `value` as `(height, width, channels)` of ints within the library's bounds."""
    check_shape_triple(value, name)
    if not all(is_int(item) for item in value):
        message = f"`{name}` must hold integers. Received: {name}={_short_repr(value)}"
        raise TypeError(message)
    height, width, channels = (int(item) for item in value)
    if not (min_side <= height <= MAX_IMAGE_SIDE and min_side <= width <= MAX_IMAGE_SIDE):
        message = (
            f"`{name}` must have a height and width between {min_side} and {MAX_IMAGE_SIDE}. "
            f"Received: {name}={_short_repr(value)}"
        )
        raise ValueError(message)
    if not 1 <= channels <= MAX_CHANNELS:
        message = (
            f"`{name}` must have between 1 and {MAX_CHANNELS} channels. "
            f"Received: {name}={_short_repr(value)}"
        )
        raise ValueError(message)
    return (height, width, channels)


def check_activation(value: Any, name: str) -> str:
    """Return `value` if it names a built-in Keras activation."""
    import keras

    if not isinstance(value, str):
        message = (
            f"`{name}` must be the name of a Keras activation, such as 'relu'. "
            f"Received: {name}={_short_repr(value)}"
        )
        raise TypeError(message)
    try:
        keras.activations.get(value)
    except (ValueError, TypeError):
        message = f"`{name}` is not a known Keras activation. Received: {name}={value!r}"
        raise ValueError(message) from None
    return value


def cast_pixels(images: Any, dtype: Any) -> Any:
    """`images` as a backend tensor of `dtype`, with uint8 pixels scaled to [0, 1].

    The tensor counterpart of `as_float_images` for code written with
    `keras.ops` (such as the Keras metrics): a `uint8` input is cast to float32
    and divided by 255 before the cast to `dtype`; any other input is only cast.
    The dtype is known when a step is traced, so this works inside compiled
    steps on every backend.
    """
    from keras import backend, ops

    images = ops.convert_to_tensor(images)
    if backend.standardize_dtype(images.dtype) == "uint8":
        images = ops.divide(ops.cast(images, "float32"), ops.convert_to_tensor(255.0, "float32"))
    return ops.cast(images, dtype)


def cast_pixel_pairs(y_true: Any, y_pred: Any, dtype: Any) -> tuple[Any, Any]:
    """`cast_pixels` of a metric's targets and predictions, brought to one shape.

    As Keras's own losses and metrics do, a trailing channel axis of size 1
    that only one of the two has is added to the other: a model for images
    `(height, width, 1)` is fit to targets `(N, height, width)`. Shapes that
    still differ where both are known raise a `ValueError` naming both
    (broadcasting would silently score the wrong pixels).
    """
    y_true, y_pred = cast_pixels(y_true, dtype), cast_pixels(y_pred, dtype)
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if len(true_shape) == len(pred_shape) - 1 and pred_shape[-1] == 1:
        y_true, true_shape = y_true[..., None], (*true_shape, 1)
    elif len(pred_shape) == len(true_shape) - 1 and true_shape[-1] == 1:
        y_pred, pred_shape = y_pred[..., None], (*pred_shape, 1)
    pairs = zip(true_shape, pred_shape, strict=False)
    if len(true_shape) != len(pred_shape) or any(
        a is not None and b is not None and a != b for a, b in pairs
    ):
        message = (
            "`y_true` and `y_pred` must have the same shape (or differ only by a trailing "
            f"channel axis of size 1). Received: y_true with shape {true_shape}, y_pred with "
            f"shape {pred_shape}"
        )
        raise ValueError(message)
    return y_true, y_pred


def as_float_images(
    images: Any,
    name: str = "images",
    *,
    min_ndim: int = 2,
    max_ndim: int = 4,
    check_range: bool = False,
    dtype: str = "float32",
) -> np.ndarray:
    """Return `images` as a new NumPy array of `dtype` (float32) after checking it.

    Float arrays are cast to `dtype`. `uint8` arrays are taken to hold 8-bit
    pixels and are scaled to [0, 1] (divided by 255, in `dtype`). Other integer types,
    booleans, complex numbers, strings and objects raise `TypeError`. Empty
    arrays, NaN or infinite pixels, and a rank outside `[min_ndim, max_ndim]`
    raise `ValueError`.
    """
    try:
        array = None if isinstance(images, (str, bytes)) else np.asarray(images)
    except (ValueError, TypeError):
        array = None
    if array is None or (array.dtype == object and array.ndim == 0):  # not an array at all
        message = (
            f"`{name}` must be a numeric array (a NumPy array of images, say). "
            f"Received: {name}={_short_repr(images)}"
        )
        raise TypeError(message)
    if array.dtype == np.uint8:
        array = array.astype(dtype) / np.asarray(255.0, dtype)
    elif np.issubdtype(array.dtype, np.floating) or array.dtype.name == "bfloat16":
        # bfloat16 (ml_dtypes', as a mixed-precision model's outputs convert to) is a float
        # that NumPy does not count among its own.
        array = array.astype(dtype, copy=True)
    else:
        message = (
            f"`{name}` must hold floating-point pixels, or uint8 pixels in 0-255. "
            f"Received: {name} with dtype {array.dtype}"
        )
        if np.issubdtype(array.dtype, np.integer):
            message += "; convert it with `images.astype('float32') / max_value` first"
        raise TypeError(message)
    if not min_ndim <= array.ndim <= max_ndim:
        message = (
            f"`{name}` must have between {min_ndim} and {max_ndim} dimensions. "
            f"Received: {name} with shape {array.shape}"
        )
        raise ValueError(message)
    if array.size == 0:
        message = f"`{name}` must not be empty. Received: {name} with shape {array.shape}"
        raise ValueError(message)
    if not np.isfinite(array).all():
        message = (
            f"`{name}` must not contain NaN or infinite values. Received: {_short_repr(array)}"
        )
        raise ValueError(message)
    if check_range and (array.min() < 0.0 or array.max() > 1.0):
        message = (
            f"`{name}` must hold pixels in [0, 1]. Received: {name} with values in "
            f"[{short_float(array.min())}, {short_float(array.max())}]"
        )
        raise ValueError(message)
    return array
