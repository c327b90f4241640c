"""`DenoiserMixin`: what every keras-denoise model offers besides its layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from keras_denoise import _validation
from keras_denoise._saving import save_model

# For type checkers, the mixin is the `keras.Model` it is mixed into (its methods call the
# model's); at run time it is a plain class, before `keras.Model` in the models' bases.
if TYPE_CHECKING:
    from keras import Model as _ModelBase
else:
    _ModelBase = object


class DenoiserMixin(_ModelBase):
    """NumPy in, NumPy out: `denoise`, default `compile`, and atomic `save`.

    Mixed into `keras.Model` subclasses that set `image_shape` (height and
    width may be `None` for fully convolutional models).
    """

    image_shape: tuple
    # The layers that compute in the variable dtype (float32) under any policy, as the
    # Keras mixed-precision guide advises for a model's outputs; `fit_denoising`'s
    # `dtype_policy` leaves them so.
    _OUTPUT_LAYER_NAMES: tuple[str, ...] = ()

    def compile(
        self, optimizer: Any = None, loss: Any = "binary_crossentropy", **kwargs: Any
    ) -> None:
        """Configure training; by default Adam and binary cross-entropy.

        `optimizer=None` means Adam at Keras's default learning rate (1e-3), as
        `UNetDenoiser.compile` gives its own default for `None`. Every argument
        of `keras.Model.compile` is accepted, for example
        `metrics=[keras_denoise.metrics.PSNR()]`.

        Example:

        >>> from keras_denoise import ConvAutoencoder
        >>> from keras_denoise.metrics import PSNR
        >>> model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=2)
        >>> model.compile(metrics=[PSNR()])
        >>> type(model.optimizer).__name__, model.loss
        ('Adam', 'binary_crossentropy')
        """
        if optimizer is None:
            optimizer = "adam"
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config: dict) -> None:
        """Restore the training configuration saved with the model.

        `compile` is overridden (to offer defaults), so Keras leaves restoring
        the compile arguments to the class; this does what Keras would. It is
        called by `load_model`; there is seldom a reason to call it directly.

        Example:

        >>> import os, tempfile
        >>> import numpy as np
        >>> from keras_denoise import ConvAutoencoder, load_model
        >>> model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=4)
        >>> model.compile(loss="mse")
        >>> images = np.zeros((4, 8, 8, 1), "float32")
        >>> _ = model.fit(images, images, batch_size=2, verbose=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> model.save(path)
        >>> restored = load_model(path)
        >>> restored.loss, int(restored.optimizer.iterations)  # and Adam's state
        ('mse', 2)
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def save(self, filepath: Any, overwrite: bool = True, **kwargs: Any) -> None:
        """Save to a `.keras` file atomically (see `keras_denoise.save_model`).

        Args:
            filepath: destination path; must end with `.keras`.
            overwrite: whether to replace an existing file. Defaults to True.
            **kwargs: passed to `keras.saving.save_model`.

        Raises:
            ValueError: if `filepath` does not end with `.keras`.
            FileExistsError: if the file exists and `overwrite` is False.

        Example:

        >>> import os, tempfile
        >>> from keras_denoise import UNetDenoiser, load_model
        >>> path = os.path.join(tempfile.mkdtemp(), "unet.keras")
        >>> UNetDenoiser(filters=(4, 8)).save(path)
        >>> load_model(path).filters
        (4, 8)
        """
        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def fit_denoising(self, clean_images: Any, **kwargs: Any) -> keras.callbacks.History:
        """Train to denoise `clean_images`, with fresh noise drawn inside every step.

        Takes the arguments of `keras_denoise.fit_denoising` after the model
        (`noise_factor`, `clip`, `epochs`, `batch_size`, `validation_split`,
        `validation_data`, `seed`, ...), and returns its `History`.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import ConvAutoencoder
        >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
        >>> history = model.fit_denoising(np.zeros((8, 16, 16), "uint8"), seed=0, verbose=0)
        >>> list(history.history)
        ['loss']
        """
        from keras_denoise._noisy_trainer import fit_denoising  # the mixin stays light

        return fit_denoising(self, clean_images, **kwargs)

    def _prepare_images(self, images: Any, name: str = "images") -> tuple[np.ndarray, bool, bool]:
        """Return `(batch, single, squeezed)` with `batch` of rank 4, checked against the model.

        `single` tells whether one image was given, `squeezed` whether it had no
        channel axis; `_restore_layout` undoes both on the result.
        """
        array = _validation.as_float_images(images, name, min_ndim=2, max_ndim=4)
        height, width, channels = self.image_shape

        def fits(size: tuple) -> bool:  # a side of None takes any size
            pairs = zip(size, (height, width), strict=True)
            return all(want is None or got == want for got, want in pairs)

        shape = array.shape
        if array.ndim == 4:
            single, squeezed = False, False
        elif array.ndim == 2:
            single, squeezed = True, True
        elif shape[-1] == channels and fits(shape[:2]):
            single, squeezed = True, False
        elif channels == 1:
            if width is None and shape[-1] in (3, 4):
                # Read as a batch, a colour image would be denoised as rows of 3- or 4-pixel
                # images without an error; a batch of such narrow images can come as rank 4.
                message = (
                    f"`{name}` is ambiguous for this 1-channel model: a colour image, which it "
                    "cannot take (convert it to grayscale, or use a model with image_shape="
                    f"(None, None, {shape[-1]})), or a batch of {shape[0]} images {shape[1]} "
                    f"pixels high and {shape[-1]} wide (pass them as an array of shape "
                    f"{(*shape, 1)}). Received: {name} with shape {shape}"
                )
                raise ValueError(message)
            single, squeezed = False, True
        else:
            single, squeezed = True, False
        if squeezed:
            array = array[..., None]
        if single:
            array = array[None]
        if array.shape[-1] != channels or not fits(array.shape[1:3]):
            expected = (
                "(N, height, width, channels)"
                if (height, width) == (None, None)
                else str(self.image_shape)
            )
            message = (
                f"`{name}` do not fit this model, which takes images of shape {expected} "
                f"with {_validation.counted(channels, 'channel')}. "
                f"Received: {name} with shape {shape}"
            )
            raise ValueError(message)
        return array, single, squeezed

    @staticmethod
    def _restore_layout(batch: np.ndarray, single: bool, squeezed: bool) -> np.ndarray:
        if squeezed:
            batch = batch[..., 0]
        return batch[0] if single else batch

    def denoise(self, images: Any, *, batch_size: int = 64) -> np.ndarray:
        """Denoise images and return the result as a float32 NumPy array.

        Args:
            images: a batch `(N, height, width[, channels])` or a single image
                `(height, width[, channels])`, float in [0, 1] or uint8 in
                0-255, of a size and channel count the model takes.
            batch_size: images per forward pass. Defaults to 64.

        Returns:
            float32 array with the same shape as `images`.

        Raises:
            ValueError: if the images do not fit the model, are empty or hold
                NaN or infinite values.
            TypeError: if `images` is not a float or uint8 array.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import ConvAutoencoder
        >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
        >>> model.denoise(np.zeros((3, 16, 16))).shape
        (3, 16, 16)
        """
        batch, single, squeezed = self._prepare_images(images)
        batch_size = _validation.check_positive_int(
            batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
        )
        result = np.asarray(self.predict(batch, batch_size=batch_size, verbose=0), np.float32)
        return self._restore_layout(result, single, squeezed)
