"""`SSIM`: structural similarity as a Keras metric."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_denoise import _validation
from keras_denoise._image_mean import ImageMean, check_name

_SIGMA = 1.5
_RADIUS = 5  # 3.5 sigma, as in scikit-image: an 11x11 window.
_K1 = 0.01
_K2 = 0.03


def _gaussian_window() -> np.ndarray:
    """The normalized 11x11 Gaussian window of sigma 1.5."""
    offsets = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
    weights = np.exp(-(offsets**2) / (2.0 * _SIGMA**2))
    weights /= weights.sum()
    return np.outer(weights, weights)


@keras.saving.register_keras_serializable(package="keras_denoise")
class SSIM(ImageMean):
    """Mean structural similarity (Wang et al., 2004) of the predictions.

    For each image: local means, variances and covariance under an 11x11
    Gaussian window of sigma 1.5 (population statistics, "valid" positions
    only, so a 5-pixel border is left out), combined with K1=0.01 and K2=0.03
    into an SSIM map whose mean over positions and channels is the image's
    score. The metric is the mean of these scores over every image seen since
    the last reset. This is the definition of `keras_denoise.metrics.ssim`
    (scikit-image's `structural_similarity` with `gaussian_weights=True`,
    `sigma=1.5`, `use_sample_covariance=False`), written with `keras.ops`
    only, so it works on every backend.

    Images must be batches `(N, height, width, channels)` or
    `(N, height, width)`, at least 11x11. As in `ssim`, **uint8 images are
    read as 8-bit pixels and scaled to [0, 1]** (divided by 255), separately
    for `y_true` and `y_pred`, so a uint8 target can be scored against a float
    prediction in [0, 1] and the default `data_range=1.0` is right for both.
    Images of any other dtype are only cast to the metric's dtype, unscaled.

    Args:
        data_range: the span of possible pixel values, a number between
            1e-30 and 1e+30. Defaults to 1.0, for images in [0, 1] and for
            uint8 images.
        name: name of the metric, shown in training logs. Defaults to "ssim".
        dtype: dtype of the result, or `None` for the Keras default
            (float32): a floating-point dtype or dtype policy, such as
            "float16" or "mixed_bfloat16". The metric computes, and keeps its
            running mean, in this dtype, except that float16 and bfloat16 (too
            coarse for the local variances and for counting thousands of
            images) are computed in float32 and only the result is cast.
            Keras's JAX and PyTorch backends compute float64 in float32 all
            the same.

    Raises:
        TypeError: if `name` is not a string (checked first), or `data_range`
            is not a number.
        ValueError: if `data_range` is not between 1e-30 and 1e+30, or
            `dtype` is not a floating-point dtype or dtype policy; in
            `update_state`, if the images are not of rank 3 or 4 or are
            smaller than 11x11.

    Example:

    >>> import numpy as np
    >>> from keras_denoise.metrics import SSIM
    >>> images = np.random.default_rng(0).random((2, 16, 16, 1))
    >>> metric = SSIM()
    >>> metric.update_state(images, images)
    >>> round(float(metric.result()), 4)
    1.0

    uint8 images score as the same images divided by 255:

    >>> pixels = (images * 255).astype("uint8")
    >>> metric.reset_state()
    >>> metric.update_state(pixels, pixels // 2)
    >>> scaled = SSIM()
    >>> scaled.update_state(pixels / 255, (pixels // 2) / 255)
    >>> bool(abs(float(metric.result()) - float(scaled.result())) < 1e-6)
    True

    In training: `model.compile(metrics=[SSIM()])`.
    """

    def __init__(self, data_range: float = 1.0, name: str = "ssim", dtype: Any = None):
        check_name(name)
        data_range = _validation.check_data_range(data_range)
        super().__init__(name=name, dtype=dtype)
        self.data_range = data_range

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the SSIM of each image in the batch to the running mean.

        A uint8 `y_true` or `y_pred` is scaled by 1/255 first. As with Keras's
        own metrics, targets `(N, height, width)` match predictions
        `(N, height, width, 1)`; other differing shapes raise `ValueError`.

        Example:

        >>> import numpy as np
        >>> from keras_denoise.metrics import SSIM
        >>> images = np.random.default_rng(0).random((3, 16, 16))
        >>> metric = SSIM()
        >>> metric.update_state(images, images)
        >>> metric.update_state(images, 1 - images)
        >>> bool(float(metric.result()) < 0.5)
        True
        """
        y_true, y_pred = _validation.cast_pixel_pairs(y_true, y_pred, self.dtype)
        if len(y_true.shape) == 3:
            y_true, y_pred = y_true[..., None], y_pred[..., None]
        window_side = 2 * _RADIUS + 1
        height, width = y_true.shape[1:3] if len(y_true.shape) == 4 else (None, None)
        if len(y_true.shape) != 4 or any(
            side is not None and side < window_side for side in (height, width)
        ):
            message = (
                "`SSIM` takes batches (N, height, width[, channels]) of images at least "
                f"{window_side}x{window_side}. Received: y_true with shape {y_true.shape}"
            )
            raise ValueError(message)
        if self.data_range != 1.0:
            # SSIM is the same for `images / data_range` and a data range of 1. Unscaled, the
            # products of local statistics and constants `(K * data_range)**2`, of the order of
            # `data_range**4`, would leave float32's range outside about 1e-7 to 1e9.
            y_true = ops.divide(y_true, self.data_range)
            y_pred = ops.divide(y_pred, self.data_range)
        channels = y_true.shape[-1]
        # One depthwise convolution computes the five local statistics at once.
        stack = ops.concatenate(
            [y_true, y_pred, y_true * y_true, y_pred * y_pred, y_true * y_pred], axis=-1
        )
        window = np.tile(_gaussian_window()[:, :, None, None], (1, 1, 5 * channels, 1))
        local = ops.depthwise_conv(
            stack,
            ops.convert_to_tensor(window, dtype=self.dtype),
            padding="valid",
            data_format="channels_last",
        )
        mean_true, mean_pred, mean_true2, mean_pred2, mean_cross = ops.split(local, 5, axis=-1)
        var_true = mean_true2 - mean_true * mean_true
        var_pred = mean_pred2 - mean_pred * mean_pred
        covariance = mean_cross - mean_true * mean_pred
        c1, c2 = _K1**2, _K2**2
        ssim_map = ((2.0 * mean_true * mean_pred + c1) * (2.0 * covariance + c2)) / (
            (mean_true * mean_true + mean_pred * mean_pred + c1) * (var_true + var_pred + c2)
        )
        super().update_state(ops.mean(ssim_map, axis=(1, 2, 3)), sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict of primitives.

        Example:

        >>> from keras_denoise.metrics import SSIM
        >>> config = SSIM(data_range=255.0).get_config()
        >>> config["name"], config["data_range"]
        ('ssim', 255.0)
        >>> SSIM.from_config(config).data_range
        255.0
        """
        return {**super().get_config(), "data_range": self.data_range}
