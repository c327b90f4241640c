"""Datasets: MNIST, a small offline sample of it, and your own image files.

- `load_mnist` returns the 60,000 + 10,000 MNIST digits, downloaded once by
  `keras.datasets.mnist` or read from a local `.npz` in the same layout.
- `load_sample_digits` returns 3,000 + 600 real MNIST digits that ship inside
  the package, so it works offline (examples, tests, quick experiments).
- `load_images`, `read_image` and `write_image` read and write PNG, JPEG and
  `.npy` image files.

Every loader returns float32 images in [0, 1] laid out as
`(N, height, width, channels)`, the layout the denoisers take.

>>> from keras_denoise import datasets
>>> x_train, x_test = datasets.load_sample_digits()
>>> x_train.shape, x_test.shape, x_train.dtype
((3000, 28, 28, 1), (600, 28, 28, 1), dtype('float32'))

The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges, and is distributed under the Creative Commons
Attribution-Share Alike 3.0 licence
(https://creativecommons.org/licenses/by-sa/3.0/). The bundled sample,
`keras_denoise/data/sample_digits.npz`, holds unmodified MNIST digits and
keeps that licence and attribution (see NOTICE). It was drawn, stratified by
class and with a fixed seed, by `scripts/make_sample_digits.py`, and records
the SHA-256 of the MNIST file it came from, the seed and the MNIST indices of
its digits.
"""

from __future__ import annotations

import importlib.resources
import os
import warnings
from collections.abc import Sequence
from typing import Any, Literal, overload

import keras
import numpy as np
from PIL import Image, ImageOps

from keras_denoise import _validation
from keras_denoise._saving import atomic_path

__all__ = ["load_mnist", "load_sample_digits", "load_images", "read_image", "write_image"]

_MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
_MNIST_SIDE = 28
_FOLDER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".npy")
_PILLOW_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_JPEG_QUALITY = 95
# Pillow band layouts that hold one grey level per pixel (with or without alpha).
_GRAY_BANDS = {("1",), ("L",), ("L", "A"), ("La",), ("I",)}
# What Pillow raises for a file it cannot identify or decode.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, Image.DecompressionBombError)
# The ITU-R 601-2 luma weights of Pillow's RGB -> "L" conversion, applied to `.npy` images
# so that they turn grayscale as PNG and JPEG files do.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_PathLike = str | os.PathLike
# What the MNIST loaders return: `(x_train, x_test)`, or with labels
# `((x_train, y_train), (x_test, y_test))`.
_Images = tuple[np.ndarray, np.ndarray]
_Labelled = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# --- MNIST --------------------------------------------------------------------------------------


def _mnist_split(images: Any, labels: Any, split: str, source: str) -> tuple:
    """`(images, labels)` of one split, checked, as float32 `(N, 28, 28, 1)` and labels."""
    name = f"x_{split}"
    try:
        images = _validation.as_float_images(
            images, name, min_ndim=3, max_ndim=4, check_range=True
        )
    except (TypeError, ValueError) as error:  # the file's fault: a value, named with the file
        message = f"{error} (in {source})"
        raise ValueError(message) from None
    shape = images.shape  # as stored, before a channel axis is added
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != (_MNIST_SIDE, _MNIST_SIDE, 1):
        message = (
            f"`{name}` in {source} must have shape (N, 28, 28) or (N, 28, 28, 1). "
            f"Received: shape {shape}"
        )
        raise ValueError(message)
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (len(images),):
        message = (
            f"`y_{split}` in {source} must be {len(images)} integer labels, one per image. "
            f"Received: shape {labels.shape}, dtype {labels.dtype}"
        )
        raise ValueError(message)
    return images, labels


def _mnist_result(arrays: dict, source: str, return_labels: bool) -> tuple:
    train = _mnist_split(arrays["x_train"], arrays["y_train"], "train", source)
    test = _mnist_split(arrays["x_test"], arrays["y_test"], "test", source)
    if return_labels:
        return train, test
    return train[0], test[0]


def _unreadable_npz(source: str, error: Exception) -> ValueError:
    problem = _validation.numpy_file_problem(error)
    message = f"Could not read {source} as an `.npz` archive: {problem}"
    return ValueError(message)


def _read_npz(file: Any, source: str) -> dict:
    """The four MNIST arrays of an `.npz` file (path or open binary file)."""
    try:
        archive = np.load(file, allow_pickle=False)
    except _validation.NUMPY_FILE_ERRORS as error:
        raise _unreadable_npz(source, error) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        message = f"{source} is not an `.npz` archive: it holds a single array."
        raise ValueError(message)
    with archive:
        missing = [key for key in _MNIST_KEYS if key not in archive.files]
        if missing:
            message = (
                f"{source} must hold the arrays {list(_MNIST_KEYS)}; missing {missing}. "
                f"Received keys: {archive.files}"
            )
            raise ValueError(message)
        try:
            return {key: archive[key] for key in _MNIST_KEYS}
        except _validation.NUMPY_FILE_ERRORS as error:
            raise _unreadable_npz(source, error) from None


@overload
def load_mnist(
    path: _PathLike | None = None, *, return_labels: Literal[False] = False
) -> _Images: ...
@overload
def load_mnist(path: _PathLike | None = None, *, return_labels: Literal[True]) -> _Labelled: ...
@overload
def load_mnist(path: _PathLike | None = None, *, return_labels: bool) -> _Images | _Labelled: ...
def load_mnist(
    path: _PathLike | None = None, *, return_labels: bool = False
) -> _Images | _Labelled:
    """Load the MNIST digits as float32 images in [0, 1].

    Without `path`, the digits come from `keras.datasets.mnist.load_data()`,
    which downloads them once to `~/.keras/datasets` and then reads the cached
    file. With `path`, they are read from a local `.npz` file in the same
    layout: uint8 `x_train` (60000, 28, 28), `y_train`, `x_test`, `y_test`.

    Args:
        path: optional path to an `.npz` file in the Keras MNIST layout. It is
            read with `allow_pickle=False`.
        return_labels: whether to return the labels too. Defaults to False.

    Returns:
        `(x_train, x_test)`: float32 arrays of shape `(N, 28, 28, 1)` in
        [0, 1]; with `return_labels=True`,
        `((x_train, y_train), (x_test, y_test))`, where the labels are the
        integer labels as stored (uint8 for MNIST).

    Raises:
        FileNotFoundError: if `path` does not exist.
        OSError: without `path`, if Keras cannot download MNIST (offline,
            say) or read its copy.
        ValueError: if the file is not an `.npz` archive, lacks one of the
            four arrays, or holds arrays of the wrong shape or type.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_denoise.datasets import load_mnist
    >>> digits = np.zeros((4, 28, 28), dtype="uint8")
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.npz")
    >>> labels = np.arange(4, dtype="uint8")
    >>> np.savez(path, x_train=digits, y_train=labels, x_test=digits, y_test=labels)
    >>> x_train, x_test = load_mnist(path)  # load_mnist() downloads the real thing
    >>> x_train.shape, x_train.dtype
    ((4, 28, 28, 1), dtype('float32'))
    """
    _validation.check_bool(return_labels, "return_labels")
    if path is None:
        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as error:  # Keras raises a bare `Exception` for a failed download
            message = (
                "MNIST could not be downloaded or read by `keras.datasets.mnist.load_data()` "
                f"({error}); pass `path` to an `.npz` file in its layout. Received: path=None"
            )
            raise OSError(message) from error
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        return _mnist_result(arrays, "keras.datasets.mnist", return_labels)
    if not isinstance(path, (str, os.PathLike)):
        message = f"`path` must be a path to an `.npz` file or None. Received: path={path!r}"
        raise TypeError(message)
    path = os.fspath(path)
    if not os.path.isfile(path):
        message = f"`path` does not exist or is not a file. Received: path={path!r}"
        raise FileNotFoundError(message)
    return _mnist_result(_read_npz(path, repr(path)), repr(path), return_labels)


@overload
def load_sample_digits(*, return_labels: Literal[False] = False) -> _Images: ...
@overload
def load_sample_digits(*, return_labels: Literal[True]) -> _Labelled: ...
@overload
def load_sample_digits(*, return_labels: bool) -> _Images | _Labelled: ...
def load_sample_digits(*, return_labels: bool = False) -> _Images | _Labelled:
    """Load the sample of MNIST digits shipped with keras-denoise (works offline).

    The sample holds 3,000 training and 600 test digits drawn from the MNIST
    training and test splits, stratified by class, with a fixed seed. It is a
    stand-in for `load_mnist()` in examples, tests and quick experiments.

    Args:
        return_labels: whether to return the labels too. Defaults to False.

    Returns:
        `(x_train, x_test)`: float32 arrays of shape `(N, 28, 28, 1)` in
        [0, 1]; with `return_labels=True`,
        `((x_train, y_train), (x_test, y_test))`, with uint8 labels.

    Example:

    >>> from keras_denoise.datasets import load_sample_digits
    >>> (x_train, y_train), (x_test, y_test) = load_sample_digits(return_labels=True)
    >>> x_train.shape, x_test.shape, y_train.dtype
    ((3000, 28, 28, 1), (600, 28, 28, 1), dtype('uint8'))
    """
    _validation.check_bool(return_labels, "return_labels")
    resource = importlib.resources.files("keras_denoise") / "data" / "sample_digits.npz"
    with resource.open("rb") as handle:
        arrays = _read_npz(handle, "the bundled sample_digits.npz")
    return _mnist_result(arrays, "the bundled sample_digits.npz", return_labels)


# --- Image files --------------------------------------------------------------------------------


def _check_pair(value: Any, name: str) -> tuple[int, int] | None:
    """`value` as `(height, width)` of positive ints, or None."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        message = (
            f"`{name}` must be a pair (height, width) or None. "
            f"Received: {name}={_validation._short_repr(value)}"
        )
        raise TypeError(message)
    if len(value) != 2:
        message = (
            f"`{name}` must be a pair (height, width) or None. "
            f"Received: {name}={_validation._short_repr(value)}"
        )
        raise ValueError(message)
    if not all(_validation.is_int(item) for item in value):
        message = (
            f"`{name}` must hold two positive integers (height, width). "
            f"Received: {name}={_validation._short_repr(value)}"
        )
        raise TypeError(message)
    if not all(1 <= item <= _validation.MAX_IMAGE_SIDE for item in value):
        message = (
            f"`{name}` must hold two integers between 1 and {_validation.MAX_IMAGE_SIDE}. "
            f"Received: {name}={_validation._short_repr(value)}"
        )
        raise ValueError(message)
    height, width = (int(item) for item in value)
    return height, width


def _check_path(path: Any, name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        message = f"`{name}` must be a path. Received: {name}={path!r}"
        raise TypeError(message)
    path = os.fspath(path)
    if not os.path.exists(path):
        message = f"`{name}` does not exist. Received: {name}={path!r}"
        raise FileNotFoundError(message)
    return path


def _open_image(path: str) -> tuple[Image.Image, bool]:
    """The decoded Pillow image of the file at `path`, and whether its file is grayscale."""
    try:
        image = Image.open(path)
    except _DECODE_ERRORS as error:
        message = f"Could not read the image file {path!r}: {error}"
        raise ValueError(message) from None
    with image:
        # Pillow decodes 16-bit grayscale-with-alpha PNGs ("LA;16B") as 8-bit RGBA.
        gray = image.getbands() in _GRAY_BANDS or any(
            isinstance(tile.args, str) and tile.args.startswith("LA") for tile in image.tile
        )
        if max(image.size) > _validation.MAX_IMAGE_SIDE:
            message = (
                f"The image file {path!r} is {image.width}x{image.height} pixels, larger than "
                f"{_validation.MAX_IMAGE_SIDE} on a side."
            )
            raise ValueError(message)
        try:
            image.load()
        except _DECODE_ERRORS as error:
            message = f"Could not read the image file {path!r}: {error}"
            raise ValueError(message) from None
        try:
            # Upright, as viewers show it: cameras store the pixels as the sensor saw them
            # and the rotation in an EXIF tag.
            upright = ImageOps.exif_transpose(image)
        except _DECODE_ERRORS as error:  # damaged metadata: the pixels are still good
            warnings.warn(
                f"The EXIF metadata of the image file {path!r} cannot be read ({error}); "
                "the image is read as stored, without turning it upright.",
                stacklevel=5,  # the caller of `read_image` or `load_images`
            )
            upright = image.copy()
    return upright, gray


# EXIF orientations that turn an image a quarter: its upright height is its stored width.
_QUARTER_TURNS = (5, 6, 7, 8)


def _is_resized(path: str, size: tuple[int, int]) -> bool | None:
    """Whether `_read_file(path, size=size)` resizes the image: its upright size is not `size`.

    Told from the file's header: a `.npy` file's shape, an image file's size and, only where a
    quarter turn makes the difference (Pillow decodes a whole PNG file to find it), its EXIF
    orientation. None where it cannot be told: the file is then unreadable, and reading it
    says why.
    """
    try:
        if path.lower().endswith(".npy"):
            array = np.load(path, mmap_mode="r")  # its header only, not its data
            if not isinstance(array, np.ndarray):  # an `.npz` archive, which reading refuses
                array.close()
                return None
            if array.ndim not in (2, 3):
                return None
            return array.shape[:2] != size
        with Image.open(path) as image:
            stored = (image.height, image.width)
            if stored == stored[::-1] or size not in (stored, stored[::-1]):
                return stored != size  # whichever way up it is
            orientation = image.getexif().get(0x0112, 1)  # EXIF's orientation tag
    except _DECODE_ERRORS:
        return None
    return (stored[::-1] if orientation in _QUARTER_TURNS else stored) != size


def _read_image_file(
    path: str, *, channels: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A PNG/JPEG file as float32 `(height, width, channels)` in [0, 1].

    `channels=None` keeps grayscale files as 1 channel and the others as 3.
    Alpha channels are dropped.
    """
    image, gray = _open_image(path)
    if image.mode in ("P", "PA"):  # a palette of grey levels is grayscale too
        colours = np.asarray(image.convert("RGB"))
        gray = bool((colours == colours[..., :1]).all())
    if image.mode == "F":
        message = f"The image file {path!r} holds floating-point pixels, which are not supported."
        raise ValueError(message)
    if image.mode.startswith("I"):  # 16-bit grayscale, or 32-bit holding 16-bit values
        # Through NumPy: Pillow's own extrema and conversions refuse big-endian 16-bit
        # images (mode "I;16B", as TIFF files often are).
        pixels = np.asarray(image)
        low, high = int(pixels.min()), int(pixels.max())
        if low < 0 or high > 65535:
            message = (
                f"The image file {path!r} holds 32-bit integer pixels from {low} to {high}; "
                "only values from 0 to 65535 (16-bit images) are supported."
            )
            raise ValueError(message)
        image, scale = Image.fromarray(pixels.astype(np.float32)), 65535.0
    else:
        target = "L" if gray or channels == 1 else "RGB"
        try:
            try:
                image = image.convert(target)
            except ValueError:  # a colour space Pillow turns into RGB only, such as LAB
                image = image.convert("RGB").convert(target)
        except ValueError as error:  # one it cannot convert at all
            message = f"Could not read the image file {path!r}: {error}"
            raise ValueError(message) from None
        scale = 255.0
    if size is not None:
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / np.float32(scale)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1 and channels == 3:
        array = np.repeat(array, 3, axis=-1)
    return np.clip(array, 0.0, 1.0)


def _bad_npy(path: str, requirement: str, received: str) -> ValueError:
    message = f"`path` must {requirement}. Received: path={path!r}, {received}"
    return ValueError(message)


def _load_npy(path: str, name: str = "path") -> np.ndarray:
    """The array of a `.npy` file, without pickles; one `ValueError` naming it otherwise."""
    try:
        array = np.load(path, allow_pickle=False)
    except _validation.NUMPY_FILE_ERRORS as error:
        empty = isinstance(error, EOFError) and os.path.getsize(path) == 0
        reason = "it is empty" if empty else _validation.numpy_file_problem(error)
        message = f"`{name}` must be a readable `.npy` file. Received: {name}={path!r} ({reason})"
        raise ValueError(message) from None
    if not isinstance(array, np.ndarray):  # an `.npz` archive named `.npy`
        array.close()
        message = (
            f"`{name}` must be an `.npy` file, not an `.npz` archive. Received: {name}={path!r}"
        )
        raise ValueError(message)
    return array


def _read_npy(path: str) -> np.ndarray:
    """The image of a `.npy` file as float32 `(height, width, 1 or 3)` in [0, 1].

    uint8 arrays are scaled by 1/255, float arrays must already lie in [0, 1].
    """
    array = _load_npy(path)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        requirement = "hold uint8 pixels, or floating-point pixels in [0, 1]"
        raise _bad_npy(path, requirement, f"an array of dtype {array.dtype}")
    shape = array.shape
    if not (array.ndim == 2 or (array.ndim == 3 and shape[-1] in (1, 3))) or array.size == 0:
        requirement = "hold one image, of shape (height, width) or (height, width, 1 or 3)"
        raise _bad_npy(path, requirement, f"an array of shape {shape}")
    if max(shape[:2]) > _validation.MAX_IMAGE_SIDE:
        requirement = f"hold an image at most {_validation.MAX_IMAGE_SIDE} pixels on a side"
        raise _bad_npy(path, requirement, f"an array of shape {shape}")
    if array.dtype == np.uint8:
        image = array.astype(np.float32) / np.float32(255.0)
    else:
        image = array.astype(np.float32)
        if not np.isfinite(image).all():
            requirement = "not hold NaN or infinite values (nor values beyond float32)"
            raise _bad_npy(path, requirement, f"an array of dtype {array.dtype}")
        if image.min() < 0.0 or image.max() > 1.0:
            low, high = _validation.short_float(image.min()), _validation.short_float(image.max())
            received = f"values in [{low}, {high}]"
            raise _bad_npy(path, "hold pixels in [0, 1]", received)
    return image if image.ndim == 3 else image[..., None]


def _convert_image(
    image: np.ndarray, *, channels: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A float32 `(height, width, 1 or 3)` image converted as `_read_image_file` converts.

    RGB becomes grayscale with Pillow's luma weights, grayscale becomes RGB by
    repeating its channel, and `size` resizes each channel with Pillow's
    bilinear filter.
    """
    if channels == 1 and image.shape[-1] == 3:
        image = (image @ _LUMA)[..., None]
    if size is not None:
        image = np.stack(
            [
                np.asarray(
                    Image.fromarray(np.ascontiguousarray(image[..., channel])).resize(
                        (size[1], size[0]), Image.Resampling.BILINEAR
                    ),
                    dtype=np.float32,
                )
                for channel in range(image.shape[-1])
            ],
            axis=-1,
        )
    if channels == 3 and image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.clip(image, 0.0, 1.0)


def _read_file(
    path: str, *, channels: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """An image file (PNG, JPEG, `.npy`, ...) as float32 `(height, width, channels)` in [0, 1]."""
    if path.lower().endswith(".npy"):
        return _convert_image(_read_npy(path), channels=channels, size=size)
    return _read_image_file(path, channels=channels, size=size)


def _list_files(path: Any) -> list[str]:
    """The image files named by `path`: a folder, a file, or a list of files."""
    if isinstance(path, (str, os.PathLike)):
        path = _check_path(path)
        if not os.path.isdir(path):
            return [path]
        files = sorted(
            os.path.join(path, entry)
            for entry in os.listdir(path)
            if entry.lower().endswith(_FOLDER_EXTENSIONS)
            and not entry.startswith(".")
            and os.path.isfile(os.path.join(path, entry))
        )
        if not files:
            message = (
                f"`path` is a folder with no PNG, JPEG or `.npy` files. Received: path={path!r}"
            )
            raise ValueError(message)
        return files
    if not isinstance(path, Sequence) or isinstance(path, bytes):
        message = f"`path` must be a folder, a file or a list of files. Received: path={path!r}"
        raise TypeError(message)
    if not path:
        message = f"`path` must name at least one file. Received: path={path!r}"
        raise ValueError(message)
    return [_check_path(item, "path") for item in path]


def _patches(image: np.ndarray, patch_size: tuple, stride: tuple, path: str) -> np.ndarray:
    """The `patch_size` windows of `image` every `stride` pixels, as `(N, h, w, C)`."""
    if image.shape[0] < patch_size[0] or image.shape[1] < patch_size[1]:
        message = (
            f"The image file {path!r} ({image.shape[0]}x{image.shape[1]} pixels) is smaller "
            f"than `patch_size`. Received: patch_size={patch_size}"
        )
        raise ValueError(message)
    windows = np.lib.stride_tricks.sliding_window_view(image, patch_size, axis=(0, 1))
    windows = windows[:: stride[0], :: stride[1]]  # (rows, cols, C, h, w)
    return windows.reshape(-1, *windows.shape[2:]).transpose(0, 2, 3, 1)


def load_images(
    path: _PathLike | Sequence[_PathLike],
    *,
    size: tuple[int, int] | None = None,
    patch_size: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    channels: int | None = None,
) -> np.ndarray:
    """Read image files (PNG, JPEG, `.npy`) into one float32 array in [0, 1].

    A `.npy` file holds one image, as `read_image` reads it: `(height, width)`
    or `(height, width, 1 or 3)`, uint8 (scaled by 1/255) or floating-point in
    [0, 1]; `size` and `channels` convert it as they convert the other files.

    With neither `size` nor `patch_size`, all the images must have the same
    size. `size` resizes every image (bilinear); `patch_size` instead cuts
    every image into patches, `stride` pixels apart (patches overlap when
    `stride` is smaller than `patch_size`; the right and bottom borders that no
    whole patch covers are left out).

    Args:
        path: a folder (its PNG, JPEG and `.npy` files, in sorted order, not
            recursively, leaving out hidden files, whose names start with a
            dot, such as macOS's `._` files), a single image file, or a list
            of image files.
        size: optional `(height, width)` to resize every image to.
        patch_size: optional `(height, width)` of the patches to cut.
        stride: `(rows, columns)` between patches. Defaults to `patch_size`
            (no overlap). Only with `patch_size`.
        channels: 1 (grayscale) or 3 (RGB) to convert every image to. By
            default, grayscale images keep 1 channel and colour images have 3,
            and images of both kinds are all converted to RGB. Alpha channels
            are dropped. RGB becomes grayscale with the ITU-R 601-2 luma
            weights (0.299, 0.587, 0.114).

    Returns:
        A float32 array `(N, height, width, channels)`: one image per file, or
        every patch of every file with `patch_size`.

    Raises:
        FileNotFoundError: if `path` (or a file of the list) does not exist.
        TypeError: if `path` is not a path or a list of paths, `size`,
            `patch_size` or `stride` is not a pair of integers, or `channels`
            is not an integer.
        ValueError: for an empty folder or list, a file that is not a readable
            image (the message names it; a `.npy` file must hold one image of
            uint8 or of floats in [0, 1]), images of different sizes without
            `size` or `patch_size`, an image smaller than `patch_size`, or
            out-of-range options.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_denoise.datasets import load_images, write_image
    >>> folder = tempfile.mkdtemp()
    >>> write_image(os.path.join(folder, "a.png"), np.zeros((16, 16)))
    >>> write_image(os.path.join(folder, "b.png"), np.ones((16, 16)))
    >>> load_images(folder).shape
    (2, 16, 16, 1)
    >>> load_images(folder, size=(8, 12)).shape
    (2, 8, 12, 1)
    >>> load_images(folder, patch_size=(8, 8), stride=(4, 4), channels=3).shape
    (18, 8, 8, 3)
    >>> np.save(os.path.join(folder, "c.npy"), np.full((16, 16, 3), 0.5, "float32"))
    >>> images = load_images(folder, channels=1)  # a.png, b.png and c.npy
    >>> images.shape, [round(float(image.mean()), 3) for image in images]
    ((3, 16, 16, 1), [0.0, 1.0, 0.5])
    """
    size = _check_pair(size, "size")
    patch_size = _check_pair(patch_size, "patch_size")
    stride = _check_pair(stride, "stride")
    if size is not None and patch_size is not None:
        message = (
            "Pass either `size` (resize) or `patch_size` (cut into patches), not both. "
            f"Received: size={size}, patch_size={patch_size}"
        )
        raise ValueError(message)
    if stride is not None and patch_size is None:
        message = f"`stride` needs `patch_size`. Received: stride={stride}, patch_size=None"
        raise ValueError(message)
    if channels is not None:
        if not _validation.is_int(channels):
            message = f"`channels` must be 1, 3 or None. Received: channels={channels!r}"
            raise TypeError(message)
        if channels not in (1, 3):
            message = f"`channels` must be 1, 3 or None. Received: channels={channels!r}"
            raise ValueError(message)
        channels = int(channels)
    files = _list_files(path)
    images = [_read_file(file, channels=channels, size=size) for file in files]
    if channels is None and len({image.shape[-1] for image in images}) > 1:
        images = [np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
                  for image in images]
    if patch_size is not None:
        stride = stride or patch_size
        return np.concatenate([
            _patches(image, patch_size, stride, file)
            for image, file in zip(images, files, strict=True)
        ])
    sizes = {image.shape[:2]: file for image, file in zip(images, files, strict=True)}
    if len(sizes) > 1:
        examples = ", ".join(f"{h}x{w} ({file})" for (h, w), file in list(sizes.items())[:3])
        message = (
            f"The images have different sizes: {examples}. Pass `size=(height, width)` to "
            "resize them, or `patch_size=(height, width)` to cut them into patches."
        )
        raise ValueError(message)
    return np.stack(images)


def read_image(path: _PathLike) -> np.ndarray:
    """Read one image file as a float32 `(height, width, channels)` array in [0, 1].

    PNG and JPEG files (and any other format Pillow reads) give 1 channel for
    grayscale (palette images whose colours are all grey included) and 3 for
    colour (alpha dropped), turned upright as their EXIF orientation tag says
    (as image viewers show them). 8-bit pixels are divided by 255, 16-bit
    grayscale ones by 65535 (Pillow reads 16-bit colour PNGs, and 16-bit
    grayscale PNGs with alpha, as 8-bit);
    integer pixels outside 0-65535 and floating-point pixels are refused. A
    `.npy` file gives the
    image it holds, `(height, width)` or `(height, width, 1 or 3)`, as
    float32 (uint8 arrays are scaled by 1/255, float arrays must lie in
    [0, 1]), with a channel axis added to a 2-D array.

    Args:
        path: path to an image file or a `.npy` file.

    Returns:
        A float32 array `(height, width, channels)` with 1 or 3 channels.

    Raises:
        TypeError: if `path` is not a path.
        FileNotFoundError: if `path` does not exist.
        ValueError: if the file is not a readable image, or a `.npy` file
            holds something else than one image of uint8 or of floats in
            [0, 1] (the message names `path` and the file).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_denoise.datasets import read_image, write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "image.png")
    >>> write_image(path, np.full((8, 16, 3), 0.5))
    >>> image = read_image(path)
    >>> image.shape, image.dtype, round(float(image.max()), 3)
    ((8, 16, 3), dtype('float32'), 0.502)
    """
    return _read_file(_check_path(path))


def _as_image(image: Any, name: str, *, check_range: bool = False) -> np.ndarray:
    """`image` checked and laid out as float32 `(height, width, 1 or 3)`."""
    image = _validation.as_float_images(
        image, name, min_ndim=2, max_ndim=3, check_range=check_range
    )
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] not in (1, 3):
        message = (
            f"`{name}` must be an image (height, width) or (height, width, 1 or 3). "
            f"Received: shape {image.shape}"
        )
        raise ValueError(message)
    if max(image.shape[:2]) > _validation.MAX_IMAGE_SIDE:  # what `read_image` reads back
        message = (
            f"`{name}` must be at most {_validation.MAX_IMAGE_SIDE} pixels on a side. "
            f"Received: shape {image.shape}"
        )
        raise ValueError(message)
    return image


def write_image(path: _PathLike, image: Any) -> None:
    """Write one image to a PNG, JPEG or `.npy` file, atomically.

    The format follows the extension: `.png`, `.jpg`/`.jpeg` store 8-bit
    pixels (the image clipped to [0, 1], scaled by 255 and rounded; JPEG with
    quality 95), `.npy` stores the float32 array exactly, as
    `(height, width, channels)`, so its pixels must lie in [0, 1], as
    `read_image` reads them back. The file is written
    to a temporary file in the same folder and renamed over `path` only once
    complete.

    Args:
        path: destination path ending in `.png`, `.jpg`, `.jpeg` or `.npy`.
        image: a `(height, width)`, `(height, width, 1)` or
            `(height, width, 3)` array in [0, 1] (uint8 is scaled by 1/255).

    Raises:
        ValueError: for another extension, an image of the wrong shape or
            more than 8192 pixels on a side (which `read_image` refuses), or
            pixels outside [0, 1] for a `.npy` file.
        TypeError: if `path` is not a path, or `image` holds neither
            floating-point nor uint8 pixels (booleans, say).
        OSError: if the file cannot be written (`FileNotFoundError` for a
            folder that does not exist, `IsADirectoryError` for a folder).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_denoise.datasets import read_image, write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "image.npy")
    >>> image = np.linspace(0, 1, 64, dtype="float32").reshape(8, 8)
    >>> write_image(path, image)
    >>> bool(np.array_equal(read_image(path)[..., 0], image))
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        message = f"`path` must be a path. Received: path={path!r}"
        raise TypeError(message)
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if extension not in (*_PILLOW_FORMATS, ".npy"):
        message = f"`path` must end with .png, .jpg, .jpeg or .npy. Received: path={path!r}"
        raise ValueError(message)
    image = _as_image(image, "image", check_range=extension == ".npy")
    with atomic_path(path) as tmp:
        if extension == ".npy":
            # Through a handle: given a name, np.save appends ".npy" unless it ends with it in
            # lower case, and would leave the temporary file (and then `path`) empty.
            with open(tmp, "wb") as handle:
                np.save(handle, image)
        else:
            pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
            picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
            options = {"quality": _JPEG_QUALITY} if extension != ".png" else {}
            picture.save(tmp, format=_PILLOW_FORMATS[extension], **options)
