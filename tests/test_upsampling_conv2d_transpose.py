"""`UpsamplingConv2DTranspose` computes what `UpSampling2D(2)` then `Conv2DTranspose` compute."""

import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder
from keras_denoise import _upsampling_conv2d_transpose as module
from keras_denoise._upsampling_conv2d_transpose import UpsamplingConv2DTranspose

BACKEND = keras.backend.backend()
ON_TENSORFLOW = BACKEND == "tensorflow"
# (input shape, filters, kernel size): square and odd-sided inputs, one to many channels.
CASES = [
    ((2, 5, 6, 3), 4, 3),
    ((3, 7, 7, 8), 2, 3),
    ((2, 4, 5, 1), 1, 5),
    ((1, 6, 3, 4), 3, (3, 5)),
    ((2, 3, 4, 2), 5, 1),
]


@pytest.fixture(params=["stride-2", "upsample-then-convolve"])
def form(request, monkeypatch):
    """Run a test with each form on the current backend (the stride-2 one forced on)."""
    fused = request.param == "stride-2"
    monkeypatch.setattr(module, "_FUSED_BACKENDS", (BACKEND,) if fused else ())
    return request.param


def pair(shape, filters, kernel_size, **options):
    """Keras's two layers and the fused one, built for `shape` with the same weights."""
    reference = keras.layers.Conv2DTranspose(filters, kernel_size, padding="same", **options)
    layer = UpsamplingConv2DTranspose(filters, kernel_size, **options)
    height = 2 if options.get("data_format") == "channels_first" else 1
    upsampled = tuple(2 * side if axis in (height, height + 1) else side
                      for axis, side in enumerate(shape))
    reference.build(upsampled)
    layer.build(shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    layer.set_weights(weights)
    return reference, layer


def upsample_then(reference, images):
    return reference(keras.layers.UpSampling2D(2, data_format=reference.data_format)(images))


def inputs_for(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


def as_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def test_tap_matrix_of_a_3x3_kernel():
    # Output 2i reads x[i-1] through tap 2 and x[i] through taps 0 and 1; output 2i+1 reads
    # x[i] through taps 1 and 2 and x[i+1] through tap 0.
    expected = [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    np.testing.assert_array_equal(module._tap_matrix(3), expected)


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7, 15])
def test_tap_matrix_uses_every_tap_once_per_output_phase(kernel_size):
    matrix = module._tap_matrix(kernel_size)
    assert matrix.shape == (kernel_size + 1, kernel_size)
    np.testing.assert_array_equal(matrix.sum(axis=0), 2.0)
    # Even stride-2 taps serve one output phase, odd taps the other.
    np.testing.assert_array_equal(matrix[0::2].sum(axis=0), 1.0)
    np.testing.assert_array_equal(matrix[1::2].sum(axis=0), 1.0)


@pytest.mark.parametrize(("shape", "filters", "kernel_size"), CASES)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_outputs_match_keras(form, shape, filters, kernel_size, activation, use_bias):
    reference, layer = pair(shape, filters, kernel_size, activation=activation, use_bias=use_bias)
    images = inputs_for(shape)
    expected = as_numpy(upsample_then(reference, images))
    actual = as_numpy(layer(images))
    assert actual.shape == expected.shape == (shape[0], 2 * shape[1], 2 * shape[2], filters)
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel_size", [2, 4, (3, 2)])
def test_even_kernel_sides_match_keras(form, kernel_size):
    reference, layer = pair((2, 5, 4, 3), 2, kernel_size)
    images = inputs_for((2, 5, 4, 3))
    expected = as_numpy(upsample_then(reference, images))
    np.testing.assert_allclose(as_numpy(layer(images)), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="gradients taken with tf.GradientTape")
@pytest.mark.parametrize(("shape", "filters", "kernel_size"), CASES)
def test_gradients_match_keras(form, shape, filters, kernel_size):
    import tensorflow as tf

    reference, layer = pair(shape, filters, kernel_size)
    images = tf.Variable(inputs_for(shape))
    weights = tf.constant(
        np.random.default_rng(2)
        .normal(size=(shape[0], 2 * shape[1], 2 * shape[2], filters))
        .astype("float32")
    )
    gradients = []
    for forward, conv in ((lambda x: upsample_then(reference, x), reference), (layer, layer)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(forward(images) * weights)
        gradients.append(tape.gradient(loss, [images, conv.kernel, conv.bias]))
    for expected, actual in zip(*gradients, strict=True):
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=1e-4, rtol=1e-4)


def test_mixed_precision_matches_keras_within_the_dtype(form):
    shape = (2, 6, 6, 8)
    reference, layer = pair(shape, 4, 3, dtype="mixed_bfloat16")
    images = inputs_for(shape)
    actual = layer(images)
    assert keras.backend.standardize_dtype(actual.dtype) == "bfloat16"
    expected = as_numpy(upsample_then(reference, images)).astype("float32")
    np.testing.assert_allclose(as_numpy(actual).astype("float32"), expected, atol=0.1, rtol=0.02)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="JAX and PyTorch compute float64 in float32 here")
def test_float64_matches_keras_in_float64(form):
    # The stride-2 kernel was summed in float32: errors of 1e-7 instead of 1e-15.
    shape = (2, 5, 6, 3)
    reference, layer = pair(shape, 4, 3, dtype="float64")
    images = np.random.default_rng(0).random(shape)
    actual = as_numpy(layer(images))
    assert actual.dtype == np.float64
    expected = reference(keras.layers.UpSampling2D(2, dtype="float64")(images))
    np.testing.assert_allclose(actual, as_numpy(expected), atol=1e-12, rtol=1e-12)


def test_channels_first_matches_keras(form):
    reference, layer = pair((2, 3, 5, 6), 4, 3, data_format="channels_first")
    images = inputs_for((2, 3, 5, 6))
    outputs = as_numpy(layer(images))
    assert outputs.shape == (2, 4, 10, 12)
    np.testing.assert_allclose(
        outputs, as_numpy(upsample_then(reference, images)), atol=1e-4, rtol=1e-5
    )


def test_symbolic_output_shape():
    layer = UpsamplingConv2DTranspose(6, 3)
    assert layer.compute_output_shape((None, 7, None, 2)) == (None, 14, None, 6)
    outputs = layer(keras.Input((5, 9, 2)))
    assert tuple(outputs.shape) == (None, 10, 18, 6)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the stride-2 form is the default on TensorFlow")
def test_uses_one_strided_transposed_convolution_on_tensorflow(operation_types):
    kinds = operation_types(UpsamplingConv2DTranspose(2, 3), 4)
    assert "Conv2DBackpropInput" in kinds
    # No upsampled copy of the input is made.
    assert not kinds & {"Tile", "ResizeNearestNeighbor"}


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the stride-2 form is the default on TensorFlow")
def test_even_kernels_upsample_first_on_tensorflow(operation_types):
    kinds = operation_types(UpsamplingConv2DTranspose(2, 2), 4)
    assert kinds & {"Tile", "ResizeNearestNeighbor"}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"strides": 2}, r"`strides` must be \(1, 1\).*Received: strides=2"),
        ({"padding": "valid"}, r"`padding` must be 'same'.*Received: padding='valid'"),
        ({"dilation_rate": 2}, r"`dilation_rate` must be \(1, 1\).*Received: dilation_rate=2"),
    ],
    ids=["strides", "padding", "dilation"],
)
def test_rejects_options_the_layer_fixes(options, match):
    with pytest.raises(ValueError, match=match):
        UpsamplingConv2DTranspose(2, 3, **options)


def test_config_round_trip():
    layer = UpsamplingConv2DTranspose(3, 5, activation="relu", use_bias=False, name="up")
    config = layer.get_config()
    reference_config = keras.layers.Conv2DTranspose(
        3, 5, padding="same", activation="relu", use_bias=False, name="up"
    ).get_config()
    assert config == reference_config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is UpsamplingConv2DTranspose
    assert restored.get_config() == config


def test_initial_weights_follow_the_seed_as_keras_layers_do():
    keras.utils.set_random_seed(7)
    layer = UpsamplingConv2DTranspose(4, 3)
    layer.build((None, 5, 5, 2))
    keras.utils.set_random_seed(7)
    reference = keras.layers.Conv2DTranspose(4, 3, padding="same")
    reference.build((None, 10, 10, 2))
    for actual, expected in zip(layer.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_conv_autoencoder_upsamples_in_its_decoder_convolutions():
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4)
    kinds = [type(model.get_layer(f"decoder_conv_{index}")) for index in (1, 2, 3)]
    assert kinds == [
        keras.layers.Conv2DTranspose,
        UpsamplingConv2DTranspose,
        UpsamplingConv2DTranspose,
    ]
    assert not any(isinstance(layer, keras.layers.UpSampling2D) for layer in model.layers)
    assert model.get_layer("decoder_conv_3").output.shape[1:3] == (16, 16)
