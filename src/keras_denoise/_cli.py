"""The `keras-denoise` command: `demo`, `train`, `denoise` and `evaluate` from a shell.

Run `keras-denoise --help` (or `python -m keras_denoise --help`) for the
subcommands, and `keras-denoise COMMAND --help` for each one's options.

Exit status: 0 on success, 2 for a usage error (an unknown option or a value
that does not parse), 130 when interrupted (Ctrl-C), 1 for any other failure.
A user's mistake (a missing or unreadable file, an image of the wrong size, a
bad model file) prints one line, `keras-denoise: error: ...`, on stderr;
`--debug` shows the traceback instead.
Output paths are checked before any training or evaluation starts.

The JSON files the commands write (`metrics.json`, `evaluate --json`) are strict
JSON: a number that is not finite, such as the PSNR of images left without noise
(noise factor 0), is written as `null`.

Heavy modules (Keras, TensorFlow, matplotlib) are imported inside the
commands, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from keras_denoise import _validation
from keras_denoise._saving import atomic_path
from keras_denoise._version import __version__

PROG = "keras-denoise"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_INPUT_SUFFIXES = (*_IMAGE_SUFFIXES, ".npy")
# The figure formats of `keras_denoise.plotting` (its `_FORMATS`), checked while parsing.
_FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
# The first bytes of a zip archive (an `.npz`; an empty one starts with its end record).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Errors that end as one line on stderr (exit status 1), besides ValueError, TypeError and
# OSError: a truncated file, a nesting too deep to parse, a missing optional dependency
# (`evaluate` without scikit-image).
_FILE_ERRORS = (EOFError, RecursionError, zipfile.BadZipFile, ImportError)
# ITU-R BT.601 luma weights, to turn RGB images into grayscale ones.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Trains in one to two minutes on a 2-core CPU (see `keras-denoise demo --help`).
_DEMO_EPOCHS = 25
_DEMO_VALIDATION_SPLIT = 0.1
_DEMO_OUT = "keras-denoise-demo"


class _ArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors take a single line on stderr.

    `check`, when given, is called with the parsed arguments: a `ValueError`
    from it is a usage error, for rules between flags that no flag's `type`
    can check alone.
    """

    def __init__(
        self, *args: Any, check: Callable[[argparse.Namespace], Any] | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.check = check
        # The parser of each command, by name (set on the program's parser).
        self.commands: Mapping[str, argparse.ArgumentParser] = {}

    def parse_known_args(self, args=None, namespace=None):
        # A command's parser is run through this method by its parent, too.
        namespace, extras = super().parse_known_args(args, namespace)
        if self.check is not None:
            try:
                self.check(namespace)
            except ValueError as error:
                self.error(str(error))
        return namespace, extras

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _checked(parse: Callable[[str], Any], check: Callable[..., Any], name: str, **options):
    """An argparse `type`: parse the string, then check it with `_validation`."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            kind = "an integer" if parse is int else "a number"
            message = f"`{name}` must be {kind}. Received: {name}={text!r}"
            raise argparse.ArgumentTypeError(message) from None
        try:
            return check(value, name, **options)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _fraction(value: float, name: str) -> float:
    value = _validation.check_nonnegative_float(value, name)
    if value >= 1:
        message = f"`{name}` must be in [0, 1). Received: {name}={value!r}"
        raise ValueError(message)
    return value


def _nonnegative_int(value: int, name: str, maximum: int | None = None) -> int:
    if value < 0:
        message = f"`{name}` must be a non-negative integer. Received: {name}={value!r}"
        raise ValueError(message)
    if maximum is not None and value > maximum:
        message = f"`{name}` must be at most {maximum}. Received: {name}={value!r}"
        raise ValueError(message)
    return value


def _noise_factors(text: str) -> tuple[float, ...]:
    """`"0.1,0.3,0.5"` as a tuple of distinct floats from 0 to 1e6."""
    from keras_denoise._evaluate import _check_noise_factors

    check = _checked(float, _validation.check_noise_factor, "noise_factors")
    try:  # each level is checked already: what is left to refuse is a repeated one
        return _check_noise_factors(tuple(check(item) for item in text.split(",")))
    except ValueError:
        message = f"`noise_factors` must not repeat a level. Received: noise_factors={text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _baselines(text: str) -> tuple[str, ...]:
    """`"median,tv"` as a tuple of distinct baseline names; `"none"` as `()`."""
    from keras_denoise._evaluate import _BASELINES, _check_baselines

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if names == ("none",):
        return ()
    try:
        return _check_baselines(names)
    except ValueError:
        message = (
            f"`baselines` must be distinct names from {', '.join(sorted(_BASELINES))}, "
            f"or none. Received: baselines={text!r}"
        )
        raise argparse.ArgumentTypeError(message) from None


def _path(text: str) -> str:
    """A path, refused when empty (an unset shell variable, say)."""
    if not text:
        message = "the path must not be empty. Received: ''"
        raise argparse.ArgumentTypeError(message)
    return text


def _keras_path(text: str) -> str:
    if not text.endswith(".keras"):
        message = f"the model file must end with `.keras` (lower case). Received: {text!r}"
        raise argparse.ArgumentTypeError(message)
    if os.path.basename(text) == ".keras":
        message = f"the model file must have a name before `.keras`. Received: {text!r}"
        raise argparse.ArgumentTypeError(message)
    return text


def _figure_path(text: str) -> str:
    if not text.lower().endswith(_FIGURE_SUFFIXES):
        suffixes = ", ".join(_FIGURE_SUFFIXES)
        message = f"the figure must end with one of {suffixes}. Received: {text!r}"
        raise argparse.ArgumentTypeError(message)
    return text


def _positive_int(name: str, maximum: int | None = None) -> Callable[[str], int]:
    return _checked(int, _validation.check_positive_int, name, maximum=maximum)


# --- helpers shared by the commands -------------------------------------------------------


def _verbosity() -> int:
    """Keras's live progress bar in a terminal, one line per epoch otherwise."""
    return 1 if sys.stdout.isatty() else 2


def _strict_json(value: Any) -> Any:
    """`value` with NumPy values as Python ones, and NaN and infinities as None."""
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_strict_json(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: str, data: Any) -> None:
    """Write `data` as strict JSON: a non-finite number (an infinite PSNR) becomes null."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(_strict_json(data), handle, indent=2, allow_nan=False)
        handle.write("\n")


def _check_output_file(
    path: str, option: str, *, given: str | None = None, make_folder: bool = False
) -> None:
    """Fail before any expensive work if `path` (for `option`, set to `given`) is unwritable.

    `path` must not be a folder, and its folder must exist, or with `make_folder`
    be creatable: the nearest existing folder above it must not be a file.
    """
    given = path if given is None else given
    received = f"Received: {option}={given!r}"
    if os.path.isdir(path):
        if path == given:
            message = f"`{option}` must be a file path, not a folder. {received}"
        else:
            message = f"`{option}` would also write {path!r}, which is a folder. {received}"
        raise IsADirectoryError(message)
    folder = os.path.dirname(os.path.abspath(path))
    if make_folder:
        while not os.path.exists(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)
    if not os.path.exists(folder):
        message = f"the folder of `{option}`, {folder!r}, does not exist. {received}"
        raise FileNotFoundError(message)
    if not os.path.isdir(folder):
        message = f"`{option}` cannot be written: {folder!r} is a file, not a folder. {received}"
        raise NotADirectoryError(message)
    if not os.access(folder, os.W_OK | os.X_OK):
        message = f"`{option}` cannot be written: the folder {folder!r} is read-only. {received}"
        raise PermissionError(message)


def _check_not_an_input(path: str, option: str, args: argparse.Namespace) -> None:
    """Refuse an output `path` that is the model, a data file, or in the `--data` folder.

    Written after the work, it would replace the file, or add a file to the
    images that the next run reads.
    """
    out = os.path.realpath(path)
    inputs = {"--data": args.data, "--mnist-path": args.mnist_path}
    if args.command != "train":  # whose --model names a kind of model, not a file
        inputs["MODEL"] = args.model
    for name, given in inputs.items():
        if given is None or not os.path.exists(given):
            continue
        target = os.path.realpath(given)
        if out == target:
            message = f"`{option}` would overwrite {name} {given!r}. Received: {option}={path!r}"
            raise ValueError(message)
        if os.path.isdir(target) and os.path.dirname(out) == target:
            message = (
                f"`{option}` would write into the folder of images of {name} {given!r}, "
                f"among the images it reads. Received: {option}={path!r}"
            )
            raise ValueError(message)


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one file, through links and `..`, existing or not."""
    return os.path.realpath(first) == os.path.realpath(second)


def _as_batch(images: Any, name: str) -> np.ndarray:
    """Images as float32 `(N, height, width, channels)`."""
    batch = _validation.as_float_images(images, name, min_ndim=3, max_ndim=4)
    return batch[..., None] if batch.ndim == 3 else batch


def _npz_array(archive: Any, key: str, path: str) -> np.ndarray:
    """The array `key` of an open `.npz` archive, with a one-line error naming `path`."""
    try:
        return archive[key]
    except _validation.NUMPY_FILE_ERRORS as error:
        if "allow_pickle" in str(error):
            message = (
                f"--data {path!r} holds `{key}` as an array of Python objects, which "
                "keras-denoise does not load; save it as uint8 or float pixels"
            )
        else:
            message = f"could not read `{key}` in --data {path!r}: {error}"
        raise ValueError(message) from None


def _load_npz(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """`(train, test)` from a Keras-layout `.npz`, or `(images, None)` from one array."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as error:
        message = f"could not read --data {path!r}: {error.strerror or error}"
        raise OSError(message) from None
    if magic.startswith(b"\x93NUMPY"):
        message = (
            f"--data {path!r} is a single `.npy` array, not an `.npz` archive; "
            "save the images with `numpy.savez(path, images=array)`"
        )
        raise ValueError(message)
    if not magic.startswith(_ZIP_MAGIC):
        message = f"--data {path!r} is not an `.npz` archive (a zip file of NumPy arrays)"
        raise ValueError(message)
    try:
        archive = np.load(path, allow_pickle=False)
    except _validation.NUMPY_FILE_ERRORS as error:
        message = f"could not read --data {path!r} as an `.npz` archive: {error}"
        raise ValueError(message) from None
    with archive:
        keys = list(archive.files)
        if "x_train" in keys:
            test = _npz_array(archive, "x_test", path) if "x_test" in keys else None
            return _npz_array(archive, "x_train", path), test
        for key in ("images", "x"):
            if key in keys:
                return _npz_array(archive, key, path), None
    message = (
        f"--data {path!r} must hold `x_train` (and `x_test`), `images` or `x`. "
        f"Received keys: {keys}"
    )
    raise ValueError(message)


def _as_options(message: str) -> str:
    """`load_images`'s message with its `size` and `patch_size` spelled as the options."""
    for name, option in (("size", "--size"), ("patch_size", "--patch-size")):
        message = message.replace(f"`{name}=(height, width)`", f"`{option} H W`")
        message = message.replace(f"`{name}`", f"`{option}`")
        message = re.sub(rf"(?<![\w-]){name}=\((\d+), (\d+)\)", rf"{option} \1 \2", message)
    return message


def _names_an_archive(data: str) -> bool:
    """Whether `--data` names an `.npz` archive (a folder is a folder, whatever its name)."""
    return data.lower().endswith(".npz") and not os.path.isdir(data)


def _check_resizing(args: argparse.Namespace, *, arrays: bool = False) -> None:
    """Refuse `--size` and `--patch-size` for `--data` of arrays (or `arrays=True`).

    Raises:
        ValueError: for MNIST, the sample, an `.npz` archive, or `arrays`.
    """
    resizing = "--size" if args.size else "--patch-size" if args.patch_size else None
    data = args.data
    if resizing and (arrays or _names_an_archive(data) or data in ("mnist", "sample")):
        message = (
            f"{resizing} resizes or cuts the images of a folder or of image files; "
            f"--data {data!r} holds arrays, which it would leave as they are"
        )
        raise ValueError(message)


def _check_train_flags(args: argparse.Namespace) -> None:
    """The rules between `train`'s flags (a `ValueError` is a usage error)."""
    _model_options(args)
    _check_resizing(args)


def _check_evaluate_flags(args: argparse.Namespace) -> None:
    """The rules between `evaluate`'s flags (a `ValueError` is a usage error)."""
    _check_resizing(args)
    if None not in (args.json, args.figure) and _same_file(args.json, args.figure):
        message = (
            "`--json` and `--figure` must be different files: the figure would replace the "
            f"table. Received: --json={args.json!r}, --figure={args.figure!r}"
        )
        raise ValueError(message)


def _as_data_option(message: str, data: str) -> str:
    """`load_images`'s message with its `path` spelled as `--data`, or as a file of it."""
    if f"path={data!r}" in message:
        return message.replace("`path`", "`--data`").replace(f"path={data!r}", f"--data={data!r}")
    message = message.replace("`path` must", "each file of `--data` must")
    message = message.replace("Received: path=", "Received: ")
    if "must hold one image, of shape" in message:
        message += " (a batch in one .npy file is read when that file is --data itself)"
    return message


def _npy_batch(path: str) -> np.ndarray | None:
    """The images of a `.npy` file that holds a batch `(N, H, W[, C])`, or None for one image.

    One image, `(H, W)` or `(H, W, 1 or 3)`, is read as the image files of a folder are.
    """
    from keras_denoise import datasets

    array = datasets._load_npy(path, "--data")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3)):
        return None
    if not (array.ndim == 3 or (array.ndim == 4 and array.shape[-1] in (1, 3))):
        message = (
            f"--data {path!r} must hold one image (H, W) or (H, W, 1 or 3), or a batch "
            f"(N, H, W) or (N, H, W, 1 or 3). Received: an array of shape {array.shape}"
        )
        raise ValueError(message)
    return array


def _load_data(
    args: argparse.Namespace, *, size: tuple[int, int] | None = None, channels: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """`(train, test)` float32 `(N, height, width, channels)` images for `--data`.

    `test` is None when the data has no test split (one array, or a folder).
    """
    from keras_denoise import datasets

    data = args.data
    test: np.ndarray | None
    batch = _npy_batch(data) if os.path.isfile(data) and data.lower().endswith(".npy") else None
    if batch is not None:  # the parser refuses the options for the other arrays, by their names
        _check_resizing(args, arrays=True)
    if data == "mnist":
        try:
            train, test = datasets.load_mnist(args.mnist_path)
        except (ValueError, OSError) as error:  # its `path` is the --mnist-path option
            message = str(error).replace("`path`", "`--mnist-path`")
            message = re.sub(r"(?<![\w-])path=", "--mnist-path=", message)
            raise type(error)(message) from None
    elif data == "sample":
        train, test = datasets.load_sample_digits()
    elif not os.path.exists(data):
        message = f"--data must be 'mnist', 'sample', an .npz file or a folder. Received: {data!r}"
        raise FileNotFoundError(message)
    elif _names_an_archive(data):  # it exists
        train, test = _load_npz(data)
    elif batch is not None:
        train, test = batch, None
    else:
        try:
            train = datasets.load_images(
                data,
                size=tuple(args.size) if args.size else (None if args.patch_size else size),
                patch_size=tuple(args.patch_size) if args.patch_size else None,
                channels=channels,
            )
        except ValueError as error:
            raise ValueError(_as_data_option(_as_options(str(error)), data)) from error
        test = None
        if size is not None and not (args.size or args.patch_size):
            _note_resized(data, size)
    train = _as_batch(train, data)
    test = None if test is None else _as_batch(test, data)
    # Checked here, before the model is built, in the words of the command line: training
    # and scoring refuse such images too, naming their own arguments.
    for images in (train, test):
        if images is not None and (images.min() < 0 or images.max() > 1):
            low, high = _validation.short_float(images.min()), _validation.short_float(images.max())
            message = (
                f"--data {data!r} must hold pixels in [0, 1] (uint8 0-255, or floats in [0, 1]); "
                f"its values lie in [{low}, {high}]"
            )
            raise ValueError(message)
    return train, test


def _note_resized(data: str, size: tuple[int, int]) -> None:
    """Say on stderr how many images of the files `data` names were resized to `size`.

    For images read at a model's size when no option asked for it: the scores are those of
    the resized images.
    """
    from keras_denoise import datasets

    files = datasets._list_files(data)
    resized = sum(bool(datasets._is_resized(file, size)) for file in files)
    if not resized:
        return
    if len(files) == 1:
        which = f"the image of --data {data!r} is"
    elif resized == len(files):
        which = f"all {resized:,} images of --data {data!r} are"
    else:
        verb = "is" if resized == 1 else "are"
        which = f"{resized:,} of the {len(files):,} images of --data {data!r} {verb}"
    print(
        f"{PROG}: {which} resized to the model's {size[0]}x{size[1]} pixels (bilinear); "
        "--patch-size cuts patches of that size instead",
        file=sys.stderr,
    )


def _check_test_split(
    train: np.ndarray, test: np.ndarray | None, args: argparse.Namespace
) -> None:
    """Fail before training if the test split's images do not fit the model trained on `train`.

    A ConvAutoencoder needs the shape of the training images; a U-Net, fully
    convolutional, their channel count only.
    """
    if test is None:
        return
    fits = test.shape[-1] == train.shape[-1]
    if args.model == "conv":
        fits = test.shape[1:] == train.shape[1:]
    if not fits:
        shape = "x".join(map(str, test.shape[1:]))
        expected = "x".join(map(str, train.shape[1:]))
        what = "shape" if args.model == "conv" else "channel count"
        message = (
            f"--data {args.data!r} has test images (`x_test`) of shape {shape}, but training "
            f"images (`x_train`) of shape {expected}; `--model {args.model}` needs the same "
            f"{what} for both"
        )
        raise ValueError(message)


def _match_channels(images: np.ndarray, channels: int, name: str) -> np.ndarray:
    """`(N, H, W, C)` images given `channels` channels: alpha dropped, RGB <-> grayscale."""
    received = images.shape[-1]
    if received in (2, 4) and channels != received:
        images = images[..., :-1]  # drop the alpha channel
    if images.shape[-1] == 3 and channels == 1:
        images = (images @ _LUMA)[..., None]
    elif images.shape[-1] == 1 and channels == 3:
        images = np.repeat(images, 3, axis=-1)
    if images.shape[-1] != channels:
        message = (
            f"{name} has {_validation.counted(received, 'channel')}, which cannot be converted "
            f"to the {_validation.counted(channels, 'channel')} the model takes"
        )
        raise ValueError(message)
    return images


def _channel_conversion(received: int, channels: int) -> str:
    """How `_match_channels` turned `received` channels into `channels`, in words; '' if not."""
    if received == channels:
        return ""
    names = {1: "grayscale", 2: "grayscale with alpha", 3: "RGB", 4: "RGBA"}
    return (
        f" ({names[received]} turned {names[channels]}: the model takes "
        f"{_validation.counted(channels, 'channel')})"
    )


def _model_image_shape(model: Any, path: str) -> tuple[int | None, int | None, int]:
    if not callable(getattr(model, "denoise", None)):
        message = f"{path} is not a keras-denoise model (it has no `denoise` method)"
        raise ValueError(message)
    height, width, channels = model.image_shape
    return height, width, channels


def _sizes_taken(height: int | None, width: int | None) -> str:
    """The image sizes a model of `image_shape` `(height, width, ...)` takes, in words.

    Only for a model that fixes at least one side (the others take every size).
    """
    if height is None:
        return f"images {width} pixels wide"
    if width is None:
        return f"images {height} pixels high"
    return f"{height}x{width} images"


def _fit_images(model: Any, images: np.ndarray, name: str) -> np.ndarray:
    """`images` with the model's channel count; a one-line error if their size does not fit.

    A model may fix its height, its width, both or neither (`image_shape`).
    """
    height, width, channels = model.image_shape
    images = _match_channels(images, channels, name)
    if any(side is not None and side != size
           for side, size in zip((height, width), images.shape[1:3], strict=True)):
        message = (
            f"{name} has images of {images.shape[1]}x{images.shape[2]} pixels, but this "
            f"{type(model).__name__} takes {_sizes_taken(height, width)} only; resize them, "
            "or use a fully convolutional model (`train --model unet`)"
        )
        raise ValueError(message)
    return images


def _psnr_report(
    model: Any, clean: np.ndarray, *, noise_factor: float, seed: int, batch_size: int
) -> tuple[dict, np.ndarray, np.ndarray]:
    """PSNR of the noisy and denoised held-out images (noise drawn with `seed`)."""
    from keras_denoise import GaussianNoise, metrics

    noisy = GaussianNoise(noise_factor, seed=seed)(clean)
    denoised = model.denoise(noisy, batch_size=batch_size)
    report = {
        "heldout_images": len(clean),
        "psnr_noisy": float(metrics.psnr(clean, noisy)),
        "psnr_denoised": float(metrics.psnr(clean, denoised)),
    }
    print(
        f"PSNR on {_validation.counted(len(clean), 'held-out image')} "
        f"(noise_factor={noise_factor}): "
        f"noisy {report['psnr_noisy']:.2f} dB -> denoised {report['psnr_denoised']:.2f} dB"
    )
    return report, noisy, denoised


def _final_losses(losses: dict) -> dict:
    """The last epoch's value of each series of a `History.history`-like dict."""
    return {f"final_{key}": float(values[-1]) for key, values in losses.items()}


# --- the commands ----------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> None:
    import keras

    from keras_denoise import ConvAutoencoder, _noisy_trainer, datasets, plotting

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        message = f"`--out` must be a folder. Received: --out={args.out!r}, a file"
        raise NotADirectoryError(message)
    paths = {
        name: os.path.join(args.out, name)
        for name in ("comparison.png", "loss.png", "model.keras", "metrics.json")
    }
    for path in paths.values():
        _check_output_file(path, "--out", given=args.out, make_folder=True)
    train, test = datasets.load_sample_digits()
    if args.max_images is not None:
        train, test = train[: args.max_images], test[: args.max_images]
    train_count = _noisy_trainer.split_count(len(train), _DEMO_VALIDATION_SPLIT)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    model = ConvAutoencoder(image_shape=train.shape[1:])
    model.compile()
    print(
        f"Training a ConvAutoencoder on {_validation.counted(train_count, 'sample digit')} "
        f"({len(train) - train_count:,} more validate) for "
        f"{_validation.counted(args.epochs, 'epoch')}"
    )
    start = time.perf_counter()
    history = model.fit_denoising(
        train,
        noise_factor=args.noise_factor,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=_DEMO_VALIDATION_SPLIT,
        seed=args.seed,
        verbose=_verbosity(),
        **_training_options(args),
    )
    seconds = time.perf_counter() - start
    report, noisy, denoised = _psnr_report(
        model, test, noise_factor=args.noise_factor, seed=args.seed, batch_size=args.batch_size
    )
    plotting.compare(test, noisy, denoised, n=5, path=paths["comparison.png"])
    plotting.plot_history(history, path=paths["loss.png"])
    model.save(paths["model.keras"])
    metrics = {
        "noise_factor": args.noise_factor,
        "epochs": args.epochs,
        "seed": args.seed,
        "learning_rate_schedule": args.learning_rate_schedule,
        "dtype_policy": args.dtype_policy,
        "train_images": train_count,
        "train_seconds": round(seconds, 1),
        **_final_losses(history.history),
        **report,
    }
    _write_json(paths["metrics.json"], metrics)
    print(f"Wrote {', '.join(paths.values())}")


def _training_options(args: argparse.Namespace) -> dict:
    """`fit_denoising` keywords from the --learning-rate-schedule and --dtype-policy flags."""
    return {
        "learning_rate_schedule": (
            None if args.learning_rate_schedule == "constant" else args.learning_rate_schedule
        ),
        "dtype_policy": None if args.dtype_policy == "float32" else args.dtype_policy,
    }


# `UNetDenoiser`'s default `filters`, known without importing Keras (a test compares the two).
_UNET_FILTERS = (48, 48, 48, 32)

_MODEL_FLAGS = {
    "conv": ("latent_dim",),
    "unet": ("filters", "convolutions", "activation"),
}


def _model_options(args: argparse.Namespace) -> dict:
    """The keywords of the chosen model from its flags, checked before any work.

    Raises:
        ValueError: for a flag of the other model, or `--convolutions` that do
            not fit the levels of `--filters`.
    """
    for model, names in _MODEL_FLAGS.items():
        for name in names:
            if model != args.model and getattr(args, name) is not None:
                flag = "--" + name.replace("_", "-")
                message = f"{flag} applies to `--model {model}` only"
                raise ValueError(message)
    options = {
        name: getattr(args, name)
        for name in _MODEL_FLAGS[args.model]
        if getattr(args, name) is not None
    }
    if "filters" in options:
        options["filters"] = _validation.check_filters(options["filters"], "filters")
    if "convolutions" in options:
        counts = tuple(options["convolutions"])
        if len(counts) == 1:
            options["convolutions"] = counts[0]  # for every level
        else:
            if "filters" in options:
                filters = options["filters"]
            else:  # without importing Keras: usage errors come before its start-up logs
                filters = _UNET_FILTERS
            options["convolutions"] = _validation.check_convolutions(counts, len(filters))
    return options


# Written into the --resume backup folder: the options of the run it backs up.
_RESUME_SETTINGS = "keras_denoise_train.json"
# Written into the --resume backup folder after every epoch: the losses of the epochs so far,
# so that a resumed run's loss plot and metrics cover the whole run, not only its last part.
_RESUME_HISTORY = "keras_denoise_history.json"
# The key, among the options of a --resume backup, of the shape of the training images.
_RESUME_IMAGES = "training_images_shape"
# Options that do not change what a run trains (`out` names the backup folder itself).
_NOT_RESUME_SETTINGS = ("command", "run", "debug", "resume", "out")


def _resume_settings(args: argparse.Namespace, backup: str) -> dict:
    """This run's options, for `backup`; refuse a backup of a run with other options.

    Keras would restore the weights of a backup written by another model into
    this one (and fail with a list of layers), or resume a run of other noise,
    data or schedule without a word; the same command continues a run.
    A backup folder with no checkpoint yet, or from a version that wrote no
    options, is not checked.

    Raises:
        NotADirectoryError: if something other than a folder is at `backup`.
        ValueError: naming each option that differs from the backup's.
    """
    if os.path.lexists(backup) and not os.path.isdir(backup):
        message = (
            f"--resume backs the run up in the folder {backup}/, but a file is there; "
            "move it away or train without --resume"
        )
        raise NotADirectoryError(message)
    settings = _strict_json(
        {name: value for name, value in sorted(vars(args).items())
         if name not in _NOT_RESUME_SETTINGS}
    )  # fmt: skip
    # Files by where they are, so that `./data.npz` continues a run of `data.npz`.
    for name in ("data", "mnist_path"):
        if settings.get(name) is not None and os.path.exists(settings[name]):
            settings[name] = os.path.realpath(settings[name])
    saved = _saved_resume_settings(backup)
    if saved is not None:
        # The images are compared once read (`_check_resumed_images`).
        changed = [name for name in sorted((set(saved) | set(settings)) - {_RESUME_IMAGES})
                   if saved.get(name) != settings.get(name)]  # fmt: skip
        if changed:
            differences = ", ".join(
                f"--{name.replace('_', '-')} {saved.get(name)!r} there, "
                f"{settings.get(name)!r} now"
                for name in changed
            )
            message = (
                f"--resume: the backup in {backup}/ is of a run with other options "
                f"({differences}); run the same command to continue it, or delete the folder "
                "to start over"
            )
            raise ValueError(message)
    return settings


def _saved_resume_settings(backup: str) -> dict | None:
    """The options a --resume backup was written with, or None where it holds nothing to resume.

    A backup folder with no checkpoint yet, or from a version that wrote no
    options, gives None.

    Raises:
        ValueError: if its options file cannot be read as a JSON object.
    """
    path = os.path.join(backup, _RESUME_SETTINGS)
    has_checkpoint = os.path.isdir(backup) and set(os.listdir(backup)) - {
        _RESUME_SETTINGS,
        _RESUME_HISTORY,
    }
    if not (has_checkpoint and os.path.isfile(path)):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, ValueError):
        saved = None
    if not isinstance(saved, dict):
        message = (
            f"--resume: the options of the backup in {backup}/ cannot be read from "
            f"{_RESUME_SETTINGS}; delete the folder to start over"
        )
        raise ValueError(message)
    return saved


def _check_resumed_images(backup: str, settings: dict, images: np.ndarray) -> None:
    """Add the training images' shape to `settings`; refuse a backup of other images.

    The same `--data` path may hold other images by now (more of them, or in
    colour): Keras would fail to restore the weights with a list of layers, or
    continue on other data without a word.

    Raises:
        ValueError: naming both shapes.
    """
    settings[_RESUME_IMAGES] = list(images.shape)
    saved = (_saved_resume_settings(backup) or {}).get(_RESUME_IMAGES)
    if saved is not None and saved != settings[_RESUME_IMAGES]:

        def described(shape: list) -> str:
            count, *image = shape
            return f"{_validation.counted(count, 'image')} of {'x'.join(map(str, image))}"

        message = (
            f"--resume: the backup in {backup}/ is of a run on {described(saved)}, and --data "
            f"{settings.get('data')!r} now gives {described(settings[_RESUME_IMAGES])}; restore "
            "the data, or delete the folder to start over"
        )
        raise ValueError(message)


def _read_backup_history(backup: str) -> list[dict[str, float] | None]:
    """The losses of each epoch a --resume backup recorded (None for an epoch it lacks).

    An empty list where the backup holds no record (a fresh run, or one backed
    up by a version that kept none) or one that cannot be read (said on stderr):
    the loss plot then leaves the earlier epochs blank.
    """
    path = os.path.join(backup, _RESUME_HISTORY)
    if not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            epochs = json.load(handle)["epochs"]
        rows: list[dict[str, float] | None] = [
            None if row is None else {
                str(key): math.nan if value is None else float(value)
                for key, value in row.items()
            }
            for row in epochs
        ]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        print(
            f"{PROG}: --resume: the losses of the backed-up epochs cannot be read from "
            f"{path}; the loss plot shows this run's epochs only",
            file=sys.stderr,
        )
        return []
    return rows


def _history_recorder(path: str, rows: list[dict[str, float] | None]) -> Any:
    """A callback that records each epoch's losses in `rows`, and writes them to `path`.

    An epoch's row replaces those from it on: a record written after the
    last backup (by a run stopped between the two) is overwritten by the epoch
    that backup resumes at.
    """
    import keras

    def record(epoch: int, logs: dict | None) -> None:
        del rows[epoch:]
        rows.extend([None] * (epoch - len(rows)))
        rows.append({key: float(value) for key, value in (logs or {}).items()})
        _write_json(path, {"epochs": rows})

    return keras.callbacks.LambdaCallback(on_epoch_end=record)


def _history_of_rows(rows: list[dict[str, float] | None]) -> dict[str, list[float]]:
    """`History.history`-like series, NaN (a gap in the plot) for an epoch without a row."""
    keys = dict.fromkeys(key for row in rows if row for key in row)
    return {key: [(row or {}).get(key, math.nan) for row in rows] for key in keys}


def _train(args: argparse.Namespace) -> None:
    import keras

    from keras_denoise import ConvAutoencoder, _noisy_trainer, plotting
    from keras_denoise._unet_denoiser import UNetDenoiser

    options = _model_options(args)
    stem = args.out[: -len(".keras")]
    loss_path, metrics_path = f"{stem}.loss.png", f"{stem}.metrics.json"
    backup = f"{args.out}.backup"
    for path in (args.out, loss_path, metrics_path):
        _check_output_file(path, "--out", given=args.out, make_folder=True)
        _check_not_an_input(path, "--out", args)
    resume_settings = _resume_settings(args, backup) if args.resume else None
    train, test = _load_data(args)
    if resume_settings is not None:
        _check_resumed_images(backup, resume_settings, train)
    _check_test_split(train, test, args)
    try:
        split_at = _noisy_trainer.split_count(len(train), args.validation_split)
    except ValueError as error:  # in the words of the command line
        message = str(error).replace("`validation_split`", "`--validation-split`")
        raise ValueError(message.replace("validation_split=", "--validation-split=")) from None
    heldout = train[split_at:] if test is None and split_at < len(train) else test
    keras.utils.set_random_seed(args.seed)
    if args.model == "conv":
        model = ConvAutoencoder(image_shape=train.shape[1:], **options)
    else:
        model = UNetDenoiser(image_shape=(None, None, train.shape[-1]), **options)
    model.compile()
    callbacks = []
    rows: list[dict[str, float] | None] = []  # with --resume, every epoch's losses
    if args.resume:
        rows = _read_backup_history(backup)
        if not os.path.isdir(backup):
            print(
                f"{PROG}: --resume: no backup in {backup}/ yet, so training starts at epoch 1 "
                "and is backed up there after every epoch (a run started without --resume "
                "leaves none to resume)",
                file=sys.stderr,
            )
        os.makedirs(backup, exist_ok=True)
        _write_json(os.path.join(backup, _RESUME_SETTINGS), resume_settings)
        # Before the backup, so that it never holds an epoch whose losses are unrecorded.
        callbacks.append(_history_recorder(os.path.join(backup, _RESUME_HISTORY), rows))
        # Two copies: a backup interrupted while being written falls back to the previous one.
        # Kept when training ends (Keras would delete it then) until the model is written.
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                backup_dir=backup, double_checkpoint=True, delete_checkpoint=False
            )
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    print(
        f"Training a {type(model).__name__} on {_validation.counted(split_at, 'image')} of "
        f"{'x'.join(map(str, train.shape[1:]))} for {_validation.counted(args.epochs, 'epoch')}"
    )
    history = model.fit_denoising(
        train,
        noise_factor=args.noise_factor,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        seed=args.seed,
        callbacks=callbacks,
        verbose=_verbosity(),
        **_training_options(args),
    )
    model.save(args.out)
    # A resumed run's History holds only the epochs it trained: the recorded rows hold all.
    losses = _history_of_rows(rows[: args.epochs]) if args.resume else history.history
    metrics = {
        "data": args.data,
        "model": args.model,
        **{name: getattr(model, name) for name in _MODEL_FLAGS[args.model]},
        "image_shape": list(train.shape[1:]),
        "noise_factor": args.noise_factor,
        "epochs": args.epochs,
        "seed": args.seed,
        "learning_rate_schedule": args.learning_rate_schedule,
        "dtype_policy": args.dtype_policy,
        "train_images": split_at,
        **_final_losses(losses),
    }
    if heldout is not None:
        report, _, _ = _psnr_report(
            model,
            heldout,
            noise_factor=args.noise_factor,
            seed=args.seed,
            batch_size=args.batch_size,
        )
        metrics.update(report)
    written = [args.out, loss_path, metrics_path]
    # No epoch trained: a backup taken after the last epoch, by a run stopped before its
    # files were written (and the backup removed).
    if not history.history:
        print(
            f"{PROG}: --resume: the backup held every epoch ({args.epochs}), so none was left to "
            "train; the restored model is written and scored"
            + ("" if losses else ", with no losses to plot"),
            file=sys.stderr,
        )
    if losses:
        plotting.plot_history(losses, path=loss_path)
    else:
        written.remove(loss_path)
    _write_json(metrics_path, metrics)
    if args.resume:  # the run's files are written: its backup is no longer needed
        shutil.rmtree(backup)
    print(f"Wrote {', '.join(written)}")


def _read_input(path: str) -> tuple[np.ndarray, Callable[[np.ndarray, str], None]]:
    """Read `path` as `(N, H, W, C)` images, with a function that writes results alike."""
    from keras_denoise import datasets

    if not path.lower().endswith(".npy"):
        return datasets.read_image(path)[None], lambda result, out: datasets.write_image(
            out, result[0]
        )
    array = datasets._load_npy(path, "input")
    images = _validation.as_float_images(array, path, min_ndim=2, max_ndim=4, check_range=True)
    if images.ndim == 3 and images.shape[-1] == 2:  # (H, W, 2): gray and alpha, or a batch?
        message = (
            f"{path} holds an array of shape {images.shape}, which is neither one image (H, W) "
            "or (H, W, C) with C in 1, 3, 4, nor a batch of images wider than 2 pixels"
        )
        raise ValueError(message)
    one_image = images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3, 4))
    no_channels = images.ndim == 2 or (images.ndim == 3 and not one_image)
    if no_channels:
        images = images[..., None]
    if one_image:
        images = images[None]

    def write(result: np.ndarray, out: str) -> None:
        if no_channels and result.shape[-1] == 1:
            result = result[..., 0]
        if one_image:
            result = result[0]
        if array.dtype == np.uint8:
            result = np.round(np.clip(result, 0, 1) * 255).astype(np.uint8)
        with atomic_path(out) as tmp, open(tmp, "wb") as handle:
            np.save(handle, result)

    return images, write


def _load_model(path: str) -> Any:
    """The model of MODEL, with the command line's words for a path that is not a file."""
    from keras_denoise import load_model

    if os.path.isdir(path):
        message = f"{path} is a folder, not a `.keras` model file"
        raise IsADirectoryError(message)
    if not os.path.exists(path):
        message = f"no such model file: {path}"  # `load_model` would name its `filepath`
        raise FileNotFoundError(message)
    return load_model(path, compile=False)


def _denoise(args: argparse.Namespace) -> None:
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        message = f"`--output` must be a folder. Received: --output={args.output!r}, a file"
        raise NotADirectoryError(message)
    outputs: dict[str, str] = {}  # output path -> input path
    real_inputs = {os.path.realpath(path): path for path in args.inputs}
    for path in args.inputs:
        if os.path.isdir(path):
            message = f"{path} is a folder; give the image files in it (such as {path}/*.png)"
            raise IsADirectoryError(message)
        if not os.path.isfile(path):
            message = f"no such file: {path}"
            raise FileNotFoundError(message)
        if not path.lower().endswith(_INPUT_SUFFIXES):
            message = f"{path} is not a PNG, JPEG or .npy file"
            raise ValueError(message)
        out = os.path.join(args.output, os.path.basename(path))
        overwritten = real_inputs.get(os.path.realpath(out))  # through links, too
        if overwritten == path:
            message = f"{out} would overwrite its input; choose another folder with -o"
            raise ValueError(message)
        if overwritten is not None:  # a link left in the output folder, say
            message = f"{out} would overwrite the input {overwritten}; choose another folder"
            raise ValueError(message)
        if out in outputs:
            message = f"{outputs[out]} and {path} would both be written to {out}"
            raise ValueError(message)
        outputs[out] = path
        _check_output_file(out, "--output", given=args.output, make_folder=True)
    model = _load_model(args.model)
    height, width, channels = _model_image_shape(model, args.model)
    options = {} if args.batch_size is None else {"batch_size": args.batch_size}
    # --overlap counts for the automatic tiling of large images too, not only with --tile-size.
    tiling = {"tile_size": args.tile_size, "overlap": args.overlap}
    for name, value in tiling.items():
        if value is None:
            continue
        if (height, width) != (None, None):  # as `UNetDenoiser.denoise` tiles
            flag = "--" + name.replace("_", "-")
            message = (
                f"{flag} needs a model that takes images of any size; {args.model} is a "
                f"{type(model).__name__} for {_sizes_taken(height, width)} only"
            )
            raise ValueError(message)
        options[name] = value
    if args.tile_size is not None:  # before reading any input; only a U-Net gets here
        model._check_tile_size(args.tile_size, "--tile-size")
    # Every input is read and checked before any is denoised, so that a bad one, wherever it
    # comes in the list, leaves no output (and no folder) behind. Each is read again below
    # rather than kept: the inputs may not fit in memory together.
    for path in outputs.values():
        _fit_images(model, _read_input(path)[0], path)
    for out, path in outputs.items():
        images, write = _read_input(path)
        result = model.denoise(_fit_images(model, images, path), **options)
        os.makedirs(args.output, exist_ok=True)
        write(result, out)
        print(f"{path} -> {out}{_channel_conversion(images.shape[-1], channels)}")


def _evaluate(args: argparse.Namespace) -> None:
    from keras_denoise import plotting
    from keras_denoise._evaluate import evaluate, format_table

    for option, path in (("--json", args.json), ("--figure", args.figure)):
        if path is not None:  # its folders are made, as for the other commands' outputs
            _check_output_file(path, option, make_folder=True)
            _check_not_an_input(path, option, args)
    model = _load_model(args.model)
    height, width, channels = _model_image_shape(model, args.model)
    # Images are resized to a model of one size; for one fixed side, `_fit_images` checks it.
    size = None if height is None or width is None else (height, width)
    train, test = _load_data(args, size=size, channels=channels)
    images = _fit_images(model, train if test is None else test, args.data)
    options = {} if args.baselines is None else {"baselines": args.baselines}
    rows = evaluate(
        model,
        images,
        noise_factors=args.noise_factors,
        seed=args.seed,
        max_images=args.max_images,
        verbose=sys.stdout.isatty(),  # no progress bar's control codes in piped output
        **options,
    )
    print(format_table(rows))
    for path in (args.json, args.figure):
        if path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if args.json is not None:
        _write_json(args.json, rows)
    if args.figure is not None:
        plotting.plot_evaluation(rows, path=args.figure)


# --- the parser ------------------------------------------------------------------------------


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        required=True,
        metavar="{mnist,sample,PATH}",
        help="'mnist' (see --mnist-path), 'sample' (the small digit set bundled with "
        "keras-denoise, offline), an .npz file (Keras layout with x_train/x_test, or a single "
        "array `images` or `x`, (N, H, W[, C]), uint8 or float in [0, 1]), or a folder (or "
        "one file) of PNG/JPEG images or single-image .npy files, grayscale or RGB; one "
        ".npy file may also hold a batch (N, H, W[, C])",
    )
    group.add_argument(
        "--mnist-path",
        type=_path,
        metavar="PATH",
        help="MNIST .npz in Keras layout (default: download)",
    )
    sizes = group.add_mutually_exclusive_group()
    sizes.add_argument(
        "--size",
        nargs=2,
        type=_positive_int("size", maximum=_validation.MAX_IMAGE_SIDE),
        metavar=("H", "W"),
        help="resize every image of a folder to H x W pixels",
    )
    sizes.add_argument(
        "--patch-size",
        nargs=2,
        type=_positive_int("patch_size", maximum=_validation.MAX_IMAGE_SIDE),
        metavar=("H", "W"),
        help="cut the images of a folder into H x W patches instead",
    )


def _build_parser() -> _ArgumentParser:
    def formatter(prog: str) -> argparse.HelpFormatter:
        return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)

    common = _ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = _ArgumentParser(
        prog=PROG,
        description="Learned image denoising with Keras 3.",
        epilog=f"Run `{PROG} COMMAND --help` for the options of a command.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        formatter_class=formatter,
        help="train a small denoiser on the bundled digits and show the result",
        description=(
            "Train a ConvAutoencoder on the digit sample bundled with keras-denoise (no\n"
            "download), report the test PSNR of the noisy and denoised images, and write\n"
            "comparison.png, loss.png, model.keras and metrics.json to --out. With the\n"
            "default settings it takes one to two minutes on a laptop CPU."
        ),
        epilog=f"example:\n  {PROG} demo --out demo --epochs 5",
    )
    demo.add_argument(
        "--out",
        type=_path,
        default=_DEMO_OUT,
        metavar="DIR",
        help=f"output folder (default: ./{_DEMO_OUT})",
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int("epochs", maximum=_validation.MAX_EPOCHS),
        default=_DEMO_EPOCHS,
        metavar="N",
        help=f"training epochs (default: {_DEMO_EPOCHS})",
    )
    demo.add_argument("--max-images", type=_positive_int("max_images"), help=argparse.SUPPRESS)

    train = commands.add_parser(
        "train",
        parents=[common],
        formatter_class=formatter,
        check=_check_train_flags,  # a flag of the other model is a usage error
        help="train a denoiser on MNIST, the sample, an .npz or a folder of images",
        description=(
            "Train a denoiser on clean images, with fresh Gaussian noise every epoch, and\n"
            "write MODEL.keras, a loss plot MODEL.loss.png and MODEL.metrics.json (final\n"
            "losses, and the PSNR of the noisy and denoised held-out images: the data's test\n"
            "split, or else the --validation-split; strict JSON, with null for an infinite\n"
            "PSNR). Folder images of different sizes need --size (resize) or --patch-size\n"
            "(cut into patches); `--model conv` needs one size, `--model unet` (fully\n"
            "convolutional) denoises any size afterwards. With --resume, the run is backed\n"
            "up after every epoch, and the same command continues it if it is interrupted."
        ),
        epilog=(
            "examples:\n"
            f"  {PROG} train --data sample --epochs 10 --out digits.keras\n"
            f"  {PROG} train --data photos/ --model unet --patch-size 64 64 --out photos.keras\n"
            f"  {PROG} train --data mnist --model unet --filters 32 48 64 96 \\\n"
            "      --convolutions 2 --activation relu --epochs 35 --out unet.keras\n"
            "  (the last: a U-Net 2.4-2.9x faster to train on a CPU than the default,\n"
            "  and 0.1 dB lower in PSNR on noisy MNIST)"
        ),
    )
    _add_data_options(train)
    train.add_argument(
        "--model",
        choices=("conv", "unet"),
        default="conv",
        help="ConvAutoencoder or UNetDenoiser (default: conv)",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int("epochs", maximum=_validation.MAX_EPOCHS),
        default=10,
        metavar="N",
        help="training epochs (default: 10)",
    )
    train.add_argument(
        "--latent-dim",
        type=_positive_int("latent_dim", maximum=_validation.MAX_LATENT_DIM),
        metavar="N",
        help="latent units of `--model conv` (default: 128)",
    )
    train.add_argument(
        "--filters",
        type=_positive_int("filters", maximum=_validation.MAX_FILTERS),
        nargs="+",
        metavar="N",
        help="channels of each level of `--model unet`, from full resolution down to the "
        f"bottleneck (default: {' '.join(map(str, _UNET_FILTERS))})",
    )
    train.add_argument(
        "--convolutions",
        type=_positive_int("convolutions", maximum=_validation.MAX_CONVOLUTIONS),
        nargs="+",
        metavar="N",
        help="3x3 convolutions per block of `--model unet`: one count for every level, or "
        "one per level (default: 3)",
    )
    train.add_argument(
        "--activation",
        type=_checked(str, _validation.check_activation, "activation"),
        metavar="NAME",
        help="activation of `--model unet`, a Keras activation name such as relu "
        "(default: silu)",
    )
    train.add_argument(
        "--validation-split",
        type=_checked(float, _fraction, "validation_split"),
        default=0.1,
        metavar="F",
        help="fraction held out for validation (default: 0.1)",
    )
    train.add_argument(
        "--out",
        type=_keras_path,
        required=True,
        metavar="MODEL.keras",
        help="where to write the model",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="back up the run to MODEL.keras.backup/ after every epoch (removed once training "
        "ends), and continue from that backup if one exists: only a run started with "
        "--resume can be resumed, by the same command (other options are refused)",
    )

    for command in (demo, train):
        command.add_argument(
            "--noise-factor",
            type=_checked(float, _validation.check_noise_factor, "noise_factor"),
            default=0.5,
            metavar="F",
            help="standard deviation of the noise (default: 0.5)",
        )
        command.add_argument(
            "--batch-size",
            type=_positive_int("batch_size", maximum=_validation.MAX_BATCH_SIZE),
            default=64,
            metavar="N",
            help="images per step (default: 64)",
        )
        command.add_argument(
            "--seed",
            type=_checked(
                int, _validation.check_seed, "seed", maximum=_validation.MAX_LAYER_SEED
            ),
            default=0,
            metavar="N",
            help="seed of the weights and the noise, 0 to 2**31 - 1 (default: 0)",
        )
        command.add_argument(
            "--learning-rate-schedule",
            choices=("cosine", "constant"),
            default="cosine",
            help="decay the learning rate along a half cosine over the epochs, or keep it "
            "constant (default: cosine)",
        )
        command.add_argument(
            "--dtype-policy",
            choices=("float32", "mixed_bfloat16", "mixed_float16"),
            default="float32",
            help="compute dtype while training; mixed_bfloat16 is much faster on CPUs with "
            "bfloat16 units such as Intel AMX, and much slower on CPUs without bfloat16 "
            "instructions (default: float32)",
        )

    denoise = commands.add_parser(
        "denoise",
        parents=[common],
        formatter_class=formatter,
        help="denoise PNG, JPEG or .npy files with a trained model",
        description=(
            "Denoise image files with a trained model and write each result, in the same\n"
            "format (PNG and JPEG with 8 bits per channel), to OUTDIR/NAME. Images are\n"
            "converted to the model's channels (RGB <-> grayscale, alpha dropped), as the\n"
            "line printed for each file says.\n"
            "A .npy holds one image (H, W) or (H, W, C) with C in 1, 3, 4, or a batch\n"
            "(N, H, W) or (N, H, W, C), uint8 or float in [0, 1]. A ConvAutoencoder takes\n"
            "the image size it was trained on only; a U-Net takes any size, and denoises\n"
            "large images in tiles (--tile-size)."
        ),
        epilog=f"example:\n  {PROG} denoise digits.keras scan1.png scan2.png -o clean/",
    )
    denoise.add_argument("model", type=_keras_path, metavar="MODEL", help="a .keras model file")
    denoise.add_argument("inputs", nargs="+", metavar="INPUT", help="PNG, JPEG or .npy files")
    denoise.add_argument(
        "-o",
        "--output",
        type=_path,
        default="denoised",
        metavar="OUTDIR",
        help="output folder (default: ./denoised)",
    )
    denoise.add_argument(
        "--batch-size",
        type=_positive_int("batch_size", maximum=_validation.MAX_BATCH_SIZE),
        metavar="N",
        help="images or tiles per forward pass (default: the model's)",
    )
    denoise.add_argument(
        "--tile-size",
        type=_positive_int("tile_size", maximum=_validation.MAX_IMAGE_SIDE),
        metavar="N",
        help="side of the tiles of a fully convolutional model (default: "
        "tiles only above 1024x1024 pixels)",
    )
    denoise.add_argument(
        "--overlap",
        type=_checked(int, _nonnegative_int, "overlap", maximum=_validation.MAX_IMAGE_SIDE),
        metavar="N",
        help="pixels of context around each tile (default: the model's receptive radius, "
        "which makes tiling exact)",
    )

    evaluate = commands.add_parser(
        "evaluate",
        parents=[common],
        formatter_class=formatter,
        check=_check_evaluate_flags,
        help="score a model against the noisy input and classical filters",
        description=(
            "Noise the test images (the data's test split, or all of them) at each noise\n"
            "level, denoise them with the model and with classical filters (scikit-image),\n"
            "and print a table of PSNR and SSIM. Folder images are resized to the model's\n"
            "size (a line on stderr says how many) unless --size or --patch-size says\n"
            "otherwise."
        ),
        epilog=(
            "example:\n"
            f"  {PROG} evaluate digits.keras --data mnist --noise-factors 0.1,0.3,0.5 \\\n"
            "      --max-images 500 --json scores.json --figure scores.png"
        ),
    )
    evaluate.add_argument("model", type=_keras_path, metavar="MODEL", help="a .keras model file")
    _add_data_options(evaluate)
    evaluate.add_argument(
        "--noise-factors",
        type=_noise_factors,
        default=(0.1, 0.3, 0.5),
        metavar="F1,F2,...",
        help="noise levels (default: 0.1,0.3,0.5)",
    )
    evaluate.add_argument(
        "--baselines",
        type=_baselines,
        metavar="NAME,...|none",
        help="classical filters among median, tv, nl_means, wavelet, or 'none' (default: all four)",
    )
    evaluate.add_argument(
        "--max-images",
        type=_positive_int("max_images"),
        metavar="N",
        help="score only the first N images (default: all)",
    )
    evaluate.add_argument(
        "--seed",
        type=_checked(int, _validation.check_seed, "seed"),
        default=0,
        metavar="N",
        help="seed of the noise, 0 to 2**32 - 1 (default: 0)",
    )
    evaluate.add_argument(
        "--json",
        type=_path,
        metavar="OUT.json",
        help="also write the rows as JSON (strict JSON: an infinite PSNR, at noise factor 0, "
        "is written as null)",
    )
    evaluate.add_argument(
        "--figure",
        type=_figure_path,
        metavar="OUT.png",
        help="also plot the PSNR per level (.png, .pdf or .svg)",
    )

    demo.set_defaults(run=_demo)
    train.set_defaults(run=_train)
    denoise.set_defaults(run=_denoise)
    evaluate.set_defaults(run=_evaluate)
    parser.commands = commands.choices  # for `main`'s word on arguments no command takes
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `keras-denoise` command line and return its exit status.

    Args:
        argv: the arguments, without the program name; `None` reads
            `sys.argv[1:]`.

    Returns:
        0 on success, 1 on failure, 130 when interrupted (Ctrl-C); usage
        errors exit with status 2.

    Example:

    >>> from keras_denoise._cli import main
    >>> main(["denoise", "no-such-model.keras", "no-such-image.png"])  # error on stderr
    1
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = _build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # said by the command's parser, whose help lists what it takes
        message = f"unrecognized arguments: {' '.join(extras)}"
        if args.command in ("train", "evaluate") and not extras[0].startswith("-"):
            message += " (--data takes one path: for several images, the folder that holds them)"
        parser.commands[args.command].error(message)
    try:
        args.run(args)
    except (ValueError, TypeError, OSError, *_FILE_ERRORS) as error:
        if args.debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: files are written atomically, so none is half-written
        if args.debug:
            raise
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0
