import functools
import json
import re

import keras
import numpy as np
import pytest
from hypothesis import given
from strategies import image_shapes

import keras_denoise
from keras_denoise import GaussianNoise, _tiling, _unet_denoiser, _validation
from keras_denoise._saving import check_config_safe
from keras_denoise._unet_denoiser import UNetDenoiser
from keras_denoise.metrics import psnr


@functools.cache
def _any_size(channels=1, filters=(4, 8)):
    """A small model for any image size (cached: building models is slow)."""
    return UNetDenoiser((None, None, channels), filters=filters)


def _images(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


def _clipped_images(shape, seed=0):
    """Images like noisy ones: about a fifth of the pixels exactly 0 and a fifth exactly 1."""
    return np.clip(1.6 * _images(shape, seed) - 0.3, 0.0, 1.0)


def test_default_model_is_small_and_fully_convolutional():
    model = UNetDenoiser()
    assert model.count_params() == 476881 <= 500_000
    assert (model.filters, model.convolutions) == ((48, 48, 48, 32), (3, 3, 3, 3))
    assert model.activation == "silu" and model.batch_norm and model.mark_clipped
    assert UNetDenoiser(batch_norm=False).count_params() == 474001
    assert model.input_shape == model.output_shape == (None, None, None, 1)
    assert (model.size_multiple, model.receptive_radius) == (8, 73)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    assert not model.compiled


@pytest.mark.parametrize(
    ("filters", "convolutions", "reached"),
    [
        ((4,), 2, True),
        ((4, 8), 2, True),
        ((4, 8, 8), 2, True),
        ((2, 2, 2, 2), 2, False),  # two filters per level: some paths are flat here
        ((4,), 3, True),
        ((4, 8), (3, 1), True),
        ((4, 8, 8), (1, 3, 2), True),
    ],
)
def test_receptive_radius_bounds_the_influence_of_a_pixel(filters, convolutions, reached):
    # GELU rather than ReLU: no unit of a narrow untrained model is dead everywhere.
    model = UNetDenoiser(filters=filters, convolutions=convolutions, activation="gelu")
    radius, size = model.receptive_radius, 4 * model.receptive_radius + 8
    images = _images((1, size, size, 1))
    changed = images.copy()
    changed[0, size // 2, size // 2, 0] += 0.5
    moved = np.abs(model.denoise(changed) - model.denoise(images))[0, :, :, 0] > 0
    rows, columns = np.nonzero(moved)
    assert rows.size > 0
    reach = max(np.abs(rows - size // 2).max(), np.abs(columns - size // 2).max())
    assert reach <= radius
    if reached:  # the bound is tight: a smaller radius would make tiling inexact
        assert reach == radius


@pytest.mark.parametrize(
    ("height", "width", "padded"), [(13, 16, (16, 16)), (16, 17, (16, 24)), (1, 24, (8, 24))]
)
def test_padding_reaches_only_the_next_multiple(height, width, padded):
    images = _images((2, height, width, 3))
    layer = _unet_denoiser._PadToMultiple(8)
    out = keras.ops.convert_to_numpy(layer(images))
    assert out.shape == (2, *padded, 3)
    # The symbolic shape (model summaries, fixed-size models) agrees, and None stays None.
    assert layer.compute_output_shape((None, height, width, 3)) == (None, *padded, 3)
    assert layer.compute_output_shape((None, None, width, 3)) == (None, None, padded[1], 3)
    np.testing.assert_array_equal(out[:, :height, :width], images)
    assert not out[:, height:].any() and not out[:, :, width:].any()


@pytest.mark.parametrize("multiple", [0, 2**8 + 1, 8.0])
def test_padding_layer_checks_its_multiple(multiple):
    # The layer is registered for loading: a config from a file must not make it pad anyhow.
    with pytest.raises((TypeError, ValueError), match=f"Received: multiple={multiple!r}"):
        _unet_denoiser._PadToMultiple(multiple)


def test_padding_layer_takes_the_largest_multiple():
    assert _unet_denoiser._PadToMultiple(2**8).multiple == 2**8


@given(image_shape=image_shapes(min_side=1, max_side=24))
def test_output_shape_equals_input_shape_for_any_size(image_shape):
    height, width, channels = image_shape
    images = _images((2, height, width, channels))
    out = _any_size(channels).denoise(images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize(
    "image_shape", [(4, 4, 1), (16, 16, 3), (30, 22, 2), (5, 7, 1), (28, 28, 1)]
)
def test_fixed_image_shape(image_shape):
    model = UNetDenoiser(image_shape, filters=(4, 8, 16))
    assert model.output_shape == (None, *image_shape)
    assert model.denoise(_images((3, *image_shape))).shape == (3, *image_shape)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((16, 16), (16, 16)), ((16, 16, 1), (16, 16, 1)), ((5, 16, 16), (5, 16, 16)),
     ((5, 16, 16, 1), (5, 16, 16, 1))],
)
def test_denoise_keeps_the_callers_layout(shape, expected):
    assert _any_size().denoise(np.zeros(shape, "float32")).shape == expected


def test_denoise_accepts_uint8():
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16), dtype=np.uint8)
    np.testing.assert_allclose(
        _any_size().denoise(images), _any_size().denoise(images.astype("float32") / 255), atol=1e-6
    )


def _tile_grid(model, images, tile_size, overlap=None):
    """How many tiles `model.denoise(images, tile_size=..., overlap=...)` cuts along each side."""
    overlap = model.receptive_radius if overlap is None else overlap
    rows, columns = _tiling.tile_grid(*images.shape[1:3], tile_size=tile_size, overlap=overlap,
                                      multiple=model.size_multiple)
    return len(rows), len(columns)


@pytest.mark.parametrize("channels", [1, 3])
def test_tiled_equals_untiled(channels):
    # The default model's windows are 64 + 2 x 73 pixels, 216 on its grid of 8: a smaller
    # image would be one tile, and tiled would equal untiled whatever the tiling did.
    model = UNetDenoiser((None, None, channels))
    images = _clipped_images((2, 300, 230, channels))
    assert _tile_grid(model, images, tile_size=64) == (3, 2)  # windows 64 apart
    tiled = model.denoise(images, tile_size=64, batch_size=5)
    np.testing.assert_allclose(tiled, model.denoise(images), atol=1e-4)


# Windows of 20 + 2 x 33 pixels, 88 on the grid of 4: 4 x 2, 1 x 1, 1 x 4 and 1 x 1 tiles (the
# two smallest check the padding and cropping of an image inside one window).
@pytest.mark.parametrize("shape", [(1, 131, 97), (1, 67, 5), (2, 33, 129), (1, 7, 9)])
def test_tiled_equals_untiled_for_odd_sizes(shape):
    model = _any_size(filters=(4, 8, 8))
    images = _clipped_images(shape)
    tiled = model.denoise(images, tile_size=20, overlap=model.receptive_radius)
    assert tiled.shape == images.shape
    np.testing.assert_allclose(tiled, model.denoise(images), atol=1e-4)


def test_tiled_equals_untiled_with_deeper_blocks():
    model = UNetDenoiser(filters=(4, 8, 8), convolutions=(3, 1, 2))
    images = _clipped_images((1, 71, 93))
    assert _tile_grid(model, images, tile_size=20) == (2, 3)  # windows of 20 + 2 x 21 = 64
    tiled = model.denoise(images, tile_size=20)
    np.testing.assert_allclose(tiled, model.denoise(images), atol=1e-4)


@pytest.mark.parametrize("overlap", [0, 2])  # 0: tiles without context, allowed
def test_tiling_with_too_little_overlap_differs(overlap):
    model = _any_size(filters=(4, 8, 8))
    images = _images((1, 64, 64))
    tiled = model.denoise(images, tile_size=8, overlap=overlap)
    assert tiled.shape == images.shape
    assert np.abs(tiled - model.denoise(images)).max() > 1e-4


def test_large_images_are_tiled_automatically(monkeypatch):
    calls, predict_tiled = [], _tiling.predict_tiled

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return predict_tiled(*args, **kwargs)

    monkeypatch.setattr(_tiling, "predict_tiled", spy)
    monkeypatch.setattr(_unet_denoiser, "AUTO_TILE_PIXELS", 40 * 40)
    monkeypatch.setattr(_unet_denoiser, "AUTO_TILE_SIZE", 16)
    model = _any_size()
    model.denoise(_images((1, 40, 40)))
    assert calls == []
    images = _images((1, 41, 40))
    untiled = model.predict(images[..., None], verbose=0)[..., 0]
    np.testing.assert_allclose(model.denoise(images), untiled, atol=1e-4)
    assert calls[0]["tile_size"] == 16 and calls[0]["overlap"] == model.receptive_radius == 13


@pytest.mark.parametrize("tile_size", [None, 8])
# JAX without x64 computes a float64 model in float32, and says so.
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64:UserWarning")
def test_denoise_returns_float32_from_a_float64_model(tile_size):
    model = UNetDenoiser(filters=(4, 8), dtype="float64")
    images = _images((2, 16, 16))
    if keras.backend.backend() != "jax":
        assert model.predict(images[..., None], verbose=0).dtype == np.float64
    assert model.denoise(images, tile_size=tile_size).dtype == np.float32


def test_automatic_tiling_uses_the_documented_sizes():
    # `denoise`'s docstring: images over 1024 x 1024 pixels are tiled with tile_size=512,
    # which must be a multiple of any model's `size_multiple` (at most 2**MAX_STAGES).
    assert (_unet_denoiser.AUTO_TILE_PIXELS, _unet_denoiser.AUTO_TILE_SIZE) == (1024**2, 512)
    assert _unet_denoiser.AUTO_TILE_SIZE % 2**_validation.MAX_STAGES == 0


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_denoise_runs_batches_of_batch_size_tiled_and_untiled(batch_size):
    model, calls = UNetDenoiser((None, None, 1), filters=(4, 8)), []  # not the cached model
    predict, predict_on_batch = model.predict, model.predict_on_batch

    def recording_predict(images, **kwargs):
        calls.append(("predict", kwargs["batch_size"]))
        return predict(images, **kwargs)

    def recording_predict_on_batch(tiles):
        calls.append(("tiles", len(tiles)))
        return predict_on_batch(tiles)

    model.predict, model.predict_on_batch = recording_predict, recording_predict_on_batch
    images = _images((2, 40, 40))
    options = {} if batch_size is None else {"batch_size": batch_size}  # None: the default, 8
    model.denoise(images, **options)
    assert calls == [("predict", batch_size or 8)]
    calls.clear()
    model.denoise(images, tile_size=16, overlap=4, **options)  # 2 x 4 tiles
    expected = {1: [1] * 8, 3: [3, 3, 2], None: [8]}[batch_size]
    assert calls == [("tiles", size) for size in expected]


def test_verbose_tiling_shows_progress(capsys):
    _any_size().denoise(_images((1, 40, 40)), tile_size=16, overlap=9, verbose=True)
    assert "4/4" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2**20 + 1}, ValueError, r"at most 1048576\. Received: batch_size=1048577"),
        ({"batch_size": 1.5}, TypeError, "batch_size"),
        ({"tile_size": 0}, ValueError, "tile_size"),
        ({"tile_size": 17}, ValueError, "tile_size"),
        ({"tile_size": 16.0}, TypeError, "tile_size"),
        ({"tile_size": 10**6}, ValueError, "tile_size"),
        ({"tile_size": 16, "overlap": -1}, ValueError, "overlap"),
        ({"tile_size": 16, "overlap": 2.5}, TypeError, "overlap"),
        ({"tile_size": 16, "overlap": 10**6}, ValueError, "overlap"),
        ({"verbose": 1}, TypeError, "verbose"),
    ],
)
def test_denoise_rejects_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        _any_size().denoise(np.zeros((1, 16, 16)), **kwargs)


@pytest.mark.parametrize("image_shape", [(16, 16, 1), (16, None, 1), (None, 16, 1)])
def test_fixed_size_model_refuses_tiling(image_shape):
    # Tiles are not the model's size: one fixed side is enough to refuse them.
    model = UNetDenoiser(image_shape, filters=(4, 8))
    with pytest.raises(ValueError, match=r"`tile_size` needs a model that takes any image size"):
        model.denoise(np.zeros((1, 16, 16)), tile_size=8)


def test_fixed_size_model_denoises_a_large_image_whole():
    # Over 1024 x 1024 pixels, an any-size model would tile; a fixed-size one cannot.
    model = UNetDenoiser((1032, 1024, 1), filters=(2,), convolutions=1)
    image = _images((1032, 1024))
    whole = model.predict(image[None, ..., None], verbose=0)[0, ..., 0]
    np.testing.assert_array_equal(model.denoise(image), whole)


@pytest.mark.parametrize("shape", [(2, 16, 16, 3), (2, 16, 16, 2)])
def test_denoise_rejects_wrong_channels(shape):
    message = (
        r"`images` do not fit this model, which takes images of shape "
        r"\(N, height, width, channels\) with 1 channel\. "
        rf"Received: images with shape {re.escape(str(shape))}$"
    )
    with pytest.raises(ValueError, match=message):
        _any_size().denoise(np.zeros(shape, "float32"))


@pytest.mark.parametrize("shape", [(2, 16, 16, 16, 1), (16,)])
def test_denoise_rejects_wrong_rank(shape):
    message = r"`images` must have between 2 and 4 dimensions\. Received: images with shape"
    with pytest.raises(ValueError, match=message):
        _any_size().denoise(np.zeros(shape, "float32"))


def test_fixed_size_model_rejects_other_sizes():
    message = (
        r"which takes images of shape \(16, 16, 1\) with 1 channel\. "
        r"Received: images with shape \(2, 12, 16\)$"
    )
    with pytest.raises(ValueError, match=message):
        UNetDenoiser((16, 16, 1), filters=(4,)).denoise(np.zeros((2, 12, 16)))


@pytest.mark.parametrize("image_shape", [(16, None, 1), (None, 16, 1)])
def test_one_free_side(image_shape):
    model = UNetDenoiser(image_shape, filters=(4, 8))
    fitting = tuple(20 if side is None else side for side in image_shape[:2])
    for shape in [(2, *fitting), (2, *fitting, 1), fitting]:
        assert model.denoise(_images(shape)).shape == shape
    wrong = tuple(20 if side is None else 12 for side in image_shape[:2])
    with pytest.raises(ValueError, match=re.escape(f"shape {str(image_shape)}")):
        model.denoise(_images((2, *wrong)))


@pytest.mark.parametrize("colours", [3, 4])
@pytest.mark.parametrize("fixed_height", [False, True])
def test_gray_model_refuses_a_colour_image(colours, fixed_height):
    # Read as a batch, it would be denoised as 20 images 16 pixels high and `colours` wide,
    # which a model of free width takes whatever its height.
    model = UNetDenoiser((16, None, 1), filters=(4,)) if fixed_height else _any_size()
    with pytest.raises(ValueError, match=rf"ambiguous .* shape \(20, 16, {colours}\)"):
        model.denoise(_images((20, 16, colours)))


def test_gray_model_takes_narrow_images_as_rank_4():
    images = _images((20, 24, 3))
    assert _any_size().denoise(images[..., None]).shape == (20, 24, 3, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"image_shape": (None, None)}, ValueError, "image_shape"),
        ({"image_shape": "any"}, TypeError, "image_shape"),
        ({"image_shape": None}, TypeError, r"must be a tuple .*Received: image_shape=None$"),
        ({"image_shape": {}}, TypeError, "image_shape"),
        ({"image_shape": (3, None, 1)}, ValueError, "image_shape"),
        ({"image_shape": (None, 10**5, 1)}, ValueError, "image_shape"),
        ({"image_shape": (16.0, 16, 1)}, TypeError, "image_shape"),
        ({"image_shape": (None, None, 0)}, ValueError, "image_shape"),
        ({"image_shape": (None, None, 100)}, ValueError, "image_shape"),
        ({"image_shape": (None, None, None)}, TypeError, "image_shape"),
        ({"filters": ()}, ValueError, "filters"),
        ({"filters": 32}, TypeError, "filters"),
        ({"filters": (32, 0)}, ValueError, "filters"),
        ({"filters": (32, 10**6)}, ValueError, "filters"),
        ({"filters": (8,) * 9}, ValueError, "filters"),
        ({"convolutions": 0}, ValueError, r"positive integer. Received: convolutions=0$"),
        ({"convolutions": (2, 2)}, ValueError, r"one count per level of `filters` \(4\)"),
        ({"convolutions": (2, 2, 2, 17)}, ValueError, "between 1 and 16"),
        ({"convolutions": 17}, ValueError, r"at most 16\. Received: convolutions=17$"),
        ({"convolutions": (2, 2, 2, 2.0)}, TypeError, "convolutions"),
        # Not "a sequence of positive integers": a single integer is one too.
        ({"convolutions": "2"}, TypeError,
         r"^`convolutions` must be a positive integer, or a sequence of one per level\. "
         r"Received: convolutions='2'$"),
        ({"convolutions": True}, TypeError, r"or a sequence .* Received: convolutions=True$"),
        ({"activation": "not_an_activation"}, ValueError, "activation"),
        ({"activation": 3}, TypeError, "activation"),
        ({"batch_norm": "yes"}, TypeError, "batch_norm"),
        ({"mark_clipped": 1}, TypeError, "mark_clipped"),
    ],
)
def test_bad_hyperparameters_raise_before_building(kwargs, error, match):
    with pytest.raises(error, match=match):
        UNetDenoiser(**kwargs)


def test_misspelled_keywords_are_refused():
    # keras.Model itself would ignore them, and the model would build with the defaults.
    match = r"unexpected keyword arguments: filtrs\..*Received: filtrs=\(4, 8\)"
    with pytest.raises(TypeError, match=match):
        UNetDenoiser(filtrs=(4, 8))


def test_keras_model_keywords_are_accepted():
    model = UNetDenoiser(filters=(4, 8), name="frozen", trainable=False)
    assert model.name == "frozen" and not model.trainable


def test_error_message_echoes_the_value():
    with pytest.raises(ValueError, match=r"Received: image_shape=\(3, None, 1\)"):
        UNetDenoiser((3, None, 1))


def test_convolutions_set_the_depth_of_each_level():
    model = UNetDenoiser(filters=(4, 8, 8), convolutions=(3, 1, 2))
    assert model.convolutions == (3, 1, 2)
    names = [layer.name for layer in model.layers]
    assert "encoder_1_conv_3" in names and "decoder_1_conv_3" in names
    assert "encoder_2_conv_2" not in names and "bottleneck_conv_2" in names
    assert "bottleneck_conv_3" not in names
    assert UNetDenoiser(filters=(4, 8), convolutions=2).convolutions == (2, 2)
    # A third convolution in both blocks of the first level: two 3x3, 4 -> 4, each
    # followed by batch normalization (gamma, beta and the two moving statistics).
    deeper = UNetDenoiser(filters=(4, 8), convolutions=(3, 2)).count_params()
    plain = UNetDenoiser(filters=(4, 8), convolutions=2).count_params()
    assert deeper - plain == 2 * (9 * 4 * 4 + 4 * 4)


def test_receptive_radius_of_a_third_convolution_at_full_resolution():
    # Two more pixels at full resolution (one per block), on two convolutions' 51.
    assert UNetDenoiser(convolutions=2).receptive_radius == 51
    assert UNetDenoiser(convolutions=(3, 2, 2, 2)).receptive_radius == 53


def test_batch_norm_off():
    model = UNetDenoiser(filters=(4, 8), batch_norm=False, activation="gelu")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert model.denoise(_images((9, 9))).shape == (9, 9)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_clip_indicators_mark_pixels_at_the_bounds(channels, policy):
    layer = _unet_denoiser._ClipIndicators(dtype=policy)
    values = np.array([0.0, 1e-6, 0.5, 0.999, 1.0], "float32")
    images = np.broadcast_to(values[None, :, None, None], (2, 5, 4, channels))
    marked = keras.ops.convert_to_numpy(layer(images))
    assert marked.shape == (2, 5, 4, 3 * channels) and marked.dtype == np.float32
    np.testing.assert_array_equal(marked[..., :channels], images)
    at_low, at_high = marked[0, :, 0, channels], marked[0, :, 0, 2 * channels]
    np.testing.assert_array_equal(at_low, [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(at_high, [0, 0, 0, 0, 1])  # 0.999 is 1.0 in bfloat16


def test_output_layer_names_are_the_layers_that_stay_float32():
    # `fit_denoising(dtype_policy=...)` leaves these layers in float32, as here.
    model = UNetDenoiser(filters=(4, 8), dtype="mixed_bfloat16")
    float32 = {
        layer.name
        for layer in model._flatten_layers(include_self=False)
        if layer.compute_dtype == "float32" and not isinstance(layer, keras.layers.InputLayer)
    }
    assert float32 == set(UNetDenoiser._OUTPUT_LAYER_NAMES) == {"output", "crop"}


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_clip_indicators_see_float32_pixels_in_a_mixed_precision_model(policy):
    # The padding before them must not round the pixels to the compute dtype first.
    model = UNetDenoiser(filters=(4, 8), dtype=policy)
    marker = keras.Model(model.input, model.get_layer("clip_indicators").output)
    values = np.array([0.0, 1e-6, 0.5, 0.9999, 1.0], "float32")
    images = np.broadcast_to(values[None, :, None, None], (1, 5, 4, 1))
    marked = keras.ops.convert_to_numpy(marker(images))
    assert marked.dtype == np.float32 and marked.shape == (1, 6, 4, 3)  # padded to 6
    expected = [[0, 1, 0], [1e-6, 0, 0], [0.5, 0, 0], [0.9999, 0, 0], [1, 0, 1]]
    np.testing.assert_array_equal(marked[0, :5, 0], np.array(expected, "float32"))
    np.testing.assert_array_equal(marked[0, 5, 0], [0, 1, 0])  # padded zeros are marked


@pytest.mark.parametrize("channels", [1, 3])
def test_mark_clipped_adds_two_input_channels_per_channel(channels):
    marked = UNetDenoiser((None, None, channels), filters=(8, 16))
    plain = UNetDenoiser((None, None, channels), filters=(8, 16), mark_clipped=False)
    assert marked.count_params() - plain.count_params() == 2 * channels * 9 * 8
    assert "clip_indicators" not in [layer.name for layer in plain.layers]


@pytest.mark.parametrize(("mark_clipped", "moves"), [(True, True), (False, False)])
def test_only_the_marked_model_tells_clipped_pixels_apart(mark_clipped, moves):
    model = UNetDenoiser(filters=(4, 8), mark_clipped=mark_clipped)
    images = _clipped_images((2, 16, 16))
    nudged = np.where(images == 0.0, 1e-6, np.where(images == 1.0, 1 - 1e-6, images))
    change = np.abs(model.denoise(nudged) - model.denoise(images)).max()
    assert bool(change > 1e-3) is moves


def test_configs_saved_without_mark_clipped_load_without_indicators():
    plain = UNetDenoiser(filters=(4, 8), mark_clipped=False)
    config = plain.get_config()
    del config["mark_clipped"]
    restored = UNetDenoiser.from_config(config)
    assert not restored.mark_clipped
    assert restored.count_params() == plain.count_params()


def test_configs_saved_without_convolutions_load_with_two_per_block():
    # Such configs predate the option, when every block had two convolutions.
    model = UNetDenoiser(filters=(4, 8), convolutions=2)
    config = model.get_config()
    del config["convolutions"]
    restored = UNetDenoiser.from_config(config)
    assert restored.convolutions == (2, 2)
    assert restored.count_params() == model.count_params()


def test_config_round_trip_holds_primitives_only():
    model = UNetDenoiser(
        (None, 20, 2), filters=(4, 8), convolutions=(3, 1), activation="gelu",
        batch_norm=False, mark_clipped=False, name="tiny",
    )
    config = model.get_config()
    assert config["name"] == "tiny" and config["mark_clipped"] is False
    assert config["image_shape"] == [None, 20, 2] and config["filters"] == [4, 8]
    assert config["convolutions"] == [3, 1]
    assert config["activation"] == "gelu" and config["batch_norm"] is False

    def primitive(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and primitive(v) for k, v in value.items())
        if isinstance(value, list):
            return all(primitive(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str))

    assert primitive(config)
    restored = UNetDenoiser.from_config(config)
    assert restored.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(restored, UNetDenoiser) and restored.get_config() == config


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_dtype_policy_applies_to_hidden_layers_and_survives_saving(tmp_path, policy):
    model = UNetDenoiser(filters=(4, 8), dtype=policy)
    assert model.dtype_policy.name == policy
    compute = policy.removeprefix("mixed_")
    assert model.get_layer("encoder_1_conv_1").compute_dtype == compute
    assert model.get_layer("bottleneck_bn_2").compute_dtype == compute
    assert model.get_layer("output").compute_dtype == "float32"
    assert all(weight.dtype == "float32" for weight in model.weights)
    images = _images((2, 12, 12, 1))
    assert keras.backend.standardize_dtype(model(images).dtype) == "float32"
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras_denoise.load_model(path)
    assert restored.dtype_policy.name == policy
    assert restored.get_layer("encoder_1_conv_1").compute_dtype == compute
    np.testing.assert_array_equal(restored.denoise(images), model.denoise(images))


def test_registered_under_the_package_name():
    assert keras.saving.get_registered_name(UNetDenoiser) == "keras_denoise>UNetDenoiser"


def test_compile_defaults_to_conv_muon_and_binary_crossentropy():
    model = _any_size()
    model.compile()
    assert isinstance(model.optimizer, keras_denoise.ConvMuon)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    assert model.loss == "binary_crossentropy"


def test_compile_gives_each_model_its_own_optimizer():
    first, second = UNetDenoiser(filters=(4, 8)), UNetDenoiser(filters=(4, 8))
    first.compile()
    second.compile()
    assert first.optimizer is not second.optimizer


def test_compile_keeps_a_given_optimizer():
    model = _any_size()
    optimizer = keras.optimizers.SGD(0.1)
    model.compile(optimizer=optimizer, loss="mse")
    assert model.optimizer is optimizer
    assert model.loss == "mse"


@pytest.mark.parametrize("image_shape", [(None, None, 3), (12, 20, 1)])
def test_save_and_load_give_identical_predictions(tmp_path, image_shape):
    model = UNetDenoiser(image_shape, filters=(4, 8))
    model.compile()
    images = _images((8, 12, 20, image_shape[-1]))
    model.fit(images, images, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras_denoise.load_model(path)
    assert isinstance(restored, UNetDenoiser)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.denoise(images), model.denoise(images))
    assert restored.loss == "binary_crossentropy"
    restored.fit(images, images, epochs=1, verbose=0)


def test_conv_weight_count_is_exact_and_bounded():
    model = UNetDenoiser((None, None, 3), filters=(8, 16, 24), convolutions=(1, 4, 2))
    kernels = [v for layer in model.layers for v in layer.weights if v.path.endswith("kernel")]
    assert sum(int(np.prod(v.shape)) for v in kernels) == _unet_denoiser._conv_weights(
        3, (8, 16, 24), (1, 4, 2), True
    )
    # Each value is allowed, the total (7.3e9 weights, 27 GiB) is refused before building.
    with pytest.raises(ValueError, match=r"more than 2\*\*28.*filters=\(4096, 4096\)"):
        UNetDenoiser(filters=(4096, 4096), convolutions=16)
    # Just beyond the limit (2.75e8 weights, 1.03 * 2**28) is refused too.
    assert _unet_denoiser._conv_weights(1, (1800, 1800), (3, 3), True) > 2**28
    with pytest.raises(ValueError, match=r"need 275450400 weights, more than 2\*\*28"):
        UNetDenoiser(filters=(1800, 1800))


def test_image_shape_is_kept_as_python_integers():
    model = UNetDenoiser([np.int64(16), None, np.uint8(3)], filters=(4, 8))
    assert model.image_shape == (16, None, 3)
    assert [type(side) for side in model.image_shape] == [int, type(None), int]
    assert json.loads(json.dumps(model.get_config()))["image_shape"] == [16, None, 3]


def test_models_built_from_its_layers_save_and_clone(tmp_path):
    # The clipped-pixel layer had no config of its own (Keras's automatic one failed on the
    # DTypePolicy object it is built with), so no model holding it could be saved or cloned.
    model = _any_size()
    features = keras.Model(model.inputs, model.get_layer("bottleneck_act_2").output)
    features.save(tmp_path / "features.keras")
    restored = keras.saving.load_model(tmp_path / "features.keras")
    images = _clipped_images((2, 16, 16, 1))
    np.testing.assert_allclose(restored.predict(images, verbose=0),
                               features.predict(images, verbose=0), atol=1e-6)
    clone = keras.models.clone_model(model)
    assert clone.count_params() == model.count_params()


def test_saved_config_is_safe_to_load():
    check_config_safe(keras.saving.serialize_keras_object(UNetDenoiser(filters=(4, 8))))


@pytest.mark.slow
def test_learns_to_denoise_mnist(mnist_path):
    with np.load(mnist_path, allow_pickle=False) as data:
        train, test = data["x_train"][:1024], data["x_test"][:64]
    noise = GaussianNoise(0.5, seed=0)
    # Without batch normalization: its moving statistics lag in a run this short.
    model = UNetDenoiser(filters=(8, 16), batch_norm=False)
    model.compile()
    model.fit(noise.dataset(train, batch_size=32), epochs=3, verbose=0)
    noisy, clean = noise.pairs(test)
    assert psnr(clean, model.denoise(noisy)) > psnr(clean, noisy) + 2
