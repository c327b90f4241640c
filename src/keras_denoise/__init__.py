"""keras-denoise: learned image denoising with Keras 3.

The public API:

- `ConvAutoencoder`: the convolutional denoising autoencoder (a `keras.Model`).
- `GaussianNoise`: additive Gaussian noise and a training stream of noisy pairs.
- `load_model` / `save_model`: safe loading and atomic saving of `.keras` files.
- `keras_denoise.datasets`, `keras_denoise.metrics`, `keras_denoise.plotting`.

Example:

>>> from keras_denoise import ConvAutoencoder, GaussianNoise
>>> model = ConvAutoencoder()
>>> model.count_params()
440865
"""

from keras_denoise import datasets, metrics, plotting
from keras_denoise._anomaly import anomaly_scores, anomaly_threshold, roc_auc, roc_curve
from keras_denoise._conv_autoencoder import ConvAutoencoder
from keras_denoise._determinism import enable_determinism
from keras_denoise._evaluate import evaluate, format_table
from keras_denoise._gaussian_noise import GaussianNoise
from keras_denoise._noisy_pairs import NoisyPairs
from keras_denoise._saving import load_model, save_model
from keras_denoise._version import __version__

__all__ = [
    "ConvAutoencoder",
    "GaussianNoise",
    "NoisyPairs",
    "__version__",
    "anomaly_scores",
    "anomaly_threshold",
    "datasets",
    "enable_determinism",
    "evaluate",
    "format_table",
    "load_model",
    "metrics",
    "plotting",
    "roc_auc",
    "roc_curve",
    "save_model",
]
