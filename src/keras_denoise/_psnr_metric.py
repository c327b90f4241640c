"""`PSNR`: peak signal-to-noise ratio as a Keras metric."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_denoise import _validation
from keras_denoise._image_mean import ImageMean, check_name

# Smallest mean squared error, relative to `data_range**2`: caps the PSNR at 100 dB.
_MIN_RELATIVE_MSE = 1e-10


@keras.saving.register_keras_serializable(package="keras_denoise")
class PSNR(ImageMean):
    """Mean peak signal-to-noise ratio of the predictions, in decibels.

    For each image, `10 * log10(data_range**2 / MSE)` with the mean squared
    error over all its pixels and channels; the metric is the mean of these
    values over every image seen since the last reset (the average of
    per-image PSNRs, not the PSNR of the average error). To keep the mean
    finite, the MSE is clamped at `1e-10 * data_range**2`, so a perfect
    prediction scores 100 dB instead of `inf`. Written with `keras.ops` only,
    it works on every backend; `keras_denoise.metrics.psnr` is the NumPy
    counterpart.

    As in `psnr`, **uint8 images are read as 8-bit pixels and scaled to
    [0, 1]** (divided by 255), separately for `y_true` and `y_pred`, so a
    uint8 target can be scored against a float prediction in [0, 1] and the
    default `data_range=1.0` is right for both. Images of any other dtype are
    only cast to the metric's dtype, unscaled.

    Args:
        data_range: the span of possible pixel values, a number between
            1e-30 and 1e+30. Defaults to 1.0, for images in [0, 1] and for
            uint8 images.
        name: name of the metric, shown in training logs. Defaults to "psnr".
        dtype: dtype of the result, or `None` for the Keras default
            (float32): a floating-point dtype or dtype policy, such as
            "float16" or "mixed_bfloat16". The errors are computed, and the
            running mean kept, in float32 (float64 for `dtype="float64"`): in
            float16 the clamp would be 0, and a running total of PSNRs
            overflows after a few thousand images. Keras's JAX and PyTorch
            backends compute float64 in float32 all the same.

    Raises:
        TypeError: if `name` is not a string (checked first), or `data_range`
            is not a number.
        ValueError: if `data_range` is not between 1e-30 and 1e+30, or
            `dtype` is not a floating-point dtype or dtype policy.

    Example:

    >>> import numpy as np
    >>> from keras_denoise.metrics import PSNR
    >>> metric = PSNR()
    >>> metric.update_state(np.zeros((2, 8, 8, 1)), np.full((2, 8, 8, 1), 0.1))
    >>> round(float(metric.result()), 3)
    20.0

    uint8 images score as the same images divided by 255:

    >>> metric = PSNR()
    >>> y_true, y_pred = np.full((2, 8, 8, 1), 100, "uint8"), np.full((2, 8, 8, 1), 110, "uint8")
    >>> metric.update_state(y_true, y_pred)
    >>> round(float(metric.result()), 2)
    28.13

    In training: `model.compile(metrics=[PSNR()])`.
    """

    def __init__(self, data_range: float = 1.0, name: str = "psnr", dtype: Any = None):
        check_name(name)
        data_range = _validation.check_data_range(data_range)
        super().__init__(name=name, dtype=dtype)
        self.data_range = data_range

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the PSNR of each image in the batch `(N, ...)` to the running mean.

        A uint8 `y_true` or `y_pred` is scaled by 1/255 first. As with Keras's
        own metrics, targets `(N, height, width)` match predictions
        `(N, height, width, 1)`; other differing shapes raise `ValueError`.

        Example:

        >>> import numpy as np
        >>> from keras_denoise.metrics import PSNR
        >>> metric = PSNR()
        >>> metric.update_state(np.zeros((1, 8, 8)), np.full((1, 8, 8), 0.1))
        >>> metric.update_state(np.zeros((1, 8, 8)), np.full((1, 8, 8), 0.01))
        >>> round(float(metric.result()), 3)  # the mean of 20 dB and 40 dB
        30.0
        """
        # At least float32: the clamp at 1e-10 would be 0 in float16 (and the PSNR inf).
        compute_dtype = "float64" if self.dtype == "float64" else "float32"
        y_true, y_pred = _validation.cast_pixel_pairs(y_true, y_pred, compute_dtype)
        errors = y_true - y_pred
        if self.data_range != 1.0:
            # The errors in units of `data_range`, whose square would be 0 or inf in float32
            # outside 1e-19 to 1e19.
            errors = ops.divide(errors, self.data_range)
        pixel_axes = tuple(range(1, len(y_true.shape)))
        relative_mse = ops.maximum(ops.mean(ops.square(errors), axis=pixel_axes), _MIN_RELATIVE_MSE)
        super().update_state(-10.0 * ops.log10(relative_mse), sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict of primitives.

        Example:

        >>> from keras_denoise.metrics import PSNR
        >>> config = PSNR(data_range=255.0).get_config()
        >>> config["name"], config["data_range"]
        ('psnr', 255.0)
        >>> PSNR.from_config(config).data_range
        255.0
        """
        return {**super().get_config(), "data_range": self.data_range}
