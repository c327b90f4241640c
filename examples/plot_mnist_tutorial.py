"""
Tutorial: denoising MNIST digits at noise factor 0.5
====================================================

The whole workflow, step by step: load digits, corrupt them with Gaussian
noise, build and train the reference convolutional autoencoder, denoise, and
look inside the trained model.

The documentation build trains on the sample of real MNIST digits shipped with
the package, for a few epochs only, so the results here are a little blurrier
than the full recipe's (``load_mnist()``, 35 epochs).
"""

# %%
# Setup
# -----
# Every source of randomness takes a seed; `keras_denoise.enable_determinism`
# also seeds Keras and asks the backend for deterministic kernels.

import os
import tempfile

import keras_denoise
from keras_denoise import ConvAutoencoder, GaussianNoise
from keras_denoise.datasets import load_sample_digits
from keras_denoise.metrics import psnr, ssim
from keras_denoise.plotting import plot_history, plot_latent, show_images

QUICK = os.environ.get("KERAS_DENOISE_EXAMPLES_QUICK", "0") == "1"
EPOCHS = 8 if QUICK else 35
NOISE_FACTOR = 0.5

keras_denoise.enable_determinism(0)

# %%
# The data
# --------
# `load_sample_digits` returns real MNIST digits that ship with the package,
# as float32 arrays in [0, 1] of shape ``(N, 28, 28, 1)``, with their labels.

(x_train, y_train), (x_test, y_test) = load_sample_digits(return_labels=True)
print(f"train: {x_train.shape} {x_train.dtype}, test: {x_test.shape}")
print(f"pixel range: [{x_train.min():.1f}, {x_train.max():.1f}]")

# %%
# Ten clean test digits:

digits = x_test[:10]
show_images(digits, ncols=10, titles=[str(label) for label in y_test[:10]])

# %%
# Adding noise
# ------------
# `GaussianNoise` adds noise of standard deviation ``noise_factor`` and clips
# the result back to [0, 1]. At 0.5 the digits are hard to read:

noise = GaussianNoise(noise_factor=NOISE_FACTOR, seed=1)
noisy_digits = noise(digits)
show_images(noisy_digits, ncols=10)

# %%
# The model
# ---------
# `ConvAutoencoder` with its defaults is the reference architecture: three
# convolutions down to a 7x7x32 feature map, a 128-unit latent vector, and the
# mirror image back up (see :doc:`/how_it_works` for every layer).

model = ConvAutoencoder()
model.summary()

# %%
# Training
# --------
# ``fit_denoising`` draws fresh noise for every batch inside the compiled
# training step, so the model never sees the same noisy digit twice. A tenth
# of the training digits is held out for validation, and
# ``learning_rate_schedule="cosine"`` lowers Adam's learning rate along a half
# cosine over the epochs, which ends training in a better minimum than a
# constant rate.

model.compile()
history = model.fit_denoising(
    x_train,
    noise_factor=NOISE_FACTOR,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=0.1,
    seed=0,
    learning_rate_schedule="cosine",
    verbose=2,
)

# %%
# The loss curves: binary cross-entropy on the training batches and on the
# held-out digits.

plot_history(history)

# %%
# Denoising
# ---------
# ``denoise`` takes and returns NumPy arrays. The same ten digits, denoised:

denoised_digits = model.denoise(noisy_digits)
show_images(denoised_digits, ncols=10)

# %%
# Over the whole test set, with fresh noise:

noisy_test, clean_test = GaussianNoise(NOISE_FACTOR, seed=2).pairs(x_test)
denoised_test = model.denoise(noisy_test)
for name, images in [("noisy", noisy_test), ("denoised", denoised_test)]:
    psnr_db, ssim_index = psnr(clean_test, images), ssim(clean_test, images)
    print(f"{name:>8}: PSNR {psnr_db:5.2f} dB, SSIM {ssim_index:.3f}")

# %%
# The latent space
# ----------------
# The encoder maps each digit to a 128-dimensional vector. Projected onto its
# first two principal components and coloured by label, the test digits
# gather by class, although the model was never shown a label.

plot_latent(model, x_test, y_test)

# %%
# Saving
# ------
# ``model.save`` writes atomically and `keras_denoise.load_model` refuses any
# file that could run foreign code.

path = os.path.join(tempfile.mkdtemp(), "denoiser.keras")
model.save(path)
restored = keras_denoise.load_model(path)
print(f"reloaded: {restored.count_params():,} parameters")
