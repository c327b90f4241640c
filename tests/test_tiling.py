import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_denoise._tiling import axis_spans, predict_tiled, tile_batches, tile_grid


def _box_sum(tiles, radius):
    """Sum over a (2 * radius + 1)-square window, zero outside each tile: a model of that radius."""
    height, width = tiles.shape[1:3]
    padded = np.pad(tiles, ((0, 0), (radius, radius), (radius, radius), (0, 0)))
    total = np.zeros_like(tiles)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            total += padded[:, dy : dy + height, dx : dx + width]
    return total


@given(
    length=st.integers(1, 300),
    step_units=st.integers(1, 8),
    overlap=st.integers(0, 40),
    multiple=st.sampled_from([1, 2, 4, 8]),
)
def test_axis_spans_partition_the_axis_with_enough_context(length, step_units, overlap, multiple):
    step = step_units * multiple
    length = -(-length // multiple) * multiple
    window = -(-(step + 2 * overlap) // multiple) * multiple
    spans = axis_spans(length, window, step)
    assert spans[0].keep_start == 0 and spans[-1].keep_stop == length
    for span, following in itertools.pairwise(spans):
        assert span.keep_stop == following.keep_start
    for span in spans:
        assert span.keep_start < span.keep_stop
        assert span.start % multiple == 0 and span.size == min(window, length)
        assert 0 <= span.start and span.start + span.size <= length
        if span.start > 0:
            assert span.keep_start - span.start >= overlap
        if span.start + span.size < length:
            assert span.start + span.size - span.keep_stop >= overlap


@pytest.mark.parametrize("shape", [(1, 50, 50, 1), (2, 37, 61, 3), (1, 9, 70, 2), (3, 5, 5, 1)])
@pytest.mark.parametrize(("tile_size", "radius"), [(8, 3), (16, 5), (12, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tiles_reproduce_a_model_whose_radius_fits_the_overlap(shape, tile_size, radius, dtype):
    images = np.random.default_rng(0).random(shape).astype(dtype)
    tiled = predict_tiled(
        lambda tiles: _box_sum(tiles, radius), images, tile_size=tile_size, overlap=radius,
        batch_size=3,
    )
    assert tiled.shape == images.shape and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, _box_sum(images, radius), rtol=1e-5, atol=1e-5)


def test_axis_spans_cut_at_the_lower_middle_of_an_odd_overlap():
    # The last two windows [4, 10) and [5, 11) overlap on [5, 10): its middle, 7.5, cuts at 7.
    spans = [tuple(span) for span in axis_spans(11, window=6, step=4)]
    assert spans == [(0, 6, 0, 5), (4, 6, 5, 7), (5, 6, 7, 11)]


def test_predict_tiled_defaults_to_batches_of_8_and_no_size_multiple():
    seen = []

    def record(tiles):
        seen.append(tiles.shape)
        return tiles

    predict_tiled(record, np.zeros((1, 9, 9, 1), "float32"), tile_size=3, overlap=1)
    assert seen == [(8, 5, 5, 1), (1, 5, 5, 1)]  # 3 x 3 windows of 5 pixels, odd and unpadded


def test_too_little_overlap_shows_seams():
    images = np.random.default_rng(0).random((1, 40, 40, 1)).astype("float32")
    tiled = predict_tiled(lambda tiles: _box_sum(tiles, 4), images, tile_size=8, overlap=2)
    assert not np.allclose(tiled, _box_sum(images, 4), atol=1e-3)


def test_multiple_pads_with_zeros_at_the_bottom_and_right():
    images = np.random.default_rng(0).random((1, 13, 10, 1)).astype("float32")
    seen = []

    def record(tiles):
        seen.append(tiles.shape)
        return tiles

    tiled = predict_tiled(record, images, tile_size=8, overlap=1, multiple=8)
    assert all(side % 8 == 0 for shape in seen for side in shape[1:3])
    np.testing.assert_array_equal(tiled, images)


def test_tile_batches_are_bounded_and_lazy():
    images = np.zeros((2, 64, 64, 1), "float32")
    rows, columns = tile_grid(64, 64, tile_size=16, overlap=4)
    batches = tile_batches(images, rows, columns, batch_size=5)
    assert not isinstance(batches, (list, tuple))
    sizes = [len(placements) for tiles, placements in batches]
    assert max(sizes) == 5 and sum(sizes) == 2 * len(rows) * len(columns)


def test_tiles_come_from_the_right_places():
    images = np.arange(2 * 20 * 20, dtype="float32").reshape(2, 20, 20, 1)
    rows, columns = tile_grid(20, 20, tile_size=8, overlap=2)
    for tiles, placements in tile_batches(images, rows, columns, batch_size=4):
        for tile, (index, row, column) in zip(tiles, placements, strict=True):
            expected = images[index, row.start : row.start + row.size,
                              column.start : column.start + column.size]
            np.testing.assert_array_equal(tile, expected)


def test_verbose_shows_a_progress_bar_over_every_tile_of_every_image(capsys):
    # 4 x 4 windows of 12 pixels advancing by 8 cover each 32 x 32 image.
    images = np.zeros((2, 32, 32, 1), "float32")
    predict_tiled(lambda tiles: tiles, images, tile_size=8, overlap=2, verbose=True)
    output = capsys.readouterr().out
    assert "32/32" in output and "tile" in output
