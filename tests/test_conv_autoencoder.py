import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import filter_stacks, image_shapes, invalid_conv_configs, latent_dims

import keras_denoise
from keras_denoise import ConvAutoencoder, GaussianNoise

# Output shapes of the reference tutorial model, layer by layer.
REFERENCE_SHAPES = [
    (None, 28, 28, 1),
    (None, 28, 28, 16),
    (None, 28, 28, 16),
    (None, 14, 14, 16),
    (None, 14, 14, 32),
    (None, 14, 14, 32),
    (None, 7, 7, 32),
    (None, 7, 7, 32),
    (None, 1568),
    (None, 128),
    (None, 1568),
    (None, 7, 7, 32),
    (None, 7, 7, 32),
    (None, 7, 7, 32),
    # The second and third transposed convolutions upsample their input by 2 themselves.
    (None, 14, 14, 32),
    (None, 14, 14, 32),
    (None, 28, 28, 16),
    (None, 28, 28, 1),
]


def _small(**kwargs):
    kwargs.setdefault("image_shape", (16, 16, 1))
    kwargs.setdefault("latent_dim", 8)
    return ConvAutoencoder(**kwargs)


def test_default_is_the_reference_architecture():
    model = ConvAutoencoder()
    assert model.count_params() == 440865
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 440641
    assert [tuple(layer.output.shape) for layer in model.layers] == REFERENCE_SHAPES
    assert model.input_shape == model.output_shape == (None, 28, 28, 1)
    assert model.encoder.output_shape == (None, 128)
    assert (model.encoder.name, model.decoder.name) == ("encoder", "decoder")
    assert model.decoder.input_shape == (None, 128)


def test_summary_shows_reference_shapes():
    lines = []
    ConvAutoencoder().summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert "440,865" in text
    for shape in ["(None, 14, 14, 16)", "(None, 7, 7, 32)", "(None, 1568)", "(None, 128)"]:
        assert shape in text


def test_encoder_and_decoder_share_weights_with_the_autoencoder():
    model = _small()
    ids = {id(v) for v in model.weights}
    assert {id(v) for v in model.encoder.weights} <= ids
    assert {id(v) for v in model.decoder.weights} <= ids
    images = np.random.default_rng(0).random((4, 16, 16, 1)).astype("float32")
    through = model.decode(model.encode(images))
    np.testing.assert_allclose(through, model.denoise(images), atol=1e-5)


@pytest.mark.parametrize(
    "image_shape", [(28, 28, 1), (16, 16, 3), (30, 22, 2), (5, 7, 1), (4, 4, 4)]
)
@pytest.mark.parametrize("latent_dim", [1, 32])
def test_output_shape_equals_input_shape(image_shape, latent_dim):
    model = ConvAutoencoder(image_shape=image_shape, latent_dim=latent_dim)
    assert model.output_shape == (None, *image_shape)
    images = np.random.default_rng(0).random((3, *image_shape)).astype("float32")
    out = model.denoise(images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert ((out >= 0) & (out <= 1)).all()
    assert model.encode(images).shape == (3, latent_dim)


@given(image_shape=image_shapes(), latent_dim=latent_dims, filters=filter_stacks())
@settings(max_examples=8)
def test_property_random_architectures_keep_the_shape(image_shape, latent_dim, filters):
    encoder_filters, decoder_filters = filters
    model = ConvAutoencoder(
        image_shape=image_shape,
        latent_dim=latent_dim,
        encoder_filters=encoder_filters,
        decoder_filters=decoder_filters,
    )
    assert model.output_shape == (None, *image_shape)
    restored = ConvAutoencoder.from_config(model.get_config())
    assert restored.get_config() == model.get_config()
    assert restored.count_params() == model.count_params()


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((16, 16), (16, 16)), ((16, 16, 1), (16, 16, 1)), ((5, 16, 16), (5, 16, 16)),
     ((5, 16, 16, 1), (5, 16, 16, 1))],
)
def test_denoise_keeps_the_callers_layout(shape, expected):
    assert _small().denoise(np.zeros(shape, "float32")).shape == expected


def test_denoise_accepts_uint8():
    model = _small()
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16), dtype=np.uint8)
    np.testing.assert_allclose(
        model.denoise(images), model.denoise(images.astype("float32") / 255), atol=1e-6
    )


def test_single_image_encode_and_decode():
    model = _small()
    latent = model.encode(np.zeros((16, 16, 1), "float32"))
    assert latent.shape == (8,)
    assert model.decode(latent).shape == (16, 16, 1)


@pytest.mark.parametrize(
    "shape", [(2, 12, 16, 1), (2, 20, 16, 1), (2, 16, 16, 3), (16, 12), (20, 16), (3, 16, 20)]
)
def test_denoise_rejects_images_the_model_was_not_built_for(shape):
    # Smaller and larger sides alike: the model's own error would not name the sizes.
    message = (
        r"`images` do not fit this model, which takes images of shape \(16, 16, 1\) with 1 "
        rf"channel\. Received: images with shape {re.escape(str(shape))}"
    )
    with pytest.raises(ValueError, match=message):
        _small().denoise(np.zeros(shape, "float32"))


def test_denoise_rejects_images_of_rank_5():
    with pytest.raises(ValueError, match=r"`images` must have between 2 and 4 dimensions"):
        _small().denoise(np.zeros((2, 16, 16, 16, 1), "float32"))


def test_decode_rejects_wrong_latent_size():
    with pytest.raises(ValueError, match="latents"):
        _small().decode(np.zeros((2, 7), "float32"))


@pytest.mark.parametrize("dtype", ["uint8", "int64"])
def test_decode_reads_integer_latents_as_numbers(dtype):
    # Not as 8-bit pixels: uint8 latents used to be divided by 255.
    model = _small()
    latents = np.eye(8, dtype=dtype)[:2]
    np.testing.assert_array_equal(model.decode(latents), model.decode(latents.astype("float32")))


@pytest.mark.parametrize(
    ("latents", "error", "match"),
    [
        (np.zeros((2, 8), bool), TypeError, "real numbers"),
        ([[0.0] * 8, [0.0] * 7], TypeError, "real numbers"),
        (np.zeros((2, 2, 8)), ValueError, r"shape \(2, 2, 8\)"),
        (np.full((1, 8), np.nan), ValueError, "NaN"),
        (np.full((1, 8), 1e39), ValueError, "infinite"),
        (np.zeros((0, 8)), ValueError, "non-empty"),
    ],
)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # 1e39 is refused without a cast warning
def test_decode_rejects_bad_latents(latents, error, match):
    with pytest.raises(error, match=rf"`latents`.*{match}"):
        _small().decode(latents)


@pytest.mark.parametrize("batch_size", [1, 3, 64, None])
@pytest.mark.parametrize("method", ["denoise", "encode", "decode"])
def test_methods_predict_in_batches_of_batch_size(method, batch_size):
    model, sizes = _small(), []
    network = {"denoise": model, "encode": model.encoder, "decode": model.decoder}[method]
    predict = network.predict

    def recording_predict(inputs, **kwargs):
        sizes.append(kwargs["batch_size"])
        return predict(inputs, **kwargs)

    network.predict = recording_predict
    shape = (5, model.latent_dim) if method == "decode" else (5, 16, 16, 1)
    inputs = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = np.asarray(predict(inputs, verbose=0))
    options = {} if batch_size is None else {"batch_size": batch_size}  # None: the default, 64
    result = getattr(model, method)(inputs, **options)
    np.testing.assert_allclose(result, expected, atol=1e-6)
    assert sizes == [batch_size or 64]


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])
def test_denoise_rejects_bad_batch_size(batch_size):
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        _small().denoise(np.zeros((2, 16, 16)), batch_size=batch_size)


@pytest.mark.parametrize("method", ["denoise", "encode", "decode"])
def test_batch_size_has_a_maximum(method):
    inputs = np.zeros((2, 8) if method == "decode" else (2, 16, 16), "float32")
    message = r"`batch_size` must be at most 1048576\. Received: batch_size=1048577"
    with pytest.raises(ValueError, match=message):
        getattr(_small(), method)(inputs, batch_size=2**20 + 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"latent_dim": -3}, ValueError, "latent_dim"),
        ({"latent_dim": 2.0}, TypeError, "latent_dim"),
        ({"latent_dim": True}, TypeError, "latent_dim"),
        ({"latent_dim": 10**6}, ValueError, r"at most 65536\. Received: latent_dim=1000000$"),
        ({"image_shape": (3, 28, 1)}, ValueError, "image_shape"),
        ({"image_shape": (28, 28)}, ValueError, "image_shape"),
        ({"image_shape": (28, 28, 0)}, ValueError, "image_shape"),
        ({"image_shape": (28.0, 28, 1)}, TypeError, "image_shape"),
        ({"image_shape": (100000, 28, 1)}, ValueError, "image_shape"),
        ({"image_shape": "28x28"}, TypeError, "image_shape"),
        ({"image_shape": 28}, TypeError, r"must be a tuple .*Received: image_shape=28$"),
        ({"image_shape": None}, TypeError, "image_shape=None"),
        ({"image_shape": (28, 28, 1, 1)}, ValueError,
         r"must be a tuple \(height, width, channels\)\. Received: image_shape=\(28, 28, 1, 1\)$"),
        ({"encoder_filters": (16, 0, 32)}, ValueError, "encoder_filters"),
        ({"encoder_filters": 16}, TypeError, "encoder_filters"),
        ({"encoder_filters": ()}, ValueError, "encoder_filters"),
        ({"decoder_filters": (32, 16)}, ValueError, "decoder_filters"),
        ({"decoder_filters": (32, 32, 10**6)}, ValueError, "decoder_filters"),
        ({"kernel_size": 0}, ValueError, "kernel_size"),
        ({"kernel_size": 16}, ValueError, r"at most 15\. Received: kernel_size=16$"),
        ({"activation": "not_an_activation"}, ValueError, "activation"),
        ({"latent_activation": 3}, TypeError, "latent_activation"),
        ({"output_activation": "nope"}, ValueError, "output_activation"),
        ({"batch_norm": "yes"}, TypeError, "batch_norm"),
        ({"image_shape": (8192, 8192, 1), "latent_dim": 4096}, ValueError, "latent_dim"),
        ({"encoder_filters": (4096, 4096), "decoder_filters": (4096, 4096), "kernel_size": 15},
         ValueError, r"more than 2\*\*28.*kernel_size=15"),
        # The decoder's convolutions alone hold 4.2e8 weights.
        ({"encoder_filters": (1, 1), "decoder_filters": (4096, 4096), "kernel_size": 5},
         ValueError, r"more than 2\*\*28.*kernel_size=5"),
        # A 513x513 code (1025 pooled once, rounded up) of one channel: 2**28 + 1025 * 2**10
        # weights per Dense layer; 512x512 would be exactly 2**28.
        ({"image_shape": (1025, 1025, 1), "latent_dim": 1024, "encoder_filters": (1, 1),
          "decoder_filters": (1, 1)}, ValueError, r"513x513x1 features x 1024 latent units"),
        ({"dtype": "int32"}, ValueError, "Received: dtype='int32'"),
        ({"dtype": "float33"}, ValueError,
         r"floating-point dtype policy, such as 'float32' or 'mixed_bfloat16'\. "
         r"Received: dtype='float33'$"),
        ({"dtype": "int8_from_float32"}, ValueError, "floating-point dtype policy"),
        ({"trainable": "no"}, TypeError, "Received: trainable='no'"),
        ({"trainable": 0}, TypeError, "trainable"),
    ],
)
def test_bad_hyperparameters_raise_before_building(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConvAutoencoder(**kwargs)


def test_default_dtype_is_the_global_policy():
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=2)
    finally:
        keras.config.set_dtype_policy(before)
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("latent").compute_dtype == "bfloat16"


def test_misspelled_keywords_are_refused():
    # keras.Model itself would ignore them, and the model would build with the defaults.
    match = r"unexpected keyword arguments: latentdim\..*Received: latentdim=3"
    with pytest.raises(TypeError, match=match):
        ConvAutoencoder(latentdim=3)


def test_keras_model_keywords_are_accepted():
    model = ConvAutoencoder(name="frozen", trainable=False)
    assert model.name == "frozen" and not model.trainable


def test_error_message_echoes_the_value():
    with pytest.raises(ValueError, match=r"Received: latent_dim=0"):
        ConvAutoencoder(latent_dim=0)


def test_batch_norm_off_and_other_activations():
    model = _small(batch_norm=False, latent_activation="linear", output_activation="linear")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert model.get_layer("latent").activation.__name__ == "linear"


def test_kernel_size_and_activations_reach_every_layer():
    model = _small(kernel_size=5, activation="elu", latent_activation="tanh",
                   output_activation="linear")
    hidden = ["encoder_conv_1", "encoder_conv_2", "encoder_conv_3", "decoder_dense",
              "decoder_conv_1", "decoder_conv_2", "decoder_conv_3"]
    activations = {layer.name: layer.activation.__name__
                   for layer in model.layers if hasattr(layer, "activation")}
    assert activations == {**dict.fromkeys(hidden, "elu"), "latent": "tanh",
                           "output_conv": "linear"}
    kernels = {layer.name: layer.kernel_size
               for layer in model.layers if hasattr(layer, "kernel_size")}
    assert kernels == dict.fromkeys(
        [name for name in hidden if "conv" in name] + ["output_conv"], (5, 5)
    )


@pytest.mark.parametrize(
    ("image_shape", "padded"), [((15, 13, 1), (16, 16)), ((14, 17, 2), (16, 20))]
)
def test_inner_padding_is_cropped_where_it_was_added(image_shape, padded):
    # Padded up to a multiple of 4, split evenly; the crop must take the same rows and
    # columns back off, or the output would be shifted against the input.
    model = ConvAutoencoder(image_shape=image_shape, latent_dim=4)
    padding = model.get_layer("pad").padding
    assert model.get_layer("crop").cropping == padding
    assert [before + after for before, after in padding] == [
        padded[0] - image_shape[0], padded[1] - image_shape[1]]
    assert all(after - before in (0, 1) for before, after in padding)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_outputs_float32_when_padded(policy):
    # The crop after the output layer must compute in float32 too.
    model = ConvAutoencoder(image_shape=(15, 13, 1), latent_dim=4, dtype=policy)
    images = np.random.default_rng(0).random((2, 15, 13, 1)).astype("float32")
    assert keras.backend.standardize_dtype(model(images).dtype) == "float32"
    assert model.get_layer("crop").compute_dtype == "float32"
    # The output layer itself computes in float32, as the mixed-precision guide advises.
    assert model.get_layer("output_conv").compute_dtype == "float32"
    assert model.get_layer("latent").compute_dtype == policy.removeprefix("mixed_")


def test_output_layer_names_are_the_layers_that_stay_float32():
    # `fit_denoising(dtype_policy=...)` leaves these layers in float32, as here.
    model = ConvAutoencoder(image_shape=(15, 13, 1), latent_dim=4, dtype="mixed_bfloat16")
    float32 = {
        layer.name
        for layer in model._flatten_layers(include_self=False)
        if layer.compute_dtype == "float32"
        and not isinstance(layer, (keras.Model, keras.layers.InputLayer))
    }
    assert float32 == set(ConvAutoencoder._OUTPUT_LAYER_NAMES) == {"output_conv", "crop"}


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_encode_and_decode_give_float32(policy):
    # The latent layer computes in half precision; the NumPy results are float32 all the same.
    model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=4, dtype=policy)
    latents = model.encode(np.random.default_rng(0).random((3, 8, 8)))
    assert latents.dtype == np.float32 and latents.shape == (3, 4)
    assert model.decode(latents).dtype == np.float32


def test_config_round_trip_holds_primitives_only():
    # A NumPy bool (from an array of options, say) is taken, and saved as a Python bool.
    model = _small(encoder_filters=(8, 8), decoder_filters=(8, 4), batch_norm=np.False_,
                   kernel_size=5, activation="elu", latent_activation="tanh",
                   output_activation="linear", name="tiny")
    config = model.get_config()
    assert config["name"] == "tiny" and config["batch_norm"] is False
    assert config["image_shape"] == [16, 16, 1] and config["encoder_filters"] == [8, 8]
    assert (config["decoder_filters"], config["kernel_size"]) == ([8, 4], 5)
    assert [config[key] for key in ("activation", "latent_activation", "output_activation")] == [
        "elu", "tanh", "linear"]

    def primitive(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and primitive(v) for k, v in value.items())
        if isinstance(value, list):
            return all(primitive(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str))

    assert primitive(config)
    restored = ConvAutoencoder.from_config(config)
    assert restored.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(restored, ConvAutoencoder) and restored.get_config() == config


def test_registered_under_the_package_name():
    assert keras.saving.get_registered_name(ConvAutoencoder) == "keras_denoise>ConvAutoencoder"


def assert_plain_adam(optimizer):
    """Adam, not AdamW, which subclasses it (on PyTorch, Keras's Adam is itself a subclass)."""
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert not isinstance(optimizer, keras.optimizers.AdamW)


def test_compile_defaults_to_adam_and_binary_crossentropy():
    model = _small()
    model.compile()
    assert_plain_adam(model.optimizer)
    assert model.loss == "binary_crossentropy"
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.SGD)


def test_compile_with_optimizer_none_gives_the_default_adam():
    # `None` means the model's default, as for `UNetDenoiser`; Keras itself would leave
    # the model without an optimizer, which `fit_denoising` then failed on.
    model = _small()
    model.compile(optimizer=None)
    assert_plain_adam(model.optimizer)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    images = np.random.default_rng(0).random((32, 16, 16, 1), dtype="float32")
    history = model.fit_denoising(images, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_not_compiled_on_construction():
    assert not _small().compiled


def test_save_and_load_give_identical_predictions(tmp_path):
    model = _small(image_shape=(12, 20, 3))
    model.compile()
    images = np.random.default_rng(0).random((8, 12, 20, 3)).astype("float32")
    model.fit(images, images, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras_denoise.load_model(path)
    assert isinstance(restored, ConvAutoencoder)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.denoise(images), model.denoise(images))
    np.testing.assert_array_equal(restored.encode(images), model.encode(images))
    assert isinstance(restored.optimizer, keras.optimizers.Adam)
    assert restored.loss == "binary_crossentropy"
    restored.fit(images, images, epochs=1, verbose=0)


def test_load_in_a_fresh_process_gives_identical_predictions(tmp_path):
    model = _small()
    images = np.random.default_rng(1).random((5, 16, 16, 1)).astype("float32")
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", model.denoise(images))
    script = textwrap.dedent(
        f"""
        import numpy as np, keras_denoise
        model = keras_denoise.load_model({str(tmp_path / "model.keras")!r})
        out = model.denoise(np.load({str(tmp_path / "images.npy")!r}))
        np.save({str(tmp_path / "actual.npy")!r}, out)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    np.testing.assert_array_equal(
        np.load(tmp_path / "actual.npy"), np.load(tmp_path / "expected.npy")
    )


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
@given(channels=st.sampled_from([1, 3]))
@settings(max_examples=2)
def test_denoise_dtypes(dtype, channels):
    model = ConvAutoencoder(image_shape=(8, 8, channels), latent_dim=2)
    scale = 255 if dtype == "uint8" else 1
    images = np.random.default_rng(0).random((2, 8, 8, channels)) * scale
    out = model.denoise(images.astype(dtype))
    assert out.dtype == np.float32 and out.shape == (2, 8, 8, channels)


@pytest.mark.slow
def test_short_training_on_the_sample_lifts_psnr_well_above_the_noisy_input():
    from keras_denoise.datasets import load_sample_digits
    from keras_denoise.metrics import psnr

    x_train, x_test = load_sample_digits()
    model = ConvAutoencoder()
    model.compile()
    model.fit_denoising(x_train, noise_factor=0.5, epochs=8, seed=0, verbose=0)
    noisy, clean = GaussianNoise(0.5, seed=1).pairs(x_test)
    noisy_psnr, denoised_psnr = psnr(clean, noisy), psnr(clean, model.denoise(noisy))
    assert noisy_psnr == pytest.approx(9.4, abs=0.3)
    assert denoised_psnr > noisy_psnr + 3.5


@given(case=invalid_conv_configs())
@settings(max_examples=60)
def test_property_every_invalid_configuration_raises_naming_the_argument(case):
    key, config = case
    with pytest.raises((ValueError, TypeError), match=key):
        ConvAutoencoder(**config)
