import importlib.resources
import importlib.util
import os
import pathlib
import re
import struct
import zlib

import keras
import numpy as np
import pytest
from PIL import Image

from keras_denoise import datasets
from keras_denoise.datasets import (
    load_images,
    load_mnist,
    load_sample_digits,
    read_image,
    write_image,
)

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "make_sample_digits.py"
MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def _save(path, pixels, **options):
    """Write uint8 `pixels` with Pillow (independently of `write_image`)."""
    Image.fromarray(pixels).save(path, **options)
    return str(path)


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _smooth(shape, seed=0):
    """uint8 ramps, which JPEG keeps close to the original."""
    grid = np.indices(shape).reshape(len(shape), -1)
    steps = np.array([8, 4, 10][: len(shape)])[:, None]
    return (20 + 5 * seed + (steps * grid).sum(axis=0)).reshape(shape).astype(np.uint8)


def _check_images(images, shape):
    assert images.shape == shape
    assert images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_sample_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- The bundled sample ----------------------------------------------------------------------


def test_public_names():
    assert sorted(datasets.__all__) == sorted(
        ["load_mnist", "load_sample_digits", "load_images", "read_image", "write_image"]
    )


def test_sample_digits_shapes_and_labels(monkeypatch):
    def no_network():
        raise AssertionError("load_sample_digits must not download MNIST")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    (x_train, y_train), (x_test, y_test) = load_sample_digits(return_labels=True)
    _check_images(x_train, (3000, 28, 28, 1))
    _check_images(x_test, (600, 28, 28, 1))
    assert y_train.dtype == y_test.dtype == np.uint8
    for labels in (y_train, y_test):
        shares = np.bincount(labels, minlength=10) / len(labels)
        # MNIST's class shares lie between 9.0% and 11.3%.
        assert np.all((shares > 0.085) & (shares < 0.12))
    # Real digits: mostly black background, the MNIST mean intensity.
    assert abs(x_train.mean() - 0.1307) < 0.01
    assert np.mean(x_train == 0.0) > 0.7
    images_only = load_sample_digits()
    np.testing.assert_array_equal(images_only[0], x_train)
    np.testing.assert_array_equal(images_only[1], x_test)


def test_sample_digits_is_small_and_traceable():
    resource = importlib.resources.files("keras_denoise") / "data" / "sample_digits.npz"
    with importlib.resources.as_file(resource) as path:
        assert os.path.getsize(path) < 1_000_000
        with np.load(path, allow_pickle=False) as archive:
            assert str(archive["source_sha256"]) == MNIST_SHA256
            assert archive["train_indices"].shape == (3000,)
            assert archive["test_indices"].shape == (600,)
            assert np.all(np.diff(archive["train_indices"]) > 0)


def test_sample_digits_are_the_recorded_mnist_digits(mnist_path):
    resource = importlib.resources.files("keras_denoise") / "data" / "sample_digits.npz"
    with resource.open("rb") as handle, np.load(handle) as sample, np.load(mnist_path) as mnist:
        for split in ("train", "test"):
            indices = sample[f"{split}_indices"]
            np.testing.assert_array_equal(sample[f"x_{split}"], mnist[f"x_{split}"][indices])
            np.testing.assert_array_equal(sample[f"y_{split}"], mnist[f"y_{split}"][indices])


def test_return_labels_must_be_bool(tmp_path):
    with pytest.raises(TypeError, match="return_labels"):
        load_sample_digits(return_labels=1)
    path = _mnist_like(tmp_path / "digits.npz")
    with pytest.raises(TypeError, match="return_labels"):
        load_mnist(path, return_labels="yes")


# --- load_mnist ------------------------------------------------------------------------------


def test_load_mnist_from_file(mnist_path):
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist_path, return_labels=True)
    _check_images(x_train, (60000, 28, 28, 1))
    _check_images(x_test, (10000, 28, 28, 1))
    assert abs(float(x_train.mean()) - 0.1307) < 1e-3
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))


def test_load_mnist_downloads_through_keras(monkeypatch):
    calls = []
    x = np.full((3, 28, 28), 255, dtype=np.uint8)
    y = np.array([1, 2, 3], dtype=np.uint8)

    def fake_load_data():
        calls.append(True)
        return (x, y), (x[:2], y[:2])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_load_data)
    (x_train, y_train), (x_test, y_test) = load_mnist(return_labels=True)
    assert len(calls) == 1
    _check_images(x_train, (3, 28, 28, 1))
    _check_images(x_test, (2, 28, 28, 1))
    assert np.all(x_train == 1.0)
    np.testing.assert_array_equal(y_test, [1, 2])


def test_load_mnist_offline_says_to_pass_a_path(monkeypatch):
    # What Keras's downloader raises without a network: a bare `Exception`.
    def offline():
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    match = r"MNIST could not be downloaded .*URL fetch failure.*pass `path`"
    with pytest.raises(OSError, match=match):
        load_mnist()


def _mnist_like(path, **overrides):
    arrays = {
        "x_train": np.zeros((4, 28, 28), np.uint8),
        "y_train": np.zeros(4, np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.zeros(2, np.uint8),
    }
    arrays.update(overrides)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"x_test": None}, "missing"),
        ({"y_train": None}, "missing"),
        # The shape as stored (it gave (4, 16, 16, 1), with the channel axis it adds).
        ({"x_train": np.zeros((4, 16, 16), np.uint8)}, r"x_train.* Received: shape \(4, 16, 16\)$"),
        ({"x_test": np.zeros((2, 28, 28, 3), np.uint8)}, "x_test"),
        ({"y_train": np.zeros(3, np.uint8)}, "y_train"),
        ({"y_test": np.zeros(2, np.float32)}, "y_test"),
        ({"x_train": np.full((4, 28, 28), 2.0, np.float32)}, "x_train"),
        ({"x_test": np.full((2, 28, 28), -0.25, np.float32)},
         r"x_test.*\[-0\.25, -0\.25\].* \(in '.*bad\.npz'\)$"),
        ({"x_test": np.zeros((2, 28, 28), np.int64)}, r"x_test.*int64.* \(in '.*bad\.npz'\)$"),
        # An object array fails only when it is read: still named as the archive's fault.
        (
            {"x_test": np.array([None] * 2, dtype=object)},
            r"^Could not read '.*bad\.npz' as an `\.npz` archive: .*allow_pickle",
        ),
    ],
)
def test_load_mnist_rejects_bad_archives(tmp_path, overrides, match):
    path = _mnist_like(tmp_path / "bad.npz", **overrides)
    with pytest.raises(ValueError, match=match):
        load_mnist(path)


def test_load_mnist_accepts_channel_axis(tmp_path):
    path = _mnist_like(tmp_path / "good.npz", x_test=np.zeros((2, 28, 28, 1), np.uint8))
    x_train, x_test = load_mnist(path)
    assert x_train.shape == (4, 28, 28, 1) and x_test.shape == (2, 28, 28, 1)


def test_load_mnist_rejects_files_that_are_not_npz(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    # NumPy's own words were that the file "contains pickled (object) data".
    match = r"notes\.npz' as an `\.npz` archive: it is not a NumPy file: neither an `\.npy` array"
    with pytest.raises(ValueError, match=match):
        load_mnist(text)
    array = tmp_path / "array.npy"
    np.save(array, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="single array"):
        load_mnist(array)


def test_load_mnist_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_mnist(tmp_path / "missing.npz")
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(FileNotFoundError, match=r"not a file\. Received: path=.*folder\.npz"):
        load_mnist(tmp_path / "folder.npz")


def test_load_mnist_path_type():
    with pytest.raises(TypeError, match="path"):
        load_mnist(3)


# --- load_images -----------------------------------------------------------------------------

MODES = {"gray": ((16, 12), 1), "rgb": ((16, 12, 3), 3), "rgba": ((16, 12, 4), 3)}


@pytest.mark.parametrize(
    ("mode", "extension"),
    [("gray", ".png"), ("rgb", ".png"), ("rgba", ".png"), ("gray", ".jpg"), ("rgb", ".jpeg")],
)
def test_load_images_folder(tmp_path, mode, extension):
    shape, channels = MODES[mode]
    pixels = [_smooth(shape, seed) for seed in range(3)]
    for index, image in enumerate(pixels):
        _save(tmp_path / f"image_{index}{extension}", image, quality=95)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "nested").mkdir()
    _save(tmp_path / "nested" / "ignored.png", _pixels(shape))
    (tmp_path / "folder.png").mkdir()  # a folder, whatever its name ends with
    images = load_images(tmp_path)
    _check_images(images, (3, 16, 12, channels))
    expected = np.stack(pixels).reshape(3, 16, 12, -1)[..., :channels] / 255.0
    np.testing.assert_allclose(images, expected, atol=1e-6 if extension == ".png" else 0.05)


def test_load_images_sorted_list_and_single_file(tmp_path):
    paths = [_save(tmp_path / f"{name}.png", _pixels((8, 8), seed))
             for seed, name in enumerate(["b", "a", "c"])]
    from_folder = load_images(tmp_path)
    np.testing.assert_array_equal(from_folder[0], load_images(paths[1])[0])  # "a" first
    from_list = load_images([pathlib.Path(paths[2]), paths[0]])
    np.testing.assert_array_equal(from_list, from_folder[[2, 1]])


def _luma(rgb):
    """ITU-R 601-2 luma of uint8 RGB pixels, in [0, 1] (Pillow's "L" conversion)."""
    red, green, blue = (rgb[..., index].astype(np.float64) for index in range(3))
    return (red * 299 / 1000 + green * 587 / 1000 + blue * 114 / 1000) / 255.0


@pytest.mark.parametrize("channels", [1, 3, np.int64(1)])
def test_load_images_forced_channels(tmp_path, channels):
    gray = _pixels((8, 8))
    rgba = _pixels((8, 8, 4), 1)
    _save(tmp_path / "gray.png", gray)
    _save(tmp_path / "rgba.png", rgba)
    images = load_images(tmp_path, channels=channels)
    _check_images(images, (2, 8, 8, channels))
    one_grey_level = 1 / 255 + 1e-6
    if channels == 1:
        np.testing.assert_allclose(images[0, ..., 0], gray / 255.0, atol=1e-6)
        np.testing.assert_allclose(images[1, ..., 0], _luma(rgba), atol=one_grey_level)
    else:  # grey repeated in the three channels; alpha dropped
        np.testing.assert_allclose(images[0], np.repeat(gray[..., None] / 255.0, 3, axis=-1),
                                   atol=1e-6)
        np.testing.assert_allclose(images[1], rgba[..., :3] / 255.0, atol=1e-6)


@pytest.mark.parametrize("gray_file", ["a_gray.png", "a_gray.npy"])
def test_load_images_mixed_gray_and_colour_become_rgb(tmp_path, gray_file):
    gray = _pixels((8, 8))
    if gray_file.endswith(".npy"):
        np.save(tmp_path / gray_file, gray)
    else:
        _save(tmp_path / gray_file, gray)
    _save(tmp_path / "b_rgb.png", _pixels((8, 8, 3), 1))
    images = load_images(tmp_path)
    _check_images(images, (2, 8, 8, 3))
    np.testing.assert_allclose(images[0], np.repeat(gray[..., None] / 255.0, 3, axis=-1),
                               atol=1e-6)


def test_load_images_16_bit_png(tmp_path):
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    path = _save(tmp_path / "deep.png", pixels)
    np.testing.assert_allclose(load_images(path)[0, ..., 0], pixels / 65535.0, atol=1e-6)


def test_read_image_16_bit_grayscale_with_alpha_png_is_grayscale(tmp_path):
    # Pillow decodes such files ("LA;16B") as 8-bit RGBA: they were read as 3 equal channels,
    # and turned every image of a folder holding one into colour.
    path = tmp_path / "gray-alpha.png"
    pixels = np.array([[0, 30000], [65535, 1000]], np.uint16)
    rows = b"".join(
        b"\x00" + b"".join(struct.pack(">HH", value, 65535) for value in row) for row in pixels
    )
    header = struct.pack(">IIBBBBB", 2, 2, 16, 4, 0, 0, 0)  # 16 bits, grayscale with alpha
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))
    assert Image.open(path).mode == "RGBA"
    image = read_image(path)
    assert image.shape == (2, 2, 1)
    np.testing.assert_allclose(image[..., 0], pixels / 65535.0, atol=1 / 255)  # the high bytes
    _save(tmp_path / "plain.png", np.zeros((2, 2), np.uint8))
    assert load_images(tmp_path).shape == (2, 2, 2, 1)


def test_read_image_big_endian_16_bit_tiff(tmp_path):
    # Mode "I;16B", the byte order of many scientific TIFFs: Pillow's own extrema and
    # conversions refuse it ("image has wrong mode").
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    Image.frombytes("I;16B", (8, 8), pixels.astype(">u2").tobytes()).save(tmp_path / "big.tif")
    assert Image.open(tmp_path / "big.tif").mode == "I;16B"
    np.testing.assert_allclose(read_image(tmp_path / "big.tif")[..., 0], pixels / 65535.0,
                               atol=1e-6)


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [
        (1, lambda pixels: pixels),
        (2, np.fliplr),
        (3, lambda pixels: np.rot90(pixels, 2)),
        (6, lambda pixels: np.rot90(pixels, -1)),  # stored turned a quarter anticlockwise
        (8, lambda pixels: np.rot90(pixels, 1)),
    ],
)
@pytest.mark.parametrize("shape", [(8, 12), (8, 12, 3)])
def test_read_image_turns_images_upright_by_their_exif_orientation(
    tmp_path, orientation, upright, shape
):
    pixels = _pixels(shape)
    exif = Image.Exif()
    exif[0x0112] = orientation  # the EXIF orientation tag, as cameras write it
    path = _save(tmp_path / "photo.png", pixels, exif=exif)
    image = read_image(path)
    np.testing.assert_allclose(image, upright(pixels).reshape(image.shape) / 255.0, atol=1e-6)
    # As the command line tells which images of a folder are resized, from the file's header.
    height, width = image.shape[:2]
    assert datasets._is_resized(path, (height, width)) is False
    assert datasets._is_resized(path, (width, height)) is True
    assert datasets._is_resized(path, (height, height)) is True


def test_read_image_32_bit_integers_within_16_bits(tmp_path):
    pixels = np.arange(64, dtype=np.int32).reshape(8, 8) * 1000
    pixels[-1, -1] = 65535  # the largest 16-bit value, read as 1
    Image.fromarray(pixels).save(tmp_path / "deep.tif")
    assert Image.open(tmp_path / "deep.tif").mode == "I"
    np.testing.assert_allclose(read_image(tmp_path / "deep.tif")[..., 0], pixels / 65535.0,
                               atol=1e-6)


@pytest.mark.parametrize("offset", [-1, 2536, 3000])  # 2536: a largest pixel of 65536
def test_read_image_refuses_32_bit_integers_beyond_16_bits(tmp_path, offset):
    # They used to be clipped to [0, 1] without a word.
    pixels = np.arange(64, dtype=np.int32).reshape(8, 8) * 1000 + offset
    Image.fromarray(pixels).save(tmp_path / "wide.tif")
    with pytest.raises(ValueError, match=r"wide\.tif' holds 32-bit integer pixels from"):
        read_image(tmp_path / "wide.tif")


def test_read_image_refuses_floating_point_pixels(tmp_path):
    # Converting them to 8 bits would clip them without a word.
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "float.tif")
    assert Image.open(tmp_path / "float.tif").mode == "F"
    with pytest.raises(ValueError, match=r"float\.tif' holds floating-point pixels"):
        read_image(tmp_path / "float.tif")


@pytest.mark.parametrize("size", [(8193, 1), (1, 8193)])
def test_read_image_refuses_images_wider_or_taller_than_the_limit(tmp_path, size):
    Image.new("L", size).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match=rf"big\.png' is {size[0]}x{size[1]} pixels, larger than"):
        read_image(tmp_path / "big.png")


@pytest.mark.parametrize("shape", [(1, 8192), (8192, 1)])
@pytest.mark.parametrize("suffix", ["png", "npy"])
def test_read_image_takes_images_of_the_largest_side(tmp_path, shape, suffix):
    pixels = np.full(shape, 51, np.uint8)
    path = tmp_path / f"long.{suffix}"
    if suffix == "npy":
        np.save(path, pixels)
    else:
        _save(path, pixels)
    image = read_image(path)
    assert image.shape == (*shape, 1)
    np.testing.assert_allclose(image, 0.2, atol=1e-6)


@pytest.mark.parametrize(("mode", "name"), [("LA", "grey.png"), ("PA", "grey.tif")])
def test_grey_images_with_alpha_keep_one_channel(tmp_path, mode, name):
    gray = _pixels((8, 8))
    alpha = Image.fromarray(np.full((8, 8), 100, np.uint8))
    picture = Image.merge("LA", [Image.fromarray(gray), alpha])
    picture.convert(mode).save(tmp_path / name)  # PNG cannot hold "PA"; TIFF can
    assert Image.open(tmp_path / name).mode == mode
    np.testing.assert_allclose(read_image(tmp_path / name), gray[..., None] / 255.0, atol=1e-6)


def test_gray_palette_images_keep_one_channel(tmp_path):
    gray = _pixels((8, 8))
    Image.fromarray(gray).convert("P").save(tmp_path / "gray.png")
    colour = _pixels((8, 8, 3), 1)
    colour[0, 0] = (255, 0, 0)
    Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "c.png")
    assert Image.open(tmp_path / "gray.png").mode == Image.open(tmp_path / "c.png").mode == "P"
    np.testing.assert_allclose(read_image(tmp_path / "gray.png"), gray[..., None] / 255.0,
                               atol=1e-6)
    assert read_image(tmp_path / "c.png").shape == (8, 8, 3)


def test_lab_images_read_as_grayscale_through_rgb(tmp_path):
    # Pillow turns LAB into RGB but not into grayscale: `channels=1` refused what the
    # default reading took.
    Image.new("LAB", (8, 8), (50, 20, 200)).save(tmp_path / "lab.tif")
    colour = read_image(tmp_path / "lab.tif")
    gray = load_images(tmp_path / "lab.tif", channels=1)[0]
    assert colour.shape == (8, 8, 3) and gray.shape == (8, 8, 1)
    np.testing.assert_allclose(gray[..., 0], colour @ np.array([0.299, 0.587, 0.114]),
                               atol=1 / 255)


def test_unconvertible_colour_space_names_the_file(tmp_path, monkeypatch):
    Image.new("LAB", (8, 8)).save(tmp_path / "lab.tif")

    def convert(self, mode=None, *args, **kwargs):
        message = f"conversion from {self.mode} to {mode} not supported"
        raise ValueError(message)

    monkeypatch.setattr(Image.Image, "convert", convert)
    with pytest.raises(ValueError, match=r"^Could not read the image file '.*lab\.tif': conv"):
        load_images(tmp_path / "lab.tif", channels=1)


@pytest.mark.parametrize("size", [(8, 12), (32, 16)])
def test_load_images_resize(tmp_path, size):
    _save(tmp_path / "a.png", np.full((16, 16), 51, np.uint8))
    _save(tmp_path / "b.png", np.full((20, 10, 3), 102, np.uint8))
    images = load_images(tmp_path, size=size)
    _check_images(images, (2, *size, 3))
    np.testing.assert_allclose(images[0], 0.2, atol=1e-6)  # bilinear keeps flat images flat
    np.testing.assert_allclose(images[1], 0.4, atol=1e-6)


@pytest.mark.parametrize(
    ("stride", "count"), [(None, 2 * 2 + 3 * 2), ((4, 4), 3 * 3 + 5 * 3), ((8, 2), 2 * 5 + 3 * 5)]
)
def test_load_images_patches(tmp_path, stride, count):
    first = _pixels((16, 16))
    _save(tmp_path / "a.png", first)
    _save(tmp_path / "b.png", _pixels((24, 16), 1))
    patches = load_images(tmp_path, patch_size=(8, 8), stride=stride)
    _check_images(patches, (count, 8, 8, 1))
    step = stride or (8, 8)
    np.testing.assert_array_equal(patches[0, ..., 0], first[:8, :8] / np.float32(255))
    np.testing.assert_array_equal(patches[1, ..., 0],
                                  first[:8, step[1]:step[1] + 8] / np.float32(255))


def test_load_images_image_smaller_than_patch(tmp_path):
    _save(tmp_path / "tiny.png", _pixels((4, 16)))
    with pytest.raises(ValueError, match="tiny.png"):
        load_images(tmp_path, patch_size=(8, 8))


def test_load_images_mixed_sizes_need_size_or_patches(tmp_path):
    _save(tmp_path / "a.png", _pixels((8, 8)))
    _save(tmp_path / "b.png", _pixels((8, 12)))
    with pytest.raises(ValueError, match="patch_size"):
        load_images(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n garbage", b"plain text"])
def test_load_images_corrupt_file(tmp_path, content):
    _save(tmp_path / "good.png", _pixels((8, 8)))
    (tmp_path / "broken.png").write_bytes(content)
    with pytest.raises(ValueError, match="broken.png"):
        load_images(tmp_path)


def test_load_images_truncated_file(tmp_path):
    data = (tmp_path / "full.png")
    _save(data, _pixels((64, 64)))
    truncated = tmp_path / "cut" / "truncated.png"
    truncated.parent.mkdir()
    truncated.write_bytes(data.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.png"):
        load_images(truncated)


def test_load_images_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    np.savez(tmp_path / "archive.npz", images=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="no PNG, JPEG or `.npy` files"):
        load_images(tmp_path)


def test_load_images_folder_leaves_out_hidden_files(tmp_path):
    # macOS writes a "._name" file of metadata beside every file copied to some disks.
    pixels = _pixels((8, 8))
    _save(tmp_path / "a.png", pixels)
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 Mac OS X metadata")
    _save(tmp_path / ".hidden.png", _pixels((8, 8), 1))
    np.testing.assert_allclose(load_images(tmp_path), pixels[None, ..., None] / 255.0, atol=1e-6)


def test_load_images_folder_of_hidden_files_only(tmp_path):
    _save(tmp_path / ".hidden.png", _pixels((8, 8)))
    with pytest.raises(ValueError, match="no PNG, JPEG or `.npy` files"):
        load_images(tmp_path)


def test_load_images_empty_list():
    with pytest.raises(ValueError, match="`path` must name at least one file"):
        load_images([])


def test_load_images_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_images(tmp_path / "nowhere")


def test_load_images_missing_file_in_list(tmp_path):
    path = _save(tmp_path / "a.png", _pixels((8, 8)))
    with pytest.raises(FileNotFoundError, match="gone.png"):
        load_images([path, tmp_path / "gone.png"])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"size": (8, 8), "patch_size": (4, 4)}, "not both"),
        ({"stride": (2, 2)}, "stride"),
        ({"channels": 2}, "channels=2"),
        ({"channels": 0}, "channels=0"),
        ({"size": (8,)}, "a pair (height, width) or None. Received: size=(8,)"),
        ({"size": (8, 8, 8)}, "a pair (height, width) or None. Received: size=(8, 8, 8)"),
        ({"size": (0, 8)}, "between 1 and 8192. Received: size=(0, 8)"),
        ({"size": [8, -1]}, "between 1 and 8192. Received: size=[8, -1]"),
        ({"patch_size": (8, 8193)}, "between 1 and 8192. Received: patch_size=(8, 8193)"),
        ({"patch_size": (8, 8), "stride": (0, 0)}, "between 1 and 8192. Received: stride=(0, 0)"),
    ],
)
def test_load_images_bad_options(tmp_path, options, match):
    _save(tmp_path / "a.png", _pixels((8, 8)))
    with pytest.raises(ValueError, match=re.escape(match)):
        load_images(tmp_path, **options)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"channels": True}, "channels=True"),
        ({"channels": np.True_}, f"channels={np.True_!r}"),
        ({"channels": 3.0}, "channels=3.0"),
        ({"channels": "rgb"}, "channels='rgb'"),
        ({"size": "8x8"}, "size='8x8'"),
        ({"size": 8}, "size=8"),
        ({"size": (8.0, 8)}, "size=(8.0, 8)"),
        ({"patch_size": (True, 8)}, "patch_size=(True, 8)"),
    ],
)
def test_load_images_bad_option_types(tmp_path, options, match):
    _save(tmp_path / "a.png", _pixels((8, 8)))
    with pytest.raises(TypeError, match=re.escape(match)):
        load_images(tmp_path, **options)


@pytest.mark.parametrize("path", [42, b"images"])  # bytes are a sequence, but not of paths
def test_load_images_bad_path_type(path):
    with pytest.raises(TypeError, match=r"`path` must be a folder, a file or a list of files"):
        load_images(path)


def test_a_path_that_is_not_a_path_is_named(tmp_path):
    image = _save(tmp_path / "a.png", _pixels((4, 4)))
    expected = r"^`path` must be a path\. Received: path=3$"
    with pytest.raises(TypeError, match=expected):
        load_images([image, 3])
    with pytest.raises(TypeError, match=expected):
        read_image(3)
    with pytest.raises(TypeError, match=expected):
        write_image(3, np.zeros((4, 4)))


def test_options_are_checked_and_reported_as_python_integers(tmp_path):
    _save(tmp_path / "a.png", _pixels((8, 8)))
    size = (np.int64(4), np.int64(6))
    _check_images(load_images(tmp_path, size=size), (1, 4, 6, 1))
    expected = "Received: size=(4, 6), patch_size=(2, 2)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_images(tmp_path, size=size, patch_size=[2, 2])


def test_load_images_folder_takes_upper_case_extensions(tmp_path):
    first, second = _pixels((8, 8)), _pixels((8, 8), 1)
    _save(tmp_path / "A.PNG", first)
    np.save(tmp_path / "b.tmp", second)
    os.replace(tmp_path / "b.tmp.npy", tmp_path / "B.Npy")
    images = load_images(tmp_path)
    expected = np.stack([first, second])[..., None] / np.float32(255)
    np.testing.assert_allclose(images, expected, atol=1e-6)


# --- load_images: .npy files -----------------------------------------------------------------


def test_load_images_folder_of_png_and_npy(tmp_path):
    first, second, third = _pixels((16, 16)), _pixels((16, 16), 1), _pixels((16, 16), 2)
    _save(tmp_path / "a.png", first)
    np.save(tmp_path / "b.npy", second)  # uint8, scaled by 1/255
    np.save(tmp_path / "c.npy", third[..., None] / np.float32(255))  # floats in [0, 1]
    images = load_images(tmp_path)
    _check_images(images, (3, 16, 16, 1))
    expected = np.stack([first, second, third])[..., None] / np.float32(255)
    np.testing.assert_allclose(images, expected, atol=1e-6)


def test_load_images_list_and_single_npy(tmp_path):
    png = _save(tmp_path / "a.png", _pixels((16, 16, 3)))
    pixels = _pixels((16, 16, 3), 1)
    np.save(tmp_path / "c.npy", pixels)
    npy = tmp_path / "c.npy"
    np.testing.assert_array_equal(load_images(npy)[0], pixels / np.float32(255))
    np.testing.assert_array_equal(load_images(str(npy)), read_image(npy)[None])
    both = load_images([png, npy])
    _check_images(both, (2, 16, 16, 3))
    np.testing.assert_array_equal(both[1], read_image(npy))


@pytest.mark.parametrize(
    ("shape", "options", "atol"),
    [
        ((16, 16, 3), {"channels": 1}, 1 / 255),  # Pillow rounds its luma to 8 bits
        ((16, 16), {"channels": 3}, 0),
        ((16, 16), {}, 0),
        ((16, 16, 3), {"size": (8, 12)}, 1 / 255),  # and its resized pixels
        ((16, 16, 3), {"size": (24, 20), "channels": 1}, 1.5 / 255),
        ((16, 16), {"size": (8, 8), "channels": 3}, 1 / 255),
        ((16, 16, 3), {"patch_size": (8, 8), "stride": (4, 8)}, 0),
    ],
)
def test_load_images_npy_converts_as_png(tmp_path, shape, options, atol):
    pixels = _pixels(shape)
    png = _save(tmp_path / "image.png", pixels)
    np.save(tmp_path / "image.npy", pixels)
    from_npy = load_images(tmp_path / "image.npy", **options)
    from_png = load_images(png, **options)
    _check_images(from_npy, from_png.shape)
    np.testing.assert_allclose(from_npy, from_png, atol=atol + 1e-6)


def test_load_images_npy_grey_and_resized_values(tmp_path):
    pixels = _pixels((16, 16, 3))
    np.save(tmp_path / "rgb.npy", pixels)
    grey = load_images(tmp_path / "rgb.npy", channels=1)
    np.testing.assert_allclose(grey[0, ..., 0], _luma(pixels), atol=1e-6)
    np.save(tmp_path / "flat.npy", np.full((16, 16), 0.25, np.float32))
    resized = load_images(tmp_path / "flat.npy", size=(8, 24), channels=3)
    _check_images(resized, (1, 8, 24, 3))
    np.testing.assert_allclose(resized, 0.25, atol=1e-6)


def test_load_images_npy_of_another_size(tmp_path):
    _save(tmp_path / "a.png", _pixels((8, 8)))
    np.save(tmp_path / "b.npy", _pixels((8, 12)))
    with pytest.raises(ValueError, match="b.npy"):
        load_images(tmp_path)


BAD_NPY = {
    "stack": (np.zeros((2, 4, 4, 1), np.float32), "shape (2, 4, 4, 1)"),
    "two_channels": (np.zeros((4, 4, 2), np.float32), "shape (4, 4, 2)"),
    "four_channels": (np.zeros((4, 4, 4), np.float32), "shape (4, 4, 4)"),
    "too_wide": (np.zeros((1, 8193), np.uint8), "at most 8192 pixels on a side"),
    "vector": (np.zeros(4, np.float32), "shape (4,)"),
    "empty": (np.zeros((0, 4), np.float32), "shape (0, 4)"),
    "int16": (np.zeros((4, 4), np.int16), "dtype int16"),
    "bool": (np.zeros((4, 4), bool), "dtype bool"),
    "bytes_scale": (np.full((4, 4), 200.0, np.float32), "values in [200, 200]"),
    "negative": (np.full((4, 4), -0.5), "values in [-0.5, -0.5]"),
    # Just above 1: it read "values in [1, 1]".
    "just_above_one": (np.full((4, 4), 1.0000001, np.float32), "in [1.0000001, 1.0000001]"),
    "nan": (np.full((4, 4), np.nan, np.float32), "NaN"),
}


@pytest.mark.parametrize("name", sorted(BAD_NPY))
def test_read_image_bad_npy_names_the_argument(tmp_path, name):
    array, fragment = BAD_NPY[name]
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    received = re.escape(f"Received: path={str(path)!r}")
    expected = f"^`path` must (?=.*{received})(?=.*{re.escape(fragment)})"
    with pytest.raises(ValueError, match=expected):
        read_image(path)


@pytest.mark.parametrize("name", ["stack", "int16", "bytes_scale"])
def test_load_images_bad_npy_in_a_folder(tmp_path, name):
    array, fragment = BAD_NPY[name]
    _save(tmp_path / "a.png", _pixels((4, 4)))
    np.save(tmp_path / f"{name}.npy", array)
    with pytest.raises(ValueError, match=f"{name}\\.npy.*{re.escape(fragment)}"):
        load_images(tmp_path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"readable `\.npy` file\. Received: path=.*broken\.npy' \(it is empty\)$"),
        (b"plain text",
         r"readable `\.npy` file\. Received: path=.*broken\.npy' \(it is not a NumPy file"),
        (None, r"`\.npz` archive.*path=.*broken\.npy"),
    ],
)
def test_read_image_unreadable_npy(tmp_path, content, match):
    path = tmp_path / "broken.npy"
    if content is None:
        with open(path, "wb") as handle:
            np.savez(handle, image=np.zeros((4, 4)))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_image(path)
    assert datasets._is_resized(str(path), (4, 4)) is None  # nor can its size be told


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_read_image_npy_of_every_float_dtype(tmp_path, dtype):
    pixels = np.linspace(0.0, 1.0, 48).reshape(4, 4, 3).astype(dtype)
    np.save(tmp_path / "image.npy", pixels)
    image = read_image(tmp_path / "image.npy")
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image, pixels.astype(np.float32))


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_read_image_decompression_bomb_is_named(tmp_path):
    # A tiny PNG whose header claims 20000x20000 pixels: Pillow refuses it on opening.
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b"")
    )
    expected = r"^Could not read the image file '.*bomb\.png': .*decompression bomb"
    with pytest.raises(ValueError, match=expected):
        read_image(path)


# --- read_image / write_image ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 12), (8, 12, 1), (8, 12, 3)])
@pytest.mark.parametrize("extension", [".png", ".npy"])
def test_write_read_round_trip(tmp_path, shape, extension):
    image = _pixels(shape).astype(np.float32) / 255.0
    path = tmp_path / f"image{extension}"
    write_image(path, image)
    restored = read_image(path)
    expected_shape = shape if len(shape) == 3 else (*shape, 1)
    assert restored.shape == expected_shape and restored.dtype == np.float32
    np.testing.assert_allclose(restored, image.reshape(expected_shape),
                               atol=0 if extension == ".npy" else 1e-6)
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


def test_write_npy_keeps_floats_exactly(tmp_path):
    image = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    write_image(tmp_path / "exact.npy", image)
    np.testing.assert_array_equal(read_image(tmp_path / "exact.npy"), image)


def test_write_png_clips_and_rounds(tmp_path):
    image = np.array([[-0.5, 0.0, 0.5, 1.0, 1.5, 0.2]], dtype=np.float32)
    write_image(tmp_path / "clip.png", image)
    pixels = np.asarray(Image.open(tmp_path / "clip.png"))
    np.testing.assert_array_equal(pixels, [[0, 0, 128, 255, 255, 51]])


def test_write_jpeg(tmp_path):
    image = np.full((16, 16, 3), 0.4, np.float32)
    write_image(tmp_path / "photo.JPEG", image)
    assert Image.open(tmp_path / "photo.JPEG").format == "JPEG"
    # Quality 95, as documented: the same quantization tables as Pillow's at 95.
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "q95.jpg", quality=95)
    tables = Image.open(tmp_path / "photo.JPEG").quantization
    assert tables == Image.open(tmp_path / "q95.jpg").quantization
    np.testing.assert_allclose(read_image(tmp_path / "photo.JPEG"), image, atol=0.01)


def test_write_uint8(tmp_path):
    write_image(tmp_path / "bytes.png", np.full((4, 4), 255, np.uint8))
    np.testing.assert_array_equal(read_image(tmp_path / "bytes.png"), 1.0)


def test_write_image_replaces_existing_file(tmp_path):
    path = tmp_path / "image.png"
    write_image(path, np.zeros((4, 4)))
    write_image(path, np.ones((4, 4)))
    np.testing.assert_array_equal(read_image(path), 1.0)


@pytest.mark.parametrize("name", ["image.NPY", "image.Npy"])
def test_write_npy_with_upper_case_extension(tmp_path, name):
    # np.save given a name appends ".npy" to one that does not end with it in lower case.
    path = tmp_path / name
    write_image(path, np.zeros((4, 4)))
    image = np.random.default_rng(0).random((4, 4, 1), dtype=np.float32)
    write_image(path, image)
    np.testing.assert_array_equal(read_image(path), image)
    assert os.listdir(tmp_path) == [name]


def test_write_image_bad_extension(tmp_path):
    with pytest.raises(ValueError, match="image.gif"):
        write_image(tmp_path / "image.gif", np.zeros((4, 4)))


@pytest.mark.parametrize("shape", [(4,), (4, 4, 4), (4, 4, 2), (2, 4, 4, 1)])
def test_write_image_bad_shape(tmp_path, shape):
    with pytest.raises(ValueError, match="image"):
        write_image(tmp_path / "image.png", np.zeros(shape))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix", [".npy", ".png", ".jpg"])
def test_write_image_refuses_sides_read_image_would_refuse(tmp_path, suffix):
    # Written without a word (JPEG: Pillow's "broken data stream"), then refused on reading.
    match = r"^`image` must be at most 8192 pixels on a side\. Received: shape \(1, 9000, 1\)$"
    with pytest.raises(ValueError, match=match):
        write_image(tmp_path / f"wide{suffix}", np.zeros((1, 9000), np.uint8))
    assert os.listdir(tmp_path) == []
    write_image(tmp_path / f"widest{suffix}", np.zeros((1, 8192), np.uint8))
    assert read_image(tmp_path / f"widest{suffix}").shape[:2] == (1, 8192)


@pytest.mark.parametrize("value", [-0.25, 1.5])
def test_write_npy_refuses_pixels_read_image_would_refuse(tmp_path, value):
    # Written exactly, an unclipped noisy image made a file that `read_image` refused.
    image = np.full((4, 4), 0.5, np.float32)
    image[1, 2] = value
    with pytest.raises(ValueError, match=r"`image` must hold .*\[0, 1\]"):
        write_image(tmp_path / "noisy.npy", image)
    assert os.listdir(tmp_path) == []
    write_image(tmp_path / "noisy.png", image)  # 8-bit files clip, as documented
    assert read_image(tmp_path / "noisy.png")[1, 2, 0] == float(np.clip(value, 0, 1))


def test_write_image_rejects_nan(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_image(tmp_path / "image.png", np.full((4, 4), np.nan))


def test_read_image_rgba_drops_alpha(tmp_path):
    pixels = _pixels((8, 8, 4))
    path = _save(tmp_path / "alpha.png", pixels)
    np.testing.assert_allclose(read_image(path), pixels[..., :3] / 255.0, atol=1e-6)


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.png"):
        read_image(tmp_path / "absent.png")
    (tmp_path / "fake.png").write_text("text")
    with pytest.raises(ValueError, match="fake.png"):
        read_image(tmp_path / "fake.png")
    np.save(tmp_path / "objects.npy", np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="objects.npy"):
        read_image(tmp_path / "objects.npy")
    np.save(tmp_path / "stack.npy", np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="stack.npy"):
        read_image(tmp_path / "stack.npy")


# --- scripts/make_sample_digits.py -----------------------------------------------------------


def test_make_sample_script_is_reproducible(script, mnist_path, tmp_path):
    outputs = [tmp_path / "first.npz", tmp_path / "second.npz", tmp_path / "other.npz"]
    for out, seed in zip(outputs, [5, 5, 6], strict=True):
        argv = ["--source", str(mnist_path), "--out", str(out), "--train", "50", "--test", "20",
                "--seed", str(seed)]
        assert script.main(argv) == 0
    with np.load(outputs[0]) as first, np.load(outputs[1]) as second, \
            np.load(outputs[2]) as other, np.load(mnist_path) as mnist:
        assert sorted(first.files) == sorted(second.files)
        for key in first.files:
            np.testing.assert_array_equal(first[key], second[key])
        assert not np.array_equal(first["train_indices"], other["train_indices"])
        assert str(first["source_sha256"]) == MNIST_SHA256 and int(first["seed"]) == 5
        assert first["x_train"].shape == (50, 28, 28) and first["x_test"].dtype == np.uint8
        np.testing.assert_array_equal(first["x_test"], mnist["x_test"][first["test_indices"]])
        counts = np.bincount(first["y_train"], minlength=10)
        quotas = 50 * np.bincount(mnist["y_train"]) / 60000
        assert counts.sum() == 50 and np.all(np.abs(counts - quotas) < 1)
    assert sorted(os.listdir(tmp_path)) == sorted(out.name for out in outputs)


def test_stratified_indices_takes_each_class_share(script):
    labels = np.repeat(np.arange(3), [50, 30, 20])
    indices = script.stratified_indices(labels, 10, np.random.default_rng(0))
    assert len(set(indices.tolist())) == 10
    np.testing.assert_array_equal(np.bincount(labels[indices]), [5, 3, 2])
    with pytest.raises(ValueError, match="101"):
        script.stratified_indices(labels, 101, np.random.default_rng(0))


def test_make_sample_script_checks_the_source(script, tmp_path, capsys):
    fake = _mnist_like(tmp_path / "fake.npz")
    out = tmp_path / "sample.npz"
    assert script.main(["--source", str(fake), "--out", str(out)]) == 1
    assert "SHA-256" in capsys.readouterr().err
    assert not out.exists()


def test_read_image_with_damaged_exif_warns_and_reads_the_pixels(tmp_path):
    # Pillow cannot parse the metadata: the whole file was refused, its pixels good.
    pixels = _pixels((8, 12))
    path = tmp_path / "damaged.png"
    Image.fromarray(pixels).save(path, exif=b"Exif\x00\x00\x00\x00\x00")
    match = r"EXIF metadata of the image file .*damaged\.png"
    with pytest.warns(UserWarning, match=match) as caught:
        image = read_image(path)
    assert caught[0].filename == __file__  # the warning points at the caller
    np.testing.assert_allclose(image[..., 0], pixels / 255.0, atol=1e-6)
