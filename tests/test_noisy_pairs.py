import re

import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, GaussianNoise, NoisyPairs


def _images(count=100, shape=(16, 16, 1)):
    return np.random.default_rng(0).random((count, *shape)).astype("float32")


@pytest.mark.parametrize(
    ("count", "batch_size", "drop", "length"),
    [(100, 32, False, 4), (100, 32, True, 3), (64, 64, False, 1), (10, 64, True, 1)],
)
def test_length_and_batch_shapes(count, batch_size, drop, length):
    stream = GaussianNoise(0.5, seed=0).dataset(
        _images(count), batch_size=batch_size, drop_remainder=drop
    )
    assert isinstance(stream, NoisyPairs)
    assert len(stream) == length
    noisy, clean = stream[0]
    assert noisy.shape == clean.shape == (min(batch_size, count), 16, 16, 1)
    assert noisy.dtype == clean.dtype == np.float32


def test_missing_channel_axis_is_added():
    stream = GaussianNoise(0.5, seed=0).dataset(_images(10, (16, 16)), batch_size=4)
    assert stream[2][0].shape == (2, 16, 16, 1)


def test_every_image_once_per_epoch_with_shuffle():
    images = np.arange(50, dtype="float32").reshape(50, 1, 1, 1) * np.ones((1, 4, 4, 1), "float32")
    stream = GaussianNoise(0.0, clip=None, seed=0).dataset(images, batch_size=8)
    seen = np.concatenate([stream[i][1][:, 0, 0, 0] for i in range(len(stream))])
    np.testing.assert_array_equal(np.sort(seen), np.arange(50))
    stream.on_epoch_end()
    seen_next = np.concatenate([stream[i][1][:, 0, 0, 0] for i in range(len(stream))])
    assert not np.array_equal(seen, seen_next)
    np.testing.assert_array_equal(np.sort(seen_next), np.arange(50))


def test_no_shuffle_keeps_order():
    images = _images(20)
    stream = GaussianNoise(0.5, seed=0).dataset(images, batch_size=8, shuffle=False)
    np.testing.assert_array_equal(stream[1][1], images[8:16])


def test_fresh_noise_each_epoch_and_stable_within_an_epoch():
    stream = GaussianNoise(0.5, seed=0).dataset(_images(), batch_size=16, shuffle=False)
    assert stream.epoch == 0
    first = stream[0][0]
    np.testing.assert_array_equal(first, stream[0][0])
    stream.on_epoch_end()
    assert stream.epoch == 1
    assert not np.array_equal(first, stream[0][0])


def test_default_batch_size_is_64():
    stream = GaussianNoise(0.5, seed=0).dataset(_images(130, (4, 4)))
    assert (stream.batch_size, len(stream)) == (64, 3)
    assert [len(stream[index][0]) for index in range(3)] == [64, 64, 2]


def test_each_batch_of_an_epoch_draws_its_own_noise():
    images = np.full((64, 16, 16, 1), 0.5, dtype="float32")
    stream = GaussianNoise(0.1, clip=None, seed=0).dataset(images, batch_size=16, shuffle=False)
    noises = [stream[index][0] - stream[index][1] for index in range(len(stream))]
    for index, noise in enumerate(noises):
        for other in noises[index + 1 :]:
            correlation = np.corrcoef(noise.ravel(), other.ravel())[0, 1]
            assert abs(correlation) < 0.05  # 4,096 pairs: 3 standard errors (1/64) of independence


@pytest.mark.parametrize("shuffle", [True, False])
def test_same_seed_same_stream_and_different_seed_differs(shuffle):
    one, two, other = (
        GaussianNoise(0.5, seed=seed).dataset(_images(), batch_size=16, shuffle=shuffle)
        for seed in (11, 11, 12)
    )
    for _ in range(2):
        for index in range(len(one)):
            np.testing.assert_array_equal(one[index][0], two[index][0])
            np.testing.assert_array_equal(one[index][1], two[index][1])
            # Another seed draws other noise for every batch (and, shuffled, another order).
            assert not np.array_equal(one[index][0], other[index][0])
        one.on_epoch_end()
        two.on_epoch_end()
        other.on_epoch_end()


def test_default_clip_keeps_the_noisy_stream_in_unit_range():
    stream = GaussianNoise(0.5, seed=0).dataset(_images(), batch_size=32)
    noisy = np.concatenate([stream[i][0] for i in range(len(stream))])
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0
    # Noise of 0.5 pushes many pixels past the bounds; clipping leaves them exactly there.
    assert (noisy == 0.0).mean() > 0.05
    assert (noisy == 1.0).mean() > 0.05


@pytest.mark.parametrize("clip", [(0.2, 0.7), (-1.0, 2.0)])
def test_custom_clip_bounds_the_noisy_stream(clip):
    stream = GaussianNoise(0.5, clip=clip, seed=0).dataset(_images(), batch_size=32)
    noisy = np.concatenate([stream[i][0] for i in range(len(stream))])
    assert (noisy.min(), noisy.max()) == (np.float32(clip[0]), np.float32(clip[1]))


def test_no_clip_leaves_values_outside_unit_range():
    stream = GaussianNoise(0.5, clip=None, seed=0).dataset(_images(), batch_size=32)
    noisy = np.concatenate([stream[i][0] for i in range(len(stream))])
    assert (noisy < 0.0).mean() > 0.05
    assert (noisy > 1.0).mean() > 0.05


def test_noise_statistics_in_stream():
    clean = np.full((256, 16, 16, 1), 0.5, "float32")
    stream = GaussianNoise(0.3, clip=None, seed=0).dataset(clean, batch_size=64)
    residual = np.concatenate([stream[i][0] - stream[i][1] for i in range(len(stream))])
    assert abs(residual.mean()) < 5 * 0.3 / np.sqrt(residual.size)
    assert residual.std() == pytest.approx(0.3, rel=0.02)


def test_negative_indices_count_from_the_end():
    stream = GaussianNoise(0.5, seed=0).dataset(_images(10), batch_size=4)
    for index in (-1, -3):
        for got, expected in zip(stream[index], stream[len(stream) + index], strict=True):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("index", [3, -4, 1.5, "0", True])
def test_index_out_of_range_or_not_an_integer(index):
    stream = GaussianNoise(0.5).dataset(_images(10), batch_size=4)
    received = re.escape(repr(index))
    message = rf"`index` must be an integer in \[-3, 3\)\. Received: index={received}$"
    with pytest.raises(IndexError, match=message):
        stream[index]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2**20 + 1}, r"at most 1048576\. Received: batch_size=1048577"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"shuffle": "yes"}, "shuffle"),
    ({"workers": 0}, "workers"),
    ({"workers": 257}, r"at most 256\. Received: workers=257$"),
    ({"use_multiprocessing": "yes"}, r"True or False\. Received: use_multiprocessing='yes'$"),
    ({"max_queue_size": 0}, r"positive integer\. Received: max_queue_size=0$"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        GaussianNoise(0.5).dataset(_images(10), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 2**20 + 1}, {"batch_size": 0}, {"shuffle": "yes"}, {"drop_remainder": 1}],
)
def test_a_refused_call_leaves_the_noise_generator_as_it_was(kwargs):
    # Checked before the stream's seed is drawn: a corrected call then gives the stream
    # that the same seed gives without the mistake.
    noise = GaussianNoise(0.5, seed=0)
    with pytest.raises((TypeError, ValueError), match=next(iter(kwargs))):
        noise.dataset(_images(10), **{"batch_size": 4, **kwargs})
    noisy, _ = noise.dataset(_images(10), batch_size=4)[0]
    expected, _ = GaussianNoise(0.5, seed=0).dataset(_images(10), batch_size=4)[0]
    np.testing.assert_array_equal(noisy, expected)


def test_streams_of_different_seeds_are_seeded_apart():
    # Each stream's seed is drawn from the whole 63-bit range: 300 noise seeds give 300
    # different streams, where a narrow range would repeat some.
    images = np.zeros((2, 4, 4), "float32")
    entropies = {GaussianNoise(0.5, seed=seed).dataset(images).entropy for seed in range(300)}
    assert len(entropies) == 300 and max(entropies) >= 2**32


def test_each_dataset_call_draws_its_own_stream():
    # Two streams of one noise source, or of two unseeded ones, must not repeat each other's
    # noise: each takes its seed from its source's generator.
    noise = GaussianNoise(0.5, seed=0)
    first, second = (noise.dataset(_images(10), batch_size=4) for _ in range(2))
    assert not np.array_equal(first[0][0], second[0][0])
    unseeded = [GaussianNoise(0.5).dataset(_images(10), batch_size=4)[0][0] for _ in range(2)]
    assert not np.array_equal(*unseeded)


def test_stream_noise_above_one_keeps_its_spread():
    clean = np.full((64, 16, 16, 1), 0.5, "float32")
    stream = GaussianNoise(3.0, clip=None, seed=0).dataset(clean, batch_size=32)
    residual = np.concatenate([stream[i][0] - stream[i][1] for i in range(len(stream))])
    assert residual.std() == pytest.approx(3.0, rel=0.05)


def _pairs(**kwargs):
    arguments = dict(images=_images(10), noise_factor=0.5, clip=(0.0, 1.0), batch_size=4,
                     shuffle=False, drop_remainder=False, entropy=0)
    arguments.update(kwargs)
    return NoisyPairs(arguments.pop("images"), **arguments)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"images": np.zeros((4, 8, 8), "float32")}, ValueError, "images"),
    ({"images": np.zeros((4, 8, 8, 1), "uint8")}, ValueError, "images"),
    ({"noise_factor": -1.0}, ValueError, "noise_factor=-1.0"),
    ({"noise_factor": 1e39}, ValueError, r"at most 1000000\.0\. Received: noise_factor=1e\+39"),
    ({"clip": (1.0, 0.0)}, ValueError, r"clip=\(1.0, 0.0\)"),
    ({"clip": 5}, ValueError, "clip=5"),
    ({"batch_size": 0}, ValueError, "batch_size=0"),
    ({"batch_size": 2**20 + 1}, ValueError, r"at most 1048576\. Received: batch_size=1048577"),
    ({"shuffle": "no"}, TypeError, "shuffle='no'"),
    ({"drop_remainder": 1}, TypeError, "drop_remainder=1"),
    ({"images": [[[[0.5]]]]}, ValueError, r"images=\[\[\[\[0\.5\]\]\]\]$"),
    ({"entropy": -1}, ValueError, r"must be >= 0\. Received: entropy=-1$"),
    ({"entropy": 1.5}, TypeError, "entropy=1.5"),
    ({"images": np.full((4, 8, 8, 1), 255.0, "float32")}, ValueError,
     r"pixels in \[0, 1\] .*Received: images with values in \[255, 255\]"),
])
def test_direct_construction_checks_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _pairs(**kwargs)


def test_direct_construction_streams_like_the_dataset_method():
    noisy, clean = _pairs(clip=None)[0]
    assert noisy.shape == clean.shape == (4, 16, 16, 1)
    assert noisy.min() < 0.0 or noisy.max() > 1.0


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_the_dataset_method_hands_its_worker_options_to_keras(use_multiprocessing):
    stream = GaussianNoise(0.5, seed=0).dataset(
        _images(10), workers=3, use_multiprocessing=use_multiprocessing, max_queue_size=5
    )
    assert (stream.workers, stream.use_multiprocessing, stream.max_queue_size) == (
        3, use_multiprocessing, 5
    )


def test_single_image_is_rejected():
    message = (
        r"`images` must have between 3 and 4 dimensions\. "
        r"Received: images with shape \(16, 16\)"
    )
    with pytest.raises(ValueError, match=message):
        GaussianNoise(0.5).dataset(np.zeros((16, 16)))


def test_fit_accepts_the_stream():
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
    model.compile()
    images = _images(64)
    history = model.fit(
        GaussianNoise(0.3, seed=0).dataset(images, batch_size=16),
        validation_data=GaussianNoise(0.3, seed=1).pairs(images[:16]),
        epochs=2,
        verbose=0,
    )
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["val_loss"]).all()
