import functools
import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_denoise
from keras_denoise import ConvAutoencoder, load_model, save_model
from keras_denoise._saving import atomic_path, check_config_safe


def _small():
    return ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=4)


def _rewrite_config(source, target, edit):
    """Copy a `.keras` archive, passing its config.json through `edit`."""
    with zipfile.ZipFile(source) as archive_in, zipfile.ZipFile(target, "w") as archive_out:
        for item in archive_in.infolist():
            data = archive_in.read(item)
            if item.filename == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            archive_out.writestr(item, data)


class _NotAKerasModel:
    """A model of another framework: it has a `save` method, but is no `keras.Model`."""

    def save(self, filepath):
        raise AssertionError("save_model called the `save` of a model it should refuse")

    def __repr__(self):
        return "<not a Keras model>"


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.keras"
    _small().save(path)
    return path


# --- Atomic writes ---------------------------------------------------------------------------


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        with open(tmp, "w") as handle:
            handle.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["data.txt"]
    with atomic_path(target) as tmp:
        with open(tmp, "w") as handle:
            handle.write("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["data.txt"]


def test_atomic_path_cleans_up_after_an_interrupt(tmp_path):
    # Ctrl-C (KeyboardInterrupt, not an Exception) half-way through a write.
    target = tmp_path / "data.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        with open(tmp, "w") as handle:
            handle.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["data.txt"]


def test_atomic_path_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    # A private file came back readable by everyone: the new file took the umask's mode.
    target = tmp_path / "private.txt"
    target.write_text("old")
    target.chmod(0o600)
    with atomic_path(target) as tmp:
        with open(tmp, "w") as handle:
            handle.write("new")
    assert target.stat().st_mode & 0o777 == 0o600


def test_atomic_path_writes_through_a_link(tmp_path):
    # The link was replaced by a plain file, and the file it named kept the old content.
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "best.txt"
    target.write_text("old")
    link = tmp_path / "best.txt"
    link.symlink_to(target)
    with atomic_path(link) as tmp:
        with open(tmp, "w") as handle:
            handle.write("new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(os.listdir(tmp_path / "runs")) == ["best.txt"]


@pytest.mark.parametrize("name", ["a" * 251 + ".png", "\u56fe" * 80 + ".npy", "b" * 200 + ".txt"])
def test_atomic_path_takes_the_longest_names(tmp_path, name):
    # The temporary file was named after the file and some 20 bytes longer, so names that
    # the file system takes (up to 255 bytes; 80 CJK characters are 240) failed with
    # "File name too long" for the temporary file.
    with atomic_path(tmp_path / name) as tmp:
        with open(tmp, "w") as handle:
            handle.write("data")
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_path_gives_default_permissions(tmp_path, umask, mode):
    # The permissions `open` would give a new file under the user's umask.
    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "out.txt") as tmp:
            open(tmp, "w").close()
    finally:
        os.umask(previous)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == mode


def test_failed_save_leaves_previous_model_intact(saved, monkeypatch):
    before = saved.read_bytes()

    def broken_save(model, filepath, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"PK\x03\x04 truncated")
        raise OSError("disk full")

    monkeypatch.setattr(keras.saving, "save_model", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _small().save(saved)
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == ["model.keras"]
    assert isinstance(load_model(saved), ConvAutoencoder)


@pytest.mark.parametrize("method", [False, True], ids=["save_model", "Model.save"])
def test_save_refuses_to_overwrite_when_asked(saved, method):
    before = saved.read_bytes()
    model = _small()
    save = model.save if method else functools.partial(save_model, model)
    message = r"`filepath` already exists and `overwrite` is False\. Received: filepath="
    with pytest.raises(FileExistsError, match=message):
        save(saved, overwrite=False)
    assert saved.read_bytes() == before


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"overwrite": "no"}, TypeError, "overwrite='no'"),
        ({"overwrite": 0}, TypeError, "overwrite=0"),
        ({"model": "model"}, TypeError, "model='model'"),
        ({"model": _NotAKerasModel()}, TypeError, "model=<not a Keras model>"),
        ({"filepath": 3}, TypeError, "filepath=3"),
        # Keras's unzipped format, a folder whose name must not end in .keras; it named the
        # temporary file.
        ({"zipped": False}, ValueError, r"^`zipped` must be True: .* Received: zipped=False$"),
    ],
)
def test_save_rejects_bad_arguments_and_leaves_the_file(saved, kwargs, error, match):
    before = saved.read_bytes()
    arguments = {"model": _small(), "filepath": saved, **kwargs}
    with pytest.raises(error, match=match):
        save_model(arguments.pop("model"), arguments.pop("filepath"), **arguments)
    assert saved.read_bytes() == before


def test_model_save_passes_its_options_to_keras(saved):
    # `model.save(..., **kwargs)` forwards them to `keras.saving.save_model`, whose refusal
    # of an unknown option leaves the previous file as it was.
    before = saved.read_bytes()
    with pytest.raises(ValueError, match=r"not supported: \['not_an_option'\]"):
        _small().save(saved, not_an_option=2)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == ["model.keras"]


def test_save_into_a_missing_folder_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`filepath` is in a folder that does not exist"):
        save_model(_small(), tmp_path / "absent" / "model.keras")
    assert not (tmp_path / "absent").exists()


def test_save_onto_a_folder_names_the_path(tmp_path):
    (tmp_path / "model.keras").mkdir()
    with pytest.raises(IsADirectoryError, match=r"`filepath` is a folder.*model\.keras'"):
        save_model(_small(), tmp_path / "model.keras")
    assert os.listdir(tmp_path) == ["model.keras"]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("model.h5", "Legacy HDF5"),
        ("model.HDF5", "Legacy HDF5"),
        ("model.weights.h5", r"names a weights file \(`\.weights\.h5`\), not a model: weights"),
        ("model.zip", "`filepath` must end with `.keras`"),
        ("model", "`filepath` must end with `.keras`"),
        ("model.KERAS", r"`filepath` must end with `.keras` \(lower case\)"),
    ],
)
def test_save_requires_keras_extension(tmp_path, name, match):
    with pytest.raises(ValueError, match=match):
        save_model(_small(), tmp_path / name)
    assert os.listdir(tmp_path) == []


# --- Safe loading ----------------------------------------------------------------------------


def test_load_round_trip(saved):
    model = load_model(saved)
    assert isinstance(model, ConvAutoencoder) and model.latent_dim == 4


@pytest.mark.parametrize(
    "model",
    [_small, lambda: keras_denoise.UNetDenoiser((None, None, 1), filters=(4, 8))],
    ids=["ConvAutoencoder-Adam", "UNetDenoiser-ConvMuon"],
)
def test_load_restores_the_optimizer_state(tmp_path, model):
    # Training resumed from a saved model continues with its step count and moments, not
    # from a fresh optimizer.
    model = model()
    model.compile()
    images = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    model.fit(images, images, batch_size=2, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = load_model(tmp_path / "model.keras")
    assert type(restored.optimizer) is type(model.optimizer)
    assert int(restored.optimizer.iterations) == 3
    saved_state = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    restored_state = [keras.ops.convert_to_numpy(v) for v in restored.optimizer.variables]
    assert len(restored_state) == len(saved_state) > 2
    for saved_value, restored_value in zip(saved_state, restored_state, strict=True):
        np.testing.assert_array_equal(restored_value, saved_value)


def test_load_restores_compile_arguments_given_as_objects(tmp_path):
    # Saved as serialized dicts: they must be turned back into a loss, a metric and an
    # optimizer, not passed on to `compile` as dicts.
    from keras_denoise.metrics import PSNR

    model = _small()
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.MeanSquaredError(),
        metrics=[PSNR(data_range=255.0)],
    )
    images = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    model.fit(images, images, batch_size=2, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = load_model(tmp_path / "model.keras")
    assert isinstance(restored.loss, keras.losses.MeanSquaredError)
    assert float(restored.optimizer.learning_rate) == pytest.approx(2e-3)
    expected = model.evaluate(images, images, verbose=0, return_dict=True)
    scores = restored.evaluate(images, images, verbose=0, return_dict=True)
    assert set(scores) == {"loss", "psnr"}
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value, rel=1e-5)


def test_load_without_compile_leaves_the_model_uncompiled(tmp_path):
    model = _small()
    model.compile()
    images = np.zeros((2, 8, 8, 1), "float32")
    model.fit(images, images, epochs=1, verbose=0)  # builds the optimizer, as saved models are
    model.save(tmp_path / "model.keras")
    assert load_model(tmp_path / "model.keras").compiled
    restored = load_model(tmp_path / "model.keras", compile=False)
    assert not restored.compiled and getattr(restored, "optimizer", None) is None


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="filepath"):
        load_model(tmp_path / "absent.keras")


def test_a_folder_is_not_a_model_file(tmp_path):
    (tmp_path / "model.keras").mkdir()
    with pytest.raises(FileNotFoundError, match="`filepath` does not exist or is not a file"):
        load_model(tmp_path / "model.keras")


def test_an_upper_case_extension_is_refused_on_loading(saved):
    upper = saved.with_name("model.KERAS")
    saved.rename(upper)
    with pytest.raises(ValueError, match=r"must end with `.keras` \(lower case\)"):
        load_model(upper)


@pytest.mark.parametrize("compile", ["no", 1, None])
def test_load_rejects_a_non_bool_compile(saved, compile):
    with pytest.raises(TypeError, match=f"compile={compile!r}"):
        load_model(saved, compile=compile)


@pytest.mark.parametrize("config", [b"{not json", b"\xff\xfe"])
def test_damaged_config_is_refused(tmp_path, config):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
    with pytest.raises(ValueError, match="damaged"):
        load_model(path)


def test_config_of_exactly_the_size_limit_loads(saved, monkeypatch):
    from keras_denoise import _saving

    with zipfile.ZipFile(saved) as archive:
        size = archive.getinfo("config.json").file_size
    monkeypatch.setattr(_saving, "MAX_CONFIG_BYTES", size)
    assert isinstance(load_model(saved), ConvAutoencoder)


def test_oversized_config_is_refused_before_reading(tmp_path, monkeypatch):
    from keras_denoise import _saving

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}" + " " * 98)
    monkeypatch.setattr(_saving, "MAX_CONFIG_BYTES", 99)
    with pytest.raises(ValueError, match="100 bytes, more than 99"):
        load_model(path)


@pytest.mark.parametrize("name", ["weights.h5", "weights.hdf5", "weights.H5"])
def test_legacy_h5_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match="HDF5"):
        load_model(path)


def test_a_weights_file_is_refused_with_where_weights_go(tmp_path):
    model = _small()
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)  # Keras's own weights file
    with pytest.raises(ValueError, match=r"`filepath` names a weights file .*`model\.load_w"):
        load_model(path)


def test_non_zip_is_refused(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("not a zip file")
    with pytest.raises(ValueError, match=r"`filepath` is not a `.keras` \(zip\) archive"):
        load_model(path)


def test_archive_without_config_is_refused(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("other.txt", "hello")
    with pytest.raises(ValueError, match="config.json"):
        load_model(path)


def test_lambda_layer_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran.txt"

    def payload(x):
        with open(marker, "w") as handle:
            handle.write("the Lambda ran")
        return x

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(payload)(inputs))
    marker.unlink()  # building the model above called the payload once
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="Lambda"):
        load_model(path)
    assert not marker.exists()


def test_keras_safe_mode_backs_up_the_check(tmp_path, monkeypatch):
    # Were the config check to miss a Lambda, Keras's own safe mode still refuses it.
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    monkeypatch.setattr("keras_denoise._saving.check_config_safe", lambda *args: None)
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(path)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        # How Keras serializes a Python lambda (an activation, a loss): no module to check.
        ({"class_name": "Dense", "config": {"activation": {
            "class_name": "__lambda__", "config": {"value": ["code", None, None]}}}},
         r"config\.config\.activation is a '__lambda__'"),
        ({"module": ["os"], "class_name": "system", "config": {}}, r"module \['os'\]"),
        ({"module": 3, "class_name": "Dense", "config": {}}, "module 3"),
        # A package whose name merely starts like an allowed one.
        ({"class_name": "Payload", "registered_name": "keras_evil>Payload", "config": {}},
         r"custom object 'keras_evil>Payload'"),
        ({"class_name": "Payload", "registered_name": "keras>Payload", "config": {}},
         r"custom object 'keras>Payload'"),
        # Keras also finds `class_name` "layers.Lambda" under `module` "keras".
        ({"module": "keras", "class_name": "layers.Lambda", "config": {}},
         r"config is a 'layers\.Lambda', which holds arbitrary Python code"),
        ({"module": "keras.layers", "class_name": "TFSMLayer", "config": {}},
         "TensorFlow SavedModel read from another path"),
        # Keras takes `class_name` as the registered name when there is none.
        ({"class_name": "evilpkg>Evil", "config": {}},
         r"config\.class_name names the custom object 'evilpkg>Evil'"),
        # ... and resolves a string naming a registered object, an activation say.
        ({"module": "keras.layers", "class_name": "Dense",
          "config": {"activation": "evilpkg>evil_fn"}},
         r"config\.config\.activation names the custom object 'evilpkg>evil_fn'"),
        ({"module": "keras.losses", "class_name": "function", "config": "evilpkg>evil_fn"},
         r"config\.config names the custom object 'evilpkg>evil_fn'"),
        # A function saved as a built-in that Keras does not have: Keras would match it
        # against the names of every registered object ("evilpkg>evil_fn").
        ({"module": "builtins", "class_name": "function", "config": "evil_fn"},
         r"a function saved as a built-in, 'evil_fn', which is none of Keras's"),
        # Lists count towards the depth as dicts do.
        ({"config": {"layers": functools.reduce(lambda inner, _: [inner], range(70), {})}},
         r"config\.config\.layers(\[0\]){63}.* is nested more than 64 levels deep"),
    ],
)  # fmt: skip
def test_check_config_safe_refuses_what_keras_would_resolve_to_code(config, match):
    with pytest.raises(ValueError, match=match):
        check_config_safe(config)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: {**c, "module": "os", "class_name": "system"}, "module 'os'"),
        (lambda c: {**c, "module": "builtins", "class_name": "function"}, "function"),
        (lambda c: {**c, "registered_name": "evil>Payload"}, "evil>Payload"),
        (lambda c: {**c, "module": "keras_denoise_evil"}, "keras_denoise_evil"),
        (
            lambda c: {**c, "config": {**c["config"], "activation": {
                "module": "subprocess", "class_name": "Popen", "config": {}}}},
            "subprocess",
        ),
    ],
)
def test_foreign_code_in_config_is_refused(saved, tmp_path, edit, match):
    hostile = tmp_path / "hostile.keras"
    _rewrite_config(saved, hostile, edit)
    with pytest.raises(ValueError, match=match):
        load_model(hostile)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("latent_dim", 10**9),
        ("image_shape", [10**6, 10**6, 1]),
        ("encoder_filters", [10**7, 32, 32]),
        ("encoder_filters", [4096, 4096, 4096]),  # each value allowed; 9 x 4096**2 x 2 weights
        ("decoder_filters", [32, 32, -1]),
        ("batch_norm", "__import__('os')"),
    ],
)
def test_crafted_hyperparameters_fail_before_allocating(saved, tmp_path, key, value):
    hostile = tmp_path / "huge.keras"
    _rewrite_config(saved, hostile, lambda c: {**c, "config": {**c["config"], key: value}})
    with pytest.raises((ValueError, TypeError), match=key):
        load_model(hostile)


@pytest.mark.parametrize("config", [[1, 2], "hello", 3, {}, {"class_name": "Dense"}])
def test_a_config_that_is_no_model_configuration_is_refused(saved, tmp_path, config):
    # Keras said "Expected a model.weights.h5 or model.weights.npz file.", without the path.
    odd = tmp_path / "odd.keras"
    _rewrite_config(saved, odd, lambda _: config)
    match = r"config\.json that is not a model's configuration .*Received: filepath='.*odd\.keras'"
    with pytest.raises(ValueError, match=match):
        load_model(odd)


@pytest.mark.parametrize("depth", [500, 100_000])
def test_deeply_nested_config_is_refused(saved, tmp_path, depth):
    # 100,000 levels overflow the JSON decoder's recursion, 500 the safety walk's.
    deep = tmp_path / "deep.keras"
    with zipfile.ZipFile(saved) as archive_in, zipfile.ZipFile(deep, "w") as archive_out:
        for item in archive_in.infolist():
            data = archive_in.read(item)
            if item.filename == "config.json":
                data = b'{"a": ' * depth + b"1" + b"}" * depth
            archive_out.writestr(item, data)
    with pytest.raises(ValueError, match=r"nested.*deep\.keras|deep\.keras.*nested"):
        load_model(deep)


def test_objects_registered_by_other_code_are_refused(tmp_path, monkeypatch):
    # What another installed package (or an earlier import) registered with Keras is not
    # keras-denoise's to load: by its "package>name", by a name without a package, or by
    # a name under keras-denoise's package.
    created = []

    class Evil(keras.layers.Layer):
        def __init__(self, **kwargs):
            created.append(self)
            super().__init__(**kwargs)

    registry = keras.saving.get_custom_objects()
    monkeypatch.setitem(registry, "evilpkg>Evil", Evil)
    monkeypatch.setitem(registry, "Evil", Evil)
    monkeypatch.setitem(registry, "keras_denoise>Evil", Evil)  # under our package's name
    inputs = keras.Input((4,))
    source = tmp_path / "plain.keras"
    keras.Model(inputs, keras.layers.Dense(2, name="d")(inputs)).save(source)

    def as_evil(class_name):
        def edit(config):
            layer = config["config"]["layers"][1]
            layer.update(class_name=class_name, config={"name": "d"})
            layer.pop("module"), layer.pop("registered_name", None)
            return config

        return edit

    for class_name in ("evilpkg>Evil", "Evil", "keras_denoise>Evil"):
        hostile = tmp_path / "hostile.keras"
        _rewrite_config(source, hostile, as_evil(class_name))
        with pytest.raises(ValueError, match=rf"names the custom object '{class_name}'"):
            load_model(hostile)
    assert created == []


def test_plain_keras_models_with_function_losses_and_metrics_load(tmp_path):
    # Keras saves `keras.losses.mean_squared_error` as a "function" of module "builtins",
    # which was refused as foreign code.
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation=keras.activations.relu)(inputs))
    model.compile("adam", loss=keras.losses.mean_squared_error,
                  metrics=[keras.metrics.mean_absolute_error])
    model.fit(np.zeros((2, 4)), np.zeros((2, 2)), verbose=0)  # Adam's state, saved too
    path = tmp_path / "plain.keras"
    model.save(path)
    restored = load_model(path)
    assert restored.loss is keras.losses.mean_squared_error


def test_unreadable_file_is_reported_as_such(saved, monkeypatch):
    # `zipfile.is_zipfile` answers False for a file it may not read: "not a zip archive".
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("keras_denoise._saving.open", refuse, raising=False)
    with pytest.raises(PermissionError, match=r"`filepath` cannot be read \(Permission denied\)"):
        load_model(saved)


def test_check_config_safe_accepts_real_configs():
    model = _small()
    model.compile(metrics=["mae"])
    check_config_safe(json.loads(json.dumps(keras.saving.serialize_keras_object(model))))


def test_load_model_is_exported():
    assert keras_denoise.load_model is load_model


def test_load_model_finds_classes_that_were_never_imported(tmp_path):
    # `import keras_denoise` loads its classes lazily; `load_model` must register them itself.
    path = tmp_path / "unet.keras"
    model = keras_denoise.UNetDenoiser(image_shape=(None, None, 1), filters=(4, 8))
    model.compile()  # the default optimizer, ConvMuon, is a keras-denoise class too
    model.save(path)
    code = (
        "import keras_denoise\n"
        f"model = keras_denoise.load_model({str(path)!r})\n"
        "print(type(model).__name__, type(model.optimizer).__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["UNetDenoiser", "ConvMuon"]


def test_load_model_registers_every_keras_denoise_class():
    import importlib

    import keras_denoise
    from keras_denoise._saving import SERIALIZABLE_MODULES

    for name in keras_denoise.__all__:
        getattr(keras_denoise, name)
    for module in ("keras_denoise._psnr_metric", "keras_denoise._ssim_metric",
                   "keras_denoise._noisy_trainer"):
        importlib.import_module(module)
    registered = {
        obj.__module__
        for key, obj in keras.saving.get_custom_objects().items()
        if key.startswith("keras_denoise>")
    }
    assert registered and registered <= set(SERIALIZABLE_MODULES)
