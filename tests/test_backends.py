"""The same results on every installed Keras backend: TensorFlow, JAX and PyTorch.

The backend is fixed when Keras is first imported, so each backend runs in a
subprocess (this file, run as a script). One module-scoped fixture starts one
"save" process per backend, which trains and saves a small model and records
everything the tests compare, then one "load" process per backend, which loads
every other backend's file. The tests only read these results.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

BACKENDS = ("tensorflow", "jax", "torch")
INSTALLED = tuple(name for name in BACKENDS if importlib.util.find_spec(name) is not None)
POLICIES = ("mixed_float16", "mixed_bfloat16")
IMAGE_SHAPE = (16, 16, 1)
TIMEOUT_S = 600


def _inputs():
    """Fixed training images and fixed images to predict on."""
    rng = np.random.default_rng(0)
    return rng.random((48, *IMAGE_SHAPE), dtype=np.float32), rng.random(
        (8, *IMAGE_SHAPE), dtype=np.float32
    )


def _small_model(**kwargs):
    from keras_denoise import ConvAutoencoder

    return ConvAutoencoder(image_shape=IMAGE_SHAPE, latent_dim=8, **kwargs)


def _mixed_precision(policy, images):
    """Build with `dtype=policy`, train one step; report the dtypes and the loss."""
    import keras

    model = _small_model(dtype=policy)
    model.compile()
    loss = model.train_on_batch(images[:8], images[:8])
    loss = float(np.asarray(loss[0] if isinstance(loss, list) else loss))
    output = model(images[:2], training=False)
    return {
        "loss": loss,
        "output_dtype": keras.backend.standardize_dtype(output.dtype),
        "predict_dtype": str(model.predict(images[:2], verbose=0).dtype),
        "hidden_compute_dtype": model.get_layer("encoder_conv_1").compute_dtype,
    }


def _save(directory, backend):
    """Train, save and predict with a small model; record noise, PSNR and mixed precision."""
    import keras

    from keras_denoise import GaussianNoise

    train, test = _inputs()
    keras.utils.set_random_seed(0)
    model = _small_model()
    model.compile()
    model.fit(GaussianNoise(0.5, seed=0).dataset(train, batch_size=16), epochs=1, verbose=0)
    model.save(os.path.join(directory, f"{backend}.keras"))

    stream = GaussianNoise(0.5, seed=3).dataset(train, batch_size=16, shuffle=True)
    first = stream[1]
    stream.on_epoch_end()
    arrays = {
        "predictions": model.predict(test, verbose=0),
        "moving_variance": keras.ops.convert_to_numpy(
            model.get_layer("encoder_bn_1").moving_variance
        ),
        "noise": GaussianNoise(0.5, seed=3)(test),
        "stream_epoch_0": np.stack(first),
        "stream_epoch_1": np.stack(stream[1]),
    }
    try:
        from keras_denoise.metrics import PSNR
    except ImportError:
        pass
    else:
        metric = PSNR()
        metric.update_state(test, arrays["noise"])
        metric.update_state(test, np.clip(test + 0.01, 0.0, 1.0))
        arrays["psnr"] = np.asarray(keras.ops.convert_to_numpy(metric.result()))
    np.savez(os.path.join(directory, f"{backend}.npz"), **arrays)

    report = {}
    for policy in POLICIES:
        try:
            report[policy] = _mixed_precision(policy, train)
        except Exception as error:  # reported by the test, with the backend's message
            report[policy] = {"error": f"{type(error).__name__}: {error}"}
    with open(os.path.join(directory, f"{backend}_mixed.json"), "w") as handle:
        json.dump(report, handle)


def _load(directory, backend):
    """Load every other backend's model and predict on the same images."""
    from keras_denoise import load_model

    _, test = _inputs()
    for source in INSTALLED:
        if source != backend:
            model = load_model(os.path.join(directory, f"{source}.keras"))
            predictions = model.predict(test, verbose=0)
            np.save(os.path.join(directory, f"{source}_on_{backend}.npy"), predictions)


def _run_all(step, directory):
    """Run `step` in one subprocess per installed backend, all at once."""
    processes = {}
    for backend in INSTALLED:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        # These processes check results, not speed: XLA's CPU code generation at its lowest
        # optimization level compiles about twice as fast (JAX compiles every step here).
        env.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
        processes[backend] = subprocess.Popen(
            [sys.executable, __file__, step, str(directory), backend],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    for backend, process in processes.items():
        output, _ = process.communicate(timeout=TIMEOUT_S)
        assert process.returncode == 0, f"{step} on {backend} failed:\n{output[-3000:]}"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    if len(INSTALLED) < 2:
        pytest.skip(f"needs two Keras backends; installed: {INSTALLED}")
    directory = tmp_path_factory.mktemp("backends")
    _run_all("save", directory)
    _run_all("load", directory)
    return directory


def _arrays(results, backend):
    if backend not in INSTALLED:
        pytest.skip(f"backend {backend!r} is not installed")
    return np.load(results / f"{backend}.npz")


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("source", BACKENDS)
@pytest.mark.parametrize("target", BACKENDS)
def test_saved_model_predicts_the_same_on_other_backends(results, source, target):
    if source == target:
        pytest.skip("same backend: covered by test_saving.py")
    expected = _arrays(results, source)["predictions"]
    _arrays(results, target)
    loaded = np.load(results / f"{source}_on_{target}.npy")
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_updated_batch_norm_statistics(results, backend):
    # Otherwise the cross-backend comparison would not cover the moving statistics.
    variance = _arrays(results, backend)["moving_variance"]
    assert not np.allclose(variance, 1.0)


# The noise `_save` records, computed once with NumPy 2.4 (it depends on NumPy's
# `default_rng` streams, not on the Keras backend): each array's float64 sum, and its first
# four values (float32, exactly). `stream_epoch_*` stack the noisy and the clean batch.
NOISE_REFERENCE = {
    "noise": (1028.1185384988785, [1.0, 0.7696513533592224, 0.43070095777511597,
                                   0.8304751515388489]),
    "stream_epoch_0": (4051.6178004266694, [0.49704164266586304, 0.8340262174606323, 0.0,
                                            0.0]),
    "stream_epoch_1": (4077.050151420757, [1.0, 0.905519425868988, 0.6249390244483948,
                                           0.5771310329437256]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", ["noise", "stream_epoch_0", "stream_epoch_1"])
def test_noise_is_the_same_on_every_backend(results, backend, key):
    values = _arrays(results, backend)[key]
    total, first = NOISE_REFERENCE[key]
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values.ravel()[:4], np.array(first, np.float32))
    assert values.sum(dtype=np.float64) == pytest.approx(total, rel=1e-9)
    if key == "stream_epoch_1":
        assert not np.array_equal(values, _arrays(results, backend)["stream_epoch_0"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_psnr_metric_is_the_same_on_every_backend(results, backend):
    arrays = _arrays(results, backend)
    if "psnr" not in arrays:
        pytest.skip("keras_denoise.metrics.PSNR is not available")
    from keras_denoise.metrics import psnr

    _, test = _inputs()
    per_image = np.concatenate(
        [
            psnr(test, arrays["noise"], reduction="none"),
            psnr(test, np.clip(test + 0.01, 0.0, 1.0), reduction="none"),
        ]
    )
    expected = per_image.mean()  # the metric is the mean over every image seen
    np.testing.assert_allclose(arrays["psnr"], expected, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("policy", POLICIES)
def test_mixed_precision_trains_with_float32_outputs(results, backend, policy):
    if backend not in INSTALLED:
        pytest.skip(f"backend {backend!r} is not installed")
    with open(results / f"{backend}_mixed.json") as handle:
        report = json.load(handle)[policy]
    assert "error" not in report, report.get("error")
    assert np.isfinite(report["loss"])
    assert report["hidden_compute_dtype"] == policy.removeprefix("mixed_")
    assert report["output_dtype"] == "float32"
    assert report["predict_dtype"] == "float32"


if __name__ == "__main__":
    step, directory, backend = sys.argv[1:]
    {"save": _save, "load": _load}[step](directory, backend)
