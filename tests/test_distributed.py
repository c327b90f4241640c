"""Data-parallel training gives the single-device loss trajectory.

Device setup is process-global, so each engine runs in a subprocess (this file,
run as a script) that trains the same seeded model twice, on one device and
data-parallel, and reports the per-epoch losses as JSON.

- JAX: `keras.distribution.DataParallel` over 4 virtual CPU devices. The batch
  is sharded and BatchNormalization reduces over the global batch, so the loss
  matches to float32 round-off (measured: relative differences below 1e-6).
- TensorFlow: `tf.distribute.MirroredStrategy` over 2 logical CPUs. Each
  replica normalizes its own half batch unless the BatchNormalization layers
  are `synchronized`; with synchronized statistics the loss matches to float32
  round-off. Fitting a `PyDataset` (`GaussianNoise.dataset`) works, but Keras
  calls its `on_epoch_end` at a different point than on one device, so the two
  runs see the noise of different epochs: the same statistics, not the same
  numbers.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

EPOCHS = 3


def _images():
    return np.random.default_rng(0).random((128, 16, 16, 1), dtype=np.float32)


def _train(data, strategy=None, synchronized=False):
    """Per-epoch losses of a seeded small `ConvAutoencoder`, optionally built in `strategy`."""
    import contextlib

    import keras

    from keras_denoise import ConvAutoencoder

    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = synchronized
        model.compile()
    if isinstance(data, tuple):
        history = model.fit(*data, batch_size=32, epochs=EPOCHS, shuffle=False, verbose=0)
    else:
        history = model.fit(data, epochs=EPOCHS, verbose=0)
    return history.history["loss"], model


def _stream():
    from keras_denoise import GaussianNoise

    return GaussianNoise(0.5, seed=0).dataset(_images(), batch_size=32, shuffle=False)


def _jax():
    import keras

    single, _ = _train(_stream())
    devices = keras.distribution.list_devices("cpu")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    parallel, model = _train(_stream())
    sharding = model.trainable_variables[0].value.sharding
    return {
        "single": single,
        "parallel": parallel,
        "devices": len(devices),
        "mesh_devices": len(sharding.device_set),
    }


def _tensorflow():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_denoise import GaussianNoise

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    pairs = GaussianNoise(0.5, seed=0).pairs(_images())
    return {
        "replicas": strategy.num_replicas_in_sync,
        "pairs_single": _train(pairs)[0],
        "pairs_mirrored": _train(pairs, strategy, synchronized=True)[0],
        "pairs_mirrored_local_bn": _train(pairs, strategy)[0],
        "stream_single": _train(_stream())[0],
        "stream_mirrored": _train(_stream(), strategy, synchronized=True)[0],
    }


def _run(engine, **env):
    if importlib.util.find_spec(engine) is None:
        pytest.skip(f"{engine} is not installed")
    env = {**os.environ, "KERAS_BACKEND": engine, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    process = subprocess.run(
        [sys.executable, __file__, engine],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_jax_data_parallel_matches_one_device():
    result = _run("jax", XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert result["devices"] == 4
    assert result["mesh_devices"] == 4
    assert len(result["parallel"]) == EPOCHS
    np.testing.assert_allclose(result["parallel"], result["single"], rtol=1e-5)


def test_tensorflow_mirrored_strategy_matches_one_device():
    result = _run("tensorflow")
    assert result["replicas"] == 2
    # Synchronized BatchNormalization: the same arithmetic as on one device, up to the order
    # of float sums (the replicas' gradients are added across devices): 2e-5 seen.
    np.testing.assert_allclose(result["pairs_mirrored"], result["pairs_single"], rtol=5e-5)
    # Per-replica statistics over half batches: close, not equal (2e-4 to 8e-4 seen).
    np.testing.assert_allclose(result["pairs_mirrored_local_bn"], result["pairs_single"], rtol=1e-2)
    assert not np.allclose(result["pairs_mirrored_local_bn"], result["pairs_single"], rtol=1e-4)
    # The noise stream trains, with other noise draws (see the module docstring).
    np.testing.assert_allclose(result["stream_mirrored"], result["stream_single"], rtol=1e-2)
    assert result["stream_mirrored"][-1] < result["stream_mirrored"][0]


if __name__ == "__main__":
    print(json.dumps({"jax": _jax, "tensorflow": _tensorflow}[sys.argv[1]]()))
