"""`UNetDenoiser`: a fully convolutional, skip-connected residual denoiser."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_denoise import _tiling, _validation
from keras_denoise._conv_muon import ConvMuon
from keras_denoise._denoiser_mixin import DenoiserMixin
from keras_denoise._fused_batch_normalization import FusedBatchNormalization

# The learning rate of `UNetDenoiser.compile()`'s default optimizer; see its docstring.
DEFAULT_LEARNING_RATE = 3e-3

# Images with more pixels than this are tiled by `denoise` when `tile_size` is None.
AUTO_TILE_PIXELS = 1024 * 1024
AUTO_TILE_SIZE = 512


@keras.saving.register_keras_serializable(package="keras_denoise")
class _PadToMultiple(keras.layers.Layer):
    """Zero-pad height and width at the bottom and right up to a multiple of `multiple`.

    The images keep their own dtype (no autocast): under a bfloat16 policy
    the clip indicators after this layer must still tell a float32 pixel of
    0.999 from 1.
    """

    def __init__(self, multiple: int, **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.multiple = _validation.check_positive_int(
            multiple, "multiple", maximum=2**_validation.MAX_STAGES
        )

    def call(self, images):
        shape = keras.ops.shape(images)
        pad_height = -shape[1] % self.multiple
        pad_width = -shape[2] % self.multiple
        return keras.ops.pad(images, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]])

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        height, width = (
            None if side is None else -(-side // self.multiple) * self.multiple
            for side in (height, width)
        )
        return (batch, height, width, channels)

    def compute_output_spec(self, images):
        return keras.KerasTensor(self.compute_output_shape(images.shape), dtype=images.dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["multiple"] = self.multiple
        return config


@keras.saving.register_keras_serializable(package="keras_denoise")
class _CropToReference(keras.layers.Layer):
    """Crop `[images, reference]` to the height and width of `reference` (top-left corner)."""

    def call(self, inputs):
        images, reference = inputs
        shape = keras.ops.shape(reference)
        return images[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        images_shape, reference_shape = input_shape
        return (images_shape[0], reference_shape[1], reference_shape[2], images_shape[3])


@keras.saving.register_keras_serializable(package="keras_denoise")
class _ClipIndicators(keras.layers.Layer):
    """Append to each image two indicator channels per channel: pixel <= 0, pixel >= 1.

    Noise clipped to [0, 1] piles pixels up exactly at 0 and 1, and such a
    pixel says something else about its clean value than one just inside the
    range (only that the clean value plus the noise fell beyond the bound).
    The comparison runs in the input's own precision (no autocast), so a
    float32 pixel of 0.999 is not rounded to 1 under a bfloat16 policy.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def call(self, images):
        images = keras.ops.cast(images, "float32")
        at_low = keras.ops.cast(keras.ops.less_equal(images, 0.0), "float32")
        at_high = keras.ops.cast(keras.ops.greater_equal(images, 1.0), "float32")
        return keras.ops.concatenate([images, at_low, at_high], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3 * input_shape[-1])

    def compute_output_spec(self, images):
        return keras.KerasTensor(self.compute_output_shape(images.shape), dtype="float32")

    def get_config(self) -> dict[str, Any]:
        # Explicit: Keras's automatic config fails on the DTypePolicy object it is built with.
        return super().get_config()


def _conv_weights(
    channels: int, filters: tuple[int, ...], convolutions: tuple[int, ...], mark_clipped: bool
) -> int:
    """The number of convolution kernel weights of a `UNetDenoiser` with these options."""

    def block(width_in: int, width: int, count: int) -> int:
        return 9 * (width_in * width + (count - 1) * width * width)

    total, width_in = 0, channels * (3 if mark_clipped else 1)
    for width, count in zip(filters, convolutions, strict=True):  # encoder and bottleneck
        total, width_in = total + block(width_in, width, count), width
    for level in range(len(filters) - 1, 0, -1):  # decoder: 2x2 upsampling, block on the skip
        width, count = filters[level - 1], convolutions[level - 1]
        total += 4 * filters[level] * width + block(2 * width, width, count)
    return total + filters[0] * channels  # the 1x1 output convolution


def _check_image_shape(value: Any) -> tuple:
    """`(height, width, channels)` where height and width may be None."""
    _validation.check_shape_triple(value, "image_shape")
    height, width, channels = value
    for side in (height, width):
        if side is not None and not _validation.is_int(side):
            message = (
                "`image_shape` must hold integers (or None for any height or width). "
                f"Received: image_shape={value!r}"
            )
            raise TypeError(message)
        if side is not None and not 4 <= side <= _validation.MAX_IMAGE_SIDE:
            message = (
                "`image_shape` must have a height and width between 4 and "
                f"{_validation.MAX_IMAGE_SIDE}, or None. Received: image_shape={value!r}"
            )
            raise ValueError(message)
    if not _validation.is_int(channels):
        message = (
            f"`image_shape` must hold an integer channel count. Received: image_shape={value!r}"
        )
        raise TypeError(message)
    if not 1 <= channels <= _validation.MAX_CHANNELS:
        message = (
            f"`image_shape` must have between 1 and {_validation.MAX_CHANNELS} channels. "
            f"Received: image_shape={value!r}"
        )
        raise ValueError(message)
    return tuple(None if side is None else int(side) for side in (height, width)) + (
        int(channels),
    )


@keras.saving.register_keras_serializable(package="keras_denoise")
class UNetDenoiser(DenoiserMixin, keras.Model):
    """A fully convolutional U-Net that denoises images of any size.

    Each level of the encoder is a block of `convolutions[i]` (three by
    default) 3x3 convolutions with `filters[i]` filters, each followed by
    batch normalization (unless `batch_norm=False`) and the activation, then
    2x2 max pooling; the last level is the bottleneck. The decoder upsamples
    with 2x2 stride-2 transposed convolutions, concatenates the encoder
    features of the same level (the skip connections) and applies another
    block of as many convolutions. A 1x1
    convolution with a sigmoid gives the output, in [0, 1] to suit the
    default binary cross-entropy loss. (The full-resolution skip connection
    already hands the input to the last block; an explicit residual,
    output = sigmoid(logit(input) + correction), trained markedly slower on
    noisy MNIST, and a linear output trained with the mean squared error did
    worse than the sigmoid with batch normalization.)

    With `mark_clipped` (the default), the network sees, besides each input
    channel, two indicator channels marking the pixels that are exactly 0 or
    exactly 1. Noise clipped to [0, 1] piles pixels up at the bounds, and a
    pixel at a bound says something else about its clean value than one just
    inside the range: only that the clean value plus the noise fell beyond
    the bound. The value and the two indicators carry all that a pixel says
    about its clean value; without them, the first convolutions must learn to
    tell 0 from 0.001 with continuous activations.

    Images whose height or width is not a multiple of `size_multiple`
    (`2 ** (len(filters) - 1)`) are zero-padded at the bottom and right inside
    the model and cropped back, so the output shape always equals the input
    shape. Each output pixel depends only on input pixels within
    `receptive_radius` (73 for the defaults) rows and columns of it, so
    `denoise` can tile large images exactly.

    With the defaults (four levels of three SiLU convolutions, so
    `size_multiple` is 8 and `receptive_radius` 73) the model has 476,881
    parameters for one channel (474,001 without batch normalization, 476,017
    without `mark_clipped`). Trained with `compile()`'s defaults and
    `fit_denoising` (mixed bfloat16, cosine schedule) for 35 epochs of noisy
    MNIST (noise 0.5), it reached 22.02 dB on the 10,000 test digits. The
    earlier default, `filters=(32, 48, 64, 96), convolutions=2,
    activation="relu"` (494,097 parameters, `receptive_radius` 51), reached
    21.92 dB the same way but trains 2.4-2.9x faster on a CPU, and suits
    quick experiments (benchmarks/RESULTS.md).

    Args:
        image_shape: `(height, width, channels)`; height and width are at least
            4, or None (the default) for images of any size. Defaults to
            `(None, None, 1)`.
        filters: filters of each level, from the full-resolution one to the
            bottleneck; one to 8 levels. Defaults to `(48, 48, 48, 32)`. With
            two ReLU convolutions per block, four levels of `(32, 48, 64, 96)`
            saw farther than three of `(32, 64, 128)` at about the same
            parameter count and denoised better (noisy MNIST, 35 epochs with
            Adam: 21.88 dB against 21.80 dB).
        convolutions: how many 3x3 convolutions each block of a level has
            (the encoder's and the decoder's), one count per level of
            `filters` (the bottleneck last), or one count for every level; 1
            to 16. Defaults to 3. Deeper, narrower blocks spend the same
            parameters on more layers: with SiLU and Adam (35 epochs of noisy
            MNIST), three convolutions with the default filters reached
            21.99 dB against 21.95 dB for two with `(48, 48, 64, 64)`
            (477,921 parameters), at about 1.4x the time per training step on
            a CPU.
        activation: activation of the hidden layers. Defaults to "silu": with
            two convolutions per block, SiLU denoised noisy MNIST better than
            ReLU (35 epochs with Adam: 21.95 dB with `(48, 48, 64, 64)`
            against 21.89 dB for ReLU with `(32, 48, 64, 96)`) but trained
            about 2x slower on a CPU.
        batch_norm: whether to normalize after every convolution (then
            without bias). Defaults to True: with it (and Adam at 3e-3) a
            three-level ReLU U-Net of `filters=(32, 64, 128)` denoised better
            (noisy MNIST, 35 epochs: 21.80 dB against
            21.67 dB without it, at 1e-3), though each step is slower on a
            CPU. In very short runs its moving statistics lag behind the
            weights and `batch_norm=False` does better (a ReLU U-Net, 3 epochs
            on 5,000 digits: 18.6 dB against 12.8 dB).
        mark_clipped: whether to add the indicator channels of pixels at
            exactly 0 and 1 (see above; they cost `2 * channels * 9 *
            filters[0]` parameters). Defaults to True: they help most when
            training is short (noisy MNIST: +0.17 dB for a small U-Net after
            3 epochs on 2,048 digits, +0.10 dB for the earlier ReLU default
            after 12 epochs on 12,800), and the gain shrinks with training
            (+0.05 dB after 35 epochs on 12,800 digits, +0.01 dB on full
            MNIST).
        **kwargs: passed to `keras.Model` (for example `name`, or `dtype`: a
            mixed policy such as `"mixed_bfloat16"` makes the hidden layers
            compute in bfloat16 while the weights and the output stay float32).

    Raises:
        ValueError: if a hyperparameter is out of range.
        TypeError: if a hyperparameter has the wrong type, or a keyword is
            unknown (a misspelled one, say).

    Example:

    >>> import numpy as np
    >>> from keras_denoise import UNetDenoiser
    >>> model = UNetDenoiser()
    >>> model.count_params()
    476881
    >>> model.compile()  # ConvMuon (learning rate 3e-3) and binary cross-entropy
    >>> model.denoise(np.zeros((2, 10, 13))).shape
    (2, 10, 13)
    >>> UNetDenoiser(image_shape=(12, 10, 3), filters=(8, 16)).output_shape
    (None, 12, 10, 3)
    """

    _OUTPUT_LAYER_NAMES = ("output", "crop")

    def __init__(
        self,
        image_shape: tuple[int | None, int | None, int] = (None, None, 1),
        *,
        filters: tuple[int, ...] = (48, 48, 48, 32),
        convolutions: int | tuple[int, ...] = 3,
        activation: str = "silu",
        batch_norm: bool = True,
        mark_clipped: bool = True,
        **kwargs: Any,
    ):
        image_shape = _check_image_shape(image_shape)
        filters = _validation.check_filters(filters, "filters")
        convolutions = _validation.check_convolutions(convolutions, len(filters))
        activation = _validation.check_activation(activation, "activation")
        batch_norm = _validation.check_bool(batch_norm, "batch_norm")
        mark_clipped = _validation.check_bool(mark_clipped, "mark_clipped")
        weights = _conv_weights(image_shape[-1], filters, convolutions, mark_clipped)
        if weights > _validation.MAX_WEIGHTS:
            message = (
                f"The convolutions would need {weights} weights, more than 2**28; use fewer "
                f"filters or convolutions. Received: filters={filters!r}, "
                f"convolutions={convolutions!r}"
            )
            raise ValueError(message)
        # Hidden layers follow `dtype` (a mixed policy computes in float16 or
        # bfloat16); the output layers compute in the variable dtype (float32),
        # as the Keras mixed-precision guide advises, so outputs stay float32.
        dtype = _validation.check_model_dtype(kwargs.pop("dtype", None))
        _validation.check_model_kwargs(kwargs, "UNetDenoiser")
        output_dtype = dtype.variable_dtype
        layers = keras.layers
        depth = len(filters) - 1

        def block(tensor, width, count, name):
            for index in range(1, count + 1):
                tensor = layers.Conv2D(
                    width,
                    3,
                    padding="same",
                    use_bias=not batch_norm,
                    name=f"{name}_conv_{index}",
                    dtype=dtype,
                )(tensor)
                if batch_norm:
                    tensor = FusedBatchNormalization(name=f"{name}_bn_{index}", dtype=dtype)(tensor)
                tensor = layers.Activation(activation, name=f"{name}_act_{index}", dtype=dtype)(
                    tensor
                )
            return tensor

        inputs = keras.Input(shape=image_shape, name="images")
        features = _PadToMultiple(2**depth, name="pad", dtype=dtype)(inputs)
        if mark_clipped:
            # After the padding, so that padded zeros are marked as tiling's are.
            features = _ClipIndicators(name="clip_indicators", dtype=dtype)(features)
        skips = []
        for level, width in enumerate(filters[:-1], start=1):
            features = block(features, width, convolutions[level - 1], f"encoder_{level}")
            skips.append(features)
            features = layers.MaxPooling2D(2, name=f"encoder_{level}_pool", dtype=dtype)(features)
        features = block(features, filters[-1], convolutions[-1], "bottleneck")
        for level in range(depth, 0, -1):
            width = filters[level - 1]
            features = layers.Conv2DTranspose(
                width, 2, strides=2, name=f"decoder_{level}_upsample", dtype=dtype
            )(features)
            skip = skips[level - 1]
            features = layers.Concatenate(name=f"decoder_{level}_skip", dtype=dtype)(
                [features, skip]
            )
            features = block(features, width, convolutions[level - 1], f"decoder_{level}")
        features = layers.Conv2D(
            image_shape[-1], 1, activation="sigmoid", name="output", dtype=output_dtype
        )(features)
        outputs = _CropToReference(name="crop", dtype=output_dtype)([features, inputs])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.dtype_policy = dtype

        self.image_shape = image_shape
        self.filters = filters
        self.convolutions = convolutions
        self.activation = activation
        self.batch_norm = batch_norm
        self.mark_clipped = mark_clipped

    @property
    def size_multiple(self) -> int:
        """Images are padded inside the model to a multiple of this (`2 ** (len(filters) - 1)`).

        Example:

        >>> from keras_denoise import UNetDenoiser
        >>> UNetDenoiser(filters=(4, 8, 16)).size_multiple
        4
        """
        return 2 ** (len(self.filters) - 1)

    @property
    def receptive_radius(self) -> int:
        """How many rows and columns away an input pixel can still change an output pixel.

        Each 3x3 convolution widens the view by one pixel of its level on each
        side, in the encoder's and the decoder's block of that level (the
        bottleneck has one block); pooling and transposed convolution add up to
        one pixel of the finer level; a pixel of level `i` (from 0) spans
        `2 ** i` input pixels. With `c[i]` convolutions per block at level `i`
        of `L`: `r = sum((2 * c[i] + 1) * 2 ** i for i < L - 1) + c[L - 1] * 2 ** (L - 1)`,
        which for two convolutions everywhere is `7 * 2 ** (L - 1) - 5`.

        Example:

        >>> from keras_denoise import UNetDenoiser
        >>> UNetDenoiser().receptive_radius, UNetDenoiser(filters=(4, 8)).receptive_radius
        (73, 13)
        >>> UNetDenoiser(filters=(4, 8), convolutions=(2, 2)).receptive_radius
        9
        """
        *levels, bottleneck = self.convolutions
        radius = sum((2 * count + 1) * 2**level for level, count in enumerate(levels))
        return radius + bottleneck * 2 ** len(levels)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as primitives, with Keras's own entries.

        Example:

        >>> from keras_denoise import UNetDenoiser
        >>> config = UNetDenoiser(filters=(4, 8), activation="silu").get_config()
        >>> config["image_shape"], config["filters"], config["activation"]
        ([None, None, 1], [4, 8], 'silu')
        """
        config = super().get_config()
        config.update(
            {
                "image_shape": list(self.image_shape),
                "filters": list(self.filters),
                "convolutions": list(self.convolutions),
                "activation": self.activation,
                "batch_norm": self.batch_norm,
                "mark_clipped": self.mark_clipped,
            }
        )
        return config

    def compile(
        self, optimizer: Any = None, loss: Any = "binary_crossentropy", **kwargs: Any
    ) -> None:
        """Configure training; by default `ConvMuon` at a learning rate of 3e-3 and BCE.

        `optimizer=None` means `keras_denoise.ConvMuon(3e-3)`: Muon's
        orthogonalized step for every convolution kernel but the output
        layer's, Adam's for the output layer, the biases and the batch
        normalizations. On noisy MNIST it denoised better than Adam at the
        same rate and schedule: after 35 epochs of full MNIST, +0.02 to
        +0.03 dB for the default U-Net (22.02 against 21.99 dB) and for the
        earlier ReLU default `filters=(32, 48, 64, 96), convolutions=2`
        (21.92 against 21.89 dB), at about the same cost per step
        (benchmarks/RESULTS.md). The rate is higher than Keras's default
        1e-3 because with batch normalization the U-Net trains best at 3e-3.
        Muon's steps are smaller than Adam's at first (its first step moved
        the kernels about a fifth as far), and a very small U-Net trained for
        about a hundred steps did better with
        `optimizer=keras.optimizers.Adam(3e-3)`, the earlier default
        (`filters=(8, 16), convolutions=2, activation="relu"`, 3 epochs on
        2,048 digits, with or without batch normalization: 14.2 to 17.5 dB
        against 12.6 to 14.8 dB), while the earlier ReLU default did better
        with `ConvMuon` from 3 epochs on 5,000 digits on. Every argument of
        `keras.Model.compile` is accepted.

        Example:

        >>> from keras_denoise import UNetDenoiser
        >>> model = UNetDenoiser(filters=(4, 8))
        >>> model.compile()
        >>> type(model.optimizer).__name__, model.loss
        ('ConvMuon', 'binary_crossentropy')
        >>> round(float(model.optimizer.learning_rate), 4)
        0.003
        """
        if optimizer is None:
            optimizer = ConvMuon(learning_rate=DEFAULT_LEARNING_RATE)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    @classmethod
    def from_config(cls, config: dict) -> UNetDenoiser:
        """Build a new, untrained model from the output of `get_config`.

        A config saved before `mark_clipped` existed builds a model without
        the indicator channels, and one saved before `convolutions` existed
        builds two convolutions per block: each as it was saved.

        Example:

        >>> from keras_denoise import UNetDenoiser
        >>> model = UNetDenoiser(filters=(4, 8))
        >>> twin = UNetDenoiser.from_config(model.get_config())
        >>> twin.filters, twin.count_params() == model.count_params()
        ((4, 8), True)
        """
        config = dict(config)
        # Configs saved before `mark_clipped` existed had no indicator channels,
        # and those saved before `convolutions` existed had two per block.
        config.setdefault("mark_clipped", False)
        config.setdefault("convolutions", 2)
        return cls(**config)  # the argument checks turn the config's lists into tuples

    def _check_tile_size(self, tile_size: Any, name: str = "tile_size") -> int:
        """`tile_size` checked: a positive integer that `size_multiple` divides.

        The command line passes its option as `name`.
        """
        tile_size = _validation.check_positive_int(
            tile_size, name, maximum=_validation.MAX_IMAGE_SIDE
        )
        if tile_size % self.size_multiple:
            message = (
                f"`{name}` must be a multiple of {self.size_multiple} (the model's "
                f"`size_multiple`). Received: {name}={tile_size!r}"
            )
            raise ValueError(message)
        return tile_size

    def denoise(
        self,
        images: Any,
        *,
        batch_size: int = 8,
        tile_size: int | None = None,
        overlap: int | None = None,
        verbose: bool = False,
    ) -> np.ndarray:
        """Denoise images, in overlapping tiles if they are large.

        With `tile_size`, each image is cut into tiles that each produce a
        `tile_size` x `tile_size` block of the result and also read `overlap`
        pixels of context on every side (so neighbouring tiles share
        `2 * overlap` pixels); the context is discarded. Only `batch_size`
        tiles are in memory at a time. When `overlap` is at least
        `receptive_radius` (73 for the defaults; the default), the
        result equals the untiled one up to float rounding. When `tile_size`
        is None, images with more than 1024 x 1024 pixels are tiled with
        `tile_size=512`; smaller ones are denoised whole, and so are the
        images of a model that fixes its height or width (`image_shape`),
        which tiles cannot be cut for.

        Args:
            images: a batch `(N, height, width[, channels])` or a single image
                `(height, width[, channels])`, float in [0, 1] or uint8 in
                0-255, of a size and channel count the model takes.
            batch_size: images (or tiles) per forward pass. Defaults to 8.
            tile_size: side of the block each tile produces, a multiple of
                `size_multiple`, or None (see above). Defaults to None.
            overlap: pixels of context around each tile, or None for
                `receptive_radius`. Defaults to None.
            verbose: whether to show a progress bar while tiling.

        Returns:
            float32 array with the same shape as `images`.

        Raises:
            ValueError: if the images do not fit the model, are empty or hold
                NaN or infinite values, or an option is out of range.
            TypeError: if `images` is not a float or uint8 array, or an option
                has the wrong type.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import UNetDenoiser
        >>> model = UNetDenoiser(filters=(4, 8))
        >>> images = np.random.default_rng(0).random((60, 50), dtype="float32")
        >>> tiled = model.denoise(images, tile_size=16, overlap=13)  # 3 x 2 tiles
        >>> tiled.shape, bool(np.allclose(tiled, model.denoise(images), atol=1e-5))
        ((60, 50), True)
        """
        batch, single, squeezed = self._prepare_images(images)
        batch_size = _validation.check_positive_int(
            batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
        )
        if tile_size is not None:
            tile_size = self._check_tile_size(tile_size)
        if overlap is None:
            overlap = self.receptive_radius
        if not _validation.is_int(overlap) or not 0 <= overlap <= _validation.MAX_IMAGE_SIDE:
            message = (
                f"`overlap` must be None or an integer between 0 and {_validation.MAX_IMAGE_SIDE}. "
                f"Received: overlap={overlap!r}"
            )
            raise ValueError(message) if _validation.is_int(overlap) else TypeError(message)
        verbose = _validation.check_bool(verbose, "verbose")
        fixed_size = self.image_shape[:2] != (None, None)
        if tile_size is not None and fixed_size:
            message = (
                "`tile_size` needs a model that takes any image size (`image_shape` with "
                f"height and width None); this one takes {self.image_shape}. "
                f"Received: tile_size={tile_size!r}"
            )
            raise ValueError(message)
        height, width = batch.shape[1:3]
        if tile_size is None and not fixed_size and height * width > AUTO_TILE_PIXELS:
            tile_size = AUTO_TILE_SIZE
        if tile_size is None:
            result = np.asarray(self.predict(batch, batch_size=batch_size, verbose=0))
        else:
            result = _tiling.predict_tiled(
                self.predict_on_batch,
                batch,
                tile_size=tile_size,
                overlap=int(overlap),
                multiple=self.size_multiple,
                batch_size=batch_size,
                verbose=verbose,
            )
        result = keras.ops.convert_to_numpy(result).astype(np.float32, copy=False)
        return self._restore_layout(result, single, squeezed)
