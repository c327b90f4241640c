"""The public API as a user's type checker sees it: read by mypy, never run.

`tests/test_typing.py` runs mypy on the package and on this file (the settings are in
`pyproject.toml`), and on this file alone as a user's `mypy --strict` would. Each `assert_type`
fails the check if a return type changes, and each `# type: ignore[...]` marks a call a user's
checker must reject: with `warn_unused_ignores`, one that stops being an error fails the check
too. The functions only hold the calls to check.
"""

from __future__ import annotations

from typing import Any, assert_type

import numpy as np
from matplotlib.figure import Figure

import keras_denoise
from keras_denoise import ConvAutoencoder, GaussianNoise, UNetDenoiser
from keras_denoise.datasets import load_images, load_mnist, load_sample_digits, read_image
from keras_denoise.metrics import psnr, ssim
from keras_denoise.plotting import compare, plot_evaluation

# What the MNIST loaders return with `return_labels=True`; an alias at module level, where
# every checker (pyright too) takes it as a type.
Labelled = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def metrics_return_a_float_or_an_array_by_reduction(
    clean: np.ndarray, estimate: np.ndarray, reduction: str
) -> None:
    assert_type(psnr(clean, estimate), float)
    assert_type(psnr(clean, estimate, reduction="mean"), float)
    assert_type(psnr(clean, estimate, reduction="none"), np.ndarray)
    assert_type(psnr(clean, estimate, reduction=reduction), float | np.ndarray)
    assert_type(ssim(clean, estimate), float)
    assert_type(ssim(clean, estimate, reduction="none"), np.ndarray)
    assert_type(ssim(clean, estimate, reduction=reduction), float | np.ndarray)
    mean: float = psnr(clean, estimate, reduction="none")  # type: ignore[assignment]
    del mean


def loaders_return_images_or_images_and_labels(path: str, labels: bool) -> None:
    assert_type(load_mnist(path), tuple[np.ndarray, np.ndarray])
    assert_type(load_mnist(path, return_labels=True), Labelled)
    assert_type(load_sample_digits(), tuple[np.ndarray, np.ndarray])
    assert_type(load_sample_digits(return_labels=True), Labelled)
    assert_type(
        load_sample_digits(return_labels=labels), tuple[np.ndarray, np.ndarray] | Labelled
    )
    (x_train, y_train), (x_test, y_test) = load_sample_digits(return_labels=True)
    assert_type(y_test, np.ndarray)
    assert_type(load_images(path, size=(28, 28)), np.ndarray)
    assert_type(read_image(path), np.ndarray)


def models_denoise_to_arrays(images: np.ndarray) -> None:
    autoencoder = ConvAutoencoder(latent_dim=32)
    assert_type(autoencoder.denoise(images), np.ndarray)
    assert_type(autoencoder.encode(images), np.ndarray)
    assert_type(autoencoder.decode(autoencoder.encode(images)), np.ndarray)
    assert_type(autoencoder.get_config(), dict[str, Any])
    unet = UNetDenoiser()
    assert_type(unet.denoise(images, tile_size=256), np.ndarray)
    noisy, clean = GaussianNoise(0.5, seed=0).pairs(images)
    assert_type(noisy, np.ndarray)
    ConvAutoencoder(latent_dim="32")  # type: ignore[arg-type]


def evaluation_gives_rows_a_table_and_figures(model: UNetDenoiser, images: np.ndarray) -> None:
    rows = keras_denoise.evaluate(model, images, noise_factors=(0.5,), seed=0)
    assert_type(rows, list[dict[str, Any]])
    assert_type(keras_denoise.format_table(rows), str)
    assert_type(plot_evaluation(rows), Figure)
    assert_type(compare(images, images, images, n=4), Figure)
    assert_type(keras_denoise.anomaly_scores(model, images), np.ndarray)
