"""Anomaly detection by reconstruction error, and the ROC curve to judge it.

An autoencoder trained on normal images reconstructs them well and anything
else badly, so its per-image reconstruction error is an anomaly score: the
higher, the more anomalous. The usual threshold is a high quantile of the
scores of the normal (training) images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_denoise import _validation

_METRICS = ("mse", "mae", "bce")
# Keeps log() finite in the binary cross-entropy, as Keras does.
_EPSILON = 1e-7


def _check_denoiser_takes(model: Any, images: np.ndarray, name: str) -> None:
    """Denoise one of `images` with `model`; a `ValueError` naming `name` if it refuses it.

    `images` is the argument as given (before a channel axis is added), so that the message
    shows its shape, not the one made for the model.
    """
    from keras_denoise._noisy_trainer import check_model_takes

    def denoise_one(one: np.ndarray) -> Any:
        # A 4-D batch, as the callers then hand the model: (1, H, W) is no colour image.
        return model.denoise(one[..., None] if one.ndim == 3 else one, batch_size=1)

    check_model_takes(denoise_one, model, images, name)


def anomaly_scores(
    model: Any, images: Any, *, batch_size: int = 64, metric: str = "mse"
) -> np.ndarray:
    """Per-image reconstruction error of `model.denoise(images)` against `images`.

    Args:
        model: a keras-denoise model (anything with a `denoise(images,
            batch_size=...)` method returning an array of the input's shape).
        images: a batch `(N, height, width)` or `(N, height, width,
            channels)`, float in [0, 1] or uint8 (scaled to [0, 1]).
        batch_size: images per forward pass. Defaults to 64.
        metric: the error averaged over each image's pixels: `"mse"` (squared
            error), `"mae"` (absolute error) or `"bce"` (binary cross-entropy,
            for images in [0, 1] and models with a sigmoid output).

    Returns:
        float32 array `(N,)`: one score per image, higher meaning more
        anomalous.

    Raises:
        ValueError: if `metric` is unknown, the images do not fit the model
            (checked on one image before any scoring), are empty, hold NaN or
            infinite values, or (for `"bce"`) lie outside [0, 1]; or if the
            model's reconstructions hold NaN or infinite values (as from a
            model whose training diverged).
        TypeError: if `model` has no `denoise` method or `images` is not a
            float or uint8 array.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import ConvAutoencoder
    >>> from keras_denoise import anomaly_scores
    >>> model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=2)
    >>> scores = anomaly_scores(model, np.zeros((3, 8, 8)))
    >>> scores.shape, scores.dtype
    ((3,), dtype('float32'))
    """
    if not callable(getattr(model, "denoise", None)):
        message = (
            "`model` must have a `denoise` method (a keras-denoise model). "
            f"Received: model={model!r}"
        )
        raise TypeError(message)
    if not isinstance(metric, str) or metric not in _METRICS:
        message = f"`metric` must be one of {_METRICS}. Received: metric={metric!r}"
        raise ValueError(message)
    images = _validation.as_float_images(
        images, "images", min_ndim=3, max_ndim=4, check_range=metric == "bce"
    )
    _check_denoiser_takes(model, images, "images")
    if images.ndim == 3:
        # Always hand the model a 4-D batch, so an (N, H, W) batch is never
        # mistaken for one colour image.
        images = images[..., None]
    reconstructions = model.denoise(images, batch_size=batch_size).astype(np.float64)
    _validation.check_finite_output(
        reconstructions, "reconstruct the images as finite values", "reconstructions"
    )
    images = images.astype(np.float64)
    if metric == "mse":
        errors = np.square(images - reconstructions)
    elif metric == "mae":
        errors = np.abs(images - reconstructions)
    else:
        reconstructions = np.clip(reconstructions, _EPSILON, 1.0 - _EPSILON)
        errors = -(images * np.log(reconstructions) + (1.0 - images) * np.log1p(-reconstructions))
    return errors.reshape(len(errors), -1).mean(axis=1).astype(np.float32)


def _as_array(values: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(values)
    except ValueError:  # ragged nested sequences
        message = f"`{name}` must be a 1-D array. Received: {name}={values!r}"
        raise ValueError(message) from None


def _as_scores(scores: Any, name: str = "scores", *, finite: bool = True) -> np.ndarray:
    """`scores` as a 1-D, non-empty float64 array, finite unless `finite=False`."""
    array = _as_array(scores, name)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        message = (
            f"`{name}` must be a 1-D array of real numbers. "
            f"Received: {name} with dtype {array.dtype}"
        )
        raise TypeError(message)
    if array.ndim != 1 or array.size == 0:
        message = (
            f"`{name}` must be a non-empty 1-D array. Received: {name} with shape {array.shape}"
        )
        raise ValueError(message)
    if finite and not np.isfinite(array).all():
        bad = array[~np.isfinite(array)]
        first = int(np.argmin(np.isfinite(array)))
        message = (
            f"`{name}` must not contain NaN or infinite values. Received: {name} with "
            f"{bad.size} such values, the first {float(bad[0])!r} at index {first}"
        )
        raise ValueError(message)
    return array.astype(np.float64)


def _as_labels(is_anomaly: Any, size: int) -> np.ndarray:
    """`is_anomaly` as a bool array of `size` values holding both classes."""
    array = _as_array(is_anomaly, "is_anomaly")
    if array.size == 0:  # an empty list is float64 to NumPy: the length is what is wrong
        array = array.astype(bool)
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.integer):
            message = (
                "`is_anomaly` must hold booleans (or the integers 0 and 1). "
                f"Received: is_anomaly with dtype {array.dtype}"
            )
            raise TypeError(message)
        if not np.isin(array, (0, 1)).all():
            message = (
                "`is_anomaly` must hold booleans (or the integers 0 and 1). "
                f"Received: is_anomaly with values {np.unique(array)[:10]}"
            )
            raise ValueError(message)
        array = array.astype(bool)
    if array.shape != (size,):
        message = (
            f"`is_anomaly` must have one value per score, shape ({size},). "
            f"Received: is_anomaly with shape {array.shape}"
        )
        raise ValueError(message)
    if array.all() or not array.any():
        message = (
            "`is_anomaly` must mark at least one normal and one anomalous image, "
            f"or the ROC curve is undefined. Received: is_anomaly with only {bool(array[0])!r}"
        )
        raise ValueError(message)
    return array


def anomaly_threshold(scores: Any, *, quantile: float = 0.99) -> float:
    """The `quantile` of the scores of normal images: flag anything above it.

    With scores of the normal (training) images, about a fraction
    `1 - quantile` of normal images end up above the threshold (the false
    positive rate).

    Args:
        scores: 1-D array of anomaly scores of normal images (see
            `anomaly_scores`).
        quantile: a number in [0, 1]. Defaults to 0.99.

    Returns:
        The threshold, a Python float (linearly interpolated between scores).

    Raises:
        ValueError: if `scores` is empty, not 1-D or not finite, or
            `quantile` is outside [0, 1].
        TypeError: if `scores` or `quantile` is not numeric.

    Example:

    >>> from keras_denoise import anomaly_threshold
    >>> anomaly_threshold([0.0, 1.0, 2.0, 3.0, 4.0], quantile=0.75)
    3.0
    """
    scores = _as_scores(scores)
    quantile = _validation.check_nonnegative_float(quantile, "quantile", maximum=1.0)
    return float(np.quantile(scores, quantile))


def roc_curve(scores: Any, is_anomaly: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic of `scores` as a detector of anomalies.

    An image is flagged when its score is at least the threshold. Thresholds
    run over the distinct scores, from high to low, after a first threshold of
    `inf` that flags nothing; tied scores make a single (possibly diagonal)
    step.

    Args:
        scores: 1-D array of anomaly scores, higher meaning more anomalous.
        is_anomaly: 1-D array of booleans (or 0 and 1), one per score, with at
            least one of each.

    Returns:
        `(fpr, tpr, thresholds)`: float64 arrays of the same length, the false
        and true positive rates (each rising from 0 to 1) at each threshold.

    Raises:
        ValueError: if the arrays are empty, not 1-D, of different lengths or
            not finite, or `is_anomaly` holds other values than 0 and 1 or
            lacks a class.
        TypeError: if `scores` is not numeric, or `is_anomaly` neither
            boolean nor integer.

    Example:

    >>> from keras_denoise import roc_curve
    >>> fpr, tpr, thresholds = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> fpr
    array([0. , 0. , 0.5, 0.5, 1. ])
    >>> tpr
    array([0. , 0.5, 0.5, 1. , 1. ])
    >>> thresholds
    array([ inf, 0.8 , 0.4 , 0.35, 0.1 ])
    """
    scores = _as_scores(scores)
    is_anomaly = _as_labels(is_anomaly, scores.size)
    order = np.argsort(-scores, kind="stable")
    scores, is_anomaly = scores[order], is_anomaly[order]
    # The last index of each run of equal scores: where one threshold ends.
    ends = np.flatnonzero(np.append(np.diff(scores) != 0, True))
    true_positives = np.cumsum(is_anomaly)[ends]
    false_positives = ends + 1 - true_positives
    fpr = np.concatenate([[0.0], false_positives / false_positives[-1]])
    tpr = np.concatenate([[0.0], true_positives / true_positives[-1]])
    thresholds = np.concatenate([[np.inf], scores[ends]])
    return fpr, tpr, thresholds


def roc_auc(scores: Any, is_anomaly: Any) -> float:
    """Area under the ROC curve of `scores` (trapezoidal rule).

    The probability that a random anomalous image scores higher than a random
    normal one, ties counting one half: 1.0 separates perfectly, 0.5 is
    chance, 0.0 is perfectly reversed.

    Args:
        scores: 1-D array of anomaly scores, higher meaning more anomalous.
        is_anomaly: 1-D array of booleans (or 0 and 1), one per score, with at
            least one of each.

    Returns:
        The area, a Python float in [0, 1].

    Raises:
        ValueError: as `roc_curve`.
        TypeError: as `roc_curve`.

    Example:

    >>> from keras_denoise import roc_auc
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    fpr, tpr, _ = roc_curve(scores, is_anomaly)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
