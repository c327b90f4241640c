"""Tests of the `keras-denoise` command line.

The end-to-end tests run `python -m keras_denoise` in a subprocess, as a user
would (each pays for a TensorFlow import, so they are few and tiny); the error
cases call `main` in this process and read its stderr with `capsys`.
"""

import inspect
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import keras_denoise
from keras_denoise import ConvAutoencoder, load_model, plotting
from keras_denoise._cli import (
    _FIGURE_SUFFIXES,
    _RESUME_HISTORY,
    _RESUME_SETTINGS,
    _UNET_FILTERS,
    _build_parser,
    _check_resumed_images,
    _history_of_rows,
    _history_recorder,
    _match_channels,
    _read_backup_history,
    _resume_settings,
    _strict_json,
    _write_json,
    main,
)
from keras_denoise._unet_denoiser import UNetDenoiser

# What TensorFlow's C++ runtime writes to stderr while it loads, whatever
# TF_CPP_MIN_LOG_LEVEL says; the command's own messages never look like this.
_RUNTIME_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d:\d\d)")


def run_cli(*args, cwd=None):
    """Run `python -m keras_denoise ARGS`; return `(returncode, stdout, stderr lines)`."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    process = subprocess.run(
        [sys.executable, "-m", "keras_denoise", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )
    stderr = [line for line in process.stderr.splitlines() if not _RUNTIME_LOG.match(line)]
    return process.returncode, process.stdout, stderr


def assert_one_line_error(stderr, *fragments):
    """stderr is one `keras-denoise...: error: ...` line holding every fragment."""
    lines = [line for line in stderr.splitlines() if line] if isinstance(stderr, str) else stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("keras-denoise") and ": error: " in lines[0], lines
    assert "Traceback" not in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def strict_json(path):
    """The JSON file at `path`, which must not hold NaN or Infinity (not JSON)."""

    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=refuse)


def write_png(path, array):
    Image.fromarray(array).save(path)
    return path


# The ITU-R BT.601 luma weights with which `denoise` turns RGB inputs grayscale.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def model_denoise(model_path, images, **options):
    """What the saved model's `denoise` gives for float32 `(N, H, W, C)` images."""
    return load_model(model_path, compile=False).denoise(np.asarray(images, np.float32), **options)


def as_8_bit(images):
    """Float images in 8-bit pixels, as `denoise` writes PNGs and uint8 `.npy` files."""
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def assert_denoised(written, expected, source, atol):
    """`written` is `expected` within `atol`, and a copy of `source` would not be."""
    assert written.shape == expected.shape and written.dtype == expected.dtype
    if written.dtype == np.uint8:  # rounded to 8 bits, as `as_8_bit` does, not truncated
        assert np.mean(written != expected) < 0.05, "the 8-bit pixels are not rounded"
    written, expected = written.astype(np.float64), expected.astype(np.float64)
    np.testing.assert_allclose(written, expected, rtol=0, atol=atol)
    source = np.broadcast_to(np.asarray(source, np.float64), expected.shape)
    assert np.abs(source - expected).max() > 3 * atol, "the model leaves the input unchanged"


@pytest.fixture
def digits_folder(tmp_path, rng):
    """Twelve 16x16 grayscale PNGs: bright squares on black."""
    folder = tmp_path / "digits"
    folder.mkdir()
    for index in range(12):
        image = np.zeros((16, 16), np.uint8)
        top, left = rng.integers(0, 8, size=2)
        image[top : top + 8, left : left + 8] = 255
        write_png(folder / f"digit_{index:02d}.png", image)
    return folder


@pytest.fixture
def conv_path(tmp_path):
    """An untrained ConvAutoencoder for 16x16 grayscale images."""
    path = tmp_path / "conv.keras"
    ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4).save(path)
    return path


@pytest.fixture(scope="module")
def plain_path(tmp_path_factory):
    """A plain Keras model file (no `denoise`), saved once for the module."""
    path = tmp_path_factory.mktemp("plain") / "plain.keras"
    keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Identity()]).save(path)
    return path


@pytest.fixture
def unet_path(tmp_path):
    """An untrained, small UNetDenoiser for RGB images of any size."""
    path = tmp_path / "unet.keras"
    UNetDenoiser(image_shape=(None, None, 3), filters=(4, 8)).save(path)
    return path


# --- as a user runs it -----------------------------------------------------------------------


def test_console_script_answers_help():
    script = Path(sys.executable).with_name("keras-denoise")
    assert script.is_file(), f"{script} missing: reinstall with `pip install -e .`"
    process = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=300)
    assert process.returncode == 0
    for command in ("demo", "train", "denoise", "evaluate"):
        assert command in process.stdout


@pytest.mark.slow
def test_demo_writes_its_files(tmp_path):
    out = tmp_path / "demo"
    code, stdout, stderr = run_cli(
        "demo", "--out", out, "--epochs", 1, "--max-images", 64, "--batch-size", 32
    )
    assert code == 0, stderr
    assert "loss:" in stdout and "PSNR" in stdout
    # The digits it trains on, not those it loads (it said 64).
    training = "Training a ConvAutoencoder on 57 sample digits (7 more validate) for 1 epoch\n"
    assert training in stdout
    for name in ("comparison.png", "loss.png", "model.keras", "metrics.json"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["heldout_images"] == 64
    assert metrics["train_images"] == 57  # 90 % of 64, the rest validates
    assert metrics["psnr_denoised"] > 0
    # The noisy PSNR is that of the first 64 sample test digits noised with the reported seed.
    _, test = keras_denoise.datasets.load_sample_digits()
    noise = keras_denoise.GaussianNoise(metrics["noise_factor"], seed=metrics["seed"])
    expected = keras_denoise.metrics.psnr(test[:64], noise(test[:64]))
    assert metrics["psnr_noisy"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow
def test_train_on_a_folder_then_denoise_and_evaluate(tmp_path, digits_folder):
    model = tmp_path / "out" / "squares.keras"
    # Nine training images in batches of 3: no last batch of one, which PyTorch's CPU refuses.
    code, stdout, stderr = run_cli(
        "train", "--data", digits_folder, "--epochs", 2, "--batch-size", 3, "--latent-dim", 8,
        "--validation-split", 0.25, "--seed", 1, "--resume", "--out", model,
    )  # fmt: skip
    assert code == 0, stderr
    assert "Epoch 2/2" in stdout
    assert model.is_file() and (tmp_path / "out" / "squares.loss.png").is_file()
    assert not (tmp_path / "out" / "squares.keras.backup").exists()
    metrics = json.loads((tmp_path / "out" / "squares.metrics.json").read_text())
    assert metrics["train_images"] == 9 and metrics["heldout_images"] == 3
    assert {"final_loss", "final_val_loss", "psnr_noisy", "psnr_denoised"} <= set(metrics)
    # The final losses are the second epoch's, as its progress line gave them.
    last_epoch = [line for line in stdout.splitlines() if " - loss: " in line][-1]
    for name in ("loss", "val_loss"):
        printed = float(re.search(rf" - {name}: ([0-9.]+)", last_epoch)[1])
        assert metrics[f"final_{name}"] == pytest.approx(printed, abs=5e-5)
    # Scored on the last quarter of the images (in name order), which training held out.
    heldout = keras_denoise.datasets.load_images(digits_folder)[9:]
    noisy = keras_denoise.GaussianNoise(metrics["noise_factor"], seed=1)(heldout)
    psnr_noisy = keras_denoise.metrics.psnr(heldout, noisy)
    assert metrics["psnr_noisy"] == pytest.approx(float(psnr_noisy), rel=1e-6)

    batch = np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)
    np.save(tmp_path / "batch.npy", batch)
    colours = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    rgb = write_png(tmp_path / "rgb.png", colours)
    code, stdout, stderr = run_cli(
        "denoise", model, digits_folder / "digit_00.png", rgb, tmp_path / "batch.npy",
        "-o", tmp_path / "clean",
    )  # fmt: skip
    assert code == 0, stderr
    # What the saved model gives for the same inputs, as the command reads and writes them.
    digit = np.asarray(Image.open(digits_folder / "digit_00.png"))
    expected = model_denoise(model, digit[None, ..., None] / np.float32(255))
    written = np.asarray(Image.open(tmp_path / "clean" / "digit_00.png"))
    assert_denoised(written, as_8_bit(expected[0, ..., 0]), digit, atol=1)
    grey = (colours / np.float32(255)) @ LUMA
    expected = model_denoise(model, grey[None, ..., None])
    written = np.asarray(Image.open(tmp_path / "clean" / "rgb.png"))
    assert_denoised(written, as_8_bit(expected[0, ..., 0]), as_8_bit(grey), atol=1)
    expected = model_denoise(model, batch[..., None])[..., 0]
    denoised = np.load(tmp_path / "clean" / "batch.npy")
    assert_denoised(denoised, expected, batch, atol=1e-4)

    scores = tmp_path / "scores.json"
    code, stdout, stderr = run_cli(
        "evaluate", model, "--data", digits_folder, "--noise-factors", "0.2,0.4",
        "--baselines", "median", "--json", scores, "--figure", tmp_path / "scores.png",
    )  # fmt: skip
    assert code == 0, stderr
    assert "median" in stdout
    rows = json.loads(scores.read_text())
    assert [(row["noise_factor"], row["method"]) for row in rows] == [
        (0.2, "noisy"), (0.2, "model"), (0.2, "median"),
        (0.4, "noisy"), (0.4, "model"), (0.4, "median"),
    ]  # fmt: skip
    assert (tmp_path / "scores.png").is_file()


@pytest.mark.slow
def test_train_on_the_sample(tmp_path):
    model = tmp_path / "sample.keras"
    code, stdout, stderr = run_cli(
        "train", "--data", "sample", "--epochs", 1, "--validation-split", 0, "--out", model
    )
    assert code == 0, stderr
    metrics = json.loads((tmp_path / "sample.metrics.json").read_text())
    assert metrics["model"] == "conv" and metrics["image_shape"] == [28, 28, 1]
    assert metrics["learning_rate_schedule"] == "cosine" and metrics["dtype_policy"] == "float32"
    assert metrics["heldout_images"] > 0 and "final_val_loss" not in metrics
    assert metrics["psnr_denoised"] > metrics["psnr_noisy"]


@pytest.mark.slow
def test_train_unet_on_a_folder(capsys, tmp_path, digits_folder):
    model = tmp_path / "unet.keras"
    argv = ["train", "--data", str(digits_folder), "--model", "unet", "--epochs", "1",
            "--batch-size", "6", "--dtype-policy", "mixed_bfloat16",
            "--learning-rate-schedule", "constant", "--out", str(model)]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "unet.metrics.json").read_text())
    assert metrics["model"] == "unet" and metrics["train_images"] == 10
    assert metrics["dtype_policy"] == "mixed_bfloat16"
    assert metrics["learning_rate_schedule"] == "constant"
    assert "PSNR" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], {"learning_rate_schedule": "cosine", "dtype_policy": None}),
        (["--learning-rate-schedule", "constant", "--dtype-policy", "mixed_bfloat16"],
         {"learning_rate_schedule": None, "dtype_policy": "mixed_bfloat16"}),
    ],
    ids=["defaults", "constant-bfloat16"],
)
def test_train_trains_with_its_schedule_and_dtype_policy(
    tmp_path, digits_folder, monkeypatch, flags, expected
):
    from keras_denoise import _noisy_trainer

    calls, fit = [], _noisy_trainer.fit_denoising

    def recording_fit(model, images, **kwargs):
        calls.append(kwargs)
        return fit(model, images, **kwargs)

    monkeypatch.setattr(_noisy_trainer, "fit_denoising", recording_fit)
    argv = ["train", "--data", str(digits_folder), "--epochs", "1", "--batch-size", "4",
            "--latent-dim", "4", *flags, "--out", str(tmp_path / "m.keras")]  # fmt: skip
    assert main(argv) == 0
    (kwargs,) = calls
    assert {key: kwargs[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("flags", "image_shape", "images"),
    [(["--size", "8", "12"], [8, 12, 1], 12), (["--patch-size", "8", "8"], [8, 8, 1], 48)],
    ids=["size", "patch-size"],
)
def test_train_resizes_or_cuts_folder_images(tmp_path, digits_folder, flags, image_shape, images):
    argv = ["train", "--data", str(digits_folder), "--epochs", "1", "--batch-size", "8",
            "--latent-dim", "4", *flags, "--out", str(tmp_path / "m.keras")]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "m.metrics.json").read_text())
    assert metrics["image_shape"] == image_shape
    assert metrics["train_images"] + metrics["heldout_images"] == images


@pytest.mark.parametrize(
    ("key", "name"), [("images", "data.npz"), ("x", "DATA.NPZ"), ("x_train", "data.npz")]
)  # `x_train` without `x_test`: held out by the validation split, as the others
def test_train_on_an_npz_of_one_array(tmp_path, rng, key, name):
    data = tmp_path / name
    with open(data, "wb") as handle:  # `np.savez` would add `.npz` to a name in capitals
        np.savez(handle, **{key: rng.integers(0, 256, (10, 16, 16), dtype=np.uint8)})
    argv = ["train", "--data", str(data), "--epochs", "1", "--batch-size", "4",
            "--latent-dim", "4", "--validation-split", "0.2", "--out", str(tmp_path / "m.keras")]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "m.metrics.json").read_text())
    assert metrics["train_images"] == 8 and metrics["heldout_images"] == 2


@pytest.mark.parametrize(
    ("shape", "dtype"), [((10, 16, 16), np.uint8), ((10, 16, 16, 1), np.float32)]
)
def test_train_on_a_batch_in_one_npy_file(tmp_path, rng, shape, dtype):
    # As `denoise` takes a batch in one .npy file, so does --data (uint8, or floats in [0, 1]).
    batch = rng.integers(0, 256, shape, dtype=np.uint8)
    np.save(tmp_path / "batch.npy", batch if dtype == np.uint8 else (batch / 255).astype(dtype))
    argv = ["train", "--data", str(tmp_path / "batch.npy"), "--epochs", "1", "--batch-size", "4",
            "--latent-dim", "4", "--validation-split", "0.2", "--out", str(tmp_path / "m.keras")]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "m.metrics.json").read_text())
    assert metrics["image_shape"] == [16, 16, 1]
    assert metrics["train_images"] == 8 and metrics["heldout_images"] == 2


def test_train_on_one_image_in_an_npy_file_resized(tmp_path, rng):
    # One image (H, W[, C]) in an .npy file is read as an image file is: --size applies.
    np.save(tmp_path / "one.npy", rng.integers(0, 256, (20, 24, 1), dtype=np.uint8))
    argv = ["train", "--data", str(tmp_path / "one.npy"), "--epochs", "1", "--size", "8", "12",
            "--latent-dim", "4", "--validation-split", "0", "--out", str(tmp_path / "m.keras")]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "m.metrics.json").read_text())
    assert metrics["image_shape"] == [8, 12, 1] and metrics["train_images"] == 1


@pytest.mark.parametrize("shape", [(2, 8, 8, 5), (2, 3, 8, 8, 1)])
def test_npy_data_of_no_image_layout(capsys, tmp_path, shape):
    np.save(tmp_path / "odd.npy", np.zeros(shape, np.uint8))
    argv = ["train", "--data", str(tmp_path / "odd.npy"), "--out", str(tmp_path / "m.keras")]
    assert main(argv) == 1
    assert_one_line_error(
        capsys.readouterr().err, f"--data '{tmp_path / 'odd.npy'}' must hold one image (H, W)",
        f"Received: an array of shape {shape}",
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["odd.npy"]


def test_folder_errors_name_the_data_option(capsys, tmp_path, digits_folder):
    np.save(digits_folder / "batch.npy", np.zeros((4, 16, 16), np.uint8))
    argv = ["train", "--data", str(digits_folder), "--out", str(tmp_path / "m.keras")]
    assert main(argv) == 1
    assert_one_line_error(
        capsys.readouterr().err, "each file of `--data` must hold one image",
        f"Received: '{digits_folder / 'batch.npy'}', an array of shape (4, 16, 16)",
        "is --data itself",
    )
    empty = tmp_path / "images.npz"  # a folder, whatever its name
    empty.mkdir()
    assert main(["train", "--data", str(empty), "--out", str(tmp_path / "m.keras")]) == 1
    assert_one_line_error(
        capsys.readouterr().err, "`--data` is a folder with no PNG, JPEG or `.npy` files",
        f"Received: --data='{empty}'",
    )


def test_train_on_a_folder_named_like_an_archive(tmp_path, digits_folder):
    folder = digits_folder.rename(tmp_path / "digits.npz")
    argv = ["train", "--data", str(folder), "--epochs", "1", "--batch-size", "4",
            "--latent-dim", "4", "--out", str(tmp_path / "m.keras")]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((tmp_path / "m.metrics.json").read_text())["image_shape"] == [16, 16, 1]


def test_train_without_held_out_images_into_a_new_folder(tmp_path, digits_folder):
    # No test split and no validation split: nothing to score, and no error for it.
    model = tmp_path / "new" / "sub" / "m.keras"  # folders made without --resume too
    argv = ["train", "--data", str(digits_folder), "--epochs", "1", "--batch-size", "4",
            "--latent-dim", "4", "--validation-split", "0", "--out", str(model)]  # fmt: skip
    assert main(argv) == 0
    assert model.is_file()
    metrics = strict_json(tmp_path / "new" / "sub" / "m.metrics.json")
    assert metrics["train_images"] == 12 and "final_loss" in metrics
    assert not {"final_val_loss", "heldout_images", "psnr_noisy", "psnr_denoised"} & set(metrics)


def test_train_unet_options(tmp_path, digits_folder):
    model = tmp_path / "unet.keras"
    argv = ["train", "--data", str(digits_folder), "--model", "unet", "--filters", "8", "16",
            "--convolutions", "2", "--activation", "relu", "--epochs", "1", "--batch-size", "6",
            "--out", str(model)]  # fmt: skip
    assert main(argv) == 0
    loaded = load_model(model)
    assert (loaded.filters, loaded.convolutions, loaded.activation) == ((8, 16), (2, 2), "relu")
    assert tuple(loaded.image_shape) == (None, None, 1)  # any size, not only the training one
    metrics = json.loads((tmp_path / "unet.metrics.json").read_text())
    assert metrics["filters"] == [8, 16] and metrics["convolutions"] == [2, 2]
    assert metrics["activation"] == "relu" and "latent_dim" not in metrics


def write_tiny_npz(path, rng, *, train=12, test=4):
    """A Keras-layout `.npz` of random 16x16 uint8 images."""
    images = rng.integers(0, 256, (train + test, 16, 16), dtype=np.uint8)
    np.savez(path, x_train=images[:train], x_test=images[train:])
    return path


class Interrupted(Exception):
    """Stands for a Ctrl-C in the middle of a run."""


class InterruptAfterEpoch1(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise Interrupted


def run_interrupted_after_epoch_1(monkeypatch, argv):
    """`main(argv)` for a `ConvAutoencoder` run stopped after its first epoch.

    Returns the callbacks the command trained with.
    """
    original = ConvAutoencoder.fit_denoising
    given = []

    def interrupted_fit(self, *args, callbacks, **kwargs):
        given.extend(callbacks)
        # After the command's BackupAndRestore, which backs epoch 1 up first.
        return original(self, *args, callbacks=[*callbacks, InterruptAfterEpoch1()], **kwargs)

    with monkeypatch.context() as patch, pytest.raises(Interrupted):
        patch.setattr(ConvAutoencoder, "fit_denoising", interrupted_fit)
        main(argv)
    return given


@pytest.mark.slow
def test_resume_continues_a_run_started_with_resume(monkeypatch, capsys, tmp_path, rng):
    data = write_tiny_npz(tmp_path / "data.npz", rng)
    model = tmp_path / "m.keras"
    argv = ["train", "--data", str(data), "--epochs", "2", "--batch-size", "4",
            "--latent-dim", "4", "--resume", "--out", str(model)]  # fmt: skip
    (recorder, backup) = run_interrupted_after_epoch_1(monkeypatch, argv)
    # Two copies, so that a backup interrupted while being written falls back to the last.
    assert isinstance(backup, keras.callbacks.BackupAndRestore) and backup.double_checkpoint
    assert isinstance(recorder, keras.callbacks.LambdaCallback)  # before the backup
    (epoch_1,) = json.loads((tmp_path / "m.keras.backup" / _RESUME_HISTORY).read_text())["epochs"]
    stdout, stderr = capsys.readouterr()
    assert "Epoch 1/2" in stdout and "Epoch 2/2" not in stdout
    notes = [line for line in stderr.splitlines() if line.startswith("keras-denoise")]
    assert len(notes) == 1, notes
    for fragment in ("--resume", "no backup", "m.keras.backup/", "starts at epoch 1"):
        assert fragment in notes[0]
    assert (tmp_path / "m.keras.backup").is_dir() and not model.exists()

    plotted = []
    with monkeypatch.context() as patch:
        patch.setattr(plotting, "plot_history", lambda losses, path: plotted.append(losses))
        assert main(argv) == 0
    stdout, stderr = capsys.readouterr()
    assert "Epoch 2/2" in stdout and "Epoch 1/2" not in stdout
    assert not [line for line in stderr.splitlines() if line.startswith("keras-denoise")]
    assert model.is_file() and not (tmp_path / "m.keras.backup").exists()
    # The loss plot and the final losses are of the whole run: the first epoch from the backup.
    (losses,) = plotted
    # The learning rate too, as a run without --resume plots it (the recorder saw no rate).
    assert set(losses) == {"loss", "val_loss", "learning_rate"} == set(epoch_1)
    for name, values in losses.items():
        assert len(values) == 2 and values[0] == epoch_1[name] and np.isfinite(values[1])
    metrics = strict_json(tmp_path / "m.metrics.json")
    assert metrics["final_loss"] == losses["loss"][1] != losses["loss"][0]


@pytest.mark.slow
def test_resume_refuses_a_backup_of_other_options(monkeypatch, capsys, tmp_path, rng):
    data = write_tiny_npz(tmp_path / "data.npz", rng)
    model = tmp_path / "m.keras"
    argv = ["train", "--data", str(data), "--epochs", "2", "--batch-size", "4",
            "--latent-dim", "4", "--resume", "--out", str(model)]  # fmt: skip
    run_interrupted_after_epoch_1(monkeypatch, argv)
    capsys.readouterr()
    # The same --data, holding colour images by now: Keras failed with a list of layers.
    kept = data.read_bytes()
    colour = rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8)
    np.savez(data, x_train=colour[:12], x_test=colour[12:])
    assert main(argv) == 1
    assert_one_line_error(
        capsys.readouterr().err, "is of a run on 12 images of 16x16x1", "now gives 12 images of "
        "16x16x3; restore the data, or delete the folder to start over",
    )
    data.write_bytes(kept)
    changed = [arg if arg != "4" else "8" for arg in argv]  # --latent-dim 8, --batch-size 8
    assert main(changed) == 1
    assert_one_line_error(
        capsys.readouterr().err,
        "m.keras.backup/",
        "--batch-size 4 there, 8 now",
        "--latent-dim 4 there, 8 now",
        "delete the folder",
    )
    assert (tmp_path / "m.keras.backup").is_dir() and not model.exists()
    (tmp_path / "m.keras.backup" / "keras_denoise_train.json").write_text("{not json")
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, "keras_denoise_train.json", "cannot be read")


def test_resume_ignores_the_options_of_a_backup_without_a_checkpoint(tmp_path):
    # A run stopped before its first backup leaves only its options: nothing to continue,
    # so a run with other options starts afresh rather than being refused.
    backup = tmp_path / "m.keras.backup"
    backup.mkdir()
    (backup / _RESUME_SETTINGS).write_text(json.dumps({"epochs": 99, "latent_dim": 2}))
    args = _build_parser().parse_args(
        ["train", "--data", "sample", "--latent-dim", "4", "--resume", "--out", "m.keras"]
    )
    settings = _resume_settings(args, str(backup))
    assert settings["latent_dim"] == 4 and settings["epochs"] != 99
    # The losses are recorded before the backup is written: an epoch's record is no backup.
    (backup / _RESUME_HISTORY).write_text(json.dumps({"epochs": [{"loss": 0.5}]}))
    assert _resume_settings(args, str(backup)) == settings
    (backup / "latest.weights.h5").write_bytes(b"")  # Keras's checkpoint: something to resume
    with pytest.raises(ValueError, match=r"--epochs 99 there, .*--latent-dim 2 there, 4 now"):
        _resume_settings(args, str(backup))


def test_resume_compares_the_training_images_once_read(tmp_path):
    backup = tmp_path / "m.keras.backup"
    args = _build_parser().parse_args(["train", "--data", "sample", "--resume", "--out", "m.keras"])
    settings = _resume_settings(args, str(backup))
    _check_resumed_images(str(backup), settings, np.zeros((12, 16, 16, 1)))
    assert settings["training_images_shape"] == [12, 16, 16, 1]
    write_backup(backup, json.dumps(settings))
    # The same images resume; the options check leaves the images to the check after reading.
    again = _resume_settings(args, str(backup))
    _check_resumed_images(str(backup), again, np.zeros((12, 16, 16, 1)))
    assert again == settings
    match = r"run on 12 images of 16x16x1, and --data 'sample' now gives 1 image of 8x8x1; restore"
    with pytest.raises(ValueError, match=match):
        _check_resumed_images(str(backup), dict(again), np.zeros((1, 8, 8, 1)))
    # A backup written without the shape (an earlier version) is not checked.
    write_backup(tmp_path / "old", json.dumps({k: v for k, v in settings.items()
                                                if k != "training_images_shape"}))
    _check_resumed_images(str(tmp_path / "old"), dict(settings), np.zeros((1, 8, 8, 1)))


def write_backup(backup, options):
    """A --resume backup folder with a checkpoint (something to resume) and `options` text."""
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"")
    (backup / _RESUME_SETTINGS).write_text(options)


def test_resume_refuses_a_backup_with_an_option_this_run_lacks(tmp_path):
    # A backup written with an option this version no longer has is of another run too.
    backup = tmp_path / "m.keras.backup"
    args = _build_parser().parse_args(
        ["train", "--data", "sample", "--resume", "--out", "m.keras"]
    )
    settings = _resume_settings(args, str(backup))
    write_backup(backup, json.dumps(settings))
    assert _resume_settings(args, str(backup)) == settings
    (backup / _RESUME_SETTINGS).write_text(json.dumps({**settings, "retired_option": 1}))
    with pytest.raises(ValueError, match=r"\(--retired-option 1 there, None now\)"):
        _resume_settings(args, str(backup))


def test_resume_settings_leave_out_what_does_not_change_the_run(tmp_path):
    # --debug changes what an error prints, not what is trained: a run may resume with it.
    backup = tmp_path / "m.keras.backup"
    argv = ["train", "--data", "sample", "--resume", "--out", "m.keras"]
    settings = _resume_settings(_build_parser().parse_args(argv), str(backup))
    assert not {"command", "run", "debug", "resume", "out"} & set(settings)
    write_backup(backup, json.dumps(settings))
    assert _resume_settings(_build_parser().parse_args([*argv, "--debug"]), str(backup)) == settings


def test_resume_takes_the_same_data_spelled_another_way(monkeypatch, tmp_path):
    # `--data ./data.npz` was refused as another run than `--data data.npz`.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.npz").write_bytes(b"")
    (tmp_path / "other.npz").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    backup = tmp_path / "m.keras.backup"

    def settings(data):
        argv = ["train", "--data", data, "--resume", "--out", "m.keras"]
        return _resume_settings(_build_parser().parse_args(argv), str(backup))

    write_backup(backup, json.dumps(settings("data.npz")))
    assert settings("./data.npz") == settings(str(tmp_path / "sub" / ".." / "data.npz"))
    with pytest.raises(ValueError, match=r"--data '.*data\.npz' there, '.*other\.npz' now"):
        settings("other.npz")


@pytest.mark.parametrize("kind", ["file", "dangling-link"])
def test_resume_refuses_a_file_where_its_backup_folder_goes(capsys, tmp_path, kind):
    # It failed with "File exists" after training's start-up, once the data was read.
    backup = tmp_path / "m.keras.backup"
    if kind == "file":
        backup.write_text("notes")
    else:
        backup.symlink_to(tmp_path / "gone")
    argv = ["train", "--data", "sample", "--resume", "--out", str(tmp_path / "m.keras")]
    assert main(argv) == 1
    assert_one_line_error(
        capsys.readouterr().err, f"--resume backs the run up in the folder {backup}/, but a file"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.keras.backup"]
    assert backup.is_symlink() if kind == "dangling-link" else backup.read_text() == "notes"


@pytest.mark.parametrize("saved", ["[1, 2]", '"options"', "null"])
def test_resume_refuses_options_that_are_not_a_json_object(tmp_path, saved):
    backup = tmp_path / "m.keras.backup"
    write_backup(backup, saved)
    args = _build_parser().parse_args(["train", "--data", "sample", "--resume", "--out", "m.keras"])
    with pytest.raises(ValueError, match=r"keras_denoise_train\.json; delete the folder"):
        _resume_settings(args, str(backup))


@pytest.mark.slow
@pytest.mark.parametrize("recorded", [True, False], ids=["losses-recorded", "no-record"])
def test_resume_of_a_backup_holding_every_epoch(monkeypatch, capsys, tmp_path, rng, recorded):
    data = write_tiny_npz(tmp_path / "data.npz", rng)
    model = tmp_path / "m.keras"
    argv = ["train", "--data", str(data), "--epochs", "1", "--batch-size", "4",
            "--latent-dim", "4", "--resume", "--out", str(model)]  # fmt: skip
    # A run stopped after its last epoch, while the model was being written. Keras deleted
    # its backup when training ended, before: the whole run was lost.
    trained = []

    def interrupted_save(self, *args, **kwargs):
        trained.append(self.get_weights())
        raise Interrupted

    with monkeypatch.context() as patch, pytest.raises(Interrupted):
        patch.setattr(ConvAutoencoder, "save", interrupted_save)
        main(argv)
    assert not model.exists()
    history = json.loads((tmp_path / "m.keras.backup" / _RESUME_HISTORY).read_text())
    final_loss = history["epochs"][-1]["loss"]
    if not recorded:  # as a backup of a version that recorded no losses
        (tmp_path / "m.keras.backup" / _RESUME_HISTORY).unlink()
    capsys.readouterr()
    assert main(argv) == 0
    stdout, stderr = capsys.readouterr()
    assert "Epoch 1/1" not in stdout and "none was left to train" in stderr
    assert ("no losses to plot" in stderr) is not recorded
    # The loss plot, from the recorded losses, or none and none claimed.
    assert (tmp_path / "m.loss.png").exists() is recorded
    (wrote,) = [line for line in stdout.splitlines() if line.startswith("Wrote ")]
    loss_plot = f"{tmp_path / 'm.loss.png'}, " if recorded else ""
    assert wrote == f"Wrote {model}, {loss_plot}{tmp_path / 'm.metrics.json'}"
    restored = load_model(model).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(trained[0], restored, strict=True))
    metrics = strict_json(tmp_path / "m.metrics.json")
    assert metrics.get("final_loss") == (final_loss if recorded else None)
    assert np.isfinite(metrics["psnr_denoised"])
    assert not (tmp_path / "m.keras.backup").exists()


def test_history_recorder_writes_every_epoch_from_the_one_resumed(tmp_path):
    path = tmp_path / _RESUME_HISTORY
    rows = []
    recorder = _history_recorder(str(path), rows)
    for epoch, loss in enumerate([0.5, 0.4, 0.3]):
        recorder.on_epoch_end(epoch, {"loss": np.float32(loss), "val_loss": loss + 0.1})
    assert _read_backup_history(str(tmp_path)) == rows
    assert [row["loss"] for row in rows] == pytest.approx([0.5, 0.4, 0.3])
    # A run resumed from the backup of epoch 2 (its record of epoch 3 came before a backup
    # that was never written) replaces the record from there on.
    rows = _read_backup_history(str(tmp_path))
    recorder = _history_recorder(str(path), rows)
    recorder.on_epoch_end(1, {"loss": 0.35, "val_loss": 0.45})
    assert _history_of_rows(_read_backup_history(str(tmp_path))) == {
        "loss": [0.5, 0.35],
        "val_loss": pytest.approx([0.6, 0.45]),
    }
    # Epochs without a record (an unreadable one) are NaN: gaps in the loss plot.
    recorder = _history_recorder(str(path), [])
    recorder.on_epoch_end(2, {"loss": 0.2})
    history = _history_of_rows(_read_backup_history(str(tmp_path)))
    assert len(history["loss"]) == 3 and history["loss"][2] == 0.2
    assert np.isnan(history["loss"][:2]).all()
    # A diverged epoch's NaN is recorded as JSON's null and read back as NaN.
    recorder.on_epoch_end(3, {"loss": float("nan")})
    assert "NaN" not in path.read_text()
    assert np.isnan(_read_backup_history(str(tmp_path))[3]["loss"])


@pytest.mark.parametrize(
    "saved", ["{not json", "[]", '{"epochs": 3}', '{"epochs": [5]}', '{"epochs": [{"loss": [1]}]}']
)
def test_an_unreadable_record_of_the_losses_leaves_the_earlier_epochs_out(
    capsys, tmp_path, saved
):
    (tmp_path / _RESUME_HISTORY).write_text(saved)
    assert _read_backup_history(str(tmp_path)) == []
    (note,) = capsys.readouterr().err.splitlines()
    assert note.startswith("keras-denoise: --resume: the losses of the backed-up epochs")
    assert _RESUME_HISTORY in note and "this run's epochs only" in note
    assert _read_backup_history(str(tmp_path / "none")) == []  # no record: nothing to say
    assert capsys.readouterr().err == ""


def test_help_gives_the_models_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    unet = inspect.signature(UNetDenoiser).parameters
    conv = inspect.signature(ConvAutoencoder).parameters
    assert _UNET_FILTERS == unet["filters"].default  # the command line's copy, without Keras
    assert f"(default: {' '.join(map(str, unet['filters'].default))})" in text
    assert f"one per level (default: {unet['convolutions'].default})" in text
    assert f"such as relu (default: {unet['activation'].default})" in text
    assert f"`--model conv` (default: {conv['latent_dim'].default})" in text


# Each command's defaults, with the words its help gives them in.
_DEFAULTS = {
    "demo": (["demo"], {
        "out": ("keras-denoise-demo", "output folder (default: ./keras-denoise-demo)"),
        "epochs": (25, "training epochs (default: 25)"),
    }),
    "train": (["train", "--data", "sample", "--out", "m.keras"], {
        "model": ("conv", "(default: conv)"),
        "epochs": (10, "training epochs (default: 10)"),
        "validation_split": (0.1, "held out for validation (default: 0.1)"),
        "resume": (False, None),
        "latent_dim": (None, None),
        "size": (None, None),
    }),
    "denoise": (["denoise", "m.keras", "image.png"], {
        "output": ("denoised", "output folder (default: ./denoised)"),
        "batch_size": (None, "(default: the model's)"),
        "tile_size": (None, "tiles only above 1024x1024 pixels)"),
        "overlap": (None, "(default: the model's receptive radius"),
    }),
    "evaluate": (["evaluate", "m.keras", "--data", "sample"], {
        "noise_factors": ((0.1, 0.3, 0.5), "noise levels (default: 0.1,0.3,0.5)"),
        "baselines": (None, "(default: all four)"),
        "max_images": (None, "(default: all)"),
        "seed": (0, "seed of the noise, 0 to 2**32 - 1 (default: 0)"),
    }),
}
_TRAINING_DEFAULTS = {
    "noise_factor": (0.5, "standard deviation of the noise (default: 0.5)"),
    "batch_size": (64, "images per step (default: 64)"),
    "seed": (0, "0 to 2**31 - 1 (default: 0)"),
    "learning_rate_schedule": ("cosine", "(default: cosine)"),
    "dtype_policy": ("float32", "(default: float32)"),
}


@pytest.mark.parametrize("command", sorted(_DEFAULTS))
def test_every_default_is_the_one_its_help_gives(capsys, command):
    argv, defaults = _DEFAULTS[command]
    if command in ("demo", "train"):
        defaults = {**_TRAINING_DEFAULTS, **defaults}
    args = _build_parser().parse_args(argv)
    assert {name: getattr(args, name) for name in defaults} == {
        name: value for name, (value, _) in defaults.items()
    }
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for _, words in defaults.values():
        assert words is None or words in text, words


def test_json_files_are_indented_strict_and_end_with_a_newline(tmp_path):
    path = tmp_path / "scores.json"
    _write_json(str(path), {"psnr": [np.float32(2.5), float("inf")], "count": np.int64(3)})
    assert path.read_text(encoding="utf-8") == (
        '{\n  "psnr": [\n    2.5,\n    null\n  ],\n  "count": 3\n}\n'
    )


def test_help_says_which_runs_can_be_resumed(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--help"])
    assert caught.value.code == 0
    assert "only a run started with --resume can be resumed" in " ".join(
        capsys.readouterr().out.split()
    )


def test_train_metrics_are_strict_json(tmp_path, rng):
    data = write_tiny_npz(tmp_path / "data.npz", rng)
    argv = ["train", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--latent-dim",
            "4", "--noise-factor", "0", "--out", str(tmp_path / "m.keras")]  # fmt: skip
    assert main(argv) == 0
    metrics = strict_json(tmp_path / "m.metrics.json")
    # Without noise, the noisy images are the clean ones: an infinite PSNR, written as null.
    assert metrics["psnr_noisy"] is None
    assert np.isfinite(metrics["psnr_denoised"]) and metrics["heldout_images"] == 4


def test_strict_json_turns_numpy_values_into_python_ones_and_non_finite_into_none():
    value = {"psnr": np.float32(20.5), "shape": (np.int64(28), 28),
             "values": np.array([1.0, np.inf]), "nan": float("nan")}
    converted = _strict_json(value)
    assert converted == {"psnr": 20.5, "shape": [28, 28], "values": [1.0, None], "nan": None}
    assert type(converted["psnr"]) is float and type(converted["shape"][0]) is int
    json.dumps(converted, allow_nan=False)


def test_evaluate_json_is_strict(capsys, tmp_path, rng, conv_path):
    data = write_tiny_npz(tmp_path / "data.npz", rng)
    scores = tmp_path / "new" / "scores.json"  # its folder is made, as train's and denoise's
    figure = tmp_path / "figures" / "sub" / "scores.png"
    argv = ["evaluate", str(conv_path), "--data", str(data), "--noise-factors", "0,0.5",
            "--baselines", "none", "--json", str(scores), "--figure", str(figure)]  # fmt: skip
    assert main(argv) == 0
    assert figure.read_bytes().startswith(b"\x89PNG")
    # Output that is not a terminal gets the table without a progress bar's control codes.
    assert capsys.readouterr().out.startswith("noise  method")
    rows = strict_json(scores)
    assert [(row["noise_factor"], row["method"]) for row in rows] == [
        (0.0, "noisy"), (0.0, "model"), (0.5, "noisy"), (0.5, "model"),
    ]  # fmt: skip
    assert rows[0]["psnr"] is None and rows[0]["ssim"] == pytest.approx(1.0)
    assert all(np.isfinite(row["psnr"]) for row in rows[1:])
    # The scores are those of the archive's test split, noised with the default seed (0).
    expected = keras_denoise.evaluate(load_model(conv_path), np.load(data)["x_test"],
                                      noise_factors=(0.0, 0.5), baselines=(), verbose=False)
    for row, expected_row in zip(rows[1:], expected[1:], strict=True):
        assert row["psnr"] == pytest.approx(expected_row["psnr"], rel=1e-6)


@pytest.mark.parametrize(
    ("flags", "read", "count"),
    [([], {"size": (16, 16)}, 3), (["--patch-size", "16", "16"], {"patch_size": (16, 16)}, 18)],
    ids=["resized", "patches"],
)
def test_evaluate_reads_a_folder_at_the_models_size_and_channels(
    capsys, tmp_path, rng, conv_path, flags, read, count
):
    # Grey and colour photos of 32x48 pixels, for a model of 16x16 grey images: resized to its
    # size, or with --patch-size cut into 2x3 patches each (not resized first).
    folder = tmp_path / "photos"
    folder.mkdir()
    write_png(folder / "a.png", rng.integers(0, 256, (32, 48), dtype=np.uint8))
    for name in ("b.png", "c.png"):
        write_png(folder / name, rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    scores = tmp_path / "scores.json"
    argv = ["evaluate", str(conv_path), "--data", str(folder), *flags, "--noise-factors", "0.5",
            "--baselines", "none", "--json", str(scores)]  # fmt: skip
    assert main(argv) == 0
    said = f"all 3 images of --data {str(folder)!r} are resized to the model's 16x16 pixels"
    assert (said in capsys.readouterr().err) == ("size" in read)
    images = keras_denoise.datasets.load_images(folder, channels=1, **read)
    assert len(images) == count
    expected = keras_denoise.evaluate(load_model(conv_path), images, noise_factors=(0.5,),
                                      baselines=(), verbose=False)  # fmt: skip
    for row, expected_row in zip(strict_json(scores), expected, strict=True):
        assert row["psnr"] == pytest.approx(expected_row["psnr"], rel=1e-9)


def test_evaluate_says_how_many_images_it_resized(capsys, tmp_path, rng):
    # For a model of 16x24 images: counted by their upright size, as they are read.
    model_path = tmp_path / "wide.keras"
    ConvAutoencoder(image_shape=(16, 24, 1), latent_dim=4).save(model_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    turned = Image.Exif()
    turned[0x0112] = 6  # stored a quarter turn anticlockwise: upright, height and width swap
    files = {
        "a.png": ((16, 24), None),  # fits
        "b.png": ((24, 16), turned),  # fits once upright
        "c.png": ((16, 24), turned),  # 24x16 upright: resized
        "d.npy": ((16, 24), None),  # fits
        "e.npy": ((8, 8), None),  # resized
    }
    for name, (shape, exif) in files.items():
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        if name.endswith(".npy"):
            np.save(folder / name, pixels)
        else:
            Image.fromarray(pixels).save(folder / name, **({"exif": exif} if exif else {}))
    for data, said in [
        (folder, f"2 of the 5 images of --data {str(folder)!r} are resized"),
        (folder / "c.png", f"the image of --data {str(folder / 'c.png')!r} is resized"),
    ]:
        argv = ["evaluate", str(model_path), "--data", str(data), "--noise-factors", "0.5",
                "--baselines", "none"]  # fmt: skip
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert f"{said} to the model's 16x24 pixels (bilinear)" in err, err
    # Resized as --size asks, or none to resize: nothing said.
    argv = ["evaluate", str(model_path), "--data", str(folder), "--noise-factors", "0.5",
            "--baselines", "none"]  # fmt: skip
    assert main([*argv, "--size", "16", "24"]) == 0
    assert "resized" not in capsys.readouterr().err
    for name in ("c.png", "e.npy"):
        (folder / name).unlink()
    assert main(argv) == 0
    assert "resized" not in capsys.readouterr().err


def test_missing_file_is_one_line_in_a_real_process(tmp_path, conv_path):
    code, stdout, stderr = run_cli("denoise", conv_path, tmp_path / "nowhere.png")
    assert code == 1
    assert_one_line_error(stderr, "nowhere.png")


def test_unknown_flag_exits_2_in_a_real_process():
    code, stdout, stderr = run_cli("demo", "--epoch-count", 3)
    assert code == 2
    assert_one_line_error(stderr, "--epoch-count")



@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--data", "sample", "--out", "m.keras", "--bogus"], "--bogus"),
        (["train", "--data", "sample", "--out", "m.keras", "--filters", "8", "16"], "--filters"),
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--filters", "8",
          "16", "--convolutions", "2", "2", "2"], "one count per level"),
        # The default filters' levels, without importing the U-Net for them.
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--convolutions",
          "2", "3"], "of `filters` (4)"),
        (["train", "--data", "sample", "--out", "m.keras", "--size", "8", "8"], "holds arrays"),
        (["evaluate", "m.keras", "--data", "sample", "--json", "a.png", "--figure", "./a.png"],
         "`--json` and `--figure` must be different files"),
    ],
    ids=["unknown-flag", "other-model", "convolutions", "default-filters", "size", "same-file"],
)  # fmt: skip
def test_usage_errors_come_before_keras_starts(argv, fragment):
    # Checking the flags imported Keras, whose backend's start-up logs came before the error.
    script = (
        "import sys\n"
        "from keras_denoise._cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    print(exit.code, 'keras' in sys.modules)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert process.stdout == "2 False\n", process.stderr
    assert_one_line_error(process.stderr, fragment)


# --- errors, in this process -----------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert re.fullmatch(r"keras-denoise \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "required"),
        (["demo", "--epochs", "0"], "epochs"),
        (["demo", "--epochs", "many"], "`epochs` must be an integer. Received: epochs='many'"),
        (["demo", "--noise-factor", "-1"], "noise_factor"),
        (["demo", "--noise-factor", "1e308"], "at most 1000000.0"),
        (["demo", "--dtype-policy", "float8"], "float8"),
        (["train", "--data", "sample", "--out", "m.keras", "--learning-rate-schedule", "step"],
         "step"),
        (["train", "--data", "sample", "--out", "model.h5"], "model.h5"),
        (["train", "--data", "sample", "--out", "model.KERAS"], "lower case"),
        (["train", "--data", "sample", "--out", "m.keras", "--validation-split", "1"], "split"),
        (["train", "--data", "x", "--out", "m.keras", "--size", "8", "8", "--patch-size", "4", "4"],
         "not allowed"),
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--activation",
          "nope"], "activation='nope'"),
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--convolutions",
          "2", "0"], "convolutions=0"),
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--filters"],
         "--filters"),
        (["denoise", "model.keras"], "required"),
        (["evaluate", "model.keras", "--data", "sample", "--noise-factors", "0.1,x"],
         "`noise_factors` must be a number. Received: noise_factors='x'"),
        (["evaluate", "model.keras", "--data", "sample", "--noise-factors", "0.1,,0.5"],
         "Received: noise_factors=''"),
        (["denoise", "model.keras", "image.png", "--overlap", "-1"], "overlap=-1"),
        (["denoise", "model.keras", "image.png", "--tile-size", "0"],
         "`tile_size` must be a positive integer. Received: tile_size=0"),
        (["train", "--data", "sample", "--out", "m.keras", "--latent-dim", "65537"],
         "`latent_dim` must be at most 65536. Received: latent_dim=65537"),
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--filters", "8",
          "4097"], "`filters` must be at most 4096. Received: filters=4097"),
        (["train", "--data", "sample", "--out", "m.keras", "--model", "unet", "--convolutions",
          "17"], "`convolutions` must be at most 16. Received: convolutions=17"),
        (["train", "--data", "sample", "--out", "m.keras", "--validation-split", "-0.1"],
         "Received: validation_split=-0.1"),
        (["train", "--data", "sample", "--out", "m.keras", "--seed", "2147483648"],
         "between 0 and 2**31 - 1. Received: seed=2147483648"),
        (["train", "--data", "x", "--out", "m.keras", "--size", "8193", "8"],
         "`size` must be at most 8192. Received: size=8193"),
        (["train", "--data", "x", "--out", "m.keras", "--patch-size", "8", "8193"],
         "`patch_size` must be at most 8192. Received: patch_size=8193"),
        (["evaluate", "model.keras", "--data", "sample", "--seed", "4294967296"],
         "between 0 and 2**32 - 1. Received: seed=4294967296"),
        (["evaluate", "model.keras", "--data", "sample", "--figure", "ev.txt"], "ev.txt"),
        # Checked when parsed, not once the model, the data or the training had run.
        (["train", "--data", "x", "--out", "m.keras", "--epochs", "1048577"],
         "`epochs` must be at most 1048576. Received: epochs=1048577"),
        (["demo", "--epochs", "99999999999999999999"], "`epochs` must be at most 1048576"),
        (["denoise", "m.keras", "a.png", "--tile-size", "100000"],
         "`tile_size` must be at most 8192. Received: tile_size=100000"),
        (["evaluate", "m.keras", "--data", "sample", "--baselines", "median,foo"],
         "`baselines` must be distinct names from median, nl_means, tv, wavelet, or none. "
         "Received: baselines='median,foo'"),
        (["evaluate", "m.keras", "--data", "sample", "--baselines", "none,median"],
         "Received: baselines='none,median'"),
        (["evaluate", "m.keras", "--data", "sample", "--baselines", "gaussian"],
         "Received: baselines='gaussian'"),
        (["evaluate", "m.keras", "--data", "sample", "--baselines", "tv,tv"],
         "Received: baselines='tv,tv'"),
        (["evaluate", "m.keras", "--data", "sample", "--noise-factors", "0.1,0.5,0.1"],
         "`noise_factors` must not repeat a level. Received: noise_factors='0.1,0.5,0.1'"),
        # An empty path (an unset shell variable) would have failed after the work.
        (["evaluate", "m.keras", "--data", "sample", "--json", ""],
         "argument --json: the path must not be empty"),
        (["denoise", "m.keras", "a.png", "-o", ""], "argument -o/--output: the path must not"),
        (["demo", "--out", ""], "argument --out: the path must not be empty"),
        (["train", "--data", "mnist", "--mnist-path", "", "--out", "m.keras"], "--mnist-path"),
        # Trained in full, then refused by Keras naming a temporary file.
        (["train", "--data", "sample", "--out", "sub/.keras"],
         "argument --out: the model file must have a name before `.keras`. Received: "),
        # A forgotten model: the first image was taken for it.
        (["denoise", "a.png", "b.png"], "argument MODEL: the model file must end with `.keras`"),
        (["evaluate", "m.h5", "--data", "sample"], "argument MODEL: the model file must end"),
        # Rules between flags (more in test_model_options_are_checked_before_the_data_is_read).
        (["train", "--data", "sample", "--filters", "8", "16", "--out", "m.keras"],
         "keras-denoise train: error: --filters applies to `--model unet` only "
         "(see `keras-denoise train --help`)"),
        (["train", "--data", "sample", "--activation", "silu", "--out", "m.keras"],
         "--activation applies"),
        (["denoise", "m.keras", "a.png", "--overlap", "8193"],
         "`overlap` must be at most 8192. Received: overlap=8193"),
        (["evaluate", "m.keras", "--data", "sample", "--json", "x.png", "--figure", "./x.png"],
         "`--json` and `--figure` must be different files: the figure would replace the table. "
         "Received: --json='x.png', --figure='./x.png'"),
        # Said by the command, whose help lists what it takes; an unquoted shell glob leaves
        # the images after the first as arguments `train` does not take.
        (["train", "--data", "a.png", "b.png", "c.png", "--out", "m.keras"],
         "keras-denoise train: error: unrecognized arguments: b.png c.png (--data takes one "
         "path: for several images, the folder that holds them) (see `keras-denoise train "
         "--help`)"),
        (["denoise", "m.keras", "a.png", "--tiles", "8"],
         "keras-denoise denoise: error: unrecognized arguments: --tiles 8 (see `keras-denoise "
         "denoise --help`)"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2(capsys, argv, fragment):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert_one_line_error(capsys.readouterr().err, fragment)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["evaluate", "m.keras", "--data", "sample", "--baselines", " median, tv ,"],
         {"baselines": ("median", "tv")}),
        (["evaluate", "m.keras", "--data", "sample", "--baselines", "none"], {"baselines": ()}),
        (["evaluate", "m.keras", "--data", "sample", "--figure", "Scores.PNG"],
         {"figure": "Scores.PNG"}),
        (["denoise", "m.keras", "image.png", "--overlap", "0"], {"overlap": 0}),
        (["evaluate", "m.keras", "--data", "sample", "--seed", "4294967295"],
         {"seed": 2**32 - 1}),
        (["train", "--data", "sample", "--out", "m.keras", "--validation-split", "0"],
         {"validation_split": 0.0}),
    ],
)  # fmt: skip
def test_options_are_read_as_users_write_them(argv, expected):
    args = _build_parser().parse_args(argv)
    assert {name: getattr(args, name) for name in expected} == expected


@pytest.mark.parametrize(("isatty", "verbose"), [(True, 1), (False, 2)])
def test_progress_is_a_live_bar_in_a_terminal_and_one_line_per_epoch_in_a_pipe(
    monkeypatch, isatty, verbose
):
    from keras_denoise import _cli

    monkeypatch.setattr(sys.stdout, "isatty", lambda: isatty)
    assert _cli._verbosity() == verbose


def test_unreadable_image(capsys, tmp_path, conv_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    assert main(["denoise", str(conv_path), str(bad), "-o", str(tmp_path / "out")]) == 1
    assert_one_line_error(capsys.readouterr().err, "bad.png")


@pytest.mark.parametrize("suffix", ["png", "npy"])
@pytest.mark.parametrize("shape", [(20, 24), (16, 24), (20, 16)])  # one side right is not enough
def test_wrong_size_for_a_conv_autoencoder(capsys, tmp_path, conv_path, suffix, shape):
    path = tmp_path / f"big.{suffix}"
    if suffix == "png":
        write_png(path, np.zeros(shape, np.uint8))
    else:
        np.save(path, np.zeros(shape, np.float32))
    assert main(["denoise", str(conv_path), str(path), "-o", str(tmp_path / "out")]) == 1
    assert_one_line_error(capsys.readouterr().err, "x".join(map(str, shape)), "16x16")
    assert not (tmp_path / "out" / path.name).exists()


@pytest.fixture(params=[(16, None, 1), (None, 16, 1)], ids=["fixed-height", "fixed-width"])
def one_side(request, tmp_path):
    """`(path, shape, other)`: a saved UNetDenoiser with one side fixed at 16 pixels, the
    `(height, width)` of an image it takes, and that of one it does not (the same, transposed).
    """
    path = tmp_path / "one_side.keras"
    UNetDenoiser(image_shape=request.param, filters=(4, 8)).save(path)
    shape = (16, 24) if request.param[0] == 16 else (24, 16)
    return path, shape, shape[::-1]


def test_a_model_of_one_fixed_side_denoises_and_evaluates_its_images(
    capsys, tmp_path, rng, one_side
):
    # `UNetDenoiser(image_shape=(16, None, 1))` denoises images 16 pixels high of any width; the
    # command line once asked for 16xNone images, which no image is, and refused every one.
    path, shape, _ = one_side
    image = rng.random(shape, dtype=np.float32)
    np.save(tmp_path / "image.npy", image)
    out = tmp_path / "out"
    assert main(["denoise", str(path), str(tmp_path / "image.npy"), "-o", str(out)]) == 0
    expected = model_denoise(path, image[None, ..., None])[0, ..., 0]
    np.testing.assert_allclose(np.load(out / "image.npy"), expected, atol=1e-6)
    images = rng.integers(0, 256, (16, *shape), dtype=np.uint8)
    np.savez(tmp_path / "data.npz", x_train=images[:12], x_test=images[12:])
    scores = tmp_path / "scores.json"
    argv = ["evaluate", str(path), "--data", str(tmp_path / "data.npz"), "--noise-factors",
            "0.5", "--baselines", "none", "--json", str(scores)]  # fmt: skip
    assert main(argv) == 0
    expected = keras_denoise.evaluate(load_model(path), images[12:], noise_factors=(0.5,),
                                      baselines=(), verbose=False)  # fmt: skip
    for row, expected_row in zip(strict_json(scores), expected, strict=True):
        assert row["psnr"] == pytest.approx(expected_row["psnr"], rel=1e-6)


@pytest.mark.parametrize(
    "flags, fragment",
    [([], "takes images 16 pixels {} only"),
     (["--tile-size", "16"], "--tile-size needs a model that takes images of any size"),
     (["--overlap", "4"], "--overlap needs a model that takes images of any size")],
    ids=["other-size", "tile-size", "overlap"],
)  # fmt: skip
def test_a_model_of_one_fixed_side_refuses_other_sizes_and_tiling(
    capsys, tmp_path, rng, one_side, flags, fragment
):
    # As `UNetDenoiser.denoise` does: it tiles models of any size only.
    path, shape, other = one_side
    side = "high" if shape[0] == 16 else "wide"
    image = rng.random(other if not flags else shape, dtype=np.float32)
    np.save(tmp_path / "image.npy", image)
    argv = ["denoise", str(path), str(tmp_path / "image.npy"), "-o", str(tmp_path / "out"), *flags]
    assert main(argv) == 1
    detail = f"for images 16 pixels {side} only" if flags else "x".join(map(str, other))
    assert_one_line_error(capsys.readouterr().err, fragment.format(side), detail)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["denoise", "{conv}", "{image}", "-o", "{tmp}/out", "--tile-size", "8"],
         "--tile-size"),
        (["denoise", "{conv}", "{image}", "-o", "{tmp}/out", "--overlap", "4"],
         "--overlap"),
        (["denoise", "{conv}", "{tmp}/notes.txt"], "notes.txt is not a PNG, JPEG or .npy file"),
        (["denoise", "{conv}", "{tmp}/folder.png"], "folder.png is a folder; give the image"),
        (["denoise", "{conv}", "{image}", "{tmp}/other/image.png", "-o", "{tmp}/out"],
         "would both be written to"),
        (["denoise", "{conv}", "{image}", "-o", "{tmp}"], "overwrite"),
        # Outputs that would replace or join an input (a link left in the output folder).
        (["denoise", "{conv}", "{image}", "{tmp}/second.png", "-o", "{tmp}/linked"],
         "linked/image.png would overwrite the input {tmp}/second.png"),
        (["train", "--data", "{tmp}/other", "--out", "{tmp}/other/m.keras", "--epochs", "1"],
         "`--out` would write into the folder of images of --data"),
        # Named as the option, before the model is built (it said `clean_images`, after
        # "Training a ConvAutoencoder on 7 images").
        (["train", "--data", "{tmp}/bright.npz", "--out", "{tmp}/m.keras"],
         "--data '{tmp}/bright.npz' must hold pixels in [0, 1] (uint8 0-255, or floats in "
         "[0, 1]); its values lie in [0, 3]"),
        # load_mnist's `path` is the --mnist-path option.
        (["train", "--data", "mnist", "--mnist-path", "{tmp}/nope.npz", "--out", "{tmp}/m.keras"],
         "`--mnist-path` does not exist or is not a file. Received: --mnist-path='"),
        (["denoise", "{tmp}/missing.keras", "{image}"], "no such model file: "),
        (["evaluate", "{tmp}/missing.keras", "--data", "sample"], "no such model file: "),
        (["denoise", "{tmp}/dir.keras", "{image}"], "dir.keras is a folder, not a `.keras` model"),
        (["denoise", "{image}.keras", "{image}"], "zip"),
        (["denoise", "{plain}", "{image}"], "plain.keras is not a keras-denoise model"),
        (["train", "--data", "{tmp}/nothing", "--out", "{tmp}/m.keras"], "nothing"),
    ],
)  # fmt: skip
def test_failures_exit_1(capsys, tmp_path, conv_path, plain_path, argv, fragment):
    image = write_png(tmp_path / "image.png", np.zeros((16, 16), np.uint8))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "dir.keras").mkdir()
    write_png(tmp_path / "second.png", np.zeros((16, 16), np.uint8))
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "image.png").symlink_to(tmp_path / "second.png")
    (tmp_path / "other").mkdir()
    write_png(tmp_path / "other" / "image.png", np.zeros((16, 16), np.uint8))
    (tmp_path / "image.png.keras").write_bytes(b"not a zip")
    np.savez(tmp_path / "data.npz", images=np.zeros((4, 16, 16), np.uint8))
    np.savez(tmp_path / "bright.npz", images=np.linspace(0, 3, 8 * 256).reshape(8, 16, 16))
    names = {"conv": conv_path, "image": image, "tmp": tmp_path, "plain": plain_path}
    assert main([arg.format(**names) for arg in argv]) == 1
    assert_one_line_error(capsys.readouterr().err, fragment.format(**names))
    assert (tmp_path / "second.png").read_bytes() == (tmp_path / "image.png").read_bytes()


@pytest.mark.parametrize("output", [".", "./", "sub/..", "link"])
def test_denoise_refuses_to_overwrite_its_input_named_another_way(
    monkeypatch, capsys, tmp_path, conv_path, output
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path)  # a link to the input's folder
    write_png(tmp_path / "image.png", np.full((16, 16), 7, np.uint8))
    assert main(["denoise", str(conv_path), "image.png", "-o", output]) == 1
    assert_one_line_error(capsys.readouterr().err, "would overwrite its input")
    assert (np.asarray(Image.open(tmp_path / "image.png")) == 7).all()


@pytest.mark.parametrize(
    ("option", "output", "fragment"),
    [
        ("--json", "{model}", "`--json` would overwrite MODEL"),
        ("--figure", "{tmp}/images/a.png", "`--figure` would write into the folder of images of "
         "--data"),
        ("--json", "{tmp}/images/scores.json", "`--json` would write into the folder"),
        ("--json", "{tmp}/data.npz", "`--json` would overwrite --data"),
    ],
)  # fmt: skip
def test_evaluate_refuses_outputs_that_overwrite_or_join_its_inputs(
    capsys, tmp_path, conv_path, option, output, fragment
):
    (tmp_path / "images").mkdir()
    write_png(tmp_path / "images" / "a.png", np.full((16, 16), 7, np.uint8))
    np.savez(tmp_path / "data.npz", images=np.zeros((4, 16, 16), np.uint8))
    data = "data.npz" if output.endswith("data.npz") else "images"
    output = output.format(model=conv_path, tmp=tmp_path)
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    argv = ["evaluate", str(conv_path), "--data", str(tmp_path / data), option, output]
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, fragment, f"Received: {option}={output!r}")
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert after == before


@pytest.mark.parametrize("data", ["sample", "mnist", "data.npz", "batch.npy"])
@pytest.mark.parametrize("flags", [["--size", "8", "8"], ["--patch-size", "8", "8"]])
def test_size_options_are_refused_for_arrays_they_would_leave_as_they_are(
    capsys, tmp_path, conv_path, data, flags
):
    # A usage error where the name tells (`batch.npy` may hold one image: read first).
    np.savez(tmp_path / "data.npz", images=np.zeros((4, 16, 16), np.uint8))
    np.save(tmp_path / "batch.npy", np.zeros((4, 16, 16), np.uint8))
    data = data if data in ("sample", "mnist") else str(tmp_path / data)
    if data.endswith(".npy"):
        assert main(["evaluate", str(conv_path), "--data", data, *flags]) == 1
    else:
        with pytest.raises(SystemExit) as caught:
            main(["evaluate", str(conv_path), "--data", data, *flags])
        assert caught.value.code == 2
    assert_one_line_error(
        capsys.readouterr().err, f"{flags[0]} resizes or cuts the images of a folder",
        f"--data {data!r} holds arrays",
    )


@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (np.full((16, 16), 200.0, np.float32), "must hold pixels in [0, 1]. Received: "),
        (np.full((16, 16), -0.4, np.float32), "must hold pixels in [0, 1]"),
        (np.zeros((16, 16, 2), np.uint8), "holds an array of shape (16, 16, 2), which is neither"),
    ],
    ids=["0-255-floats", "negative", "gray-and-alpha"],
)
def test_denoise_refuses_npy_arrays_it_would_misread(capsys, tmp_path, conv_path, array, fragment):
    # They were denoised without a word: floats outside [0, 1] as if in it, (H, W, 2) as H
    # images of W x 2 pixels.
    np.save(tmp_path / "input.npy", array)
    argv = ["denoise", str(conv_path), str(tmp_path / "input.npy"), "-o", str(tmp_path / "out")]
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, "input.npy", fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad", ["wrong-size", "out-of-range"])
def test_denoise_writes_nothing_when_a_later_input_is_bad(capsys, tmp_path, conv_path, bad):
    # The first image was denoised and written before the second was read.
    write_png(tmp_path / "good.png", np.zeros((16, 16), np.uint8))
    array = np.zeros((12, 12), np.float32) if bad == "wrong-size" else np.full((16, 16), 2.0)
    np.save(tmp_path / "later.npy", array)
    out = tmp_path / "out"
    argv = ["denoise", str(conv_path), str(tmp_path / "good.png"), str(tmp_path / "later.npy"),
            "-o", str(out)]  # fmt: skip
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, "later.npy")
    assert not out.exists()


def test_denoise_says_a_folder_is_a_folder(capsys, tmp_path, conv_path):
    (tmp_path / "scans").mkdir()
    assert main(["denoise", str(conv_path), str(tmp_path / "scans")]) == 1
    assert_one_line_error(capsys.readouterr().err, "scans is a folder; give the image files")


def test_figure_suffixes_are_those_of_plotting():
    assert _FIGURE_SUFFIXES == plotting._FORMATS


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["train", "--data", "sample", "--out", "{tmp}/folder.keras"],
         ["--out", "folder.keras", "not a folder"]),
        (["train", "--data", "sample", "--out", "{tmp}/m.keras"],
         ["--out", "m.metrics.json", "which is a folder"]),
        (["train", "--data", "sample", "--out", "{tmp}/notes.txt/sub/m.keras"],
         ["--out", "notes.txt", "is a file"]),
        (["evaluate", "{conv}", "--data", "sample", "--json", "{tmp}/notes.txt/ev.json"],
         ["--json", "notes.txt", "is a file"]),
        (["evaluate", "{conv}", "--data", "sample", "--json", "{tmp}/folder.keras"],
         ["--json", "folder.keras", "not a folder"]),
        (["evaluate", "{conv}", "--data", "sample", "--figure", "{tmp}/notes.txt/a/ev.png"],
         ["--figure", "notes.txt", "is a file"]),
        (["denoise", "{conv}", "{tmp}/image.png", "-o", "{tmp}/notes.txt"],
         ["--output", "notes.txt"]),
    ],
)  # fmt: skip
def test_output_paths_are_checked_before_any_work(
    monkeypatch, capsys, tmp_path, conv_path, argv, fragments
):
    too_late = _fails_if_called("the output path should have been checked first")
    monkeypatch.setattr("keras_denoise._cli._load_data", too_late)
    monkeypatch.setattr(keras_denoise, "load_model", too_late)
    write_png(tmp_path / "image.png", np.zeros((16, 16), np.uint8))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "folder.keras").mkdir()
    (tmp_path / "m.metrics.json").mkdir()
    before = sorted(tmp_path.rglob("*"))
    assert main([arg.format(conv=conv_path, tmp=tmp_path) for arg in argv]) == 1
    assert_one_line_error(capsys.readouterr().err, *fragments)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["train", "--data", "sample", "--out", "{tmp}/locked/m.keras"], "--out"),
        (["evaluate", "{conv}", "--data", "sample", "--json", "{tmp}/locked/ev.json"],
         "--json"),
        (["denoise", "{conv}", "{tmp}/image.png", "-o", "{tmp}/locked/out"], "--output"),
        (["demo", "--out", "{tmp}/locked/demo"], "--out"),
    ],
)
def test_read_only_output_folders_are_refused_before_any_work(
    monkeypatch, capsys, tmp_path, conv_path, argv, option
):
    # Permissions do not bind root, who runs the tests here: the folder is read-only to
    # `os.access` only. The run trained, or scored, in full and then failed to write.
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        "keras_denoise._cli.os.access",
        lambda path, mode: False if os.fspath(path) == str(locked) else real_access(path, mode),
    )
    too_late = _fails_if_called("the output folder should have been checked first")
    monkeypatch.setattr("keras_denoise._cli._load_data", too_late)
    monkeypatch.setattr(keras_denoise, "load_model", too_late)
    monkeypatch.setattr(keras_denoise.datasets, "load_sample_digits", too_late)
    write_png(tmp_path / "image.png", np.zeros((16, 16), np.uint8))
    assert main([arg.format(conv=conv_path, tmp=tmp_path) for arg in argv]) == 1
    assert_one_line_error(capsys.readouterr().err, option, "locked", "is read-only")
    assert os.listdir(locked) == []


@pytest.mark.parametrize("existing", ["file", "model.keras folder"])
def test_demo_checks_its_outputs_before_training(monkeypatch, capsys, tmp_path, existing):
    out = tmp_path / "demo"
    if existing == "file":
        out.write_text("not a folder")
        fragment = "`--out` must be a folder"
    else:
        (out / "model.keras").mkdir(parents=True)
        fragment = "which is a folder"
    monkeypatch.setattr(keras_denoise.datasets, "load_sample_digits",
                        _fails_if_called("the outputs should have been checked first"))
    assert main(["demo", "--out", str(out), "--epochs", "1"]) == 1
    assert_one_line_error(capsys.readouterr().err, "--out", fragment)


def _fails_if_called(reason):
    """A stand-in for a step that must not be reached, failing the test with `reason`."""

    def fail(*args, **kwargs):
        raise AssertionError(reason)

    return fail


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--model", "unet", "--filters", *["4"] * 9], "between 1 and 8"),
        (["--model", "unet", "--filters", "8", "16", "--convolutions", "2", "2", "2"],
         "one count per level"),
        (["--model", "unet", "--convolutions", "3", "2"], "of `filters` (4)"),  # the default
        (["--model", "unet", "--latent-dim", "4"], "--latent-dim applies"),
    ],
)  # fmt: skip
def test_model_options_are_checked_before_the_data_is_read(
    monkeypatch, capsys, tmp_path, flags, fragment
):
    too_late = _fails_if_called("the model's options should have been checked first")
    monkeypatch.setattr("keras_denoise._cli._load_data", too_late)
    with pytest.raises(SystemExit) as caught:  # a usage error
        main(["train", "--data", "sample", "--out", str(tmp_path / "m.keras"), *flags])
    assert caught.value.code == 2
    assert_one_line_error(capsys.readouterr().err, fragment)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "model, x_test, fragments",
    [
        ("conv", np.zeros((4, 12, 12), np.uint8), ["16x16x1", "12x12x1", "shape"]),
        ("unet", np.zeros((4, 16, 16, 3), np.uint8), ["16x16x1", "16x16x3", "channel"]),
    ],
)
def test_train_checks_the_test_split_before_training(
    capsys, tmp_path, model, x_test, fragments
):
    data = tmp_path / "data.npz"
    np.savez(data, x_train=np.zeros((8, 16, 16), np.uint8), x_test=x_test)
    argv = ["train", "--data", str(data), "--model", model, "--out", str(tmp_path / "out/m.keras")]
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, "data.npz", "x_test", "x_train", *fragments)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.npz"]


@pytest.mark.parametrize(
    "sizes, flags, fragments",
    [
        ([16, 20], [], ["different sizes", "Pass `--size H W`", "or `--patch-size H W` to cut"]),
        ([16, 20], ["--patch-size", "18", "18"],
         ["smaller than `--patch-size`. Received: --patch-size 18 18"]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_folder_errors_name_the_command_line_options(
    capsys, tmp_path, command, sizes, flags, fragments
):
    folder = tmp_path / "images"
    folder.mkdir()
    for side in sizes:
        write_png(folder / f"{side}.png", np.zeros((side, side), np.uint8))
    if command == "train":
        model = ["--out", str(tmp_path / "m.keras")]
    else:  # a U-Net, which takes any size: the folder's sizes decide
        UNetDenoiser(filters=(8,)).save(tmp_path / "unet.keras")
        model = [str(tmp_path / "unet.keras")]
    assert main([command, *model, "--data", str(folder), *flags]) == 1
    stderr = capsys.readouterr().err
    assert_one_line_error(stderr, *fragments)
    assert "size=" not in stderr  # the Python keywords, which the command line does not take


@pytest.mark.parametrize("count, split", [(1, "0.1"), (8, "0.99")])
def test_train_checks_the_validation_split_before_training(capsys, tmp_path, count, split):
    data = tmp_path / "data.npz"
    np.savez(data, images=np.zeros((count, 16, 16), np.uint8))
    argv = ["train", "--data", str(data), "--validation-split", split,
            "--out", str(tmp_path / "out/m.keras")]  # fmt: skip
    assert main(argv) == 1
    stdout, stderr = capsys.readouterr()
    assert "Training" not in stdout  # not "Training a ConvAutoencoder on 0 images"
    assert_one_line_error(
        stderr, f"`--validation-split` leaves no training or no validation images out of {count}",
        f"Received: --validation-split={split}",
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.npz"]


def test_denoise_checks_the_tile_size_against_the_model_before_reading(
    capsys, tmp_path, unet_path
):
    (tmp_path / "later.png").write_text("not read: the tile size is checked first")
    argv = ["denoise", str(unet_path), str(tmp_path / "later.png"), "--tile-size", "7",
            "-o", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 1
    assert_one_line_error(
        capsys.readouterr().err, "`--tile-size` must be a multiple of 2 (the model's "
        "`size_multiple`). Received: --tile-size=7",
    )
    assert not (tmp_path / "out").exists()


def write_npy(path):
    with open(path, "wb") as handle:  # np.save would add ".npy" to the name
        np.save(handle, np.zeros((4, 16, 16), np.float32))


def write_object_npz(path):
    np.savez(path, images=np.array([{"not": "pixels"}], dtype=object))


@pytest.mark.parametrize(
    "write, fragment",
    [
        (lambda path: path.write_text("hello"), "not an `.npz` archive"),
        (lambda path: path.write_bytes(b""), "not an `.npz` archive"),
        (write_npy, "single `.npy` array"),
        (lambda path: path.write_bytes(b"PK\x03\x04 truncated"), "could not read"),
        (write_object_npz, "Python objects"),
    ],
)
def test_data_that_is_not_an_npz_archive(capsys, tmp_path, write, fragment):
    data = tmp_path / "data.npz"
    write(data)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m.keras")]) == 1
    assert_one_line_error(capsys.readouterr().err, "data.npz", fragment)


@pytest.mark.parametrize(
    ("arrays", "keys"), [({}, "[]"), ({"y_train": np.zeros(4, np.uint8)}, "['y_train']")]
)
def test_npz_without_images_names_the_keys_it_holds(capsys, tmp_path, arrays, keys):
    data = tmp_path / "data.npz"
    np.savez(data, **arrays)  # an empty archive is only an end record: still an archive
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m.keras")]) == 1
    assert_one_line_error(capsys.readouterr().err, "`x_train`", f"Received keys: {keys}")


def truncated_npy(path):
    np.save(path, np.zeros((16, 16), np.float32))
    path.write_bytes(path.read_bytes()[:200])


def npz_named_npy(path):
    with open(path, "wb") as handle:  # np.savez would add ".npz" to the name
        np.savez(handle, x=np.zeros((16, 16), np.float32))


@pytest.mark.parametrize(
    "write, fragment",
    [
        (lambda path: path.write_bytes(b""), "it is empty"),
        (truncated_npy, "readable `.npy` file"),
        (lambda path: path.write_text("hello"), "readable `.npy` file"),
        (npz_named_npy, "`.npz` archive"),
    ],
)
def test_unreadable_npy_input(capsys, tmp_path, conv_path, write, fragment):
    path = tmp_path / "in.npy"
    write(path)
    assert main(["denoise", str(conv_path), str(path), "-o", str(tmp_path / "out")]) == 1
    assert_one_line_error(capsys.readouterr().err, "in.npy", fragment)
    assert not (tmp_path / "out").exists()


def test_deeply_nested_model_config_is_one_line(capsys, tmp_path):
    # json.loads raises RecursionError on a nesting this deep: one line all the same.
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "[" * 100_000 + "]" * 100_000)
    image = write_png(tmp_path / "image.png", np.zeros((16, 16), np.uint8))
    assert main(["denoise", str(path), str(image), "-o", str(tmp_path / "out")]) == 1
    assert_one_line_error(capsys.readouterr().err)


def denoise_argv_raising(monkeypatch, tmp_path, error):
    """`denoise` arguments for a run whose model loading raises `error`."""

    def load_model(*args, **kwargs):
        raise error

    monkeypatch.setattr(keras_denoise, "load_model", load_model)
    image = write_png(tmp_path / "image.png", np.zeros((16, 16), np.uint8))
    (tmp_path / "m.keras").write_bytes(b"")  # a file, for the command line's own check
    return ["denoise", str(tmp_path / "m.keras"), str(image), "-o", str(tmp_path / "out")]


@pytest.mark.parametrize(
    "error",
    [
        EOFError("No data left in file"),
        RecursionError("maximum recursion depth"),
        ImportError("`evaluate` needs scikit-image"),
    ],
)
def test_file_errors_are_one_line(monkeypatch, capsys, tmp_path, error):
    argv = denoise_argv_raising(monkeypatch, tmp_path, error)
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, str(error))


@pytest.mark.parametrize(
    ("error", "printed"),
    [
        (ValueError("a message\n    on two lines"), "a message on two lines"),
        (OSError(), "OSError"),  # no message: the error's name
    ],
)
def test_errors_print_as_one_line_of_words(monkeypatch, capsys, tmp_path, error, printed):
    argv = denoise_argv_raising(monkeypatch, tmp_path, error)
    assert main(argv) == 1
    assert capsys.readouterr().err == f"keras-denoise: error: {printed}\n"


def test_interruption_is_one_line_and_status_130(monkeypatch, capsys, tmp_path):
    argv = denoise_argv_raising(monkeypatch, tmp_path, KeyboardInterrupt)
    assert main(argv) == 130
    assert capsys.readouterr().err == "keras-denoise: interrupted\n"
    with pytest.raises(KeyboardInterrupt):
        main([*argv, "--debug"])


def test_programming_errors_are_not_hidden(monkeypatch, tmp_path):
    argv = denoise_argv_raising(monkeypatch, tmp_path, KeyError("a bug"))
    with pytest.raises(KeyError, match="a bug"):
        main(argv)


def test_debug_shows_the_traceback(tmp_path, conv_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.png"):
        main(["denoise", "--debug", str(conv_path), str(tmp_path / "nowhere.png")])


# --- channels and layouts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, dtype",
    [((16, 16), np.float32), ((16, 16, 1), np.uint8), ((2, 16, 16), np.float32),
     ((2, 16, 16, 1), np.uint8)],
)  # fmt: skip
def test_denoise_npy_keeps_layout_and_dtype(capsys, tmp_path, conv_path, shape, dtype):
    array = np.random.default_rng(0).random(shape)
    array = (array * 255).astype(dtype) if dtype == np.uint8 else array.astype(dtype)
    np.save(tmp_path / "in.npy", array)
    argv = ["denoise", str(conv_path), str(tmp_path / "in.npy"), "-o", str(tmp_path / "o")]
    assert main(argv) == 0
    result = np.load(tmp_path / "o" / "in.npy")
    assert result.shape == shape and result.dtype == dtype
    assert "in.npy" in capsys.readouterr().out
    # uint8 arrays are read as pixels / 255 and written back as rounded 8-bit pixels.
    images = array / np.float32(255) if dtype == np.uint8 else array
    expected = model_denoise(conv_path, images.reshape(-1, 16, 16, 1)).reshape(shape)
    if dtype == np.uint8:
        assert_denoised(result, as_8_bit(expected), array, atol=1)
    else:
        assert_denoised(result, expected, array, atol=1e-5)


def test_denoise_an_rgba_npy_image_gives_the_models_channels(capsys, tmp_path, conv_path):
    rgba = np.random.default_rng(0).random((16, 16, 4), dtype=np.float32)
    np.save(tmp_path / "in.npy", rgba)
    argv = ["denoise", str(conv_path), str(tmp_path / "in.npy"), "-o", str(tmp_path / "o")]
    assert main(argv) == 0
    assert capsys.readouterr().out.endswith(
        f"in.npy -> {tmp_path / 'o' / 'in.npy'} (RGBA turned grayscale: the model takes "
        "1 channel)\n"
    )
    # One RGBA image, not 16 images of 16x4 pixels: alpha dropped, then luma.
    grey = (rgba[..., :3] @ LUMA)[..., None]
    expected = model_denoise(conv_path, grey[None])[0]
    assert_denoised(np.load(tmp_path / "o" / "in.npy"), expected, grey, atol=1e-5)


@pytest.mark.parametrize("tile_size", [None, 16])
def test_overlap_reaches_the_model_with_or_without_tile_size(
    monkeypatch, tmp_path, unet_path, tile_size
):
    # Without --tile-size, large images are tiled automatically: --overlap must count there too.
    seen = {}
    original = UNetDenoiser.denoise

    def spy(self, images, **kwargs):
        seen.update(kwargs)
        return original(self, images, **kwargs)

    monkeypatch.setattr(UNetDenoiser, "denoise", spy)
    path = write_png(tmp_path / "photo.png", np.full((24, 40), 200, np.uint8))
    argv = ["denoise", str(unet_path), str(path), "-o", str(tmp_path / "out"), "--overlap", "3"]
    if tile_size is not None:
        argv += ["--tile-size", str(tile_size)]
    assert main(argv) == 0
    assert seen["overlap"] == 3
    assert seen.get("tile_size") == tile_size


@pytest.mark.parametrize(
    ("received", "channels", "expected"),
    [
        (3, 1, lambda images: images @ LUMA),
        (4, 1, lambda images: images[..., :3] @ LUMA),
        (2, 1, lambda images: images[..., 0]),
        (1, 3, lambda images: np.repeat(images, 3, axis=-1)),
        (2, 3, lambda images: np.repeat(images[..., :1], 3, axis=-1)),
        (4, 3, lambda images: images[..., :3]),
        (4, 4, lambda images: images),
        (2, 2, lambda images: images),
    ],
    ids=["rgb-to-grey", "rgba-to-grey", "grey-alpha-to-grey", "grey-to-rgb",
         "grey-alpha-to-rgb", "rgba-to-rgb", "rgba-kept", "grey-alpha-kept"],
)
def test_inputs_take_the_models_channels_by_luma_alpha_dropped(received, channels, expected):
    # The model's own output hardly depends on its input before much training, so the
    # conversion is checked here rather than through a denoised file.
    images = np.random.default_rng(0).random((2, 4, 5, received), dtype=np.float32)
    converted = _match_channels(images, channels, "x.npy")
    want = expected(images)
    want = want if want.ndim == 4 else want[..., None]
    assert converted.shape == (2, 4, 5, channels)
    np.testing.assert_allclose(converted, want, rtol=1e-6)


@pytest.mark.parametrize("image_shape", [(24, 40), (24, 40, 3), (24, 40, 4)])
def test_unet_denoises_any_size_and_channels(capsys, tmp_path, unet_path, image_shape):
    path = write_png(tmp_path / "photo.png", np.full(image_shape, 200, np.uint8))
    out = tmp_path / "out"
    argv = ["denoise", str(unet_path), str(path), "-o", str(out), "--tile-size", "16"]
    assert main(argv) == 0
    # Said for grayscale only: an RGBA file is read as RGB, what the model takes.
    said = " (grayscale turned RGB: the model takes 3 channels)" if len(image_shape) == 2 else ""
    assert capsys.readouterr().out == f"{path} -> {out / 'photo.png'}{said}\n"
    written = np.asarray(Image.open(out / "photo.png"))
    assert written.shape == (24, 40, 3)
    # Grayscale repeated into RGB, alpha dropped: the model sees an RGB image of 200s.
    rgb = np.full((1, 24, 40, 3), 200 / 255, np.float32)
    expected = as_8_bit(model_denoise(unet_path, rgb, tile_size=16)[0])
    assert_denoised(written, expected, 200, atol=1)
