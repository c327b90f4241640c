"""Image-quality metrics: PSNR and SSIM, as NumPy functions and as Keras metrics.

- `psnr` and `ssim` score NumPy images after the fact (for reports and
  tables); `ssim` needs scikit-image (`pip install 'keras-denoise[skimage]'`).
- `PSNR` and `SSIM` are `keras.metrics.Metric` objects to pass to
  `model.compile(metrics=[PSNR(), SSIM()])`; they work on every Keras backend.

The NumPy functions take a single image or a batch, with one rule for both
arrays:

- rank 2, `(height, width)`: one grayscale image;
- rank 3, `(N, height, width)`: a batch of grayscale images. A single image
  `(height, width, 1 or 3)` must be given a batch axis first (`image[None]`):
  it would read as `height` images 1 or 3 pixels wide, and is refused;
- rank 4, `(N, height, width, channels)`: a batch of images.

uint8 images are scaled to [0, 1] (divided by 255), so the default
`data_range=1.0` is right for them as for float images in [0, 1].

>>> import numpy as np
>>> from keras_denoise import metrics
>>> clean = np.zeros((4, 16, 16))
>>> round(metrics.psnr(clean, clean + 0.1), 3)
20.0
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from keras_denoise import _validation
from keras_denoise._psnr_metric import PSNR
from keras_denoise._ssim_metric import SSIM

__all__ = ["psnr", "ssim", "PSNR", "SSIM"]

_REDUCTIONS = ("mean", "none")
# The window of `SSIM`: a Gaussian of sigma 1.5 truncated at 3.5 sigma, 11 pixels wide.
_SSIM_SIGMA = 1.5
_SSIM_WIN_SIZE = 11


def _image_batches(clean: Any, estimate: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays checked and laid out as float64 `(N, height, width, channels)`.

    Read in float64 from the start: a float64 pair rounded to float32 first would
    lose the small errors of a near-perfect estimate (tenths of a dB at 140 dB).
    """
    clean = _validation.as_float_images(clean, "clean", dtype="float64")
    _validation.check_batch_layout(clean, "clean")
    estimate = _validation.as_float_images(estimate, "estimate", dtype="float64")
    if estimate.shape != clean.shape:
        message = (
            "`estimate` must have the same shape as `clean`. "
            f"Received: clean with shape {clean.shape}, estimate with shape {estimate.shape}"
        )
        raise ValueError(message)
    if clean.ndim == 2:
        clean, estimate = clean[None], estimate[None]
    if clean.ndim == 3:
        clean, estimate = clean[..., None], estimate[..., None]
    return clean, estimate


def _check_reduction(reduction: Any) -> str:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        message = f"`reduction` must be 'mean' or 'none'. Received: reduction={reduction!r}"
        raise ValueError(message)
    return reduction


def _reduce(values: np.ndarray, reduction: str) -> float | np.ndarray:
    return float(np.mean(values)) if reduction == "mean" else values


# `reduction` picks the return type: a float for "mean", an array for "none".
@overload
def psnr(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: Literal["mean"] = "mean"
) -> float: ...
@overload
def psnr(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: Literal["none"]
) -> np.ndarray: ...
@overload
def psnr(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: str = "mean"
) -> float | np.ndarray: ...
def psnr(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: str = "mean"
) -> float | np.ndarray:
    """Peak signal-to-noise ratio of `estimate` against `clean`, in decibels.

    Per image, `10 * log10(data_range**2 / MSE)`, with the mean squared error
    taken over all pixels and channels. Identical images score `inf`; with
    `reduction="mean"` an `inf` makes the mean `inf` too (use
    `reduction="none"` to see which images). Higher is better.

    Args:
        clean: the reference image(s): `(height, width)`, `(N, height, width)`
            or `(N, height, width, channels)` (see the module docstring), float
            or uint8 (scaled to [0, 1]).
        estimate: the image(s) to score, of the same shape as `clean`.
        data_range: the span of possible pixel values, a number between
            1e-30 and 1e+30. Defaults to 1.0, right for images in [0, 1] and
            for uint8 images.
        reduction: `"mean"` for the mean of the per-image PSNRs, `"none"` for
            one value per image.

    Returns:
        A Python float for `reduction="mean"`; a float64 array `(N,)` for
        `reduction="none"` (`(1,)` for a single image).

    Raises:
        ValueError: if the shapes differ, an array is empty, has NaN or
            infinite values or a rank outside 2-4, is one image with channels
            but no batch axis, `data_range` is not between 1e-30 and 1e+30, or
            `reduction` is unknown.
        TypeError: if an array is not float or uint8, or `data_range` is not a
            number.

    Example:

    >>> import numpy as np
    >>> from keras_denoise.metrics import psnr
    >>> clean = np.zeros((2, 8, 8))
    >>> estimate = clean + np.array([0.1, 0.01])[:, None, None]
    >>> round(psnr(clean, estimate), 2)
    30.0
    >>> psnr(clean, estimate, reduction="none")
    array([20., 40.])
    """
    clean, estimate = _image_batches(clean, estimate)
    data_range = _validation.check_data_range(data_range)
    reduction = _check_reduction(reduction)
    mse = np.mean(np.square(clean - estimate), axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(data_range**2 / mse)
    return _reduce(values, reduction)


# `reduction` picks the return type: a float for "mean", an array for "none".
@overload
def ssim(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: Literal["mean"] = "mean"
) -> float: ...
@overload
def ssim(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: Literal["none"]
) -> np.ndarray: ...
@overload
def ssim(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: str = "mean"
) -> float | np.ndarray: ...
def ssim(
    clean: Any, estimate: Any, *, data_range: float = 1.0, reduction: str = "mean"
) -> float | np.ndarray:
    """Structural similarity of `estimate` to `clean` (Wang et al., 2004).

    Computed per image by `skimage.metrics.structural_similarity` with the
    paper's settings: an 11x11 Gaussian window of sigma 1.5, population
    covariances, K1=0.01 and K2=0.03; for several channels, the mean over
    channels. Images smaller than 11 pixels on a side use the widest odd
    window that fits (the Gaussian weights stay the same; only the border
    left out of the mean shrinks). The result lies in [-1, 1]; identical
    images score 1. This is the definition `SSIM` computes during training.

    Args:
        clean: the reference image(s): `(height, width)`, `(N, height, width)`
            or `(N, height, width, channels)` (see the module docstring), float
            or uint8 (scaled to [0, 1]).
        estimate: the image(s) to score, of the same shape as `clean`.
        data_range: the span of possible pixel values, a number between
            1e-30 and 1e+30. Defaults to 1.0, right for images in [0, 1] and
            for uint8 images.
        reduction: `"mean"` for the mean of the per-image SSIMs, `"none"` for
            one value per image.

    Returns:
        A Python float for `reduction="mean"`; a float64 array `(N,)` for
        `reduction="none"` (`(1,)` for a single image).

    Raises:
        ImportError: if scikit-image is not installed.
        ValueError: if the shapes differ, an array is empty, has NaN or
            infinite values or a rank outside 2-4, is one image with channels
            but no batch axis, `data_range` is not between 1e-30 and 1e+30, or
            `reduction` is unknown.
        TypeError: if an array is not float or uint8, or `data_range` is not a
            number.

    Example:

    >>> import numpy as np
    >>> from keras_denoise.metrics import ssim
    >>> clean = np.random.default_rng(0).random((2, 16, 16))
    >>> ssim(clean, clean)
    1.0
    >>> bool(ssim(clean, 0.5 * clean) < 1.0)
    True
    """
    clean, estimate = _image_batches(clean, estimate)
    data_range = _validation.check_data_range(data_range)
    reduction = _check_reduction(reduction)
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        message = "`ssim` needs scikit-image: pip install 'keras-denoise[skimage]'"
        raise ImportError(message) from None
    smallest_side = min(clean.shape[1:3])
    win_size = min(_SSIM_WIN_SIZE, smallest_side - (smallest_side + 1) % 2)
    values = np.array(
        [
            structural_similarity(
                reference,
                image,
                win_size=win_size,
                gaussian_weights=True,
                sigma=_SSIM_SIGMA,
                use_sample_covariance=False,
                data_range=data_range,
                channel_axis=-1,
            )
            for reference, image in zip(clean, estimate, strict=True)
        ],
        dtype=np.float64,
    )
    return _reduce(values, reduction)
