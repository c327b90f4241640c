import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, ConvMuon, UNetDenoiser, load_model


def _kernel(layer, input_shape):
    layer.build(input_shape)
    return layer.kernel


def _one_step(optimizer, variables, rng):
    """Apply one step of random gradients; return the gradients and each variable's move."""
    before = [keras.ops.convert_to_numpy(v).copy() for v in variables]
    gradients = [rng.standard_normal(v.shape).astype("float32") for v in variables]
    optimizer.apply_gradients(zip(gradients, variables, strict=True))
    moves = [b - keras.ops.convert_to_numpy(v) for b, v in zip(before, variables, strict=True)]
    return gradients, moves


def _orthogonal_factor(matrix):
    u, _, vt = np.linalg.svd(matrix, full_matrices=False)
    return u @ vt


@pytest.mark.parametrize(
    "layer, input_shape, rows",
    [
        (keras.layers.Conv2D(6, 3, use_bias=False, name="conv"), (None, 8, 8, 4), 36),
        (keras.layers.Conv2DTranspose(6, 2, strides=2, use_bias=False, name="up"),
         (None, 4, 4, 5), 24),
        (keras.layers.Conv1D(7, 5, use_bias=False, name="conv1d"), (None, 9, 3), 15),
        (keras.layers.Dense(5, use_bias=False, name="dense"), (None, 12), 12),
    ],
)
def test_kernels_move_along_their_orthogonalized_gradient(layer, input_shape, rows, rng):
    # From zero momentum, a kernel seen as a (window, last axis) matrix moves along the
    # orthogonal factor U V^T of its gradient, scaled to Adam's size: rate * 0.2 * sqrt(rows).
    rate = 0.01
    kernel = _kernel(layer, input_shape)
    (gradient,), (move,) = _one_step(ConvMuon(rate), [kernel], rng)
    move = move.reshape(rows, -1)
    singular = np.linalg.svd(move / (rate * 0.2 * np.sqrt(rows)), compute_uv=False)
    assert singular.min() > 0.5 and singular.max() < 1.3  # Newton-Schulz's band around 1
    target = _orthogonal_factor(gradient.reshape(rows, -1))
    cosine = np.sum(move * target) / (np.linalg.norm(move) * np.linalg.norm(target))
    assert cosine > 0.97


@pytest.mark.parametrize("name", ["output", "output_conv"])
def test_output_layers_and_vectors_take_adams_step(name, rng):
    # Adam's first step is the rate times the gradient's sign, whatever its size.
    rate = 0.01
    head = _kernel(keras.layers.Conv2D(1, 1, name=name), (None, 8, 8, 6))
    bias = keras.Variable(np.zeros(6, "float32"), name="bias")
    gradients, moves = _one_step(ConvMuon(rate), [head, bias], rng)
    for gradient, move in zip(gradients, moves, strict=True):
        np.testing.assert_allclose(move, rate * np.sign(gradient), rtol=1e-3)


def _takes_adams_step(variable, rng):
    rate = 0.01
    (gradient,), (move,) = _one_step(ConvMuon(rate), [variable], rng)
    return np.allclose(move, rate * np.sign(gradient), rtol=1e-3)


@pytest.mark.parametrize(
    ("name", "adam"),
    [("output", True), ("output_conv", True), ("pre_output", False), ("output_2", False),
     ("output_conv_1", False), ("outputs", False)],
)
def test_default_exclusion_takes_whole_layer_names_only(name, adam, rng):
    kernel = _kernel(keras.layers.Conv2D(4, 3, use_bias=False, name=name), (None, 8, 8, 4))
    assert _takes_adams_step(kernel, rng) is adam


def test_exclusion_finds_layers_inside_a_name_scope(rng):
    with keras.name_scope("outer"):
        kernel = _kernel(keras.layers.Conv2D(4, 3, use_bias=False, name="output"),
                         (None, 8, 8, 4))
    assert kernel.path == "outer/output/kernel"
    assert _takes_adams_step(kernel, rng)


def test_embeddings_take_adams_step(rng):
    layer = keras.layers.Embedding(10, 6)
    layer.build((None, 3))
    assert len(layer.embeddings.shape) == 2  # a matrix, but not one to orthogonalize
    assert _takes_adams_step(layer.embeddings, rng)


def test_exclude_layers_selects_the_adam_kernels(rng):
    rate = 0.01
    kernel = _kernel(keras.layers.Conv2D(6, 3, use_bias=False, name="stem"), (None, 8, 8, 4))
    (gradient,), (move,) = _one_step(ConvMuon(rate, exclude_layers=["stem"]), [kernel], rng)
    np.testing.assert_allclose(move, rate * np.sign(gradient), rtol=1e-3)


def test_defaults_differ_from_keras_muon_only_where_documented():
    config = ConvMuon().get_config()
    keras_config = keras.optimizers.Muon().get_config()
    changed = {key for key in config if config[key] != keras_config.get(key)}
    assert changed == {"name", "learning_rate", "exclude_layers", "weight_decay",
                       "adam_weight_decay"}
    assert config["learning_rate"] == pytest.approx(3e-3)
    assert config["weight_decay"] is None and config["adam_weight_decay"] is None


def test_config_round_trip_keeps_every_argument():
    optimizer = ConvMuon(1e-3, exclude_layers=["head"], momentum=0.9, rms_rate=0.3)
    twin = ConvMuon.from_config(optimizer.get_config())
    assert twin.get_config() == optimizer.get_config()
    assert twin.exclude_layers == ["head"] and twin.momentum == 0.9


@pytest.mark.parametrize("exclude_layers", ["output", ["output", 3], 5, b"output"])
def test_exclude_layers_must_be_a_list_of_strings(exclude_layers):
    with pytest.raises(TypeError, match=r"`exclude_layers` must be a list of regular "
                       r"expressions \(strings\), or None\. Received: exclude_layers="):
        ConvMuon(exclude_layers=exclude_layers)


@pytest.mark.parametrize(
    ("exclude_layers", "expected"),
    [(None, []), ((pattern for pattern in ["stem", "head"]), ["stem", "head"]),
     (("stem",), ["stem"])],
    ids=["none", "generator", "tuple"],
)
def test_exclude_layers_takes_none_and_any_iterable(exclude_layers, expected):
    # None excludes no layer, as in keras.optimizers.Muon; a generator was used up by the
    # type check, which left no pattern.
    assert ConvMuon(exclude_layers=exclude_layers).exclude_layers == expected


@pytest.mark.parametrize("model_class", [UNetDenoiser, ConvAutoencoder])
def test_trains_a_model_and_survives_save_and_load(model_class, tmp_path, rng):
    # Only the output layer of either model is left to Adam among the kernels.
    shape = (16, 16, 1)
    model = (UNetDenoiser(image_shape=shape, filters=(4, 8)) if model_class is UNetDenoiser
             else ConvAutoencoder(image_shape=shape, latent_dim=4))
    optimizer = ConvMuon()
    model.compile(optimizer=optimizer)
    images = rng.random((32, *shape)).astype("float32")
    history = model.fit_denoising(images, epochs=2, batch_size=16, seed=0, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    kernels = [v for v in model.trainable_variables if len(v.shape) >= 2]
    adam = [v.path for v in kernels if optimizer._should_use_adamw(v)]
    assert len(adam) == 1 and "output" in adam[0]
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded.optimizer) is ConvMuon
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    np.testing.assert_allclose(loaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-5)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_kernels_of_other_float_dtypes_take_its_step(dtype, rng):
    # Keras's scale factor was a float32 tensor: a float64 kernel's step failed on TensorFlow
    # ("Input 'y' of 'Mul' Op has type float32 that does not match type float64").
    layer = keras.layers.Conv2D(6, 3, use_bias=False, dtype=dtype)
    kernel = _kernel(layer, (None, 8, 8, 4))
    (gradient,), (move,) = _one_step(ConvMuon(0.01), [kernel], rng)
    assert kernel.dtype == dtype
    reference = keras.layers.Conv2D(6, 3, use_bias=False)
    reference.build((None, 8, 8, 4))
    reference.kernel.assign(np.zeros(reference.kernel.shape))
    ConvMuon(0.01).apply_gradients([(gradient, reference.kernel)])
    expected = -keras.ops.convert_to_numpy(reference.kernel)
    np.testing.assert_allclose(move, expected, rtol=0.05 if dtype == "float16" else 1e-4,
                               atol=1e-4 if dtype == "float16" else 1e-6)
