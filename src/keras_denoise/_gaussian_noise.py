"""`GaussianNoise`: corrupt clean images with additive Gaussian noise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_denoise import _validation
from keras_denoise._noisy_pairs import NoisyPairs


def _check_clip(clip: Any) -> tuple[float, float] | None:
    if clip is None:
        return None
    # A sequence: a set or a dict has no order to tell low from high.
    ordered = isinstance(clip, (Sequence, np.ndarray)) and not isinstance(clip, (str, bytes))
    if not ordered or len(clip) != 2:
        message = f"`clip` must be a pair (low, high) or None. Received: clip={clip!r}"
        raise ValueError(message)
    low, high = clip
    for bound in (low, high):
        if not isinstance(bound, (int, float, np.integer, np.floating)) or isinstance(
            bound, (bool, np.bool_)
        ):
            message = f"`clip` must hold two numbers. Received: clip={clip!r}"
            raise TypeError(message)
        try:
            finite = math.isfinite(bound)
        except OverflowError:  # an integer past float64's range
            finite = False
        if not finite:
            message = f"`clip` must hold two finite numbers. Received: clip={clip!r}"
            raise ValueError(message)
    if not low < high:
        message = f"`clip` must be (low, high) with low < high. Received: clip={clip!r}"
        raise ValueError(message)
    return (float(low), float(high))


def _check_seed(seed: Any) -> int | None:
    """`seed` as an `int` in `[0, 2**32 - 1]`, or `None`; shared by every noise source."""
    return _validation.check_seed(seed, "seed", allow_none=True)


class GaussianNoise:
    """Additive Gaussian noise, `clip(images + noise_factor * N(0, 1))`.

    A data utility (not a layer): it turns clean images into the noisy inputs a
    denoiser learns from. Each call draws fresh noise from a NumPy generator
    seeded with `seed`, so the same seed gives the same sequence of noisy
    images. The input array is never modified.

    Images may be a single image `(height, width)` or `(height, width,
    channels)`, or a batch `(N, height, width)` or `(N, height, width,
    channels)`. Floating-point images are used as they are, and must lie in
    [0, 1] (or within a wider `clip`: pixels in 0-255 stored as floats are
    refused, not clipped); **uint8 images are read as 8-bit pixels and scaled
    to [0, 1]** (divided by 255) before the noise is added. Other integer,
    boolean, complex or non-numeric arrays raise `TypeError`. The result is
    always float32.

    Args:
        noise_factor: standard deviation of the noise, a number from 0 to 1e6.
            Defaults to 0.5, the reference task's level.
        clip: `(low, high)` bounds the noisy images are clipped to, or `None`
            for no clipping. Defaults to `(0.0, 1.0)`.
        seed: integer seed of the noise, between 0 and 2**32 - 1, or `None`
            for fresh entropy.

    Raises:
        ValueError: if `noise_factor` is outside [0, 1e6] or NaN, `clip` is
            not a pair with `low < high`, or `seed` is outside
            `[0, 2**32 - 1]`.
        TypeError: if `noise_factor`, `clip` or `seed` has the wrong type.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import GaussianNoise
    >>> clean = np.full((2, 4, 4, 1), 0.5, dtype="float32")
    >>> noise = GaussianNoise(noise_factor=0.5, seed=42)
    >>> noisy = noise(clean)
    >>> noisy.shape, noisy.dtype
    ((2, 4, 4, 1), dtype('float32'))
    >>> bool(noisy.min() >= 0.0 and noisy.max() <= 1.0)
    True
    >>> noisy, clean = noise.pairs(clean)
    """

    def __init__(
        self,
        noise_factor: float = 0.5,
        *,
        clip: tuple[float, float] | None = (0.0, 1.0),
        seed: int | None = None,
    ):
        self.noise_factor = _validation.check_noise_factor(noise_factor)
        self.clip = _check_clip(clip)
        self.seed = _check_seed(seed)
        self._rng = np.random.default_rng(self.seed)

    def __repr__(self) -> str:
        return (
            f"GaussianNoise(noise_factor={self.noise_factor!r}, clip={self.clip!r}, "
            f"seed={self.seed!r})"
        )

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict of primitives.

        Example:

        >>> from keras_denoise import GaussianNoise
        >>> GaussianNoise(0.3, seed=1).get_config()
        {'noise_factor': 0.3, 'clip': (0.0, 1.0), 'seed': 1}
        """
        return {"noise_factor": self.noise_factor, "clip": self.clip, "seed": self.seed}

    def _corrupt(self, clean: np.ndarray) -> np.ndarray:
        noise = self._rng.standard_normal(clean.shape, dtype=np.float32)
        noisy = clean + np.float32(self.noise_factor) * noise
        if self.clip is not None:
            np.clip(noisy, self.clip[0], self.clip[1], out=noisy)
        return noisy

    def __call__(self, images: Any) -> np.ndarray:
        """Return a noisy float32 copy of `images`.

        Args:
            images: a single image or a batch, float in [0, 1] or uint8 in 0-255.

        Returns:
            A new float32 array of the same shape.

        Raises:
            TypeError: if `images` is not a float or uint8 array.
            ValueError: if `images` is empty, has NaN or infinite values or
                values outside [0, 1] and `clip`, or a rank outside 2-4.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import GaussianNoise
        >>> noise = GaussianNoise(0.5, seed=0)
        >>> noisy = noise(np.full((100, 16, 16), 0.5, "float32"))
        >>> noisy.dtype, noisy.shape, bool(noisy.min() >= 0 and noisy.max() <= 1)
        (dtype('float32'), (100, 16, 16), True)
        >>> round(float(noisy.std()), 1)  # about 0.5, a little less for the clipping
        0.4
        """
        clean = _validation.as_float_images(images, "images")
        _validation.check_within_clip(clean, self.clip)
        return self._corrupt(clean)

    def pairs(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return `(noisy, clean)`, both float32, for training or validation.

        `clean` is `images` as float32 in [0, 1] (uint8 scaled by 1/255). The
        images are checked as by calling the noise.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import GaussianNoise
        >>> noisy, clean = GaussianNoise(0.5, seed=0).pairs(np.zeros((3, 8, 8)))
        >>> noisy.shape == clean.shape == (3, 8, 8)
        True
        """
        clean = _validation.as_float_images(images, "images")
        _validation.check_within_clip(clean, self.clip)
        return self._corrupt(clean), clean

    def dataset(
        self,
        images: Any,
        *,
        batch_size: int = 64,
        shuffle: bool = True,
        drop_remainder: bool = False,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ) -> NoisyPairs:
        """A training stream of freshly noised `(noisy, clean)` batches.

        The stream is a `keras.utils.PyDataset`, so it works with `fit` on every
        Keras backend: `model.fit(noise.dataset(x_train), epochs=35)`. Every
        epoch sees new noise (and, with `shuffle`, a new order); no noisy copy
        of the dataset is made. Its randomness comes from this object's
        generator, so the same `seed` gives the same stream.

        Args:
            images: a batch of clean images, `(N, height, width)` or
                `(N, height, width, channels)`, float in [0, 1] (or within a
                wider `clip`) or uint8. A missing channel axis is added.
            batch_size: images per batch. Defaults to 64.
            shuffle: whether to reshuffle the images every epoch.
            drop_remainder: whether to drop the last, smaller batch (fewer
                images than `batch_size` in all still make one batch).
            workers: number of threads or processes that prepare batches.
            use_multiprocessing: whether the workers are processes.
            max_queue_size: batches kept ready when `workers > 1`.

        Returns:
            A `NoisyPairs` dataset.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import GaussianNoise
        >>> stream = GaussianNoise(0.5, seed=0).dataset(np.zeros((100, 16, 16)), batch_size=32)
        >>> len(stream), stream[0][0].shape
        (4, (32, 16, 16, 1))
        """
        clean = _validation.as_float_images(images, "images", min_ndim=3, max_ndim=4)
        _validation.check_batch_layout(clean)
        _validation.check_within_clip(clean, self.clip)
        if clean.ndim == 3:
            clean = clean[..., None]
        batch_size = _validation.check_positive_int(
            batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
        )
        shuffle = _validation.check_bool(shuffle, "shuffle")
        drop_remainder = _validation.check_bool(drop_remainder, "drop_remainder")
        workers = _validation.check_positive_int(workers, "workers", maximum=256)
        entropy = int(self._rng.integers(0, 2**63 - 1))
        return NoisyPairs(
            clean,
            noise_factor=self.noise_factor,
            clip=self.clip,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_remainder=drop_remainder,
            entropy=entropy,
            workers=workers,
            use_multiprocessing=_validation.check_bool(use_multiprocessing, "use_multiprocessing"),
            max_queue_size=_validation.check_positive_int(max_queue_size, "max_queue_size"),
        )
