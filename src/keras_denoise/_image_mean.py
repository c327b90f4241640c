"""`ImageMean`: the running mean of a score per image, never accumulated in 16 bits."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_denoise import _validation

_HALF_DTYPES = ("float16", "bfloat16")
_FLOAT_DTYPES = (*_HALF_DTYPES, "float32", "float64")


def check_name(name: Any) -> None:
    """Refuse a metric `name` that is neither a string nor `None` (Keras's default name)."""
    if name is not None and not isinstance(name, str):
        message = f"`name` must be a string. Received: name={_validation._short_repr(name)}"
        raise TypeError(message)


def _result_dtype(dtype: Any) -> str:
    """The dtype a metric computes in for `dtype`, a floating-point dtype or dtype policy.

    As `keras.metrics.Metric` does, this is the policy's compute dtype (a metric keeps its
    variables in it too); `None` is Keras's float type.
    """
    try:
        policy = keras.dtype_policies.get(keras.config.floatx() if dtype is None else dtype)
    except (TypeError, ValueError):
        policy = None
    if policy is None or policy.compute_dtype not in _FLOAT_DTYPES:
        message = (
            "`dtype` must be a floating-point dtype or dtype policy, such as 'float32' or "
            f"'mixed_bfloat16'. Received: dtype={_validation._short_repr(dtype)}"
        )
        raise ValueError(message)
    return str(policy.compute_dtype)


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
        dtype: dtype of the result, or `None` for the Keras default (float32):
            a floating-point dtype or dtype policy.

    Raises:
        TypeError: if `name` is not a string (checked first).
        ValueError: if `dtype` is not a floating-point dtype or dtype policy.

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
        check_name(name)
        result_dtype = _result_dtype(dtype)
        super().__init__(name=name, dtype="float32" if result_dtype in _HALF_DTYPES else dtype)
        self._result_dtype = result_dtype

    def result(self) -> Any:
        """The mean of the scores seen since the last reset, in the dtype asked for."""
        return ops.cast(super().result(), self._result_dtype)

    def get_config(self) -> dict[str, Any]:
        """The config of `keras.metrics.Mean`, with the dtype asked for."""
        return {**super().get_config(), "dtype": self._result_dtype}
