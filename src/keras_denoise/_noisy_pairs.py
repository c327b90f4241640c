"""`NoisyPairs`: a Keras `PyDataset` streaming freshly noised `(noisy, clean)` batches."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from keras_denoise import _validation


class NoisyPairs(keras.utils.PyDataset):
    """Batches of `(noisy, clean)` images, with fresh noise every epoch.

    Made by `GaussianNoise.dataset` (build it that way: it checks and
    converts the images and draws `entropy` from the noise's seed); works
    with `model.fit` on every Keras backend. The noise of batch `i` in epoch
    `e` is drawn from a generator seeded with `(entropy, e, i)`, so a run is
    reproducible whatever order the batches are read in, and no noisy copy
    of the whole dataset is ever held in memory.

    Args:
        images: float32 array of clean images, `(N, height, width, channels)`.
        noise_factor: standard deviation of the added noise, from 0 to 1e6.
        clip: `(low, high)` bounds for the noisy images, or `None`.
        batch_size: number of images per batch.
        shuffle: whether to visit the images in a new random order each epoch.
        drop_remainder: whether to drop the last, smaller batch (fewer
            images than `batch_size` in all still make one batch).
        entropy: integer seed of all the randomness of this stream, >= 0.
        **kwargs: `workers`, `use_multiprocessing` and `max_queue_size`, passed
            to `keras.utils.PyDataset`.

    Raises:
        ValueError: if `images` is not a 4-D float array or lies outside
            [0, 1] and `clip`, `noise_factor` is outside [0, 1e6], `clip` is
            not a pair with low < high, or `batch_size` or `entropy` is out of
            range.
        TypeError: if an argument has the wrong type.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import GaussianNoise
    >>> images = np.zeros((10, 8, 8, 1), "float32")
    >>> stream = GaussianNoise(0.5, seed=0).dataset(images, batch_size=4)
    >>> len(stream)
    3
    >>> noisy, clean = stream[0]
    >>> noisy.shape, clean.shape
    ((4, 8, 8, 1), (4, 8, 8, 1))
    """

    def __init__(
        self,
        images: np.ndarray,
        *,
        noise_factor: float,
        clip: tuple[float, float] | None,
        batch_size: int,
        shuffle: bool,
        drop_remainder: bool,
        entropy: int,
        **kwargs: Any,
    ):
        if not isinstance(images, np.ndarray) or images.ndim != 4 or images.dtype.kind != "f":
            message = (
                "`images` must be a float array (N, height, width, channels). Received: "
                f"images={_validation._short_repr(images)}"
            )
            raise ValueError(message)
        noise_factor = _validation.check_noise_factor(noise_factor)
        # `GaussianNoise`'s own check (imported here: that module imports this one).
        from keras_denoise._gaussian_noise import _check_clip

        clip = _check_clip(clip)
        _validation.check_within_clip(images, clip)
        batch_size = _validation.check_positive_int(
            batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
        )
        shuffle = _validation.check_bool(shuffle, "shuffle")
        drop_remainder = _validation.check_bool(drop_remainder, "drop_remainder")
        if not _validation.is_int(entropy):
            message = f"`entropy` must be an integer. Received: entropy={entropy!r}"
            raise TypeError(message)
        if entropy < 0:
            message = f"`entropy` must be >= 0. Received: entropy={entropy!r}"
            raise ValueError(message)
        super().__init__(**kwargs)
        self.images = images
        self.noise_factor = noise_factor
        self.clip = clip
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self.entropy = entropy
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray | None:
        if not self.shuffle:
            return None
        rng = np.random.default_rng([self.entropy, self.epoch, 1])
        return rng.permutation(len(self.images))

    def __len__(self) -> int:
        count = len(self.images) / self.batch_size
        return max(1, math.floor(count)) if self.drop_remainder else math.ceil(count)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        count = len(self)
        if not _validation.is_int(index) or not -count <= index < count:
            message = (
                f"`index` must be an integer in [{-count}, {count}). Received: index={index!r}"
            )
            raise IndexError(message)
        index = int(index) % count
        start, stop = index * self.batch_size, (index + 1) * self.batch_size
        if self._order is None:
            clean = self.images[start:stop]
        else:
            clean = self.images[np.sort(self._order[start:stop])]
        rng = np.random.default_rng([self.entropy, self.epoch, 0, index])
        noise = rng.standard_normal(clean.shape, dtype=np.float32)
        noisy = clean + np.float32(self.noise_factor) * noise
        if self.clip is not None:
            np.clip(noisy, self.clip[0], self.clip[1], out=noisy)
        return noisy, clean

    def on_epoch_end(self) -> None:
        """Advance to the next epoch: new noise and, if shuffling, a new order.

        `keras.Model.fit` calls it after every epoch.

        Example:

        >>> import numpy as np
        >>> from keras_denoise import GaussianNoise
        >>> stream = GaussianNoise(0.5, seed=0).dataset(np.zeros((8, 4, 4)), batch_size=4)
        >>> first, _ = stream[0]
        >>> bool(np.array_equal(first, stream[0][0]))  # the same epoch: the same noise
        True
        >>> stream.on_epoch_end()
        >>> bool(np.array_equal(first, stream[0][0]))
        False
        """
        self.epoch += 1
        self._order = self._make_order()
