"""`FusedBatchNormalization` computes what `keras.layers.BatchNormalization` computes."""

import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, UNetDenoiser
from keras_denoise._fused_batch_normalization import FusedBatchNormalization

ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
SHAPES = [(2, 2, 2, 3), (4, 5, 3, 1), (3, 16, 16, 8)]


def pair(shape, **kwargs):
    """A Keras layer and a fused one, built for `shape` with the same (random) weights."""
    reference = keras.layers.BatchNormalization(**kwargs)
    fused = FusedBatchNormalization(**kwargs)
    reference.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    fused.set_weights(weights)
    return reference, fused


def inputs_for(shape, seed=0):
    return np.random.default_rng(seed).normal(3.0, 2.0, shape).astype("float32")


def as_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def assert_weights_close(first, second, atol):
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "options",
    [{}, {"momentum": 0.5}, {"center": False}, {"scale": False}, {"epsilon": 1e-2}],
    ids=["defaults", "momentum", "no-center", "no-scale", "epsilon"],
)
def test_training_steps_match_keras(shape, options):
    reference, fused = pair(shape, **options)
    for seed in range(3):
        images = inputs_for(shape, seed)
        expected = as_numpy(reference(images, training=True))
        np.testing.assert_allclose(
            as_numpy(fused(images, training=True)), expected, atol=2e-5, rtol=1e-5
        )
    # The moving statistics followed the same (biased) batch variances.
    assert_weights_close(reference, fused, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_inference_matches_keras(shape):
    reference, fused = pair(shape)
    images = inputs_for(shape)
    np.testing.assert_allclose(
        as_numpy(fused(images, training=False)), as_numpy(reference(images)), atol=2e-5, rtol=1e-5
    )


def test_a_frozen_layer_normalizes_with_its_moving_statistics_in_training():
    # As in Keras: `trainable=False` runs the layer in inference mode, even in training.
    shape = (4, 5, 3, 2)
    reference, fused = pair(shape)
    reference.trainable = fused.trainable = False
    before = fused.get_weights()
    images = inputs_for(shape)
    expected = as_numpy(reference(images, training=True))
    np.testing.assert_allclose(as_numpy(fused(images, training=True)), expected, atol=2e-5)
    np.testing.assert_allclose(expected, as_numpy(reference(images, training=False)))
    for weight, saved in zip(fused.get_weights(), before, strict=True):
        np.testing.assert_array_equal(weight, saved)


def test_moving_variance_is_the_biased_batch_variance():
    # 8 values per channel: the Bessel factor 8/7 would show plainly.
    layer = FusedBatchNormalization(momentum=0.0)
    images = inputs_for((2, 2, 2, 3))
    layer(images, training=True)
    np.testing.assert_allclose(
        as_numpy(layer.moving_variance), images.var(axis=(0, 1, 2)), rtol=1e-5
    )
    np.testing.assert_allclose(as_numpy(layer.moving_mean), images.mean(axis=(0, 1, 2)), rtol=1e-5)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="gradients taken with tf.GradientTape")
@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_match_keras(shape):
    import tensorflow as tf

    reference, fused = pair(shape)
    images = tf.Variable(inputs_for(shape))
    weights = tf.constant(np.random.default_rng(2).normal(size=shape).astype("float32"))
    gradients = []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(images, training=True) * weights)
        gradients.append(tape.gradient(loss, [images, layer.gamma, layer.beta]))
    for expected, actual in zip(*gradients, strict=True):
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the fused kernel is TensorFlow's")
@pytest.mark.parametrize("training", [True, False])
def test_uses_the_fused_kernel_on_tensorflow(training):
    import tensorflow as tf

    layer = FusedBatchNormalization()
    spec = tf.TensorSpec((None, 6, 6, 4), "float32")
    graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(spec).graph
    kinds = {operation.type for operation in graph.get_operations()}
    assert "FusedBatchNormV3" in kinds
    assert "Mean" not in kinds  # not the composite of moments and element-wise operations


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the fused kernel is TensorFlow's")
@pytest.mark.parametrize(
    "options", [{"renorm": True}, {"synchronized": True}, {"epsilon": 1e-6}],
    ids=["renorm", "synchronized", "tiny-epsilon"],
)
def test_falls_back_to_keras_where_the_kernel_does_not_apply(options):
    import tensorflow as tf

    layer = FusedBatchNormalization(**options)
    spec = tf.TensorSpec((None, 6, 6, 4), "float32")
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(spec).graph
    assert "FusedBatchNormV3" not in {operation.type for operation in graph.get_operations()}


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the fused kernel is TensorFlow's")
def test_float64_matches_keras():
    # TensorFlow's fused kernel takes no float64: the layer must fall back to Keras.
    shape = (3, 4, 4, 2)
    reference, fused = pair(shape, dtype="float64")
    images = inputs_for(shape).astype("float64")
    np.testing.assert_allclose(as_numpy(fused(images, training=True)),
                               as_numpy(reference(images, training=True)), atol=1e-10)
    assert_weights_close(reference, fused, atol=1e-10)


def test_a_mask_selects_the_pixels_of_the_statistics_as_in_keras():
    shape = (3, 4, 4, 2)
    reference, fused = pair(shape)
    images = inputs_for(shape)
    mask = np.random.default_rng(2).random(shape[:-1]) < 0.5
    np.testing.assert_allclose(as_numpy(fused(images, training=True, mask=mask)),
                               as_numpy(reference(images, training=True, mask=mask)),
                               atol=1e-5)
    assert_weights_close(reference, fused, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5)])
def test_other_ranks_match_keras(shape):
    reference, fused = pair(shape)
    images = inputs_for(shape)
    np.testing.assert_allclose(
        as_numpy(fused(images, training=True)),
        as_numpy(reference(images, training=True)),
        atol=1e-5,
    )
    assert_weights_close(reference, fused, atol=1e-6)


def test_channels_first_axis_matches_keras():
    shape = (3, 4, 5, 5)
    reference, fused = pair(shape, axis=1)
    images = inputs_for(shape)
    np.testing.assert_allclose(
        as_numpy(fused(images, training=True)),
        as_numpy(reference(images, training=True)),
        atol=1e-5,
    )


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_matches_keras_within_the_dtype(policy):
    shape = (4, 8, 8, 3)
    reference, fused = pair(shape, dtype=policy)
    images = inputs_for(shape)
    expected = as_numpy(reference(images, training=True)).astype("float32")
    actual = fused(images, training=True)
    assert keras.backend.standardize_dtype(actual.dtype) == policy.removeprefix("mixed_")
    np.testing.assert_allclose(as_numpy(actual).astype("float32"), expected, atol=0.05)
    assert_weights_close(reference, fused, atol=1e-2)


def test_config_round_trip():
    layer = FusedBatchNormalization(momentum=0.9, epsilon=1e-4, center=False, name="bn")
    config = layer.get_config()
    reference_config = keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-4, center=False, name="bn"
    ).get_config()
    assert config == reference_config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is FusedBatchNormalization
    assert restored.get_config() == config


@pytest.mark.parametrize(
    "model",
    [lambda: ConvAutoencoder(), lambda: UNetDenoiser(filters=(4, 8), batch_norm=True)],
    ids=["ConvAutoencoder", "UNetDenoiser"],
)
def test_models_normalize_with_the_fused_layer(model):
    normalizers = [
        layer for layer in model().layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert normalizers
    assert all(type(layer) is FusedBatchNormalization for layer in normalizers)
