"""`UpsamplingConv2DTranspose`: 2x upsampling and a transposed convolution, computed as one."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_denoise._few_filters_conv2d import _tensorflow_sees_a_gpu

# Where the stride-2 form was measured faster than upsampling and then convolving (training
# steps of `ConvAutoencoder`, benchmarks/RESULTS.md): backends run the plain form elsewhere.
_FUSED_BACKENDS = ("tensorflow",)


def _tap_matrix(kernel_size: int) -> np.ndarray:
    """Along one axis, how the stride-2 kernel's taps sum the stride-1 kernel's taps.

    After nearest-neighbour upsampling by two, output pixel `2 * i + phase` of a
    "same" stride-1 transposed convolution with an odd kernel of radius `r`
    reads upsampled pixel `2 * i + phase + d` for `d` in `[-r, r]` through tap
    `r - d`, and that upsampled pixel is input pixel `i + s` with
    `s = (phase + d) // 2`. A "same" stride-2 transposed convolution reads
    input pixel `i + s` for output `2 * i + phase` through tap
    `phase - 2 * s + r` of a kernel of `kernel_size + 1` taps: the matrix adds
    up the stride-1 taps that land on the same stride-2 tap.
    """
    radius = kernel_size // 2
    matrix = np.zeros((kernel_size + 1, kernel_size), dtype="float32")
    for phase in (0, 1):
        for offset in range(-radius, radius + 1):
            matrix[phase - 2 * ((phase + offset) // 2) + radius, radius - offset] += 1.0
    return matrix


@keras.saving.register_keras_serializable(package="keras_denoise")
class UpsamplingConv2DTranspose(keras.layers.Conv2DTranspose):
    """2x nearest-neighbour upsampling followed by a stride-1 `Conv2DTranspose`.

    `keras.layers.UpSampling2D(2)` followed by
    `keras.layers.Conv2DTranspose(filters, kernel_size, padding="same")`
    repeats every pixel four times and then convolves the enlarged map. Each
    2x2 block of the result reads the same few input pixels, so the pair is
    one transposed convolution with stride 2 whose `kernel_size + 1` square
    kernel adds up the taps that read the same input pixel. That computes
    the same values with about half the multiplications (16 instead of 36
    per input pixel and channel pair for a 3x3 kernel), and with no
    upsampled map to store and reduce for the gradient. On TensorFlow on a
    2-core CPU the stride-2 form took 6.4 ms against 11.1 ms forward and
    backward for `ConvAutoencoder`'s 14x14-to-28x28 layer (batch 64, 32 to 16
    channels).

    The weights are those of the `Conv2DTranspose` (kernel
    `(kernel_size, kernel_size, filters, channels)` and bias), with the same
    config, initializers and arguments, and the outputs agree with the two
    Keras layers to float rounding (tested forward and backward on every
    backend). The stride-2 form is used for odd kernel sides on TensorFlow
    when TensorFlow sees no GPU (where it was measured); even kernel sides,
    other backends and GPUs upsample and then convolve.

    Args:
        filters: number of output channels.
        kernel_size: side of the square kernel, or `(height, width)`.
        **kwargs: the other arguments of `keras.layers.Conv2DTranspose`
            (`activation`, `use_bias`, initializers, `name`, `dtype`, ...).
            `padding` must be "same" (the default here), and `strides` and
            `dilation_rate` 1.

    Raises:
        ValueError: if `padding`, `strides` or `dilation_rate` is not as
            above.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_denoise._upsampling_conv2d_transpose import UpsamplingConv2DTranspose
    >>> layer = UpsamplingConv2DTranspose(4, 3)
    >>> images = np.random.default_rng(0).random((2, 5, 6, 3)).astype("float32")
    >>> tuple(layer(images).shape)
    (2, 10, 12, 4)
    >>> plain = keras.layers.Conv2DTranspose(4, 3, padding="same")
    >>> _ = plain(keras.layers.UpSampling2D(2)(images))
    >>> plain.set_weights(layer.get_weights())
    >>> outputs = [layer(images), plain(keras.layers.UpSampling2D(2)(images))]
    >>> bool(np.allclose(*map(keras.ops.convert_to_numpy, outputs), atol=1e-5))
    True
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], **kwargs: Any):
        kwargs.setdefault("padding", "same")
        super().__init__(filters, kernel_size, **kwargs)
        fixed = {
            "padding": ("same", self.padding),
            "strides": ((1, 1), tuple(self.strides)),
            "dilation_rate": ((1, 1), tuple(self.dilation_rate)),
        }
        for name, (required, value) in fixed.items():
            if value != required:
                message = (
                    f"`{name}` must be {required!r}: the layer upsamples by 2 and then "
                    f"convolves with stride 1. Received: {name}={kwargs.get(name)!r}"
                )
                raise ValueError(message)
        odd = all(side % 2 for side in self.kernel_size)
        self._taps = tuple(_tap_matrix(side) for side in self.kernel_size) if odd else None

    def _upsample(self, inputs: Any) -> Any:
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis in axes:
            inputs = keras.ops.repeat(inputs, 2, axis=axis)
        return inputs

    def _fuses(self) -> bool:
        backend = keras.backend.backend()
        return (
            self._taps is not None
            and backend in _FUSED_BACKENDS
            and not (backend == "tensorflow" and _tensorflow_sees_a_gpu())
        )

    def call(self, inputs: Any) -> Any:
        taps = self._taps
        if taps is None or not self._fuses():
            return super().call(self._upsample(inputs))
        # The stride-2 kernel, summed in float32 (float64 for float64 weights) from the
        # (possibly autocast) kernel.
        precise = "float64" if self.variable_dtype == "float64" else "float32"
        kernel = keras.ops.einsum("tm,un,mnoi->tuoi", *taps, keras.ops.cast(self.kernel, precise))
        outputs = keras.ops.conv_transpose(
            inputs,
            keras.ops.cast(kernel, inputs.dtype),
            strides=2,
            padding="same",
            data_format=self.data_format,
        )
        if self.use_bias:
            shape = (1, 1, 1, self.filters)
            if self.data_format == "channels_first":
                shape = (1, self.filters, 1, 1)
            outputs = keras.ops.add(outputs, keras.ops.reshape(self.bias, shape))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = list(input_shape)
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis in axes:
            shape[axis] = None if shape[axis] is None else 2 * shape[axis]
        return tuple(super().compute_output_shape(tuple(shape)))
