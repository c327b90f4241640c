import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_denoise import enable_determinism

SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    import keras_denoise as kd

    kd.enable_determinism(0)
    x = np.random.default_rng(0).random((128, 16, 16, 1)).astype("float32")
    model = kd.ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
    model.compile()
    model.fit(kd.GaussianNoise(0.5, seed=0).dataset(x, batch_size=32), epochs=2, verbose=0)
    weights = b"".join(np.asarray(w).tobytes() for w in model.get_weights())
    print(hashlib.sha256(weights).hexdigest())
    """
)


def _train_in_fresh_process():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True, env=env
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_same_seeds_give_identical_weights_on_tensorflow_cpu():
    first, second = _train_in_fresh_process(), _train_in_fresh_process()
    assert len(first) == 64
    assert first == second


def test_enable_determinism_seeds_keras(monkeypatch):
    calls = []
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Op determinism is process-global; record the call instead of changing the test process.
        monkeypatch.setattr(
            tf.config.experimental, "enable_op_determinism", lambda: calls.append(1)
        )
    enable_determinism(3)
    first = keras.ops.convert_to_numpy(keras.random.normal((4,)))
    enable_determinism(3)
    second = keras.ops.convert_to_numpy(keras.random.normal((4,)))
    assert (first == second).all()
    assert len(calls) == (2 if keras.backend.backend() == "tensorflow" else 0)


SEED_MESSAGE = r"`seed` must be an integer between 0 and 2\*\*32 - 1. Received: seed="


@pytest.mark.parametrize(
    ("seed", "error"),
    [
        (-1, ValueError),
        (2**32, ValueError),
        (2**40, ValueError),
        (np.int64(-1), ValueError),
        (1.5, TypeError),
        ("0", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_enable_determinism_rejects_bad_seed(seed, error):
    with pytest.raises(error, match=SEED_MESSAGE):
        enable_determinism(seed)


@pytest.fixture
def _no_op_determinism(monkeypatch):
    """Keep the process-global TensorFlow op determinism switch untouched."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: None)


@pytest.mark.usefixtures("_no_op_determinism")
@pytest.mark.parametrize("seed", [0, 2**32 - 1, np.uint32(2**32 - 1), np.int64(5)])
def test_enable_determinism_accepts_the_whole_seed_range(seed):
    enable_determinism(seed)
    first = keras.ops.convert_to_numpy(keras.random.normal((3,)))
    enable_determinism(int(seed))
    second = keras.ops.convert_to_numpy(keras.random.normal((3,)))
    np.testing.assert_array_equal(first, second)
