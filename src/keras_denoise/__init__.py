"""keras-denoise: learned image denoising with Keras 3.

The public API:

- `ConvAutoencoder`: the convolutional denoising autoencoder (a `keras.Model`).
- `UNetDenoiser`: a fully convolutional, skip-connected denoiser for images of any size.
- `GaussianNoise`: additive Gaussian noise; `NoisyPairs`: a stream of fresh noisy/clean pairs.
- `fit_denoising`: training with noise drawn inside the compiled step.
- `ConvMuon`: the Muon optimizer extended to convolution kernels.
- `evaluate` / `format_table`: PSNR and SSIM against classical denoisers, over noise levels.
- `anomaly_scores`, `anomaly_threshold`, `roc_curve`, `roc_auc`: anomaly detection by
  reconstruction error.
- `enable_determinism`: repeatable training runs.
- `load_model` / `save_model`: safe loading and atomic saving of `.keras` files.
- `keras_denoise.datasets`, `keras_denoise.metrics`, `keras_denoise.plotting`.

Example:

>>> from keras_denoise import ConvAutoencoder, GaussianNoise
>>> model = ConvAutoencoder()
>>> model.count_params()
440865
"""

# The package imports lazily: `import keras_denoise` (and the command line's `--help`) stays
# fast, and Keras with its backend is imported on first use of a name that needs it.
import importlib
from typing import TYPE_CHECKING, Any

from keras_denoise._version import __version__

_SUBMODULES = ("datasets", "metrics", "plotting")
_EXPORTS = {
    "ConvAutoencoder": "keras_denoise._conv_autoencoder",
    "ConvMuon": "keras_denoise._conv_muon",
    "GaussianNoise": "keras_denoise._gaussian_noise",
    "NoisyPairs": "keras_denoise._noisy_pairs",
    "UNetDenoiser": "keras_denoise._unet_denoiser",
    "anomaly_scores": "keras_denoise._anomaly",
    "anomaly_threshold": "keras_denoise._anomaly",
    "enable_determinism": "keras_denoise._determinism",
    "evaluate": "keras_denoise._evaluate",
    "fit_denoising": "keras_denoise._noisy_trainer",
    "format_table": "keras_denoise._evaluate",
    "load_model": "keras_denoise._saving",
    "roc_auc": "keras_denoise._anomaly",
    "roc_curve": "keras_denoise._anomaly",
    "save_model": "keras_denoise._saving",
}

# Written out, not computed from the names above, so that type checkers see what the package
# exports (`mypy --strict` refuses names that `__all__` does not list); tests/test_init.py
# checks that it lists exactly those names.
__all__ = [
    "ConvAutoencoder",
    "ConvMuon",
    "GaussianNoise",
    "NoisyPairs",
    "UNetDenoiser",
    "__version__",
    "anomaly_scores",
    "anomaly_threshold",
    "datasets",
    "enable_determinism",
    "evaluate",
    "fit_denoising",
    "format_table",
    "load_model",
    "metrics",
    "plotting",
    "roc_auc",
    "roc_curve",
    "save_model",
]

if TYPE_CHECKING:
    from keras_denoise import datasets, metrics, plotting
    from keras_denoise._anomaly import anomaly_scores, anomaly_threshold, roc_auc, roc_curve
    from keras_denoise._conv_autoencoder import ConvAutoencoder
    from keras_denoise._conv_muon import ConvMuon
    from keras_denoise._determinism import enable_determinism
    from keras_denoise._evaluate import evaluate, format_table
    from keras_denoise._gaussian_noise import GaussianNoise
    from keras_denoise._noisy_pairs import NoisyPairs
    from keras_denoise._noisy_trainer import fit_denoising
    from keras_denoise._saving import load_model, save_model
    from keras_denoise._unet_denoiser import UNetDenoiser


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"keras_denoise.{name}")
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        message = f"module 'keras_denoise' has no attribute {name!r}"
        raise AttributeError(message)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted({*globals(), *__all__})
