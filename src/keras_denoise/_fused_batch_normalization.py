"""`FusedBatchNormalization`: Keras batch normalization on TensorFlow's fused kernel."""

from __future__ import annotations

from typing import Any

import keras

# TensorFlow's fused kernel silently raises a smaller epsilon to this value.
_FUSED_MIN_EPSILON = 1.001e-5
_FUSED_DTYPES = ("float32", "bfloat16", "float16")


@keras.saving.register_keras_serializable(package="keras_denoise")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` computed by one fused kernel on TensorFlow.

    Keras 3 normalizes with a composite of backend-neutral operations (batch
    moments, then scale and shift, each with its own gradient), which on a
    CPU spends more time in these small element-wise operations than in the
    convolutions around them. On the TensorFlow backend this layer calls
    `tf.compat.v1.nn.fused_batch_norm` instead: one kernel forward and one
    backward (oneDNN on x86 CPUs), with bfloat16 and float16 inputs
    normalized in float32 inside the kernel. Training `ConvAutoencoder` in
    mixed bfloat16 on a 2-core CPU is about 1.4x faster with it.

    The arithmetic, weights, moving statistics (updated with the biased batch
    variance, as Keras does), arguments and config are those of
    `keras.layers.BatchNormalization`, so the outputs agree to float rounding
    (tested in training and inference, gradients included). Other backends,
    and the cases the fused kernel does not cover (inputs that are not 4-D
    channels-last, masks, `synchronized=True`, `renorm=True`, an epsilon below
    1.001e-5, dtypes other than float32, bfloat16 and float16), use the
    Keras implementation.

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_denoise._fused_batch_normalization import FusedBatchNormalization
    >>> layer = FusedBatchNormalization(momentum=0.5)
    >>> images = np.random.default_rng(0).normal(3.0, 2.0, (8, 4, 4, 2)).astype("float32")
    >>> outputs = keras.ops.convert_to_numpy(layer(images, training=True))
    >>> bool(np.allclose(outputs.mean(axis=(0, 1, 2)), 0.0, atol=1e-5))
    True
    >>> moving_mean = keras.ops.convert_to_numpy(layer.moving_mean)  # halfway from 0
    >>> bool(np.allclose(moving_mean, 0.5 * images.mean(axis=(0, 1, 2))))
    True
    """

    def _can_fuse(self, inputs: Any, mask: Any) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.epsilon >= _FUSED_MIN_EPSILON
            and keras.backend.standardize_dtype(inputs.dtype) in _FUSED_DTYPES
        )

    def call(self, inputs, training=None, mask=None):
        if not self._can_fuse(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # only on the TensorFlow backend

        channels = inputs.shape[-1]
        gamma = (
            tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels], "float32")
        )
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels], "float32")
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, is_training=True
            )[:3]
            # The kernel returns the Bessel-corrected variance; Keras's moving
            # variance follows the biased one (the one used to normalize).
            count = tf.cast(tf.size(inputs) // channels, "float32")
            variance = variance * tf.maximum(count - 1.0, 1.0) / count
            momentum = self.momentum
            self.moving_mean.assign(
                self.moving_mean * momentum
                + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum)
            )
            self.moving_variance.assign(
                self.moving_variance * momentum
                + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum)
            )
        else:
            outputs = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=tf.cast(self.moving_mean, "float32"),
                variance=tf.cast(self.moving_variance, "float32"),
                epsilon=self.epsilon,
                is_training=False,
            )[0]
        return tf.cast(outputs, self.compute_dtype)
