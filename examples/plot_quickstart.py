"""
Quick start: the reference recipe
=================================

Train the reference convolutional denoising autoencoder on noisy digits and
look at what it does: MNIST-style digits in [0, 1], Gaussian noise of standard
deviation 0.5, Adam and binary cross-entropy, batches of 64.

This script trains on the sample of MNIST digits shipped with the package; for
the full recipe use ``keras_denoise.datasets.load_mnist()`` and 35 epochs.
"""

# %%
# Settings
# --------
# ``KERAS_DENOISE_EXAMPLES_QUICK=1`` (set by the documentation build) trains
# for a few epochs only.

import os

import keras_denoise
from keras_denoise import ConvAutoencoder, GaussianNoise
from keras_denoise.datasets import load_sample_digits
from keras_denoise.metrics import psnr
from keras_denoise.plotting import compare, plot_history

QUICK = os.environ.get("KERAS_DENOISE_EXAMPLES_QUICK", "0") == "1"
EPOCHS = 3 if QUICK else 35
NOISE_FACTOR = 0.5

keras_denoise.enable_determinism(0)

# %%
# Data and noise
# --------------
# Clean digits, float32 in [0, 1], shape ``(N, 28, 28, 1)``. The noise stream
# draws fresh noise for every batch of every epoch.

x_train, x_test = load_sample_digits()
noise = GaussianNoise(noise_factor=NOISE_FACTOR, seed=0)
noisy_test, clean_test = GaussianNoise(NOISE_FACTOR, seed=1).pairs(x_test)
print(f"{len(x_train)} training and {len(x_test)} test digits")

# %%
# Model and training
# ------------------
# ``ConvAutoencoder()`` is the reference architecture (440,865 parameters);
# ``compile()`` defaults to Adam and binary cross-entropy.

model = ConvAutoencoder()
model.compile()
history = model.fit(
    noise.dataset(x_train, batch_size=64),
    validation_data=(noisy_test, clean_test),
    epochs=EPOCHS,
    verbose=2,
)

# %%
# Denoise and measure
# -------------------

denoised = model.denoise(noisy_test)
print(f"PSNR of the noisy digits:    {psnr(clean_test, noisy_test):.2f} dB")
print(f"PSNR of the denoised digits: {psnr(clean_test, denoised):.2f} dB")

# %%
# Top row: the clean test digits; middle: with noise; bottom: denoised.

compare(clean_test, noisy_test, denoised, n=8)

# %%
# The training and validation loss, epoch by epoch.

plot_history(history)
