"""Figures for denoising work, drawn with matplotlib.

Image grids (`show_images`), clean/noisy/denoised comparisons (`compare`),
training curves (`plot_history`), latent spaces (`plot_latent`), quality
against noise level (`plot_evaluation`) and anomaly scores
(`plot_anomaly_scores`).

Every function builds a `matplotlib.figure.Figure` directly (no `pyplot`
global state, so it works headless and in threads) and returns it. Display it
in a notebook by leaving it as the cell's value, or save it with the
keyword-only `path` argument: the format follows the extension (`.png`,
`.pdf` or `.svg`) and the file is written atomically, so a failed save leaves
any previous file intact.

Images may be `(N, height, width)`, `(N, height, width, 1)` (grayscale,
shown with a gray colour map) or `(N, height, width, 3)` (RGB), float in
[0, 1] or uint8 in 0-255. Pixels outside [0, 1] are clipped for display.

>>> import os, tempfile
>>> import numpy as np
>>> from keras_denoise import plotting
>>> path = os.path.join(tempfile.mkdtemp(), "digits.png")
>>> figure = plotting.show_images(np.random.default_rng(0).random((6, 8, 8)), path=path)
>>> os.path.getsize(path) > 0
True
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from keras_denoise import _anomaly, _validation, metrics
from keras_denoise._saving import atomic_path

__all__ = [
    "compare",
    "plot_anomaly_scores",
    "plot_evaluation",
    "plot_history",
    "plot_latent",
    "show_images",
]

_FORMATS = (".png", ".pdf", ".svg")
# Inches per image in grids, and per subplot in charts.
_CELL_INCHES = 1.6
_CHART_INCHES = (4.5, 3.5)
# Labels with at most this many distinct values get a legend; more, a colour bar.
_MAX_LEGEND_CLASSES = 10
_EVALUATION_METRICS = {"psnr": "PSNR (dB)", "ssim": "SSIM"}


def _check_path(path: Any) -> str | None:
    """`path` as a string with a supported extension, or None."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        message = f"`path` must be a file path or None. Received: path={path!r}"
        raise TypeError(message)
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() not in _FORMATS:
        message = f"`path` must end with one of {_FORMATS}. Received: path={path!r}"
        raise ValueError(message)
    return path


def _finish(figure: Figure, path: str | None) -> Figure:
    """Save `figure` atomically to `path` (if given) and return it."""
    if path is not None:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=os.path.splitext(path)[1][1:].lower())
    return figure


def _as_display_images(images: Any, name: str) -> np.ndarray:
    """`images` as float32 `(N, H, W)` (grayscale) or `(N, H, W, 3)`, clipped to [0, 1]."""
    array = _validation.as_float_images(images, name, min_ndim=3, max_ndim=4)
    _validation.check_batch_layout(array, name)
    if array.ndim == 4:
        if array.shape[-1] not in (1, 3):
            message = (
                f"`{name}` must have 1 (grayscale) or 3 (RGB) channels. "
                f"Received: {name} with shape {array.shape}"
            )
            raise ValueError(message)
        if array.shape[-1] == 1:
            array = array[..., 0]
    return np.clip(array, 0.0, 1.0)


def _show(ax: Any, image: np.ndarray) -> None:
    """Draw one image on `ax` without ticks."""
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])


def show_images(
    images: Any,
    ncols: int = 5,
    *,
    titles: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Show images in a grid, `ncols` per row.

    Args:
        images: `(N, height, width[, 1 or 3])`, float in [0, 1] or uint8.
        ncols: images per row, a positive integer; more than `N` is reduced
            to `N`. Defaults to 5 (25 images make the classic 5x5 grid).
        titles: one title per image, or None.
        path: where to save the figure (`.png`, `.pdf` or `.svg`), or None.

    Returns:
        The `Figure`, with one axes per image (`ceil(N / ncols)` rows).

    Raises:
        ValueError: if the images are empty, of the wrong rank or channel
            count (one image `(height, width, 1 or 3)` needs a batch axis
            first), `ncols` is not positive, `titles` has the wrong length, or
            `path` has an unsupported extension.
        TypeError: if `images` is not a float or uint8 array, `ncols` is
            not an integer, or `titles` is not a sequence (a single string is
            not a sequence of titles).

    Example:

    >>> import numpy as np
    >>> from keras_denoise.plotting import show_images
    >>> figure = show_images(np.random.default_rng(0).random((7, 8, 8)), ncols=3)
    >>> len(figure.axes)
    7
    """
    images = _as_display_images(images, "images")
    ncols = min(_validation.check_positive_int(ncols, "ncols"), len(images))
    path = _check_path(path)
    if titles is not None:
        if isinstance(titles, (str, bytes)) or not isinstance(titles, (Sequence, np.ndarray)):
            message = (
                "`titles` must be a sequence of strings, one per image. "
                f"Received: titles={titles!r}"
            )
            raise TypeError(message)
        titles = [str(title) for title in titles]
        if len(titles) != len(images):
            message = (
                f"`titles` must have one title per image ({len(images)}). "
                f"Received: {len(titles)} titles"
            )
            raise ValueError(message)
    nrows = math.ceil(len(images) / ncols)
    figure = Figure(figsize=(_CELL_INCHES * ncols, _CELL_INCHES * nrows), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for index, ax in enumerate(axes):
        if index >= len(images):
            ax.remove()
            continue
        _show(ax, images[index])
        if titles is not None:
            ax.set_title(titles[index], fontsize="small")
    return _finish(figure, path)


def compare(
    clean: Any,
    noisy: Any,
    denoised: Any,
    n: int = 5,
    *,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Show clean, noisy and denoised images in three rows, with their PSNR.

    The noisy and denoised images are titled with their PSNR in decibels
    against the clean image (`keras_denoise.metrics.psnr`, on the images as
    given, before any clipping for display).

    Args:
        clean: the clean images, `(N, height, width[, 1 or 3])`, float in
            [0, 1] or uint8.
        noisy: the noisy images, of the same shape.
        denoised: the denoised images, of the same shape.
        n: how many images to show (the first `n`), a positive integer; more
            than `N` is reduced to `N`. Defaults to 5.
        path: where to save the figure (`.png`, `.pdf` or `.svg`), or None.

    Returns:
        The `Figure`, with `3 * n` axes.

    Raises:
        ValueError: if the arrays differ in shape, are empty, of the wrong
            rank or channel count (one image `(height, width, 1 or 3)` needs a
            batch axis first), `n` is not positive, or `path` has an
            unsupported extension.
        TypeError: if an array is not float or uint8, or `n` is not an
            integer.

    Example:

    >>> import numpy as np
    >>> from keras_denoise.plotting import compare
    >>> clean = np.full((4, 8, 8), 0.5)
    >>> figure = compare(clean, clean + 0.1, clean + 0.01, n=3)
    >>> len(figure.axes), figure.axes[3].get_title(), figure.axes[6].get_title()
    (9, '20.0 dB', '40.0 dB')
    """
    arrays = {"clean": clean, "noisy": noisy, "denoised": denoised}
    arrays = {
        name: _validation.as_float_images(value, name, min_ndim=3, max_ndim=4)
        for name, value in arrays.items()
    }
    _validation.check_batch_layout(arrays["clean"], "clean")
    for name in ("noisy", "denoised"):
        if arrays[name].shape != arrays["clean"].shape:
            message = (
                f"`{name}` must have the same shape as `clean`. Received: clean with shape "
                f"{arrays['clean'].shape}, {name} with shape {arrays[name].shape}"
            )
            raise ValueError(message)
    n = min(_validation.check_positive_int(n, "n"), len(arrays["clean"]))
    path = _check_path(path)
    arrays = {name: value[:n] for name, value in arrays.items()}
    displayed = {name: _as_display_images(value, name) for name, value in arrays.items()}
    figure = Figure(figsize=(_CELL_INCHES * n, _CELL_INCHES * 3 + 0.3), layout="constrained")
    axes = figure.subplots(3, n, squeeze=False)
    for row, name in enumerate(arrays):
        scores = (
            None
            if name == "clean"
            else metrics.psnr(arrays["clean"], arrays[name], reduction="none")
        )
        for column in range(n):
            ax = axes[row, column]
            _show(ax, displayed[name][column])
            if scores is not None:
                ax.set_title(f"{scores[column]:.1f} dB", fontsize="small")
        axes[row, 0].set_ylabel(name)
    return _finish(figure, path)


def plot_history(
    history: Any,
    *,
    validation_freq: int | Sequence[int] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Plot training curves: one subplot per metric, training and validation.

    Epochs are numbered from 1 (from `initial_epoch + 1` for the `History` of
    a resumed `fit`). NaN and infinite values, as a diverged run records, are
    left out as gaps in the curves.

    Args:
        history: the `keras.callbacks.History` returned by `model.fit`, or its
            `.history` dict (metric name to per-epoch values; `val_<name>`
            holds the validation values of `<name>`).
        validation_freq: the `validation_freq` given to `fit`, placing the
            validation values on the epochs that had them: an integer `k`
            (every k-th epoch) or the list of epochs (from 1). By default, a
            validation series as long as the training one is drawn at every
            epoch and a shorter one every `epochs // len(validation)` epochs,
            which is right when `k` divides the number of epochs.
        path: where to save the figure (`.png`, `.pdf` or `.svg`), or None.

    Returns:
        The `Figure`, with one axes per metric (epochs on x).

    Raises:
        ValueError: if the history is empty, holds non-1-D values or
            validation values that `validation_freq` does not place, or
            `path` has an unsupported extension.
        TypeError: if `history` is neither a `History` nor a dict.

    Example:

    >>> from keras_denoise.plotting import plot_history
    >>> figure = plot_history({"loss": [0.3, 0.2], "val_loss": [0.35, 0.25],
    ...                        "psnr": [18.0, 21.0], "val_psnr": [17.5, 20.0]})
    >>> [ax.get_title() for ax in figure.axes]
    ['loss', 'psnr']
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        message = (
            "`history` must be a `keras.callbacks.History` or its `.history` dict. "
            f"Received: history={history!r}"
        )
        raise TypeError(message)
    if not logs:
        message = "`history` must hold at least one metric. Received: an empty history"
        raise ValueError(message)
    validation_freq = _check_validation_freq(validation_freq)
    path = _check_path(path)
    curves = {}
    for key, values in logs.items():
        curves[str(key)] = _anomaly._as_scores(values, f"history[{key!r}]", finite=False)
    epochs = _epochs(history, curves)
    names = list(dict.fromkeys(key.removeprefix("val_") for key in curves))
    width, height = _CHART_INCHES
    figure = Figure(figsize=(width * len(names), height), layout="constrained")
    for ax, name in zip(figure.subplots(1, len(names), squeeze=False).ravel(), names, strict=True):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in curves:
                values = np.where(np.isfinite(curves[key]), curves[key], np.nan)
                ax.plot(
                    _curve_epochs(key, len(values), epochs, validation_freq),
                    values,
                    marker="o",
                    markersize=3,
                    label=label,
                )
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)
    return _finish(figure, path)


def _epochs(history: Any, curves: dict[str, np.ndarray]) -> np.ndarray:
    """The epochs (from 1) of the training values: `History.epoch`, or 1, 2, ..."""
    training = [len(values) for key, values in curves.items() if not key.startswith("val_")]
    count = max(training or [len(values) for values in curves.values()])
    recorded = getattr(history, "epoch", None)
    if isinstance(recorded, list) and len(recorded) == count:
        return np.asarray(recorded, dtype=np.int64) + 1
    return np.arange(1, count + 1)


def _check_validation_freq(value: Any) -> int | tuple[int, ...] | None:
    """`value` as `None`, a positive int, or a tuple of epochs (positive ints)."""
    if value is None:
        return None
    if _validation.is_int(value):
        return _validation.check_positive_int(value, "validation_freq")
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return tuple(_validation.check_positive_int(epoch, "validation_freq") for epoch in value)
    message = (
        "`validation_freq` must be a positive integer or a list of epochs. "
        f"Received: validation_freq={value!r}"
    )
    raise TypeError(message)


def _curve_epochs(
    key: str, count: int, epochs: np.ndarray, validation_freq: int | tuple[int, ...] | None
) -> np.ndarray:
    """The epochs of the `count` values of the curve `key`."""
    if not key.startswith("val_") or (validation_freq is None and count == len(epochs)):
        return epochs[:count] if count <= len(epochs) else np.arange(1, count + 1)
    given = validation_freq
    if validation_freq is None:  # inferred: one validation every this many epochs
        validation_freq = max(len(epochs) // count, 1)
    if isinstance(validation_freq, int):
        placed = epochs[epochs % validation_freq == 0]
    else:
        placed = epochs[np.isin(epochs, validation_freq)]
    if len(placed) != count:
        inferred = f" (inferred as {validation_freq})" if given is None else ""
        message = (
            f"`validation_freq` places {len(placed)} validation values on epochs "
            f"{epochs[0]}-{epochs[-1]}, but history[{key!r}] holds {count}. "
            f"Received: validation_freq={given!r}{inferred}"
        )
        raise ValueError(message)
    return placed


def _principal_components(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components `(N, 2)` and their explained variance ratios."""
    centred = latents - latents.mean(axis=0)
    _, singular_values, components = np.linalg.svd(centred, full_matrices=False)
    variances = np.square(singular_values)
    total = variances.sum()
    ratios = variances / total if total > 0 else np.zeros_like(variances)
    coordinates = centred @ components[:2].T
    if coordinates.shape[1] == 1:
        coordinates = np.column_stack([coordinates, np.zeros(len(coordinates))])
        ratios = np.append(ratios, 0.0)
    return coordinates, ratios[:2]


def plot_latent(
    model: Any,
    images: Any,
    labels: Any = None,
    *,
    batch_size: int = 256,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Scatter the images' latent vectors on their first two principal components.

    The latents from `model.encode` are centred and projected by PCA (a NumPy
    SVD); each axis label gives the share of the latent variance it explains.
    A model with `latent_dim=1` is plotted against zeros.

    Args:
        model: a model with an `encode(images, batch_size=...)` method, such as
            `ConvAutoencoder`.
        images: at least two images, `(N, height, width[, channels])`, that
            the model takes.
        labels: one label per image to colour the points by, or None. Up to
            10 distinct integer, boolean or string labels get a legend; float
            labels or more classes get a colour bar.
        batch_size: images per forward pass. Defaults to 256.
        path: where to save the figure (`.png`, `.pdf` or `.svg`), or None.

    Returns:
        The `Figure`, with one axes holding the scatter (plus one for a
        colour bar, if any).

    Raises:
        TypeError: if `model` has no `encode` method, or `labels` mixes
            kinds of values (numbers and strings, or None).
        ValueError: if fewer than two images are given, `labels` has the
            wrong shape, the images do not fit the model, `model.encode` does
            not return a 2-D array of finite values, or `path` has an
            unsupported extension.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import ConvAutoencoder
    >>> from keras_denoise.plotting import plot_latent
    >>> model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=2)
    >>> images = np.random.default_rng(0).random((6, 8, 8))
    >>> figure = plot_latent(model, images, labels=[0, 1, 2, 0, 1, 2])
    >>> figure.axes[0].get_xlabel()
    'PC 1 (...% of variance)'
    """
    path = _check_path(path)
    if not callable(getattr(model, "encode", None)):
        message = (
            "`model` must have an `encode` method, such as a `ConvAutoencoder`. "
            f"Received: model={model!r}"
        )
        raise TypeError(message)
    latents = np.asarray(model.encode(images, batch_size=batch_size), dtype=np.float64)
    prepare = getattr(model, "_prepare_images", None)  # a keras-denoise model's own reading
    if latents.ndim == 1 and callable(prepare) and prepare(images)[1]:
        # One image, which the model encodes to one vector.
        message = (
            "`images` must hold at least two images to project. Received: one image of "
            f"shape {np.shape(images)}"
        )
        raise ValueError(message)
    if latents.ndim != 2:
        message = (
            "`model.encode` must return one latent vector per image, an array "
            f"(N, latent_dim). Received: latents with shape {latents.shape}"
        )
        raise ValueError(message)
    _validation.check_finite_output(
        latents, "encode the images to finite latent vectors", "latents"
    )
    if len(latents) < 2:
        message = (
            "`images` must hold at least two images to project. "
            f"Received: latents with shape {latents.shape}"
        )
        raise ValueError(message)
    if labels is not None:
        given, labels = labels, np.asarray(labels)
        # NumPy turns numbers among strings into strings: [0, "a"] has a string dtype.
        mixed = labels.dtype.kind in "US" and not isinstance(given, np.ndarray)
        if mixed and not all(isinstance(label, (str, bytes)) for label in given):
            labels = np.asarray(given, dtype=object)
        if labels.shape != (len(latents),):
            message = (
                f"`labels` must have one label per image, shape ({len(latents)},). "
                f"Received: labels with shape {labels.shape}"
            )
            raise ValueError(message)
        if labels.dtype.kind not in "biufUS":
            message = (
                "`labels` must all be numbers, all booleans or all strings. Received: labels "
                f"of dtype {labels.dtype} ({labels.tolist()[:3]!r}...)"
            )
            raise TypeError(message)
    coordinates, ratios = _principal_components(latents)
    figure = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = figure.subplots()
    x, y = coordinates.T
    if labels is None:
        ax.scatter(x, y, s=12, alpha=0.7)
    else:
        classes, codes = np.unique(labels, return_inverse=True)
        if labels.dtype.kind != "f" and len(classes) <= _MAX_LEGEND_CLASSES:
            colours = matplotlib.colormaps["tab10"]
            for code, value in enumerate(classes):
                chosen = codes == code
                ax.scatter(
                    x[chosen], y[chosen], s=12, alpha=0.7, color=colours(code), label=str(value)
                )
            ax.legend(title="label", markerscale=1.5, fontsize="small")
        else:
            values = labels.astype(np.float64) if labels.dtype.kind in "iuf" else codes
            points = ax.scatter(x, y, s=12, alpha=0.7, c=values, cmap="viridis")
            colorbar = figure.colorbar(points, ax=ax, label="label")
            if labels.dtype.kind in "US":  # the colours stand for classes: name them
                spread = np.linspace(0, len(classes) - 1, min(len(classes), 20)).round()
                shown = [int(code) for code in np.unique(spread)]
                colorbar.set_ticks(shown, labels=[str(classes[code]) for code in shown])
    ax.set_xlabel(f"PC 1 ({100 * ratios[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ratios[1]:.1f}% of variance)")
    ax.set_title("latent space (PCA)")
    return _finish(figure, path)


def plot_evaluation(
    rows: Sequence[Mapping[str, Any]],
    *,
    metric: str = "psnr",
    path: str | os.PathLike | None = None,
) -> Figure:
    """Plot a quality metric against the noise level, one line per method.

    Args:
        rows: the output of `keras_denoise.evaluate`: dicts with the keys
            `noise_factor`, `method`, `psnr` and `ssim` (None under `psnr`,
            as `keras-denoise evaluate --json` writes an infinite PSNR, is
            infinite and left out of the line).
        metric: the key to plot, `"psnr"` or `"ssim"`. Defaults to `"psnr"`.
        path: where to save the figure (`.png`, `.pdf` or `.svg`), or None.

    Returns:
        The `Figure`, with one axes holding one line per method (in order of
        first appearance), sorted by noise factor.

    Raises:
        ValueError: if `rows` is empty, a row lacks a key or holds a
            non-numeric value, `metric` is unknown, or `path` has an
            unsupported extension.
        TypeError: if `rows` is not a sequence of dicts.

    Example:

    >>> from keras_denoise.plotting import plot_evaluation
    >>> rows = [
    ...     {"noise_factor": 0.2, "method": "noisy", "psnr": 14.0, "ssim": 0.3},
    ...     {"noise_factor": 0.2, "method": "autoencoder", "psnr": 22.0, "ssim": 0.8},
    ...     {"noise_factor": 0.5, "method": "noisy", "psnr": 8.0, "ssim": 0.1},
    ...     {"noise_factor": 0.5, "method": "autoencoder", "psnr": 18.0, "ssim": 0.6},
    ... ]
    >>> [line.get_label() for line in plot_evaluation(rows).axes[0].lines]
    ['noisy', 'autoencoder']
    """
    if not isinstance(metric, str) or metric not in _EVALUATION_METRICS:
        message = (
            f"`metric` must be one of {tuple(_EVALUATION_METRICS)}. Received: metric={metric!r}"
        )
        raise ValueError(message)
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        message = f"`rows` must be a list of dicts. Received: rows={rows!r}"
        raise TypeError(message)
    if not rows:
        message = "`rows` must hold at least one row. Received: rows=[]"
        raise ValueError(message)
    path = _check_path(path)
    lines: dict[str, list[tuple[float, float]]] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            message = f"`rows` must be a list of dicts. Received: rows[{index}]={row!r}"
            raise TypeError(message)
        try:
            point = (
                _validation.row_number(row["noise_factor"], "noise_factor"),
                _validation.row_number(row[metric], metric),
            )
        except KeyError as error:
            message = f"`rows[{index}]` lacks the key {error.args[0]!r}. Received: {row!r}"
            raise ValueError(message) from None
        except (TypeError, OverflowError):  # OverflowError: an int past float64's range
            message = (
                f"`rows[{index}]` must hold numbers under 'noise_factor' and {metric!r}. "
                f"Received: {row!r}"
            )
            raise ValueError(message) from None
        if "method" not in row:
            message = f"`rows[{index}]` lacks the key 'method'. Received: {row!r}"
            raise ValueError(message)
        lines.setdefault(str(row["method"]), []).append(point)
    figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = figure.subplots()
    for method, points in lines.items():
        noise_factors, values = np.array(sorted(points)).T
        ax.plot(noise_factors, values, marker="o", label=method)
    ax.set_xlabel("noise factor")
    ax.set_ylabel(_EVALUATION_METRICS[metric])
    ax.set_title(f"{metric.upper()} against noise factor")
    ax.legend()
    ax.grid(alpha=0.3)
    return _finish(figure, path)


def plot_anomaly_scores(
    scores: Any,
    is_anomaly: Any,
    *,
    threshold: float | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Histograms of normal and anomalous scores, and the ROC curve.

    Args:
        scores: 1-D array of anomaly scores (see
            `keras_denoise.anomaly_scores`), higher meaning more anomalous.
        is_anomaly: 1-D array of booleans (or 0 and 1), one per score, with at
            least one of each.
        threshold: a score to mark with a vertical line (see
            `keras_denoise.anomaly_threshold`), or None.
        path: where to save the figure (`.png`, `.pdf` or `.svg`), or None.

    Returns:
        The `Figure`, with two axes: the histograms and the ROC curve (its
        AUC in the title).

    Raises:
        ValueError: if the arrays are empty, of different lengths or not
            finite, `is_anomaly` lacks a class, `threshold` is not finite, or
            `path` has an unsupported extension.
        TypeError: if an argument has the wrong type.

    Example:

    >>> from keras_denoise.plotting import plot_anomaly_scores
    >>> figure = plot_anomaly_scores([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], threshold=0.5)
    >>> figure.axes[1].get_title()
    'ROC curve (AUC = 0.750)'
    """
    scores = _anomaly._as_scores(scores)
    is_anomaly = _anomaly._as_labels(is_anomaly, scores.size)
    if threshold is not None:
        if not isinstance(threshold, numbers.Real) or isinstance(threshold, (bool, np.bool_)):
            message = f"`threshold` must be a number or None. Received: threshold={threshold!r}"
            raise TypeError(message)
        try:
            finite = math.isfinite(threshold)
        except OverflowError:  # an integer past float64's range
            finite = False
        if not finite:
            message = f"`threshold` must be finite. Received: threshold={threshold!r}"
            raise ValueError(message)
    path = _check_path(path)
    fpr, tpr, _ = _anomaly.roc_curve(scores, is_anomaly)
    auc = _anomaly.roc_auc(scores, is_anomaly)
    width, height = _CHART_INCHES
    figure = Figure(figsize=(2 * width, height), layout="constrained")
    histogram_ax, roc_ax = figure.subplots(1, 2)
    try:
        bins = np.histogram_bin_edges(scores, bins=30)
    except ValueError:  # scores a few float64 steps apart: too close for 30 distinct edges
        bins = np.histogram_bin_edges(scores, bins=1)
    histogram_ax.hist(scores[~is_anomaly], bins=bins, alpha=0.6, label="normal")
    histogram_ax.hist(scores[is_anomaly], bins=bins, alpha=0.6, label="anomalous")
    if threshold is not None:
        histogram_ax.axvline(
            threshold, color="black", linestyle="--", label=f"threshold = {threshold:.3g}"
        )
    histogram_ax.set_xlabel("anomaly score")
    histogram_ax.set_ylabel("images")
    histogram_ax.set_title("anomaly scores")
    histogram_ax.legend()
    roc_ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    roc_ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance")
    roc_ax.set_xlim(0, 1)
    roc_ax.set_ylim(0, 1.02)
    roc_ax.set_xlabel("false positive rate")
    roc_ax.set_ylabel("true positive rate")
    roc_ax.set_title(f"ROC curve (AUC = {auc:.3f})")
    roc_ax.legend(loc="lower right")
    return _finish(figure, path)
