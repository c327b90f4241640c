"""Atomic writes, `save_model`, and a `load_model` that never runs foreign code."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keras_denoise import _validation

if TYPE_CHECKING:
    import keras

# Every module that registers a Keras-serializable class; `load_model` imports them all
# so that any keras-denoise object in a file can be found (tested in tests/test_saving.py).
SERIALIZABLE_MODULES = (
    "keras_denoise._conv_autoencoder",
    "keras_denoise._unet_denoiser",
    "keras_denoise._fused_batch_normalization",
    "keras_denoise._few_filters_conv2d",
    "keras_denoise._upsampling_conv2d_transpose",
    "keras_denoise._noisy_trainer",
    "keras_denoise._psnr_metric",
    "keras_denoise._ssim_metric",
    "keras_denoise._conv_muon",
)

MAX_CONFIG_BYTES = 16 * 1024 * 1024
# The models' configs nest 4 levels deep; Keras's loader recurses through every level.
MAX_CONFIG_DEPTH = 64
_ALLOWED_PACKAGES = ("keras", "keras_denoise")
# Classes refused wherever Keras would find them (`class_name` "Lambda", "layers.Lambda", ...).
_FORBIDDEN_CLASSES = {
    "Lambda": "arbitrary Python code",
    "__lambda__": "arbitrary Python code",
    "TFOpLambda": "arbitrary Python code",
    "TFSMLayer": "a TensorFlow SavedModel read from another path",
}
# Where Keras looks up a function saved with `module: "builtins"` (`keras.losses.mse`, ...);
# a name found in none of them it matches against every registered object's name.
_BUILTIN_FUNCTION_MODULES = (
    "activations", "constraints", "initializers", "losses", "metrics", "optimizers",
    "regularizers",
)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, name: str = "path") -> Iterator[str]:
    """Yield a temporary path beside `path`; move it onto `path` on success.

    The temporary file lives in the same folder, with the same extension, so
    the final `os.replace` is atomic: readers see either the old file or the
    complete new one. On any exception the temporary file is removed and the
    previous file (if any) is left intact. The new file keeps the permissions
    of the one it replaces, and a symbolic link at `path` stays one: the file
    it names is replaced, as `open` would write it. A missing folder, or a
    folder at `path`, raises before anything is written, with the argument
    `name` and `path` in the message (not the temporary file's name).

    Example:

    >>> import pathlib, tempfile
    >>> from keras_denoise._saving import atomic_path
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "numbers.txt"
    >>> with atomic_path(target) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("1 2 3")
    >>> target.read_text()
    '1 2 3'
    """
    given = path = os.fspath(path)
    # Through a link to the file it names, as `open` writes: the link stays a link.
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        message = f"`{name}` is in a folder that does not exist. Received: {name}={given!r}"
        raise FileNotFoundError(message)
    if os.path.isdir(path):
        message = f"`{name}` is a folder, not a file. Received: {name}={given!r}"
        raise IsADirectoryError(message)
    base = os.path.basename(path)
    extension = "".join(Path(base).suffixes[-1:])
    # Named after the file, but for a long name (close to the 255 bytes most file systems take)
    # whose temporary name, some 20 bytes longer, could not be made.
    stem = base if len(os.fsencode(base)) <= 200 else "keras-denoise"
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{extension}", dir=directory)
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the permissions of the file it
        # replaces, or those a plain open() would give a new one.
        if os.path.isfile(path):
            shutil.copymode(path, tmp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _check_keras_path(filepath: Any, name: str = "filepath") -> str:
    if not isinstance(filepath, (str, os.PathLike)):
        message = f"`{name}` must be a path to a `.keras` file. Received: {name}={filepath!r}"
        raise TypeError(message)
    path = os.fspath(filepath)
    lowered = path.lower()
    if lowered.endswith(".weights.h5"):  # Keras's name for weights only, not a model
        message = (
            f"`{name}` names a weights file (`.weights.h5`), not a model: weights go through "
            "`model.save_weights` and `model.load_weights` of a built model; whole models "
            f"are `.keras` files. Received: {name}={path!r}"
        )
        raise ValueError(message)
    if lowered.endswith((".h5", ".hdf5")):
        message = (
            "Legacy HDF5 model files are not supported: they cannot be loaded safely. "
            f"Re-save the model in the `.keras` format. Received: {name}={path!r}"
        )
        raise ValueError(message)
    if not path.endswith(".keras"):
        # Keras itself recognizes only the lower-case extension, on saving and on loading.
        message = f"`{name}` must end with `.keras` (lower case). Received: {name}={path!r}"
        raise ValueError(message)
    return path


def save_model(model: keras.Model, filepath: str | os.PathLike, *, overwrite: bool = True,
               **kwargs: Any) -> None:
    """Save `model` to a `.keras` file atomically.

    The archive is written to a temporary file in the same folder and renamed
    over `filepath` only once complete, so a failure half-way leaves any
    previous file intact. `model.save(...)` on keras-denoise models does this.

    Args:
        model: the Keras model to save.
        filepath: destination path; must end with `.keras`.
        overwrite: whether to replace an existing file. Defaults to True.
        **kwargs: passed to `keras.saving.save_model`.

    Raises:
        ValueError: if `filepath` does not end with `.keras`, or `zipped` is
            given and not True.
        TypeError: if `model` is not a Keras model or `overwrite` not a bool.
        FileExistsError: if the file exists and `overwrite` is False.

    Example:

    >>> import os, tempfile
    >>> from keras_denoise import ConvAutoencoder, load_model, save_model
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=4), path)
    >>> load_model(path).latent_dim
    4
    """
    path = _check_keras_path(filepath)
    overwrite = _validation.check_bool(overwrite, "overwrite")
    import keras

    if not isinstance(model, keras.Model):
        message = f"`model` must be a keras.Model. Received: model={model!r}"
        raise TypeError(message)
    if kwargs.get("zipped", True) is not True:  # Keras writes a folder, named other than .keras
        message = (
            "`zipped` must be True: keras-denoise saves `.keras` archives. "
            f"Received: zipped={kwargs['zipped']!r}"
        )
        raise ValueError(message)
    if not overwrite and os.path.exists(path):
        message = f"`filepath` already exists and `overwrite` is False. Received: filepath={path!r}"
        raise FileExistsError(message)
    with atomic_path(path, "filepath") as tmp:
        keras.saving.save_model(model, tmp, **kwargs)


class _ConfigTooDeep(Exception):
    """A config nested deeper than `MAX_CONFIG_DEPTH` (its `args[0]` is where)."""


def _walk(node: Any, where: str = "config", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Yield every dict and string inside `node` with its location."""
    if depth > MAX_CONFIG_DEPTH:
        raise _ConfigTooDeep(where)
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}.{key}", depth + 1)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}[{index}]", depth + 1)


def _is_allowed_module(module: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in
               _ALLOWED_PACKAGES)


def _is_keras_builtin_function(name: Any) -> bool:
    import keras

    return isinstance(name, str) and any(
        callable(getattr(getattr(keras, module), name, None))
        for module in _BUILTIN_FUNCTION_MODULES
    )


def _foreign_names() -> set[str]:
    """Names of the objects registered with Keras that are not keras-denoise's own.

    Keras resolves a config string equal to one of them to that object: a
    name without a package, or one that other code registered under
    `"keras_denoise>..."`.
    """
    import keras

    return {
        name
        for name, obj in keras.saving.get_custom_objects().items()
        if not getattr(obj, "__module__", "").startswith("keras_denoise.")
    }


def check_config_safe(config: Any, filepath: str = "<config>") -> None:
    """Raise `ValueError` if a saved model config refers to code outside Keras.

    Rejects `Lambda` (and `TFSMLayer`) layers however their class is spelled,
    serialized Python lambdas, any `module` outside `keras` and
    `keras_denoise`, functions saved as built-ins that are not Keras's, any
    string naming an object registered with Keras by other code
    (`"package>name"`, as `class_name`, `registered_name` or a value such as
    an activation or a loss, with or without a package, even under
    `"keras_denoise>"`), and configs
    nested more than `MAX_CONFIG_DEPTH` (64) levels deep.

    Example:

    >>> from keras_denoise._saving import check_config_safe
    >>> check_config_safe({"module": "keras.layers", "class_name": "Dense", "config": {}})
    >>> check_config_safe({"module": "os", "class_name": "system", "config": {}})
    Traceback (most recent call last):
    ...
    ValueError: Refusing to load '<config>': config.module names module 'os'...
    """
    try:
        nodes = list(_walk(config))
    except _ConfigTooDeep as error:
        message = (
            f"Refusing to load {filepath!r}: {error.args[0]} is nested more than "
            f"{MAX_CONFIG_DEPTH} levels deep."
        )
        raise ValueError(message) from None
    foreign_names = _foreign_names()
    for where, node in nodes:
        if isinstance(node, str):
            package, registered, _ = node.partition(">")
            if (registered and package != "keras_denoise") or node in foreign_names:
                message = (
                    f"Refusing to load {filepath!r}: {where} names the custom object {node!r}, "
                    "outside Keras and keras_denoise."
                )
                raise ValueError(message)
            continue
        class_name = node.get("class_name")
        module = node.get("module")
        # Keras finds `class_name` "layers.Lambda" under `module` "keras" too.
        short_name = class_name.strip().rsplit(".", 1)[-1] if isinstance(class_name, str) else None
        if short_name in _FORBIDDEN_CLASSES:
            message = (
                f"Refusing to load {filepath!r}: {where} is a {class_name!r}, which holds "
                f"{_FORBIDDEN_CLASSES[short_name]}."
            )
            raise ValueError(message)
        if class_name == "function" and module == "builtins":
            if not _is_keras_builtin_function(node.get("config")):
                message = (
                    f"Refusing to load {filepath!r}: {where} is a function saved as a built-in, "
                    f"{node.get('config')!r}, which is none of Keras's."
                )
                raise ValueError(message)
        elif module is not None and (not isinstance(module, str) or not _is_allowed_module(module)):
            message = (
                f"Refusing to load {filepath!r}: {where}.module names module {module!r}, "
                "outside Keras and keras_denoise."
            )
            raise ValueError(message)


def load_model(filepath: str | os.PathLike, *, compile: bool = True) -> keras.Model:
    """Load a keras-denoise (or plain Keras) model from a `.keras` file, safely.

    Before Keras sees the file, its `config.json` is read and checked: legacy
    `.h5` files, files that are not `.keras` zip archives, `Lambda` layers and
    any module, class or function outside Keras and keras_denoise are refused
    with a `ValueError`, without running any of it. The model is then loaded
    with `safe_mode=True`, and every keras-denoise class validates its
    hyperparameters before building.

    This function also registers keras-denoise's classes with Keras first.
    `keras.saving.load_model` can load these files too, but only once the
    classes are imported (for example `from keras_denoise import UNetDenoiser`):
    `import keras_denoise` alone imports them lazily, on first use, so Keras
    would report "Could not locate class".

    Args:
        filepath: path to a `.keras` file.
        compile: whether to restore the training configuration. Defaults to
            True.

    Returns:
        The loaded model.

    Raises:
        FileNotFoundError: if `filepath` does not exist.
        PermissionError: if the file cannot be read.
        ValueError: if the file is not a safe `.keras` archive.
        TypeError: if `compile` is not a bool.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> import keras_denoise
    >>> model = keras_denoise.ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=4)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> restored = keras_denoise.load_model(path)
    >>> images = np.random.default_rng(0).random((2, 8, 8, 1), dtype="float32")
    >>> np.allclose(model.denoise(images), restored.denoise(images), atol=1e-6)
    True
    """
    path = _check_keras_path(filepath)
    compile = _validation.check_bool(compile, "compile")
    if not os.path.isfile(path):
        message = f"`filepath` does not exist or is not a file. Received: filepath={path!r}"
        raise FileNotFoundError(message)
    try:  # `zipfile.is_zipfile` takes a file it may not read for one that is not a zip
        with open(path, "rb"):
            pass
    except OSError as error:
        message = f"`filepath` cannot be read ({error.strerror}). Received: filepath={path!r}"
        raise type(error)(message) from None
    if not zipfile.is_zipfile(path):
        message = f"`filepath` is not a `.keras` (zip) archive. Received: filepath={path!r}"
        raise ValueError(message)
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                message = (
                    f"Refusing to load {path!r}: its config.json is {info.file_size} bytes, "
                    f"more than {MAX_CONFIG_BYTES}."
                )
                raise ValueError(message)
            config = json.loads(archive.read(info).decode("utf-8"))
            check_config_safe(config, path)
            if not isinstance(config, dict) or not {"class_name", "config"} <= set(config):
                message = (
                    "`filepath` holds a config.json that is not a model's configuration (a "
                    f"JSON object with `class_name` and `config`). Received: filepath={path!r}"
                )
                raise ValueError(message)
    except RecursionError:
        message = (
            f"`filepath` holds a config.json nested too deeply to load. Received: filepath={path!r}"
        )
        raise ValueError(message) from None
    except KeyError:
        message = (
            "`filepath` is not a Keras model archive (no config.json). "
            f"Received: filepath={path!r}"
        )
        raise ValueError(message) from None
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as error:
        message = f"`filepath` is a damaged `.keras` archive ({error}). Received: filepath={path!r}"
        raise ValueError(message) from None
    import keras

    for module in SERIALIZABLE_MODULES:
        importlib.import_module(module)
    return keras.saving.load_model(path, compile=compile, safe_mode=True)
