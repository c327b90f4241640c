"""
Denoising your own images
=========================

keras-denoise reads and writes ordinary image files: PNG and JPEG, and
NumPy ``.npy`` arrays. This example writes a few
PNG files to a temporary folder, loads them back with
`keras_denoise.datasets.load_images`, trains a fully convolutional
`keras_denoise.UNetDenoiser` on small images of the same kind, denoises the
larger pictures with it, and writes the results next to them.
"""

# %%
# Settings
# --------

import os
import tempfile

import numpy as np

import keras_denoise
from keras_denoise import GaussianNoise, UNetDenoiser
from keras_denoise.datasets import load_images, read_image, write_image
from keras_denoise.metrics import psnr
from keras_denoise.plotting import compare

QUICK = os.environ.get("KERAS_DENOISE_EXAMPLES_QUICK", "0") == "1"
EPOCHS = 5 if QUICK else 30
COUNT = 1500 if QUICK else 8000
PICTURE_SHAPE = (48, 64)  # the "own" pictures
TRAINING_SHAPE = (32, 32)  # the training images: smaller, so training is fast
NOISE_FACTOR = 0.3

keras_denoise.enable_determinism(0)


def make_shapes(count, shape, seed):
    """Random filled rectangles and discs, grayscale in [0, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    images = np.zeros((count, *shape), dtype="float32")
    for image in images:
        for _ in range(rng.integers(1, 4)):
            top = rng.integers(0, shape[0] - 8)
            left = rng.integers(0, shape[1] - 8)
            height, width = rng.integers(6, 16, size=2)
            shade = rng.uniform(0.4, 1.0)
            if rng.random() < 0.5:  # a rectangle
                inside = (rows >= top) & (rows < top + height)
                inside &= (cols >= left) & (cols < left + width)
            else:  # a disc
                radius = height / 2
                distance = np.hypot(rows - top - radius, cols - left - radius)
                inside = distance < radius
            image[inside] = shade
    return images


# %%
# Some image files
# ----------------
# Five PNG files stand for your own pictures.

folder = tempfile.mkdtemp()
for index, image in enumerate(make_shapes(5, PICTURE_SHAPE, seed=1)):
    write_image(os.path.join(folder, f"picture_{index}.png"), image)
print(*sorted(os.listdir(folder)), sep="\n")

# %%
# ``load_images`` reads every image of a folder (or a list of paths) into
# one float32 array in [0, 1].

pictures = load_images(folder)
print(pictures.shape, pictures.dtype)

# %%
# Training on images of the same kind
# -----------------------------------
# A denoiser learns the structure of the images it is trained on, so train it
# on images like yours; here, more random shapes. `UNetDenoiser` is fully
# convolutional: trained on small images, it denoises images of any size. A
# small one without batch normalisation learns these shapes in a few epochs.

model = UNetDenoiser(filters=(16, 32), batch_norm=False)
model.compile()
shapes = make_shapes(COUNT, TRAINING_SHAPE, seed=2)
model.fit_denoising(
    shapes,
    noise_factor=NOISE_FACTOR,
    epochs=EPOCHS,
    batch_size=32,
    seed=0,
    verbose=2,
)

# %%
# Denoising the files
# -------------------

noisy, clean = GaussianNoise(NOISE_FACTOR, seed=3).pairs(pictures)
denoised = model.denoise(noisy)
print(f"PSNR of the noisy pictures:    {psnr(clean, noisy):.2f} dB")
print(f"PSNR of the denoised pictures: {psnr(clean, denoised):.2f} dB")
for index, image in enumerate(denoised):
    write_image(os.path.join(folder, f"picture_{index}_denoised.png"), image)
print(read_image(os.path.join(folder, "picture_0_denoised.png")).shape)

compare(clean, noisy, denoised, n=5)
