import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, GaussianNoise
from keras_denoise._noisy_trainer import NoisyTrainer, TrainingNoise, fit_denoising


def _images(count=64, shape=(16, 16), dtype="float32"):
    images = np.random.default_rng(0).random((count, *shape))
    if dtype == "uint8":
        return (images * 255).astype("uint8")
    return images.astype(dtype)


def _model(channels=1):
    return ConvAutoencoder(image_shape=(16, 16, channels), latent_dim=8,
                           encoder_filters=(4, 8), decoder_filters=(8, 4))


def _fit(images=None, model=None, **kwargs):
    model = _model() if model is None else model
    kwargs.setdefault("seed", 0)
    kwargs.setdefault("verbose", 0)
    history = fit_denoising(model, _images() if images is None else images, **kwargs)
    return model, history


@pytest.mark.parametrize(
    ("shape", "dtype"), [((16, 16), "float32"), ((16, 16, 1), "uint8"), ((16, 16, 3), "float64")]
)
def test_history_keys_and_weights_change(dtype, shape):
    model = _model(channels=shape[-1] if len(shape) == 3 else 1)
    before = [w.copy() for w in model.get_weights()]
    _, history = _fit(_images(32, shape, dtype), model, epochs=2, validation_split=0.25)
    assert sorted(history.history) == ["loss", "val_loss"]
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["val_loss"]))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert model.history is history


def test_mixin_method_and_user_compile_settings():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    history = model.fit_denoising(_images(), epochs=1, seed=0, verbose=0,
                                  validation_data=_images(16))
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert int(model.optimizer.iterations) == 1  # 64 images, one batch: the user's optimizer ran


def test_metrics_compare_with_the_scaled_uint8_images():
    # The targets of the metrics, like the loss's, are the uint8 images divided by 255.
    model = _model()
    model.compile(metrics=["mae"])
    _, history = _fit(_images(32, dtype="uint8"), model, epochs=1)
    assert 0.0 < history.history["mae"][0] < 0.5


def test_unregistered_loss_and_metric_functions_are_used():
    calls = []

    def absolute_error(y_true, y_pred):  # a plain function, not registered as serializable
        calls.append("loss")
        return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=(1, 2, 3))

    def largest_error(y_true, y_pred):
        return keras.ops.max(keras.ops.abs(y_true - y_pred), axis=(1, 2, 3))

    model = _model()
    model.compile(optimizer="adam", loss=absolute_error, metrics=[largest_error])
    _, history = _fit(model=model, epochs=1, validation_split=0.25)
    assert sorted(history.history) == ["largest_error", "loss", "val_largest_error", "val_loss"]
    assert calls  # traced into the training step
    assert 0 < history.history["largest_error"][0] <= 1


def test_uncompiled_model_gets_default_compile():
    model, _ = _fit()
    assert model.compiled
    assert model.loss == "binary_crossentropy"


def test_model_compiled_without_an_optimizer_is_refused():
    model = _model()
    keras.Model.compile(model, optimizer=None, loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"compiled with an optimizer.*model\.optimizer=None"):
        _fit(model=model, epochs=1)


@pytest.mark.parametrize(
    ("validation_data", "received"),
    [
        (np.zeros((8, 12, 12), "float32"), r"\(8, 12, 12, 1\)"),
        (np.zeros((8, 16, 16, 3), "float32"), r"\(8, 16, 16, 3\)"),
        ((np.zeros((8, 12, 12), "float32"), np.zeros((8, 12, 12), "float32")), r"\(8, 12, 12, 1\)"),
    ],
    ids=["size", "channels", "pair"],
)
def test_validation_images_the_model_does_not_take_are_refused_before_training(
    validation_data, received
):
    # `fit` reads them only after the first epoch, which was trained for nothing.
    model = _model()
    before = [weights.copy() for weights in model.get_weights()]
    with pytest.raises(ValueError, match=r"`validation_data` must hold images of the shape "
                       r"`model` takes \(16, 16, 1\)\. Received: validation_data with shape "
                       rf"{received}"):
        _fit(model=model, validation_data=validation_data, epochs=1)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_training_images_the_model_does_not_take_are_refused():
    with pytest.raises(ValueError, match=r"`clean_images` must hold images of the shape `model` "
                       r"takes \(16, 16, 1\)\. Received: clean_images with shape "
                       r"\(8, 12, 12, 1\)"):
        _fit(_images(8, (12, 12)), epochs=1)


def _plain_model():
    inputs = keras.Input((16, 16, 1))
    return keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))


def _compiled(model, **settings):
    keras.Model.compile(model, **settings)
    return model


@pytest.mark.parametrize(
    "make_model",
    [
        _plain_model,  # `fit_denoising` compiles it with Keras's defaults: no loss
        lambda: _compiled(_plain_model(), optimizer="adam"),
        lambda: _compiled(_model(), optimizer="adam", loss=None),
    ],
    ids=["uncompiled", "compiled", "denoiser"],
)
def test_model_compiled_without_a_loss_is_refused(make_model):
    # On JAX it trained nothing, with a loss of 0.0 every epoch; elsewhere Keras failed
    # after training had started.
    with pytest.raises(ValueError, match=r"compiled with a loss.*model\.loss=None"):
        _fit(model=make_model(), epochs=1)


@pytest.mark.slow
def test_same_seed_same_weights_and_different_seed_differs():
    runs, validation_losses = [], []
    for seed in (3, 3, 4):
        keras.utils.set_random_seed(0)
        model, history = _fit(seed=seed, epochs=2, batch_size=16, validation_split=0.25)
        runs.append(model.get_weights())
        validation_losses.append(history.history["val_loss"])
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
    assert validation_losses[0] == validation_losses[1]  # the validation noise too
    assert any(not np.array_equal(a, b) for a, b in zip(runs[0], runs[2], strict=True))


@pytest.mark.parametrize("noise_factor", [0.1, 0.5])
def test_noise_statistics_and_fresh_draws(noise_factor):
    layer = TrainingNoise(noise_factor, clip=None, seed=0)
    clean = np.full((64, 16, 16, 1), 0.5, "float32")
    first = keras.ops.convert_to_numpy(layer(clean, training=True)) - clean
    second = keras.ops.convert_to_numpy(layer(clean, training=True)) - clean
    assert abs(first.mean()) < 0.05 * noise_factor  # about 6 standard errors
    np.testing.assert_allclose(first.std(), noise_factor, rtol=0.03)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(clean)), clean)


def test_noise_layer_seed_sequence_and_clip_and_uint8():
    clean = np.full((8, 16, 16, 1), 255, "uint8")
    one, two = TrainingNoise(0.5, seed=7), TrainingNoise(0.5, seed=7)
    for _ in range(2):
        a = keras.ops.convert_to_numpy(one(clean, training=True))
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(two(clean, training=True)))
    assert a.min() >= 0.0 and a.max() == 1.0
    assert (a < 1.0).mean() > 0.4  # about half the draws are negative
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(one(clean)), 1.0)


@pytest.mark.parametrize("clip", [(0.0, 2.0), (0.25, 0.75)])
def test_noise_layer_clips_to_both_bounds_given(clip):
    layer = TrainingNoise(1.0, clip=clip, seed=0)
    noisy = keras.ops.convert_to_numpy(layer(np.full((4, 16, 16, 1), 0.5, "float32"),
                                             training=True))
    assert (noisy.min(), noisy.max()) == clip  # about 7% of 1,024 draws pass each bound


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_noise_is_drawn_in_the_compute_dtype(policy):
    layer = TrainingNoise(0.5, seed=0, dtype=policy)
    noisy = layer(np.full((2, 8, 8, 1), 0.5, "float32"), training=True)
    assert keras.backend.standardize_dtype(noisy.dtype) == policy.removeprefix("mixed_")


def test_noise_layer_config_round_trip():
    layer = TrainingNoise(0.3, clip=(0.0, 2.0), seed=5)
    clone = TrainingNoise.from_config(layer.get_config())
    assert (clone.noise_factor, clone.clip, clone.seed) == (0.3, (0.0, 2.0), 5)


@pytest.mark.slow
def test_equal_to_plain_fit_without_noise():
    images = _images(48)
    keras.utils.set_random_seed(0)
    plain = _model()
    plain.compile()
    plain.fit(images[..., None], images[..., None], batch_size=16, epochs=1, shuffle=False,
              verbose=0)
    keras.utils.set_random_seed(0)
    fast, _ = _fit(images, noise_factor=0.0, batch_size=16, shuffle=False)
    for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_train_step_matches_plain_step_with_the_same_noise():
    images = _images(16)[..., None]
    keras.utils.set_random_seed(0)
    fast = _model()
    fast.compile()
    trainer = NoisyTrainer(fast, 0.5, seed=1)
    trainer.compile(optimizer=fast.optimizer, loss="binary_crossentropy")
    state = keras.ops.convert_to_numpy(trainer.noise.seed_generator.state)
    noisy = keras.ops.convert_to_numpy(trainer.noise(images, training=True))
    trainer.noise.seed_generator.state.assign(state)  # replay the same draw in the step
    trainer.fit(images, batch_size=16, shuffle=False, verbose=0)
    keras.utils.set_random_seed(0)
    plain = _model()
    plain.compile()
    plain.fit(noisy, images, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("dtype", "container"), [("float32", tuple), ("uint8", tuple),
                                                ("float32", list)])
def test_validation_data_pair_is_used_as_given(dtype, container):
    images = _images(16)
    noisy = np.clip(images + 0.3, 0, 1)
    pair = (noisy, images) if dtype == "float32" else (
        np.round(noisy * 255).astype("uint8"), np.round(images * 255).astype("uint8"))
    model, history = _fit(validation_data=container(pair), epochs=1)
    noisy, images = (np.asarray(a, "float32") / (255 if dtype == "uint8" else 1) for a in pair)
    expected = model.evaluate(noisy[..., None], images[..., None], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1], expected, rtol=1e-4)


@pytest.mark.parametrize(
    "validation", [{"validation_split": 0.25}, {"validation_data": _images(8)}]
)
def test_validation_noise_is_one_fixed_draw(validation):
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8, batch_norm=False)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights never change
    _, history = _fit(model=model, epochs=3, **validation)
    losses = history.history["val_loss"]
    assert losses[0] == losses[1] == losses[2]
    assert history.history["loss"][0] != history.history["loss"][1]  # training noise is fresh


def _frozen_pixelwise_model():
    """`sigmoid(4x - 2)` per pixel, never trained: its loss follows its input closely.

    (An untrained `ConvAutoencoder` outputs about 0.5 whatever its input, so its
    loss hardly tells which images it was given.)
    """
    constant = keras.initializers.Constant
    output = keras.layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer=constant(4.0),
                                 bias_initializer=constant(-2.0))
    model = keras.Sequential([keras.Input((16, 16, 1)), output])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy")
    return model


@pytest.mark.parametrize(
    ("validation", "steps"),
    [("split", 6), ("data", 8)],
    ids=["validation_split-holds-out-the-last-images", "clean-validation_data"],
)
def test_held_out_images_are_noised_with_the_seed(validation, steps):
    images = _images(64)
    held_out = images[48:] if validation == "split" else 1.0 - _images(16)
    option = {"validation_split": 0.25} if validation == "split" else {"validation_data": held_out}
    model = _frozen_pixelwise_model()
    _, history = _fit(images, model, epochs=1, batch_size=8, seed=5, **option)
    # The training images in batches of 8: the first 48 with the split, all 64 otherwise.
    assert int(model.optimizer.iterations) == steps
    noisy, clean = GaussianNoise(0.5, seed=5).pairs(held_out)
    expected = model.evaluate(noisy[..., None], clean[..., None], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][0], expected, rtol=1e-5)


def test_validation_split_rounds_the_training_count_down():
    # As in `keras.Model.fit`: int(10 * 0.75) = 7 training images, the last 3 held out.
    images = _images(10)
    model = _frozen_pixelwise_model()
    _, history = _fit(images, model, epochs=1, batch_size=7, seed=5, validation_split=0.25)
    assert int(model.optimizer.iterations) == 1
    noisy, clean = GaussianNoise(0.5, seed=5).pairs(images[7:])
    expected = model.evaluate(noisy[..., None], clean[..., None], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][0], expected, rtol=1e-5)


class _RunningLosses(keras.callbacks.Callback):
    """The running mean loss after each step, one list per epoch."""

    def on_train_begin(self, logs=None):
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append([])

    def on_train_batch_end(self, batch, logs=None):
        self.epochs[-1].append(float(logs["loss"]))


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_epoch_has_an_order_of_its_own_under_a_global_seed(shuffle):
    # Without noise and with frozen weights, the running loss follows the order of the
    # images. (Keras's own pipeline on TensorFlow repeated the first epoch's order.)
    keras.utils.set_random_seed(0)
    recorder = _RunningLosses()
    _fit(_images(32), _frozen_pixelwise_model(), epochs=3, batch_size=4, noise_factor=0.0,
         seed=None, shuffle=shuffle, steps_per_execution=1, callbacks=recorder)
    first, second, third = recorder.epochs
    assert len(first) == 8
    assert (first != second and second != third and first != third) is shuffle
    assert first[-1] == pytest.approx(third[-1], rel=1e-6)  # the same images every epoch


def test_initial_epoch():
    _, history = _fit(epochs=3, initial_epoch=2)
    assert history.epoch == [2]


class _InterruptAtEpoch2(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")


def _interrupt_then_resume(backup_dir, **kwargs):
    """Train 4 epochs, interrupted at the third; resume; return the model and resumed history."""
    model = _model()
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(model=model, epochs=4, **kwargs,
             callbacks=[keras.callbacks.BackupAndRestore(backup_dir), _InterruptAtEpoch2()])
    _, history = _fit(model=model, epochs=4, **kwargs,
                      callbacks=[keras.callbacks.BackupAndRestore(backup_dir)])
    return model, history


@pytest.mark.slow
def test_backup_and_restore_resumes(tmp_path):
    model, history = _interrupt_then_resume(str(tmp_path / "backup"))
    assert history.epoch == [2, 3]
    assert int(model.optimizer.iterations) == 4


@pytest.mark.parametrize(
    ("kwargs", "name", "error"),
    [
        ({"noise_factor": -1.0}, "noise_factor", ValueError),
        ({"noise_factor": 1e39}, r"at most 1000000\.0\. Received: noise_factor=1e\+39", ValueError),
        ({"clip": (1.0, 0.0)}, "clip", ValueError),
        ({"epochs": 0}, "epochs", ValueError),
        # (Were the bound missing, training would run one epoch, not 2**20 + 1.)
        ({"epochs": 2**20 + 1, "initial_epoch": 2**20},
         r"at most 1048576\. Received: epochs=1048577", ValueError),
        ({"batch_size": 0}, "batch_size", ValueError),
        ({"batch_size": 2**20 + 1}, r"at most 1048576\. Received: batch_size=1048577", ValueError),
        ({"batch_size": 2.5}, "batch_size", TypeError),
        ({"validation_split": 1.0}, r"in \[0, 1\)\. Received: validation_split=1\.0", ValueError),
        ({"validation_split": "0.1"}, "validation_split", TypeError),
        ({"validation_split": True}, "validation_split=True", TypeError),
        ({"validation_split": 0.95}, "leaves no training", ValueError),
        ({"validation_split": 1e-17}, "no training or no validation images", ValueError),
        ({"seed": -1}, "seed", ValueError),
        ({"shuffle": 1}, "shuffle", TypeError),
        ({"steps_per_execution": 0}, "steps_per_execution", ValueError),
        ({"steps_per_execution": 2**16 + 1},
         r"at most 65536\. Received: steps_per_execution=65537", ValueError),
        ({"jit_compile": "yes"}, "jit_compile", ValueError),
        ({"jit_compile": 1}, r"jit_compile=1", TypeError),
        ({"jit_compile": None}, r"jit_compile=None", TypeError),
        ({"dtype_policy": "float13"}, "dtype_policy", ValueError),
        # A config Keras cannot deserialize (it raises TypeError).
        ({"dtype_policy": {"class_name": "DTypePolicy", "config": {"name": 3}}},
         "dtype_policy", ValueError),
        ({"learning_rate_schedule": "linear"}, "learning_rate_schedule", ValueError),
        ({"initial_epoch": 1}, "initial_epoch", ValueError),
        ({"initial_epoch": 1.0}, "initial_epoch", TypeError),
        ({"seed": 2**31}, r"between 0 and 2\*\*31 - 1 or None\. Received: seed=2147483648",
         ValueError),
        ({"seed": 2**40}, "seed", ValueError),
        ({"seed": True}, "seed", TypeError),
        ({"validation_data": np.zeros((2, 16), "float32")}, "validation_data", ValueError),
        ({"validation_data": _images(4) * 255}, r"validation_data.*\[0, 1\]", ValueError),
        ({"validation_data": (_images(4), _images(4) - 0.5)}, r"validation_data.*\[0, 1\]",
         ValueError),
        ({"validation_data": (_images(4, (8, 8)), _images(4))}, "validation_data.*shape",
         ValueError),
        # Keras's (x, y, sample_weight), of equal shapes: read as three validation images.
        ({"validation_data": (_images(4), _images(4), _images(4))},
         r"sample weights are not supported\. Received: validation_data, a tuple of 3$",
         ValueError),
        ({"callbacks": "abc"}, r"callbacks='abc'", TypeError),
        ({"callbacks": [keras.callbacks.History(), 3]}, "callbacks", TypeError),
        ({"callbacks": list(range(100))}, r"Received: callbacks=\[0, 1, 2, [^]]*\.\.\.$",
         TypeError),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, name, error):
    model = _model()
    with pytest.raises(error, match=name):
        fit_denoising(model, _images(8), verbose=0, **kwargs)
    assert not model.compiled  # refused before any training


@pytest.mark.parametrize(("noisy", "clean"), [(3, 5), (8, 5)])
def test_validation_pair_of_different_lengths_raises_before_training(noisy, clean):
    images = _images(16)
    model = _model()
    match = f"validation_data.* {noisy} noisy and {clean} clean images"
    with pytest.raises(ValueError, match=match):
        fit_denoising(model, images, batch_size=8, seed=0, verbose=0,
                      validation_data=(images[:noisy], images[:clean]))
    assert not model.compiled


@pytest.mark.parametrize("policy", ["bfloat16", "float16", "float64", "int32",
                                    keras.DTypePolicy("bfloat16"), "int8_from_float32"])
def test_dtype_policies_without_float32_weights_raise(policy):
    with pytest.raises(ValueError, match=r"dtype_policy.*'mixed_bfloat16'.*Received: dtype_p"):
        fit_denoising(_model(), _images(8), verbose=0, dtype_policy=policy)


@pytest.mark.parametrize(
    "policy", ["float32", "mixed_float16", keras.DTypePolicy("mixed_bfloat16")]
)
def test_dtype_policies_with_float32_weights_are_accepted(policy):
    from keras_denoise._noisy_trainer import _check_dtype_policy

    assert _check_dtype_policy(policy).variable_dtype == "float32"


def test_float_images_outside_0_1_raise_before_training():
    model = _model()
    with pytest.raises(ValueError, match=r"clean_images.*\[0, 1\]"):
        fit_denoising(model, _images(8) * 255, verbose=0)
    assert not model.compiled


def test_images_at_0_and_1_and_unclipped_noisy_validation_train():
    images = _images(8)
    images[0], images[1] = 0.0, 1.0
    noisy = images + np.random.default_rng(1).normal(0, 0.5, images.shape).astype("float32")
    for clip in (None, (0.0, 1.0)):  # noisy inputs are used as given
        _, history = _fit(images, clip=clip, validation_data=(noisy, images), epochs=1)
        assert np.isfinite(history.history["val_loss"][-1])


@pytest.mark.parametrize("wrap", [lambda callback: callback, lambda callback: (callback,)])
def test_callbacks_one_callback_or_a_tuple(wrap):
    recorder = _RecordComputeDtypes()
    _fit(_images(16), callbacks=wrap(recorder), epochs=1, batch_size=16)
    assert recorder.layer_dtypes == {"float32"}


@pytest.mark.parametrize(
    ("images", "error"),
    [
        (np.zeros((4, 16), "float32"), ValueError),
        (np.zeros((0, 16, 16), "uint8"), ValueError),
        (np.zeros((16, 16), "uint8"), ValueError),  # one image, not a batch
        (np.zeros((16, 16, 1), "float32"), ValueError),  # one image, not 16 of 1 pixel wide
        (np.zeros((16, 16, 3), "uint8"), ValueError),
        (np.zeros((2, 4, 16, 16, 1), "uint8"), ValueError),  # a batch of batches
        (np.zeros((4, 16, 16), "int32"), TypeError),
    ],
)
def test_bad_images_raise(images, error):
    with pytest.raises(error, match="clean_images"):
        fit_denoising(_model(), images, verbose=0)


class _RecordTrainerSettings(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.jit_compile = self.model.jit_compile
        self.steps_per_execution = self.model.steps_per_execution
        self.name = self.model.name


@pytest.mark.parametrize("jit_compile", [np.False_, False])
def test_jit_compile_takes_numpy_bools(jit_compile):
    recorder = _RecordTrainerSettings()
    _fit(_images(16), jit_compile=jit_compile, epochs=1, batch_size=16, callbacks=recorder)
    assert recorder.jit_compile is False


def test_trainer_defaults_to_16_steps_per_execution_and_is_named_after_the_model():
    recorder = _RecordTrainerSettings()
    model = _model()
    _fit(_images(16), model, epochs=1, batch_size=16, callbacks=recorder)
    expected = 1 if keras.backend.backend() == "torch" else 16  # Keras's loop on PyTorch
    assert recorder.steps_per_execution == expected
    assert recorder.name == f"{model.name}_noisy_trainer"  # callbacks see the trainer


def test_more_than_one_step_per_execution_is_refused_up_front_on_pytorch_only():
    from keras_denoise._noisy_trainer import _check_steps_per_execution

    model = _model()
    if keras.backend.backend() != "torch":
        assert _check_steps_per_execution(4, model) == 4
        return
    assert _check_steps_per_execution(1, model) == 1
    # Keras refused it only once `fit` had started.
    with pytest.raises(ValueError, match=r"must be 1 on the PyTorch backend.*=4$"):
        _fit(_images(8), model, epochs=1, batch_size=2, steps_per_execution=4)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute only")
def test_a_mirrored_strategy_of_one_replica_keeps_the_multi_step_loop():
    # Only several replicas need one step per execution (the multi-step loop fails there).
    import tensorflow as tf

    from keras_denoise._noisy_trainer import _check_steps_per_execution

    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        model = _model()
    assert _check_steps_per_execution(None, model) == 16
    assert _check_steps_per_execution(4, model) == 4


def test_trainer_outputs_float32_for_a_half_precision_denoiser():
    # fit_denoising's policy reaches every layer of a user's model, the output layer included;
    # the trainer still hands float32 predictions to the loss.
    denoiser = keras.Sequential([keras.Input((8, 8, 1)),
                                 keras.layers.Dense(1, dtype="mixed_bfloat16")])
    trainer = NoisyTrainer(denoiser, seed=0)
    images = np.zeros((2, 8, 8, 1), "float32")
    assert keras.backend.standardize_dtype(denoiser(images).dtype) == "bfloat16"
    for training in (True, False):
        output = trainer(images, training=training)
        assert keras.backend.standardize_dtype(output.dtype) == "float32"


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_targets_stay_float32_under_a_global_mixed_policy(policy):
    # The loss compares float32 predictions with targets scaled in float32, not rounded to
    # the noise layer's compute dtype (77 / 255 is 0.30078 in bfloat16).
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        trainer = NoisyTrainer(_model(), seed=0)
    finally:
        keras.config.set_dtype_policy(previous)
    assert trainer.noise.compute_dtype == policy.removeprefix("mixed_")
    clean = np.full((2, 16, 16, 1), 77, "uint8")
    for targets in (trainer._targets(clean, None), trainer._targets(clean * 0, clean)):
        assert keras.backend.standardize_dtype(targets.dtype) == "float32"
        np.testing.assert_allclose(keras.ops.convert_to_numpy(targets), 77 / 255, rtol=1e-6)


def test_model_must_be_a_keras_model():
    with pytest.raises(TypeError, match="model"):
        fit_denoising("model", _images(8))


def test_trainer_config_holds_the_checked_values_as_python_numbers():
    trainer = NoisyTrainer(_model(), np.float32(0.25), clip=(np.int64(0), 1), seed=np.int64(3))
    config = trainer.get_config()
    assert [(config[name], type(config[name])) for name in ("noise_factor", "seed")] == [
        (0.25, float), (3, int)
    ]
    assert config["clip"] == (0.0, 1.0) and {type(bound) for bound in config["clip"]} == {float}
    assert (trainer.noise_factor, trainer.clip, trainer.seed) == (0.25, (0.0, 1.0), 3)


def test_trainer_names_its_denoiser_argument():
    with pytest.raises(TypeError, match="`denoiser` must be a keras.Model. Received: denoiser=3"):
        NoisyTrainer(3)


@pytest.mark.parametrize(
    ("seed", "error"), [(2**31, ValueError), (-1, ValueError), (0.5, TypeError)]
)
def test_training_noise_seed_range(seed, error):
    with pytest.raises(error, match=f"seed={seed!r}"):
        TrainingNoise(0.5, seed=seed)


def test_training_noise_takes_the_largest_seed():
    layer = TrainingNoise(0.5, seed=np.int64(2**31 - 1))
    assert layer.seed == 2**31 - 1 and type(layer.seed) is int
    noisy = layer(np.full((2, 4, 4, 1), 0.5, "float32"), training=True)
    assert keras.ops.convert_to_numpy(noisy).std() > 0.1


# Keras hands PyTorch permuted (non-contiguous) kernels, and PyTorch's CPU convolution
# fails on their gradient for a batch of one image: `fit_denoising` says so before training.
@pytest.mark.parametrize(("count", "batch_size"), [(9, 4), (3, 1)])
def test_a_batch_of_one_image(count, batch_size):
    images = _images(count)
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match=f"batch of one image.*batch_size={batch_size}"):
            fit_denoising(_model(), images, batch_size=batch_size, verbose=0)
    else:
        _, history = _fit(images, batch_size=batch_size, epochs=1)
        assert np.isfinite(history.history["loss"][-1])


class _RecordComputeDtypes(keras.callbacks.Callback):
    """Records, at every training batch, the compute dtype of a hidden layer of the denoiser."""

    def __init__(self):
        super().__init__()
        self.layer_dtypes = set()
        self.hidden_output_dtypes = set()
        self.output_layer_dtypes = set()

    def on_train_batch_end(self, batch, logs=None):
        layer = self.model.denoiser.get_layer("encoder_conv_1")  # `model` is the trainer
        self.layer_dtypes.add(layer.compute_dtype)
        hidden = layer(np.zeros((1, 16, 16, 1), "float32"))
        self.hidden_output_dtypes.add(keras.backend.standardize_dtype(hidden.dtype))
        self.output_layer_dtypes.add(self.model.denoiser.get_layer("output_conv").compute_dtype)


@pytest.mark.parametrize(("policy", "compute_dtype"),
                         [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16"),
                          (None, "float32")])
def test_mixed_precision_keeps_float32_weights_and_restores_policy(policy, compute_dtype):
    model = _model()
    recorder = _RecordComputeDtypes()
    keras.utils.set_random_seed(0)
    _, history = _fit(model=model, dtype_policy=policy, epochs=1, batch_size=16,
                      callbacks=[recorder])
    assert np.isfinite(history.history["loss"][-1])
    # The policy is applied while training, but for the output layers (as the Keras
    # mixed-precision guide advises, and as when the model is built with the policy) ...
    assert recorder.layer_dtypes == recorder.hidden_output_dtypes == {compute_dtype}
    assert recorder.output_layer_dtypes == {"float32"}
    # ... and restored after: float32 weights, layers and outputs.
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.dtype_policy.name == "float32"
    assert all(layer.compute_dtype == "float32" for layer in model.layers)
    output = model(np.zeros((1, 16, 16, 1), "float32"))
    assert keras.backend.standardize_dtype(output.dtype) == "float32"


@pytest.mark.slow
def test_mixed_precision_changes_the_trained_weights():
    # The compiled training step itself computes in bfloat16: training with the policy
    # ends far from the float32 run with the same seeds (float32 reruns agree exactly).
    runs = []
    for policy in ("mixed_bfloat16", None, None):
        keras.utils.set_random_seed(0)
        model, _ = _fit(dtype_policy=policy, epochs=1, batch_size=16)
        runs.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    np.testing.assert_array_equal(runs[1], runs[2])
    assert np.max(np.abs(runs[0] - runs[1])) > 1e-3


def test_cosine_schedule_decays_per_epoch_and_restores_the_learning_rate():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.002))
    _, history = _fit(model=model, epochs=4, learning_rate_schedule="cosine")
    expected = [0.002 * (1 + np.cos(np.pi * epoch / 4)) / 2 for epoch in range(4)]
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-6)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)


def test_cosine_schedule_shows_its_rate_to_the_callers_callbacks():
    # The scheduler ran after them: they saw the previous epoch's rate, and no rate in the logs.
    seen = []

    def rate(epoch, logs):
        seen.append(float(recorder.model.optimizer.learning_rate))

    recorder = keras.callbacks.LambdaCallback(
        on_epoch_begin=rate, on_epoch_end=lambda epoch, logs: seen.append(logs["learning_rate"])
    )
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.002))
    _fit(model=model, epochs=2, learning_rate_schedule="cosine", callbacks=[recorder])
    np.testing.assert_allclose(seen, [0.002, 0.002, 0.001, 0.001], rtol=1e-6)


def test_cosine_schedule_changes_training_and_none_keeps_the_rate():
    runs = {}
    for schedule in (None, "cosine"):
        keras.utils.set_random_seed(0)
        model, history = _fit(epochs=3, learning_rate_schedule=schedule)
        runs[schedule] = model.get_weights()
        if schedule is None:
            assert "learning_rate" not in history.history
    assert any(
        not np.allclose(a, b) for a, b in zip(runs[None], runs["cosine"], strict=True)
    )


def test_cosine_schedule_resumes_at_the_interrupted_epoch(tmp_path):
    model, history = _interrupt_then_resume(
        str(tmp_path / "backup"), learning_rate_schedule="cosine"
    )
    assert history.epoch == [2, 3]
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.0005, 0.001 * (1 + np.cos(0.75 * np.pi)) / 2],
        rtol=1e-6,
    )
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)


def test_cosine_schedule_refuses_an_optimizer_with_its_own_schedule():
    model = _model()
    decay = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=10)
    model.compile(optimizer=keras.optimizers.Adam(decay))
    with pytest.raises(ValueError, match="learning_rate_schedule='cosine'"):
        _fit(model=model, learning_rate_schedule="cosine")


ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


def _epoch(dataset):
    return [tuple(np.asarray(part) for part in keras.tree.flatten(batch)) for batch in dataset]


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the tf.data pipeline of the TensorFlow backend")
@pytest.mark.parametrize(("count", "batch_size"), [(10, 4), (12, 4), (3, 8)])
def test_tensorflow_batches_in_order_without_shuffle(count, batch_size):
    from keras_denoise._noisy_trainer import _tensorflow_batches

    images = np.arange(count * 4, dtype="uint8").reshape(count, 2, 2, 1)
    targets = images.astype("float32") / 2
    dataset = _tensorflow_batches((images, targets), batch_size)
    assert int(dataset.cardinality()) == -(-count // batch_size)
    batches = _epoch(dataset)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), images)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), targets)
    assert [len(b[0]) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)


def _orders(dataset, order, epochs):
    """The order of the images in each of `epochs`, told to `order` as `fit` would."""
    orders = []
    for epoch in epochs:
        order.on_epoch_begin(epoch)
        orders.append(np.concatenate([b[0] for b in _epoch(dataset)]).ravel())
    return orders


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the tf.data pipeline of the TensorFlow backend")
def test_tensorflow_batches_reshuffle_every_epoch_without_autotuning():
    import tensorflow as tf

    from keras_denoise._noisy_trainer import _EpochOrder, _tensorflow_batches

    images = np.arange(50, dtype="float32").reshape(50, 1, 1, 1)
    order = _EpochOrder(seed=0)
    dataset = _tensorflow_batches(images, 8, order=order)
    # Autotuning off: its thread made every new epoch's iterator wait up to a minute.
    options = dataset.options()
    assert options.autotune.enabled is False
    assert options.experimental_optimization.apply_default_optimizations is False
    # Several workers split the batches (the pipeline reads no files to split).
    assert options.experimental_distribute.auto_shard_policy == (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    orders = _orders(dataset, order, [0, 1])
    for epoch_order in orders:
        np.testing.assert_array_equal(np.sort(epoch_order), np.arange(50))
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], np.arange(50))


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the tf.data pipeline of the TensorFlow backend")
def test_epoch_order_without_a_seed_follows_the_global_seed():
    from keras_denoise._noisy_trainer import _EpochOrder

    seeds = []
    for global_seed in (1, 2, 1):
        keras.utils.set_random_seed(global_seed)
        seeds.append(_EpochOrder().seed)
    assert seeds[0] == seeds[2] != seeds[1]


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the tf.data pipeline of the TensorFlow backend")
def test_tensorflow_batches_order_is_a_function_of_seed_and_epoch():
    from keras_denoise._noisy_trainer import _EpochOrder, _tensorflow_batches

    images = np.arange(50, dtype="float32").reshape(50, 1, 1, 1)
    order = _EpochOrder(seed=3)
    first = _orders(_tensorflow_batches(images, 8, order=order), order, [0, 1, 2])
    # A new pipeline that starts at epoch 2 (a resumed run) sees epoch 2's order.
    again = _EpochOrder(seed=3)
    resumed = _orders(_tensorflow_batches(images, 8, order=again), again, [2, 0])
    np.testing.assert_array_equal(resumed[0], first[2])
    np.testing.assert_array_equal(resumed[1], first[0])
    other = _EpochOrder(seed=4)
    assert not np.array_equal(_orders(_tensorflow_batches(images, 8, order=other), other, [0])[0],
                              first[0])


def test_training_noise_saves_its_seed_state_with_its_weights(tmp_path):
    images = np.full((4, 8, 8, 1), 0.5, "float32")
    layer = TrainingNoise(0.5, seed=0)
    layer(images, training=True)  # advances the seed generator
    model = keras.Sequential([keras.Input((8, 8, 1)), layer])
    path = str(tmp_path / "noise.weights.h5")
    model.save_weights(path)
    expected = np.asarray(layer(images, training=True))

    restored = keras.Sequential([keras.Input((8, 8, 1)), TrainingNoise(0.5, seed=0)])
    restored.load_weights(path)
    np.testing.assert_array_equal(np.asarray(restored.layers[0](images, training=True)), expected)


def test_training_noise_loads_weights_saved_without_a_seed_state():
    # Files saved before the seed state was added hold no entry for it.
    layer = TrainingNoise(0.5, seed=0)
    state = keras.ops.convert_to_numpy(layer.seed_generator.state)
    layer.load_own_variables({})
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.seed_generator.state), state)


def _resumed_and_uninterrupted(tmp_path, **kwargs):
    keras.utils.set_random_seed(1)
    model, _ = _fit(epochs=4, **kwargs)
    keras.utils.set_random_seed(1)
    resumed, _ = _interrupt_then_resume(str(tmp_path / "backup"), **kwargs)
    return model.get_weights(), resumed.get_weights()


@pytest.mark.slow
def test_a_resumed_run_draws_the_noise_of_an_uninterrupted_one(tmp_path):
    # Without the seed state among the saved weights, epochs 3-4 redrew epochs 1-2's noise.
    for a, b in zip(*_resumed_and_uninterrupted(tmp_path, shuffle=False), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(not ON_TENSORFLOW, reason="elsewhere Keras's own pipeline draws the order")
def test_a_resumed_run_sees_the_order_of_an_uninterrupted_one(tmp_path):
    for a, b in zip(*_resumed_and_uninterrupted(tmp_path), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
