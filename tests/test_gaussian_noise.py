import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import image_batches, noise_factors, seeds

from keras_denoise import GaussianNoise
from keras_denoise._gaussian_noise import _check_seed


@pytest.mark.parametrize(
    "shape", [(16, 16), (16, 16, 1), (16, 16, 3), (5, 16, 16), (5, 16, 16, 1), (5, 12, 16, 3)]
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_noise_keeps_shape_gives_float32_in_range(shape, dtype, rng):
    images = rng.random(shape).astype(dtype)
    noisy = GaussianNoise(0.5, seed=0)(images)
    assert noisy.shape == shape
    assert noisy.dtype == np.float32
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


def test_noise_leaves_input_untouched(rng):
    images = rng.random((4, 16, 16, 1)).astype("float32")
    before = images.copy()
    noisy = GaussianNoise(0.5, seed=0)(images)
    np.testing.assert_array_equal(images, before)
    assert not np.shares_memory(noisy, images)
    # `clean` is a copy too, even of float32 images: changing it leaves the caller's alone.
    noisy, clean = GaussianNoise(0.5, seed=0).pairs(images)
    assert not np.shares_memory(clean, images) and not np.shares_memory(noisy, images)


def test_same_seed_same_sequence_and_calls_give_fresh_noise(rng):
    images = rng.random((4, 16, 16, 1)).astype("float32")
    first, second = GaussianNoise(0.5, seed=7), GaussianNoise(0.5, seed=7)
    a1, a2 = first(images), first(images)
    b1, b2 = second(images), second(images)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)


def test_different_seeds_differ(rng):
    images = rng.random((4, 16, 16, 1)).astype("float32")
    first, second = GaussianNoise(0.5, seed=1)(images), GaussianNoise(0.5, seed=2)(images)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("noise_factor", [0.1, 0.5, 1.0])
def test_noise_statistics_without_clipping(noise_factor):
    clean = np.full((200, 16, 16, 1), 0.5, dtype="float32")
    noisy = GaussianNoise(noise_factor, clip=None, seed=3)(clean)
    residual = noisy - clean
    # 51,200 samples: the standard error of the mean is noise_factor / 226.
    assert abs(residual.mean()) < 5 * noise_factor / 226
    assert residual.std() == pytest.approx(noise_factor, rel=0.02)
    # Gaussian: about 68.3 % of the samples within one standard deviation.
    assert np.mean(np.abs(residual) < noise_factor) == pytest.approx(0.6827, abs=0.01)


def test_clipping_bounds_are_applied():
    clean = np.full((50, 16, 16), 0.5, dtype="float32")
    noisy = GaussianNoise(1.0, clip=(0.2, 0.7), seed=0)(clean)
    assert noisy.min() == pytest.approx(0.2)
    assert noisy.max() == pytest.approx(0.7)


@pytest.mark.parametrize("method", ["__call__", "pairs", "dataset"])
def test_float_pixels_in_0_255_are_refused_not_clipped(rng, method):
    # Their noisy copies would be clipped to [0, 1] while the clean targets reach 255.
    images = rng.integers(0, 256, (4, 16, 16)).astype("float32")
    noise = GaussianNoise(0.5, seed=0)
    match = (
        r"`images` must hold pixels in \[0, 1\] \(floats, or uint8 0-255\), as the noisy "
        r"images are clipped to `clip` \(0\.0, 1\.0\); pass clip=None for other ranges\. "
        rf"Received: images with values in \[{images.min():g}, {images.max():g}\]"
    )
    with pytest.raises(ValueError, match=match):
        getattr(noise, method)(images)
    # The same pixels as uint8, or with no clipping, are taken.
    assert getattr(noise, method)(images.astype(np.uint8)) is not None
    assert getattr(GaussianNoise(0.5, clip=None, seed=0), method)(images) is not None


@pytest.mark.parametrize(
    ("clip", "low", "high", "taken"),
    [((0.2, 0.7), 0.0, 1.0, True), ((-1.0, 2.0), -1.0, 2.0, True), ((-1.0, 2.0), -1.0, 2.5, False),
     ((0.0, 1.0), -0.001, 1.0, False)],
)  # fmt: skip
def test_images_may_span_zero_to_one_or_a_wider_clip(clip, low, high, taken):
    images = np.linspace(low, high, 4 * 8 * 8, dtype="float32").reshape(4, 8, 8)
    noise = GaussianNoise(0.5, clip=clip, seed=0)
    if taken:
        assert noise(images).shape == images.shape
    else:
        with pytest.raises(ValueError, match=r"must hold pixels in \[-?[01](\.0)?, [12](\.0)?\]"):
            noise(images)


def test_dataset_refuses_one_image_with_channels(rng):
    # A call noises one image as it is; a stream needs a batch (it made 16 one-pixel images).
    image = rng.random((16, 16, 1))
    assert GaussianNoise(0.5, seed=0)(image).shape == (16, 16, 1)
    with pytest.raises(ValueError, match=r"`images` is ambiguous: one image with 1 channel"):
        GaussianNoise(0.5, seed=0).dataset(image)


def test_zero_noise_factor_returns_clean_copy(rng):
    images = rng.random((3, 16, 16)).astype("float32")
    np.testing.assert_array_equal(GaussianNoise(0.0, seed=0)(images), images)


def test_uint8_images_are_scaled_to_unit_range():
    images = np.full((2, 16, 16), 255, dtype=np.uint8)
    noisy, clean = GaussianNoise(0.0).pairs(images)
    assert noisy.dtype == clean.dtype == np.float32
    np.testing.assert_array_equal(clean, np.ones((2, 16, 16), "float32"))
    np.testing.assert_array_equal(noisy, clean)


def test_pairs_returns_noisy_and_clean(rng):
    images = rng.random((6, 16, 16, 1)).astype("float64")
    noisy, clean = GaussianNoise(0.5, seed=0).pairs(images)
    assert noisy.shape == clean.shape == images.shape
    assert clean.dtype == noisy.dtype == np.float32
    np.testing.assert_allclose(clean, images.astype("float32"))
    assert not np.array_equal(noisy, clean)


def test_get_config_and_repr():
    noise = GaussianNoise(0.25, clip=None, seed=5)
    assert noise.get_config() == {"noise_factor": 0.25, "clip": None, "seed": 5}
    assert GaussianNoise(**noise.get_config()).get_config() == noise.get_config()
    assert repr(noise) == "GaussianNoise(noise_factor=0.25, clip=None, seed=5)"


@pytest.mark.parametrize(
    "noise_factor", [-0.1, float("nan"), float("inf"), 1e39, 1.1e6, 10**400]  # 10**400: no float
)
def test_bad_noise_factor_value(noise_factor):
    with pytest.raises(ValueError, match="noise_factor"):
        GaussianNoise(noise_factor)


def test_defaults_are_the_reference_task():
    assert GaussianNoise().get_config() == {"noise_factor": 0.5, "clip": (0.0, 1.0), "seed": None}


@pytest.mark.parametrize("noise_factor", [2.0, 10.0])
def test_noise_factor_above_one_sets_the_spread(noise_factor):
    # The statistics tests stop at 1.0; up to 1e6 is allowed.
    clean = np.full((40, 16, 16), 0.5, dtype="float32")
    residual = GaussianNoise(noise_factor, clip=None, seed=3)(clean) - clean
    assert residual.std() == pytest.approx(noise_factor, rel=0.05)


@pytest.mark.parametrize("noise_factor", [0, 0.0, 1e6, np.float32(0.5), np.int64(2)])
def test_noise_factor_bounds_are_accepted(noise_factor):
    noise = GaussianNoise(noise_factor)
    assert type(noise.noise_factor) is float and noise.noise_factor == float(noise_factor)


@pytest.mark.parametrize("noise_factor", ["0.5", None, True, [0.5]])
def test_bad_noise_factor_type(noise_factor):
    with pytest.raises(TypeError, match="noise_factor"):
        GaussianNoise(noise_factor)


@pytest.mark.parametrize(
    "clip", [(1.0, 0.0), (0.5, 0.5), (0.0,), (0.0, 1.0, 2.0), (0.0, float("inf")), (0, 2**1100)]
)
def test_bad_clip_value(clip):
    with pytest.raises(ValueError, match="clip"):
        GaussianNoise(0.5, clip=clip)


@pytest.mark.parametrize("clip", ["01", b"01", 5, [0.0], {0, 1}, {0: 1, 1: 2}])
def test_clip_that_is_not_a_pair(clip):
    # A string of two characters is not a pair of bounds, whatever its length; a set or a dict
    # of two has no order (they were taken as (0.0, 1.0)).
    with pytest.raises(ValueError, match=r"`clip` must be a pair \(low, high\) or None"):
        GaussianNoise(0.5, clip=clip)


def test_clip_takes_numpy_and_integer_bounds_and_keeps_python_floats():
    noise = GaussianNoise(0.5, clip=(np.float32(0.25), np.int64(1)), seed=0)
    assert noise.clip == (0.25, 1.0)
    assert all(type(bound) is float for bound in noise.get_config()["clip"])
    assert repr(noise) == "GaussianNoise(noise_factor=0.5, clip=(0.25, 1.0), seed=0)"
    noisy = noise(np.full((2, 8, 8), 0.5, "float32"))
    assert noisy.min() >= 0.25 and noisy.max() <= 1.0
    # An integer beyond int64, which NumPy's isfinite refused with a TypeError.
    assert GaussianNoise(0.5, clip=(0, 2**64)).clip == (0.0, float(2**64))


@pytest.mark.parametrize("clip", [("a", "b"), (False, True), (0.0, np.True_), (None, 1.0)])
def test_bad_clip_type(clip):
    with pytest.raises(TypeError, match=r"`clip` must hold two numbers"):
        GaussianNoise(0.5, clip=clip)


SEED_MESSAGE = r"`seed` must be an integer between 0 and 2\*\*32 - 1 or None. Received: seed="


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40, 2**70, np.int64(-1), np.uint64(2**32)])
def test_seed_out_of_range(seed):
    with pytest.raises(ValueError, match=SEED_MESSAGE):
        GaussianNoise(0.5, seed=seed)


@pytest.mark.parametrize("seed", [1.5, "1", True, np.bool_(False), np.float64(1.0), [1]])
def test_seed_not_an_integer(seed):
    with pytest.raises(TypeError, match=SEED_MESSAGE):
        GaussianNoise(0.5, seed=seed)


@pytest.mark.parametrize("seed", [0, 2**32 - 1, np.uint32(2**32 - 1), np.int64(7)])
def test_seed_range_bounds_and_numpy_integers_work(seed, rng):
    images = rng.random((2, 8, 8)).astype("float32")
    noise = GaussianNoise(0.5, seed=seed)
    assert type(noise.seed) is int and noise.seed == seed
    np.testing.assert_array_equal(noise(images), GaussianNoise(0.5, seed=int(seed))(images))


@pytest.mark.parametrize(
    ("seed", "error"),
    [(2**32, ValueError), (2**40, ValueError), (-1, ValueError), (True, TypeError)],
)
def test_shared_seed_check_rejects_bad_seeds(seed, error):
    # `_check_seed` also guards `TrainingNoise` and `fit_denoising`.
    with pytest.raises(error, match=SEED_MESSAGE):
        _check_seed(seed)


@pytest.mark.parametrize("seed", [None, 0, 2**32 - 1, np.uint64(2**32 - 1)])
def test_shared_seed_check_accepts_the_range_and_none(seed):
    assert _check_seed(seed) == seed


@pytest.mark.parametrize(
    ("images", "error"),
    [
        (np.array([["a", "b"], ["c", "d"]]), TypeError),
        (np.zeros((4, 4), dtype=object), TypeError),
        (np.zeros((4, 4), dtype=bool), TypeError),
        (np.zeros((4, 4), dtype=np.int64), TypeError),
        ("not an image", TypeError),
        (np.zeros((0, 16, 16)), ValueError),
        (np.zeros(16), ValueError),
        (np.zeros((1, 1, 4, 4, 1)), ValueError),
        (np.full((4, 4), np.nan), ValueError),
        (np.full((4, 4), np.inf), ValueError),
    ],
)
def test_bad_images(images, error):
    with pytest.raises(error, match="images"):
        GaussianNoise(0.5)(images)


@given(images=image_batches(), noise_factor=noise_factors, seed=seeds)
def test_property_noise_shape_range_and_determinism(images, noise_factor, seed):
    first = GaussianNoise(noise_factor, seed=seed)(images)
    second = GaussianNoise(noise_factor, seed=seed)(images)
    assert first.shape == images.shape and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(first, second)


@given(
    noise_factor=st.floats(0.05, 1.0),
    seed=seeds,
)
def test_property_unclipped_noise_is_centred_with_the_right_spread(noise_factor, seed):
    clean = np.zeros((40, 16, 16), dtype="float32")
    residual = GaussianNoise(noise_factor, clip=None, seed=seed)(clean) - clean
    # 10,240 samples: 6 standard errors of tolerance on the mean, 5 % on the std.
    assert abs(residual.mean()) < 6 * noise_factor / np.sqrt(residual.size)
    assert residual.std() == pytest.approx(noise_factor, rel=0.05)
