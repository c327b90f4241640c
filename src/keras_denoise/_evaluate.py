"""`evaluate`: score a denoiser and classical baselines over noise levels; `format_table`."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from keras_denoise import _validation
from keras_denoise._anomaly import _check_denoiser_takes
from keras_denoise._gaussian_noise import GaussianNoise
from keras_denoise.metrics import psnr, ssim

_ROW_KEYS = ("noise_factor", "method", "psnr", "ssim")


def _median(image: np.ndarray, noise_factor: float) -> np.ndarray:
    from skimage.filters import median

    footprint = np.ones((3, 3) + (1,) * (image.ndim - 2), dtype=bool)
    return median(image, footprint=footprint)


def _total_variation(image: np.ndarray, noise_factor: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    weight = float(np.clip(0.4 * noise_factor, 0.01, 0.5))
    channel_axis = -1 if image.ndim == 3 else None
    return denoise_tv_chambolle(image, weight=weight, channel_axis=channel_axis)


@contextlib.contextmanager
def _quiet_empty_estimates() -> Iterator[None]:
    """Silence NumPy's warnings where scikit-image estimates the noise of a constant image.

    With no detail coefficients at all (a constant image without noise) that estimate is the
    median of an empty array, NaN: the callers then leave the image as it is.
    """
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _nl_means(image: np.ndarray, noise_factor: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    channel_axis = -1 if image.ndim == 3 else None
    with _quiet_empty_estimates():
        sigma = float(estimate_sigma(image, average_sigmas=True, channel_axis=channel_axis))
    if not sigma > 0.0:
        return image
    return denoise_nl_means(
        image,
        h=0.8 * sigma,
        sigma=sigma,
        fast_mode=True,
        patch_size=3,
        patch_distance=5,
        channel_axis=channel_axis,
    )


def _wavelet(image: np.ndarray, noise_factor: float) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    channel_axis = -1 if image.ndim == 3 else None
    with _quiet_empty_estimates():  # NaN for a constant image without noise
        denoised = denoise_wavelet(
            image, method="BayesShrink", mode="soft", rescale_sigma=True, channel_axis=channel_axis
        )
    return denoised if np.isfinite(denoised).all() else image


_BASELINES = {
    "median": _median,
    "tv": _total_variation,
    "nl_means": _nl_means,
    "wavelet": _wavelet,
}


def _check_noise_factors(noise_factors: Any) -> tuple[float, ...]:
    if isinstance(noise_factors, np.ndarray) and noise_factors.ndim == 1:
        noise_factors = noise_factors.tolist()
    if isinstance(noise_factors, (str, bytes)) or not isinstance(noise_factors, Sequence):
        message = (
            "`noise_factors` must be a sequence of non-negative numbers, such as (0.1, 0.5). "
            f"Received: noise_factors={noise_factors!r}"
        )
        raise TypeError(message)
    if not noise_factors:
        message = f"`noise_factors` must not be empty. Received: noise_factors={noise_factors!r}"
        raise ValueError(message)
    checked = []
    for value in noise_factors:
        try:
            checked.append(_validation.check_noise_factor(value))
        except (TypeError, ValueError) as error:
            message = (
                "`noise_factors` must hold numbers from 0 to 1e6. "
                f"Received: noise_factors={noise_factors!r}"
            )
            raise type(error)(message) from None
    if len(set(checked)) < len(checked):
        message = (
            "`noise_factors` must not repeat a level (the same seed gives the same rows). "
            f"Received: noise_factors={noise_factors!r}"
        )
        raise ValueError(message)
    return tuple(checked)


def _check_baselines(baselines: Any) -> tuple[str, ...]:
    if isinstance(baselines, np.ndarray) and baselines.ndim == 1:
        baselines = baselines.tolist()
    if isinstance(baselines, (str, bytes)) or not isinstance(baselines, Sequence):
        message = (
            f"`baselines` must be a sequence of names from {sorted(_BASELINES)}, such as "
            f"('median',). Received: baselines={baselines!r}"
        )
        raise TypeError(message)
    unknown = [name for name in baselines if not isinstance(name, str) or name not in _BASELINES]
    if unknown or len(set(baselines)) != len(baselines):
        message = (
            f"`baselines` must hold distinct names from {sorted(_BASELINES)}. "
            f"Received: baselines={baselines!r}"
        )
        raise ValueError(message)
    return tuple(baselines)


def _apply_baseline(name: str, images: np.ndarray, noise_factor: float) -> np.ndarray:
    """Run one baseline image by image on a `(N, height, width, channels)` batch."""
    function = _BASELINES[name]
    grayscale = images.shape[-1] == 1
    denoised = [function(image[..., 0] if grayscale else image, noise_factor) for image in images]
    return np.clip(np.stack(denoised).reshape(images.shape), 0.0, 1.0)


def evaluate(
    model: Any,
    clean_images: Any,
    *,
    noise_factors: Sequence[float] = (0.1, 0.3, 0.5, 0.7),
    seed: int = 0,
    baselines: Sequence[str] = ("median", "tv", "nl_means", "wavelet"),
    batch_size: int = 64,
    max_images: int | None = None,
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Score a denoiser, the noisy input and classical baselines at several noise levels.

    For each noise level, the clean images are corrupted by
    `GaussianNoise(noise_factor, seed=seed)` (so the same seed gives the same
    table), then denoised by the model and by each baseline, and every result
    is scored against the clean images with `keras_denoise.metrics.psnr` and
    `keras_denoise.metrics.ssim` (means over the images, `data_range=1`).

    The baselines are scikit-image filters, applied image by image, their
    results clipped to [0, 1]:

    - `"median"`: `skimage.filters.median` over a 3x3 neighbourhood;
    - `"tv"`: `skimage.restoration.denoise_tv_chambolle` with
      `weight = clip(0.4 * noise_factor, 0.01, 0.5)` (near the best PSNR on
      MNIST digits at every level);
    - `"nl_means"`: `skimage.restoration.denoise_nl_means` (fast mode, 3x3
      patches, distance 5) with `h = 0.8 * sigma`, `sigma` estimated from
      each image by `estimate_sigma`;
    - `"wavelet"`: `skimage.restoration.denoise_wavelet` with BayesShrink
      soft thresholds and `rescale_sigma=True`.

    Args:
        model: a keras-denoise model, or any object with a
            `denoise(images, batch_size=...)` method, that takes the images'
            size and channels; `None` leaves out the `"model"` rows.
        clean_images: a batch `(N, height, width)` or `(N, height, width,
            channels)`, float in [0, 1] or uint8 (scaled to [0, 1]).
        noise_factors: the noise levels (standard deviations of the noise), a
            non-empty sequence of numbers from 0 to 1e6.
        seed: seed of the noise, a non-negative integer.
        baselines: names of the baselines to run, among `"median"`, `"tv"`,
            `"nl_means"` and `"wavelet"`; `()` runs none.
        batch_size: images per forward pass of the model.
        max_images: use only the first `max_images` images, or `None` for all.
        verbose: whether to show a progress bar (one step per row).

    Returns:
        A list of rows, one per noise level and method, in that order: the
        methods are `"noisy"` (the input itself), `"model"`, then the
        baselines as given. Each row is a dict with keys `"noise_factor"`,
        `"method"`, `"psnr"` (dB) and `"ssim"`, all floats but the method.
        Print it with `format_table`.

    Raises:
        ImportError: if scikit-image is not installed (SSIM and the baselines
            need it).
        TypeError: if `model` has no `denoise` method, or an argument has the
            wrong type.
        ValueError: if an argument has a bad value (float images outside
            [0, 1] included, or one image `(height, width, 1 or 3)` without a
            batch axis), the images do not fit the model (checked on
            one image before any scoring), or the model's output holds NaN or
            infinite values (as from a model whose training diverged).

    Example:

    >>> import numpy as np
    >>> from keras_denoise import ConvAutoencoder
    >>> from keras_denoise import evaluate
    >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4)
    >>> images = np.random.default_rng(0).random((4, 16, 16))
    >>> rows = evaluate(model, images, noise_factors=(0.5,), baselines=("median",),
    ...                 verbose=False)
    >>> [(row["noise_factor"], row["method"]) for row in rows]
    [(0.5, 'noisy'), (0.5, 'model'), (0.5, 'median')]
    >>> sorted(rows[0])
    ['method', 'noise_factor', 'psnr', 'ssim']
    """
    if model is not None and not callable(getattr(model, "denoise", None)):
        message = (
            "`model` must have a `denoise` method (a keras-denoise model) or be None. "
            f"Received: model={model!r}"
        )
        raise TypeError(message)
    clean = _validation.as_float_images(
        clean_images, "clean_images", min_ndim=3, max_ndim=4, check_range=True
    )
    _validation.check_batch_layout(clean, "clean_images")
    # A seed is required: `None` would make a table that cannot be reproduced.
    seed = _validation.check_seed(seed)
    # One noise per level, all with the same seed: each level's images do not depend on the others.
    noises = [GaussianNoise(value, seed=seed) for value in _check_noise_factors(noise_factors)]
    baselines = _check_baselines(baselines)
    batch_size = _validation.check_positive_int(
        batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
    )
    if max_images is not None:
        max_images = _validation.check_positive_int(max_images, "max_images")
        clean = clean[:max_images]
    verbose = _validation.check_bool(verbose, "verbose")
    unexpanded = clean
    if clean.ndim == 3:
        clean = clean[..., None]
    try:
        import skimage  # noqa: F401
    except ImportError:
        message = "`evaluate` needs scikit-image: pip install 'keras-denoise[skimage]'"
        raise ImportError(message) from None
    if model is not None:
        # Before any scoring, and on the images as given, so that the message shows their shape.
        _check_denoiser_takes(model, unexpanded, "clean_images")

    methods = ["noisy"] + ([] if model is None else ["model"]) + list(baselines)
    progbar = keras.utils.Progbar(len(noises) * len(methods)) if verbose else None
    rows = []
    for noise in noises:
        noise_factor, noisy = noise.noise_factor, noise(clean)
        for method in methods:
            if method == "noisy":
                estimate = noisy
            elif method == "model":
                estimate = model.denoise(noisy, batch_size=batch_size)
                _validation.check_finite_output(
                    estimate,
                    "denoise the images to finite values",
                    f"denoised images at noise_factor={noise_factor!r}",
                )
            else:
                estimate = _apply_baseline(method, noisy, noise_factor)
            rows.append(
                {
                    "noise_factor": noise_factor,
                    "method": method,
                    "psnr": psnr(clean, estimate),
                    "ssim": ssim(clean, estimate),
                }
            )
            if progbar is not None:
                progbar.add(1)
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Lay out the rows of `evaluate` as a fixed-width text table.

    One line per row; the noise level is written on the first line of each
    group of rows that share it.

    Args:
        rows: a non-empty sequence of mappings with keys `"noise_factor"`,
            `"method"`, `"psnr"` and `"ssim"`, as `evaluate` returns (or as
            read back from `keras-denoise evaluate --json`, where an infinite
            PSNR is null).

    Returns:
        The table as one string, lines separated by newlines, without a final
        newline.

    Raises:
        ValueError: if `rows` is empty, a row lacks one of the keys or holds
            something other than a number under one of them (a string, say;
            None under `"psnr"` is an infinite PSNR).

    Example:

    >>> from keras_denoise import format_table
    >>> rows = [
    ...     {"noise_factor": 0.5, "method": "noisy", "psnr": 9.3712, "ssim": 0.2147},
    ...     {"noise_factor": 0.5, "method": "median", "psnr": 14.0521, "ssim": 0.4302},
    ... ]
    >>> print(format_table(rows))
    noise  method  PSNR (dB)    SSIM
    0.50   noisy        9.37  0.2147
           median      14.05  0.4302
    """
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not rows:
        message = f"`rows` must be a non-empty list of `evaluate` rows. Received: rows={rows!r}"
        raise ValueError(message)
    numbers = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping) or any(key not in row for key in _ROW_KEYS):
            message = f"Each of `rows` must be a mapping with keys {_ROW_KEYS}. Received: {row!r}"
            raise ValueError(message)
        try:
            numbers.append(
                tuple(
                    _validation.row_number(row[key], key)
                    for key in ("noise_factor", "psnr", "ssim")
                )
            )
        except (TypeError, OverflowError):  # OverflowError: an int past float64's range
            message = (
                f"`rows[{index}]` must hold numbers under 'noise_factor', 'psnr' and 'ssim'. "
                f"Received: {row!r}"
            )
            raise ValueError(message) from None
    labels = [_noise_label(noise_factor) for noise_factor, _, _ in numbers]
    methods = [str(row["method"]) for row in rows]
    psnrs = [f"{psnr_db:.2f}" for _, psnr_db, _ in numbers]
    ssims = [f"{ssim_value:.4f}" for _, _, ssim_value in numbers]  # a negative SSIM is 7 wide
    noise_width = max(len("noise"), *map(len, labels))
    method_width = max(len("method"), *map(len, methods))
    psnr_width = max(len("PSNR (dB)"), *map(len, psnrs))
    ssim_width = max(6, *map(len, ssims))
    lines = [
        f"{'noise':<{noise_width}}  {'method':<{method_width}}  "
        f"{'PSNR (dB)':>{psnr_width}}  {'SSIM':>{ssim_width}}"
    ]
    level: float | None = None
    seen: set[str] = set()
    for (noise_factor, _, _), label, method, psnr_text, ssim_text in zip(
        numbers, labels, methods, psnrs, ssims, strict=True
    ):
        # The level's label starts each group of rows: at a new level, or a method seen again.
        if noise_factor != level or method in seen:
            level, seen = noise_factor, set()
        else:
            label = ""
        seen.add(method)
        lines.append(
            f"{label:<{noise_width}}  {method:<{method_width}}  "
            f"{psnr_text:>{psnr_width}}  {ssim_text:>{ssim_width}}"
        )
    return "\n".join(lines)


def _noise_label(noise_factor: float) -> str:
    """Up to six decimals, trailing zeros dropped but two kept: "0.50", "0.125", "12.34567"."""
    label = f"{noise_factor:.6f}".rstrip("0")
    if noise_factor and not float(label):  # below a millionth
        return f"{noise_factor:.6g}"
    return f"{noise_factor:.{max(len(label.partition('.')[2]), 2)}f}"
