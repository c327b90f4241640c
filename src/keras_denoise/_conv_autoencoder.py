"""`ConvAutoencoder`: the convolutional denoising autoencoder."""

from __future__ import annotations

import itertools
from typing import Any

import keras
import numpy as np

from keras_denoise import _validation
from keras_denoise._denoiser_mixin import DenoiserMixin
from keras_denoise._few_filters_conv2d import FewFiltersConv2D
from keras_denoise._fused_batch_normalization import FusedBatchNormalization
from keras_denoise._upsampling_conv2d_transpose import UpsamplingConv2DTranspose


def _check_architecture(
    image_shape: Any,
    latent_dim: Any,
    encoder_filters: Any,
    decoder_filters: Any,
    kernel_size: Any,
    activation: Any,
    latent_activation: Any,
    output_activation: Any,
    batch_norm: Any,
) -> dict:
    """Validate every hyperparameter before any layer is built."""
    checked: dict[str, Any] = {
        "image_shape": _validation.check_image_shape(image_shape, "image_shape"),
        "latent_dim": _validation.check_positive_int(
            latent_dim, "latent_dim", maximum=_validation.MAX_LATENT_DIM
        ),
        "encoder_filters": _validation.check_filters(encoder_filters, "encoder_filters"),
        "decoder_filters": _validation.check_filters(decoder_filters, "decoder_filters"),
        "kernel_size": _validation.check_positive_int(kernel_size, "kernel_size", maximum=15),
        "activation": _validation.check_activation(activation, "activation"),
        "latent_activation": _validation.check_activation(latent_activation, "latent_activation"),
        "output_activation": _validation.check_activation(output_activation, "output_activation"),
        "batch_norm": _validation.check_bool(batch_norm, "batch_norm"),
    }
    if len(checked["encoder_filters"]) != len(checked["decoder_filters"]):
        message = (
            "`encoder_filters` and `decoder_filters` must have the same length, so that the "
            "decoder upsamples as often as the encoder downsamples. Received: "
            f"encoder_filters={encoder_filters!r}, decoder_filters={decoder_filters!r}"
        )
        raise ValueError(message)
    height, width, _ = checked["image_shape"]
    factor = 2 ** (len(checked["encoder_filters"]) - 1)
    code_height, code_width = -(-height // factor), -(-width // factor)
    dense_weights = code_height * code_width * checked["encoder_filters"][-1]
    dense_weights *= checked["latent_dim"]
    if dense_weights > _validation.MAX_WEIGHTS:
        message = (
            "The latent Dense layers would need more than 2**28 weights "
            f"({code_height}x{code_width}x{checked['encoder_filters'][-1]} features x "
            f"{checked['latent_dim']} latent units); use a smaller `image_shape` or "
            f"`latent_dim`, or more encoder stages. Received: image_shape={image_shape!r}, "
            f"latent_dim={latent_dim!r}"
        )
        raise ValueError(message)
    channels = checked["image_shape"][-1]
    widths = [channels, *checked["encoder_filters"]]
    decoder_widths = [checked["encoder_filters"][-1], *checked["decoder_filters"], channels]
    conv_weights = checked["kernel_size"] ** 2 * sum(
        a * b for chain in (widths, decoder_widths) for a, b in itertools.pairwise(chain)
    )
    if conv_weights > _validation.MAX_WEIGHTS:
        message = (
            f"The convolutions would need {conv_weights} weights, more than 2**28; use fewer "
            f"filters or a smaller kernel. Received: encoder_filters={encoder_filters!r}, "
            f"decoder_filters={decoder_filters!r}, kernel_size={kernel_size!r}"
        )
        raise ValueError(message)
    return checked


def _as_latents(latents: Any) -> np.ndarray:
    """`latents` as float32 `(N, latent_dim)` or `(latent_dim,)`: numbers, not pixels.

    Integers are cast unscaled (uint8 is not read as 8-bit pixels, unlike images).
    """
    try:
        array = np.asarray(latents)
    except ValueError:  # ragged nested sequences
        array = None
    if array is None or array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        message = (
            "`latents` must be an array of real numbers (N, latent_dim) or (latent_dim,). "
            f"Received: latents={_validation._short_repr(latents)}"
        )
        raise TypeError(message)
    if not 1 <= array.ndim <= 2 or array.size == 0:
        message = (
            "`latents` must be a non-empty array (N, latent_dim) or (latent_dim,). "
            f"Received: latents with shape {array.shape}"
        )
        raise ValueError(message)
    with np.errstate(over="ignore"):  # values beyond float32 are refused just below
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        message = (
            "`latents` must not contain NaN or infinite values (in float32). "
            f"Received: latents with shape {array.shape}"
        )
        raise ValueError(message)
    return array


@keras.saving.register_keras_serializable(package="keras_denoise")
class ConvAutoencoder(DenoiserMixin, keras.Model):
    """A convolutional denoising autoencoder with a dense latent vector.

    The encoder is a stack of `Conv2D` layers (ReLU, "same" padding), each but
    the last followed by `BatchNormalization` and a 2x2 `MaxPooling2D`; its
    feature map is flattened and projected to a latent vector of `latent_dim`
    units. The decoder mirrors it: a `Dense` layer back to the encoder's last
    feature map, then `Conv2DTranspose` layers, each but the last followed by
    `BatchNormalization` and 2x upsampling, and a final `Conv2D` with one
    filter per image channel.

    With the defaults this *is* the reference MNIST architecture: Conv2D
    16/32/32, Dense(128, sigmoid), Dense(7*7*32), Conv2DTranspose 32/32/16,
    Conv2D(1, sigmoid), 440,865 parameters (440,641 trainable) on 28x28x1.
    Some layers compute what the reference's layers compute in a faster way,
    with the same weights: the batch normalization runs TensorFlow's fused
    kernel, and each 2x upsampling and the transposed convolution after it
    are one layer (`decoder_conv_2` and `decoder_conv_3` take the 7x7 and
    14x14 maps), which on TensorFlow computes one stride-2 transposed
    convolution instead of convolving the enlarged map.

    Images whose height or width is not a multiple of `2 ** (stages - 1)` are
    zero-padded inside the model and cropped back at the end, so the output
    shape always equals the input shape.

    `encoder` and `decoder` are `keras.Model` objects sharing this model's weights;
    `encode`, `decode` and `denoise` take and return NumPy arrays.

    Args:
        image_shape: `(height, width, channels)` of the images; height and
            width at least 4. Defaults to `(28, 28, 1)`.
        latent_dim: number of units in the latent vector. Defaults to 128.
        encoder_filters: filters of each encoder convolution. Defaults to
            `(16, 32, 32)`.
        decoder_filters: filters of each decoder transposed convolution, as
            many as `encoder_filters`. Defaults to `(32, 32, 16)`.
        kernel_size: side of every convolution kernel. Defaults to 3.
        activation: activation of the hidden layers. Defaults to "relu".
        latent_activation: activation of the latent vector. Defaults to
            "sigmoid".
        output_activation: activation of the output image. Defaults to
            "sigmoid", which suits images in [0, 1].
        batch_norm: whether to use batch normalization. Defaults to True.
        **kwargs: passed to `keras.Model` (for example `name`, or `dtype`: a
            mixed policy such as `"mixed_bfloat16"` makes the hidden layers
            compute in bfloat16 while the weights and the output stay float32).

    Raises:
        ValueError: if a hyperparameter is out of range.
        TypeError: if a hyperparameter has the wrong type, or a keyword is
            unknown (a misspelled one, say).

    Example:

    >>> from keras_denoise import ConvAutoencoder
    >>> model = ConvAutoencoder()
    >>> model.count_params()
    440865
    >>> model.compile()  # Adam and binary cross-entropy
    >>> small = ConvAutoencoder(image_shape=(30, 30, 3), latent_dim=16)
    >>> small.output_shape
    (None, 30, 30, 3)
    """

    _OUTPUT_LAYER_NAMES = ("output_conv", "crop")

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (28, 28, 1),
        latent_dim: int = 128,
        *,
        encoder_filters: tuple[int, ...] = (16, 32, 32),
        decoder_filters: tuple[int, ...] = (32, 32, 16),
        kernel_size: int = 3,
        activation: str = "relu",
        latent_activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        batch_norm: bool = True,
        **kwargs: Any,
    ):
        checked = _check_architecture(
            image_shape,
            latent_dim,
            encoder_filters,
            decoder_filters,
            kernel_size,
            activation,
            latent_activation,
            output_activation,
            batch_norm,
        )
        image_shape = checked["image_shape"]
        latent_dim = checked["latent_dim"]
        encoder_filters = checked["encoder_filters"]
        decoder_filters = checked["decoder_filters"]
        kernel_size = checked["kernel_size"]
        height, width, channels = image_shape
        stages = len(encoder_filters)
        factor = 2 ** (stages - 1)
        pad_height, pad_width = -height % factor, -width % factor
        padding = (
            (pad_height // 2, pad_height - pad_height // 2),
            (pad_width // 2, pad_width - pad_width // 2),
        )
        code_shape = (
            (height + pad_height) // factor,
            (width + pad_width) // factor,
            encoder_filters[-1],
        )

        # === Layers ===
        # Hidden layers follow `dtype` (a mixed policy computes in float16 or
        # bfloat16); the output layers compute in the variable dtype (float32),
        # as the Keras mixed-precision guide advises, so outputs stay float32.
        dtype = _validation.check_model_dtype(kwargs.pop("dtype", None))
        _validation.check_model_kwargs(kwargs, "ConvAutoencoder")
        output_dtype = dtype.variable_dtype
        layers = keras.layers
        encoder_layers = []
        if pad_height or pad_width:
            encoder_layers.append(layers.ZeroPadding2D(padding, name="pad", dtype=dtype))
        for index, filters in enumerate(encoder_filters, start=1):
            encoder_layers.append(
                layers.Conv2D(
                    filters,
                    kernel_size,
                    activation=activation,
                    padding="same",
                    name=f"encoder_conv_{index}",
                    dtype=dtype,
                )
            )
            if index < stages:
                if batch_norm:
                    encoder_layers.append(
                        FusedBatchNormalization(name=f"encoder_bn_{index}", dtype=dtype)
                    )
                encoder_layers.append(
                    layers.MaxPooling2D(
                        2, padding="same", name=f"encoder_pool_{index}", dtype=dtype
                    )
                )
        encoder_layers.append(layers.Flatten(name="flatten", dtype=dtype))
        encoder_layers.append(
            layers.Dense(
                latent_dim, activation=checked["latent_activation"], name="latent", dtype=dtype
            )
        )

        decoder_layers = [
            layers.Dense(
                int(np.prod(code_shape)), activation=activation, name="decoder_dense", dtype=dtype
            ),
            layers.Reshape(code_shape, name="reshape", dtype=dtype),
        ]
        for index, filters in enumerate(decoder_filters, start=1):
            # Every decoder convolution but the first reads the previous one's output
            # upsampled by 2: `UpsamplingConv2DTranspose` does both in one layer.
            transpose = layers.Conv2DTranspose if index == 1 else UpsamplingConv2DTranspose
            decoder_layers.append(
                transpose(
                    filters,
                    kernel_size,
                    activation=activation,
                    padding="same",
                    name=f"decoder_conv_{index}",
                    dtype=dtype,
                )
            )
            if index < stages and batch_norm:
                decoder_layers.append(
                    FusedBatchNormalization(name=f"decoder_bn_{index}", dtype=dtype)
                )
        decoder_layers.append(
            FewFiltersConv2D(
                channels,
                kernel_size,
                activation=checked["output_activation"],
                padding="same",
                name="output_conv",
                dtype=output_dtype,
            )
        )
        if pad_height or pad_width:
            decoder_layers.append(layers.Cropping2D(padding, name="crop", dtype=output_dtype))

        # === Functional model ===
        inputs = keras.Input(shape=image_shape, name="images")
        latent = inputs
        for layer in encoder_layers:
            latent = layer(latent)
        outputs = latent
        for layer in decoder_layers:
            outputs = layer(outputs)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.dtype_policy = dtype

        # === Sub-models sharing the weights ===
        latent_inputs = keras.Input(shape=(latent_dim,), name="latent_vectors")
        decoded = latent_inputs
        for layer in decoder_layers:
            decoded = layer(decoded)
        self.encoder = keras.Model(inputs, latent, name="encoder")
        self.decoder = keras.Model(latent_inputs, decoded, name="decoder")

        # === Config ===
        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.encoder_filters = encoder_filters
        self.decoder_filters = decoder_filters
        self.kernel_size = kernel_size
        self.activation = checked["activation"]
        self.latent_activation = checked["latent_activation"]
        self.output_activation = checked["output_activation"]
        self.batch_norm = checked["batch_norm"]

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as primitives, with Keras's own entries.

        Example:

        >>> from keras_denoise import ConvAutoencoder
        >>> config = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8).get_config()
        >>> config["image_shape"], config["latent_dim"], config["encoder_filters"]
        ([16, 16, 1], 8, [16, 32, 32])
        """
        config = super().get_config()
        config.update(
            {
                "image_shape": list(self.image_shape),
                "latent_dim": self.latent_dim,
                "encoder_filters": list(self.encoder_filters),
                "decoder_filters": list(self.decoder_filters),
                "kernel_size": self.kernel_size,
                "activation": self.activation,
                "latent_activation": self.latent_activation,
                "output_activation": self.output_activation,
                "batch_norm": self.batch_norm,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> ConvAutoencoder:
        """Build a new, untrained model from the output of `get_config`.

        Example:

        >>> from keras_denoise import ConvAutoencoder
        >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
        >>> twin = ConvAutoencoder.from_config(model.get_config())
        >>> twin.image_shape, twin.count_params() == model.count_params()
        ((16, 16, 1), True)
        """
        return cls(**config)  # the argument checks turn the config's lists into tuples

    def encode(self, images: Any, *, batch_size: int = 64) -> np.ndarray:
        """Map images to their latent vectors.

        Args:
            images: a batch `(N, height, width[, channels])` or a single image,
                float in [0, 1] or uint8, of the model's `image_shape`.
            batch_size: images per forward pass. Defaults to 64.

        Returns:
            float32 array `(N, latent_dim)`, or `(latent_dim,)` for one image.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import ConvAutoencoder
        >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
        >>> model.encode(np.zeros((5, 16, 16))).shape
        (5, 8)
        """
        batch, single, _ = self._prepare_images(images)
        batch_size = _validation.check_positive_int(
            batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
        )
        latents = np.asarray(self.encoder.predict(batch, batch_size=batch_size, verbose=0))
        latents = latents.astype(np.float32, copy=False)
        return latents[0] if single else latents

    def decode(self, latents: Any, *, batch_size: int = 64) -> np.ndarray:
        """Map latent vectors back to images.

        Args:
            latents: float array `(N, latent_dim)` or a single `(latent_dim,)`.
            batch_size: vectors per forward pass. Defaults to 64.

        Returns:
            float32 images `(N, height, width, channels)`, or one image.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import ConvAutoencoder
        >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
        >>> model.decode(np.zeros((2, 8))).shape
        (2, 16, 16, 1)
        """
        array = _as_latents(latents)
        if array.shape[-1] != self.latent_dim:
            message = (
                f"`latents` must have {self.latent_dim} values per vector (the model's "
                f"`latent_dim`). Received: latents with shape {array.shape}"
            )
            raise ValueError(message)
        batch_size = _validation.check_positive_int(
            batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
        )
        single = array.ndim == 1
        batch = array[None] if single else array
        images = np.asarray(self.decoder.predict(batch, batch_size=batch_size, verbose=0))
        images = images.astype(np.float32, copy=False)
        return images[0] if single else images
