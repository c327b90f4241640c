"""`FewFiltersConv2D` computes what `keras.layers.Conv2D` computes."""

import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder
from keras_denoise._few_filters_conv2d import FewFiltersConv2D

ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
# (input shape, filters): one, three (RGB) and four filters, on few and many channels.
CASES = [((2, 6, 5, 16), 1), ((3, 9, 9, 4), 3), ((2, 7, 8, 1), 1), ((1, 5, 6, 32), 4)]


def pair(shape, filters, **options):
    """A Keras `Conv2D` and a `FewFiltersConv2D`, built for `shape` with the same weights."""
    reference = keras.layers.Conv2D(filters, 3, **options)
    layer = FewFiltersConv2D(filters, 3, **options)
    reference.build(shape)
    layer.build(shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    layer.set_weights(weights)
    return reference, layer


def inputs_for(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


def as_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


@pytest.mark.parametrize(("shape", "filters"), CASES)
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("activation", [None, "sigmoid"])
def test_outputs_match_keras(shape, filters, padding, activation):
    reference, layer = pair(shape, filters, padding=padding, activation=activation)
    images = inputs_for(shape)
    expected = as_numpy(reference(images))
    actual = as_numpy(layer(images))
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="gradients taken with tf.GradientTape")
@pytest.mark.parametrize(("shape", "filters"), CASES)
def test_gradients_match_keras(shape, filters):
    import tensorflow as tf

    reference, layer = pair(shape, filters, padding="same")
    images = tf.Variable(inputs_for(shape))
    weights = tf.constant(
        np.random.default_rng(2).normal(size=shape[:3] + (filters,)).astype("float32")
    )
    gradients = []
    for conv in (reference, layer):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(conv(images) * weights)
        gradients.append(tape.gradient(loss, [images, conv.kernel, conv.bias]))
    for expected, actual in zip(*gradients, strict=True):
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the depthwise form is used on TensorFlow only")
def test_uses_a_depthwise_convolution_on_tensorflow(operation_types):
    kinds = operation_types(FewFiltersConv2D(1, 3, padding="same"), 16)
    assert "DepthwiseConv2dNative" in kinds
    assert "Conv2D" not in kinds


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the depthwise form is used on TensorFlow only")
@pytest.mark.parametrize(
    "options",
    [{"filters": 5}, {"filters": 1, "strides": 2}, {"filters": 1, "dilation_rate": 2}],
    ids=["many-filters", "strided", "dilated"],
)
def test_falls_back_to_keras_where_the_depthwise_form_does_not_apply(operation_types, options):
    kinds = operation_types(FewFiltersConv2D(kernel_size=3, padding="same", **options), 16)
    assert "DepthwiseConv2dNative" not in kinds
    assert "Conv2D" in kinds


@pytest.mark.parametrize(
    "options",
    [{"strides": 2}, {"filters": 6}, {"filters": 3, "groups": 3}],
    ids=["strided", "wide", "grouped"],
)
def test_fallbacks_match_keras(options):
    shape = (2, 8, 8, 3)
    settings = {"filters": 1, "padding": "same", **options}
    filters = settings.pop("filters")
    reference, layer = pair(shape, filters, **settings)
    images = inputs_for(shape)
    np.testing.assert_allclose(as_numpy(layer(images)), as_numpy(reference(images)), atol=1e-5)


def test_channels_first_matches_keras():
    shape = (2, 3, 8, 8)
    reference, layer = pair(shape, 1, padding="same", data_format="channels_first")
    images = inputs_for(shape)
    actual = as_numpy(layer(images))
    assert actual.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(actual, as_numpy(reference(images)), atol=1e-5)


def test_mixed_precision_matches_keras_within_the_dtype():
    shape = (2, 8, 8, 8)
    reference, layer = pair(shape, 1, padding="same", dtype="mixed_bfloat16")
    images = inputs_for(shape)
    actual = layer(images)
    assert keras.backend.standardize_dtype(actual.dtype) == "bfloat16"
    expected = as_numpy(reference(images)).astype("float32")
    np.testing.assert_allclose(as_numpy(actual).astype("float32"), expected, atol=0.1, rtol=0.02)


def test_config_round_trip():
    layer = FewFiltersConv2D(3, 5, padding="same", activation="sigmoid", name="output")
    config = layer.get_config()
    reference_config = keras.layers.Conv2D(
        3, 5, padding="same", activation="sigmoid", name="output"
    ).get_config()
    assert config == reference_config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is FewFiltersConv2D
    assert restored.get_config() == config


def test_conv_autoencoder_outputs_through_the_layer():
    model = ConvAutoencoder(image_shape=(16, 16, 3), latent_dim=4)
    output = model.get_layer("output_conv")
    assert type(output) is FewFiltersConv2D
    assert output.filters == 3
