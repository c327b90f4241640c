"""`ImageMean`: the running mean of a score per image, never accumulated in 16 bits."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

_HALF_DTYPES = ("float16", "bfloat16")


class ImageMean(keras.metrics.Mean):
    """The base of `PSNR` and `SSIM`: a `keras.metrics.Mean` of per-image scores.

    `keras.metrics.Mean` sums the scores and counts the images in its own
    dtype. In float16 that total overflows (past 65504, a few thousand PSNRs)
    and in both 16-bit dtypes the count stops growing (at 2048 images in
    float16, 256 in bfloat16), so the mean drifts and then becomes `inf`.
    Asked for float16 or bfloat16 (or a mixed policy computing in one of
    them), this metric computes and accumulates in float32 and casts only
    `result()` to the dtype asked for; `get_config()` records that dtype.
    Other dtypes behave as in `keras.metrics.Mean`.

    Args:
        name: name of the metric, shown in training logs.
        dtype: dtype of the result, or `None` for the Keras default (float32).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_denoise._image_mean import ImageMean
    >>> metric = ImageMean(name="score", dtype="float16")
    >>> for _ in range(100):
    ...     metric.update_state(np.full(32, 30.0))
    >>> metric.dtype, str(keras.ops.convert_to_numpy(metric.result()).dtype)
    ('float32', 'float16')
    >>> float(metric.result()), int(metric.count)
    (30.0, 3200)
    """

    def __init__(self, name: str, dtype: Any = None):
        result_dtype = keras.dtype_policies.get(dtype or keras.config.floatx()).compute_dtype
        super().__init__(name=name, dtype="float32" if result_dtype in _HALF_DTYPES else dtype)
        self._result_dtype = result_dtype

    def result(self) -> Any:
        """The mean of the scores seen since the last reset, in the dtype asked for."""
        return ops.cast(super().result(), self._result_dtype)

    def get_config(self) -> dict[str, Any]:
        """The config of `keras.metrics.Mean`, with the dtype asked for."""
        return {**super().get_config(), "dtype": self._result_dtype}
