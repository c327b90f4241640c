"""`FewFiltersConv2D`: a Keras `Conv2D` with few filters, computed as a depthwise convolution."""

from __future__ import annotations

from typing import Any

import keras

# The depthwise form's intermediate tensor has `channels * filters` channels: keep it for few
# filters (it was measured with one).
_MAX_FILTERS = 4
_DEPTHWISE_DTYPES = ("float32", "bfloat16", "float16")


def _tensorflow_sees_a_gpu() -> bool:
    import tensorflow as tf  # only on the TensorFlow backend

    return bool(tf.config.list_logical_devices("GPU"))


@keras.saving.register_keras_serializable(package="keras_denoise")
class FewFiltersConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` for layers with few filters, such as an image output.

    A convolution from `c` input channels to `f` filters is a depthwise
    convolution with `f` filters per input channel (the same kernel, of shape
    `(height, width, c, f)`) followed by a sum over the input channels. On
    the TensorFlow backend on a CPU, the gradient of a convolution with one
    output channel is one of the slowest kernels of a training step: on a
    2-core AMD EPYC, the output layer of `ConvAutoencoder` (16 channels to
    one) took about a fifth of the step, its filter gradient being the
    largest single operation. The depthwise form computes that gradient about
    twice as fast, and the whole training step was about 1.1x faster (on a
    2-core Intel Xeon with AVX-512: 1.04x in float32, 1.07x in mixed bfloat16).

    The weights, arguments and config are those of `keras.layers.Conv2D`, and
    the outputs agree to float rounding (tested forward and backward). The
    depthwise form is used on TensorFlow for 4-D channels-last inputs of
    float32, bfloat16 or float16, at most 4 filters, unit strides and
    dilation, and one group, when TensorFlow sees no GPU (where it was not
    measured); everything else, and other backends, use `keras.layers.Conv2D`
    itself.

    Args:
        **kwargs: the arguments of `keras.layers.Conv2D`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_denoise._few_filters_conv2d import FewFiltersConv2D
    >>> layer = FewFiltersConv2D(1, 3, padding="same")
    >>> reference = keras.layers.Conv2D(1, 3, padding="same")
    >>> images = np.random.default_rng(0).random((2, 8, 8, 4)).astype("float32")
    >>> _ = layer(images), reference(images)
    >>> reference.set_weights(layer.get_weights())
    >>> outputs = [keras.ops.convert_to_numpy(conv(images)) for conv in (layer, reference)]
    >>> bool(np.allclose(*outputs, atol=1e-5))
    True
    """

    def _uses_depthwise(self, inputs: Any) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and self.filters <= _MAX_FILTERS
            and self.data_format == "channels_last"
            and len(inputs.shape) == 4
            and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1)
            and self.groups == 1
            and keras.backend.standardize_dtype(inputs.dtype) in _DEPTHWISE_DTYPES
            and not _tensorflow_sees_a_gpu()
        )

    def convolution_op(self, inputs: Any, kernel: Any) -> Any:
        if not self._uses_depthwise(inputs):
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf  # only on the TensorFlow backend

        channels = kernel.shape[-2]
        # Output channel `c * filters + j` of the depthwise convolution holds
        # input channel `c` convolved with kernel[..., c, j].
        per_channel = tf.nn.depthwise_conv2d(
            inputs, kernel, strides=(1, 1, 1, 1), padding=self.padding.upper()
        )
        shape = tf.shape(per_channel)
        per_channel = tf.reshape(
            per_channel, tf.stack([shape[0], shape[1], shape[2], channels, self.filters])
        )
        return tf.reduce_sum(per_channel, axis=-2)
