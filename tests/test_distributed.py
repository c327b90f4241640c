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
- A small `UNetDenoiser` with `compile()`'s optimizer, `ConvMuon`: the one-device
  losses on both engines (no batch normalization, so nothing else differs).
- `fit_denoising`: on JAX under `DataParallel` the one-device losses; on
  TensorFlow in a `MirroredStrategy`, one step per execution and noise drawn
  independently by each replica.
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


def _small_autoencoder():
    from keras_denoise import ConvAutoencoder

    return ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)


def _small_unet():
    from keras_denoise import UNetDenoiser

    return UNetDenoiser(image_shape=(16, 16, 1), filters=(4, 8), batch_norm=False)


def _train(data, strategy=None, synchronized=False, build=_small_autoencoder):
    """Per-epoch losses of a seeded small model from `build`, optionally built in `strategy`.

    The model is compiled with its `compile()` defaults (for the U-Net, `ConvMuon`).
    """
    import contextlib

    import keras

    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build()
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = synchronized
        model.compile()
    if isinstance(data, tuple):
        history = model.fit(*data, batch_size=32, epochs=EPOCHS, shuffle=False, verbose=0)
    else:
        history = model.fit(data, epochs=EPOCHS, verbose=0)
    return history.history["loss"], model


def _unet_losses(data, strategy=None):
    """The small U-Net's per-epoch losses and its optimizer's class name, as JSON values."""
    losses, model = _train(data, strategy, build=_small_unet)
    return {"optimizer": type(model.optimizer).__name__, "loss": losses}


def _stream():
    from keras_denoise import GaussianNoise

    return GaussianNoise(0.5, seed=0).dataset(_images(), batch_size=32, shuffle=False)


def _fit_denoising():
    """Per-epoch losses of a seeded small `ConvAutoencoder` trained by `fit_denoising`."""
    import keras

    keras.utils.set_random_seed(0)
    model = _small_autoencoder()
    history = model.fit_denoising(
        _images(), batch_size=32, epochs=EPOCHS, seed=0, shuffle=False, verbose=0
    )
    return history.history["loss"]


def _jax():
    import keras

    from keras_denoise import GaussianNoise

    pairs = GaussianNoise(0.5, seed=0).pairs(_images())
    single, _ = _train(_stream())
    denoising_single = _fit_denoising()
    unet_single = _unet_losses(pairs)
    devices = keras.distribution.list_devices("cpu")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    parallel, model = _train(_stream())
    sharding = model.trainable_variables[0].value.sharding
    return {
        "single": single,
        "parallel": parallel,
        "denoising_single": denoising_single,
        "denoising_parallel": _fit_denoising(),
        "unet_single": unet_single,
        "unet_parallel": _unet_losses(pairs),
        "devices": len(devices),
        "mesh_devices": len(sharding.device_set),
    }


def _mirrored_over_two_cpus():
    """A `MirroredStrategy` over 2 logical CPUs (set up before TensorFlow uses the CPU)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def _tensorflow():
    from keras_denoise import GaussianNoise

    strategy = _mirrored_over_two_cpus()
    pairs = GaussianNoise(0.5, seed=0).pairs(_images())
    return {
        "replicas": strategy.num_replicas_in_sync,
        "pairs_single": _train(pairs)[0],
        "pairs_mirrored": _train(pairs, strategy, synchronized=True)[0],
        "pairs_mirrored_local_bn": _train(pairs, strategy)[0],
        "stream_single": _train(_stream())[0],
        "stream_mirrored": _train(_stream(), strategy, synchronized=True)[0],
        "unet_single": _unet_losses(pairs),
        "unet_mirrored": _unet_losses(pairs, strategy),
    }


def _tensorflow_fit_denoising():
    """`fit_denoising` in a `MirroredStrategy` over 2 logical CPUs, and its noise per replica."""
    import keras
    import tensorflow as tf

    from keras_denoise._noisy_trainer import TrainingNoise

    strategy = _mirrored_over_two_cpus()

    # The noise each replica adds to its half of a batch of zeros, in two steps.
    with strategy.scope():
        noise = TrainingNoise(0.5, clip=None, seed=0)
        noise.build((None, 64, 64, 1))
    batches = tf.data.Dataset.from_tensor_slices(np.zeros((8, 64, 64, 1), "float32")).batch(8)
    batch = next(iter(strategy.experimental_distribute_dataset(batches)))

    @tf.function
    def step(images):
        return strategy.run(lambda part: noise(part, training=True), args=(images,))

    draws = [[keras.ops.convert_to_numpy(part) for part in step(batch).values] for _ in range(2)]

    def fit(**options):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = _small_autoencoder()
            model.compile()
        history = model.fit_denoising(
            _images(), batch_size=32, epochs=EPOCHS, validation_split=0.25, seed=0, verbose=0,
            **options,
        )
        return history.history

    history = fit()
    history_again = fit()
    try:
        fit(steps_per_execution=4)
        error = None
    except ValueError as exception:
        error = str(exception)

    def correlation(first, second):
        return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])

    return {
        "replica_shapes": [list(part.shape) for part in draws[0]],
        "replica_noise_correlation": correlation(draws[0][0], draws[0][1]),
        "step_noise_correlation": correlation(draws[0][0], draws[1][0]),
        "noise_std": [float(part.std()) for part in draws[0]],
        "noise_mean": [float(part.mean()) for part in draws[0]],
        "seed_state": keras.ops.convert_to_numpy(noise.seed_generator.state).tolist(),
        "history": history,
        "history_again": history_again,
        "steps_per_execution_error": error,
    }


def _run(engine, task=None, **env):
    if importlib.util.find_spec(engine) is None:
        pytest.skip(f"{engine} is not installed")
    env = {**os.environ, "KERAS_BACKEND": engine, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    process = subprocess.run(
        [sys.executable, __file__, task or engine],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_jax_data_parallel_matches_one_device():
    # XLA's lowest CPU code-generation optimization level compiles about twice as fast, as
    # for the other-backend processes of tests/test_backends.py; both runs compile with it.
    flags = "--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0"
    result = _run("jax", XLA_FLAGS=flags)
    assert result["devices"] == 4
    assert result["mesh_devices"] == 4
    assert len(result["parallel"]) == EPOCHS
    np.testing.assert_allclose(result["parallel"], result["single"], rtol=1e-5)
    # `fit_denoising` draws its noise inside the sharded step: the same noise as one device.
    assert len(result["denoising_parallel"]) == EPOCHS
    np.testing.assert_allclose(result["denoising_parallel"], result["denoising_single"], rtol=1e-5)
    # The U-Net's default optimizer, ConvMuon, orthogonalizes the sharded step's gradients.
    assert result["unet_parallel"]["optimizer"] == "ConvMuon"
    np.testing.assert_allclose(
        result["unet_parallel"]["loss"], result["unet_single"]["loss"], rtol=1e-5
    )


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
    # ConvMuon (the U-Net's default) on the gradients summed across replicas.
    assert result["unet_mirrored"]["optimizer"] == "ConvMuon"
    np.testing.assert_allclose(
        result["unet_mirrored"]["loss"], result["unet_single"]["loss"], rtol=5e-5
    )
    assert result["unet_mirrored"]["loss"][-1] < result["unet_mirrored"]["loss"][0]


def test_tensorflow_fit_denoising_in_mirrored_strategy():
    result = _run("tensorflow", "tensorflow_fit_denoising")
    # Each replica draws its own noise for its half of the batch (before, both drew
    # the same numbers), and a new draw every step from one shared seed state.
    assert result["replica_shapes"] == [[4, 64, 64, 1], [4, 64, 64, 1]]
    assert abs(result["replica_noise_correlation"]) < 0.03
    assert abs(result["step_noise_correlation"]) < 0.03
    np.testing.assert_allclose(result["noise_std"], 0.5, rtol=0.03)
    np.testing.assert_allclose(result["noise_mean"], 0.0, atol=0.015)
    assert result["seed_state"] == [0, 2]
    # It trains (the default of 16 steps per execution becomes 1 there), reproducibly.
    assert len(result["history"]["loss"]) == EPOCHS
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert np.isfinite(result["history"]["val_loss"]).all()
    assert result["history_again"] == result["history"]
    assert result["steps_per_execution_error"] is not None
    assert "`steps_per_execution` must be 1" in result["steps_per_execution_error"]
    assert "Received: steps_per_execution=4" in result["steps_per_execution_error"]


if __name__ == "__main__":
    tasks = {
        "jax": _jax,
        "tensorflow": _tensorflow,
        "tensorflow_fit_denoising": _tensorflow_fit_denoising,
    }
    print(json.dumps(tasks[sys.argv[1]]()))
