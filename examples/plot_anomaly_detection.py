"""
Anomaly detection with reconstruction error
===========================================

An autoencoder trained on some kinds of images reconstructs them well and
anything else worse, so its per-image reconstruction error is an anomaly
score. Here the model learns every digit class of the embedded sample but
one; the held-out class, the zeros, plays the anomaly.

A caveat before starting: the score measures how hard an image is to
reconstruct, not how unfamiliar it is. Unseen digits that are simpler than the
training digits (held-out sevens, for instance) are reconstructed well and slip
through; held-out zeros, with their long closed stroke, stand out.
"""

# %%
# Settings
# --------

import os

import numpy as np

import keras_denoise
from keras_denoise import (
    ConvAutoencoder,
    anomaly_scores,
    anomaly_threshold,
    roc_auc,
)
from keras_denoise.datasets import load_sample_digits
from keras_denoise.plotting import plot_anomaly_scores

QUICK = os.environ.get("KERAS_DENOISE_EXAMPLES_QUICK", "0") == "1"
EPOCHS = 6 if QUICK else 40
HELD_OUT = 0  # the class the model never sees

keras_denoise.enable_determinism(0)

# %%
# Normal and anomalous digits
# ---------------------------
# Train on the other nine classes. The test set mixes normal digits with all
# the held-out ones.

(x_train, y_train), (x_test, y_test) = load_sample_digits(return_labels=True)
normal_train = x_train[y_train != HELD_OUT]
is_anomaly = y_test == HELD_OUT
print(f"{len(normal_train)} normal training digits")
print(f"test digits: {np.sum(~is_anomaly)} normal, {np.sum(is_anomaly)} anomalous")

# %%
# A model with a small bottleneck
# -------------------------------
# A 16-unit latent vector leaves room for what the normal digits share, and
# little for anything else. Training on clean images (``noise_factor=0.1``,
# a little noise as a regulariser) makes it a plain autoencoder.

model = ConvAutoencoder(latent_dim=16)
model.compile()
model.fit_denoising(
    normal_train,
    noise_factor=0.1,
    epochs=EPOCHS,
    batch_size=64,
    seed=0,
    verbose=2,
)

# %%
# Scores and threshold
# --------------------
# The score of an image is its mean squared reconstruction error. The
# threshold is the 99th percentile of the scores of the normal training
# digits: about 1% false alarms on normal data.

train_scores = anomaly_scores(model, normal_train)
test_scores = anomaly_scores(model, x_test)
threshold = anomaly_threshold(train_scores, quantile=0.99)
flagged = test_scores > threshold
print(f"threshold {threshold:.4f}")
print(f"flagged: {flagged[is_anomaly].mean():.0%} of the anomalies")
print(f"flagged: {flagged[~is_anomaly].mean():.0%} of the normal digits")
print(f"ROC AUC: {roc_auc(test_scores, is_anomaly):.3f}")

# %%
# Score histograms and ROC curve
# ------------------------------
# Left: the score distributions of normal and anomalous test digits, with the
# threshold. Right: the ROC curve over all thresholds, with its area (AUC).

plot_anomaly_scores(test_scores, is_anomaly, threshold=threshold)

# %%
# The worst-reconstructed test digits are mostly the held-out class:

worst = np.argsort(test_scores)[::-1][:8]
print("labels of the 8 highest scores:", y_test[worst].tolist())
