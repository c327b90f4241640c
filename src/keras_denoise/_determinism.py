"""`enable_determinism`: the switches that make training reproducible bit for bit."""

from __future__ import annotations

import keras

from keras_denoise import _validation


def enable_determinism(seed: int) -> None:
    """Seed every random generator and ask the backend for deterministic kernels.

    Calls `keras.utils.set_random_seed(seed)` (Python, NumPy and the backend's
    generators) and, on the TensorFlow backend,
    `tf.config.experimental.enable_op_determinism()`, so that the same seeds
    give identical trained weights on the same machine and software versions.
    Deterministic kernels can be slower, notably on GPUs; the setting lasts for
    the rest of the process. Noise from `GaussianNoise(seed=...)` and
    `fit_denoising(seed=...)` is seeded separately and is reproducible either way.

    Args:
        seed: an integer between 0 and 2**32 - 1 (NumPy's limit).

    Raises:
        ValueError: if `seed` is outside `[0, 2**32 - 1]`.
        TypeError: if `seed` is not an integer (bools are rejected).

    Example:

    >>> from keras_denoise import enable_determinism
    >>> enable_determinism(0)
    """
    seed = _validation.check_seed(seed, "seed")
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
