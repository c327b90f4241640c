"""Tiled inference: run a model over large images a few overlapping tiles at a time.

Each image is zero-padded at the bottom and right to a multiple of `multiple`
(what the model itself would do), then cut into square windows of
`tile_size + 2 * overlap` pixels (rounded up to a multiple of `multiple`) that
advance by `tile_size`. Only each window's centre is kept: the boundary between
two neighbouring windows lies in the middle of their overlap, so every kept
pixel has at least `overlap` pixels of real context on every side that is not
an image border. A model whose output at a pixel depends only on the inputs
within `overlap` pixels of it (its receptive radius), and whose downsampling
grid starts on multiples of `multiple`, gives the same result tiled as untiled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any, NamedTuple

import keras
import numpy as np


class Span(NamedTuple):
    """A window `[start, start + size)` along one axis, keeping `[keep_start, keep_stop)`."""

    start: int
    size: int
    keep_start: int
    keep_stop: int


def axis_spans(length: int, window: int, step: int) -> list[Span]:
    """Cover `[0, length)` with windows of `window` pixels advancing by `step`.

    The last window ends at `length` (so it may overlap its neighbour more);
    a window longer than `length` is shortened to `length`. The kept parts of
    the windows partition `[0, length)`, each boundary in the middle of the
    overlap of the two windows it separates.

    Args:
        length: size of the axis.
        window: size of each window.
        step: distance between the starts of consecutive windows, at most
            `window`.

    Returns:
        The windows, in order.

    Example:

    >>> from keras_denoise._tiling import axis_spans
    >>> [tuple(span) for span in axis_spans(10, window=6, step=4)]
    [(0, 6, 0, 5), (4, 6, 5, 10)]
    """
    window = min(window, length)
    starts = [*range(0, length - window, step), length - window]
    cuts = [0]
    cuts += [(start + window + following) // 2 for start, following in pairwise(starts)]
    cuts.append(length)
    bounds = pairwise(cuts)
    return [Span(start, window, lo, hi) for start, (lo, hi) in zip(starts, bounds, strict=True)]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_grid(
    height: int, width: int, *, tile_size: int, overlap: int, multiple: int = 1
) -> tuple[list[Span], list[Span]]:
    """The row and column windows that tile a `height` x `width` image.

    The image is taken as zero-padded at the bottom and right to a multiple of
    `multiple`; windows are `tile_size + 2 * overlap` pixels rounded up to a
    multiple of `multiple` (at most the padded image) and advance by
    `tile_size`, so with `tile_size` a multiple of `multiple` every window
    starts on the model's downsampling grid.

    Args:
        height: image height.
        width: image width.
        tile_size: step between windows.
        overlap: context kept on every side of each window's kept part.
        multiple: size multiple and downsampling grid of the model.

    Returns:
        `(rows, columns)`: the `Span`s along each axis.

    Example:

    >>> from keras_denoise._tiling import tile_grid
    >>> rows, columns = tile_grid(20, 9, tile_size=8, overlap=2)
    >>> len(rows), len(columns), rows[0].size, columns[0].size
    (2, 1, 12, 9)
    """
    window = _round_up(tile_size + 2 * overlap, multiple)
    rows = axis_spans(_round_up(height, multiple), window, tile_size)
    columns = axis_spans(_round_up(width, multiple), window, tile_size)
    return rows, columns


def tile_batches(
    images: np.ndarray, rows: list[Span], columns: list[Span], *, batch_size: int = 8
) -> Iterator[tuple[np.ndarray, list[tuple[int, Span, Span]]]]:
    """Yield batches of tiles of `images` with where they belong.

    Only one padded image and one batch of tiles exist at any time, so memory
    stays bounded whatever the image size.

    Args:
        images: float array `(N, height, width, channels)`.
        rows: row windows from `tile_grid`; the image is zero-padded at the
            bottom to where the last one ends.
        columns: column windows from `tile_grid`, likewise at the right.
        batch_size: tiles per batch.

    Yields:
        `(tiles, placements)`: an array `(B, tile_height, tile_width,
        channels)` with `B <= batch_size`, and for each tile its image index
        and its row and column `Span`.

    Example:

    >>> import numpy as np
    >>> from keras_denoise._tiling import tile_batches, tile_grid
    >>> rows, columns = tile_grid(24, 24, tile_size=8, overlap=2)
    >>> batches = tile_batches(np.zeros((1, 24, 24, 1)), rows, columns, batch_size=4)
    >>> [tiles.shape for tiles, _ in batches]
    [(4, 12, 12, 1), (4, 12, 12, 1), (1, 12, 12, 1)]
    """
    _, height, width, _ = images.shape
    pad_height = rows[-1].start + rows[-1].size - height
    pad_width = columns[-1].start + columns[-1].size - width
    tiles, placements = [], []
    for index, image in enumerate(images):
        padded = np.pad(image, ((0, pad_height), (0, pad_width), (0, 0)))
        for row in rows:
            for column in columns:
                tiles.append(
                    padded[
                        row.start : row.start + row.size, column.start : column.start + column.size
                    ]
                )
                placements.append((index, row, column))
                if len(tiles) == batch_size:
                    yield np.stack(tiles), placements
                    tiles, placements = [], []
    if tiles:
        yield np.stack(tiles), placements


def predict_tiled(
    predict: Callable[[np.ndarray], Any],
    images: np.ndarray,
    *,
    tile_size: int,
    overlap: int,
    multiple: int = 1,
    batch_size: int = 8,
    verbose: bool = False,
) -> np.ndarray:
    """Apply `predict` to overlapping tiles of `images` and stitch the results.

    Arguments are assumed valid (the public callers check them).

    Args:
        predict: maps a batch of tiles to a batch of outputs of the same
            shape (for example `model.predict_on_batch`).
        images: float array `(N, height, width, channels)`.
        tile_size: side of the region each tile contributes; a multiple of
            `multiple`.
        overlap: pixels of context each tile reads beyond that region on
            every side, then discards.
        multiple: size multiple and downsampling grid of the model.
        batch_size: tiles per call of `predict`.
        verbose: whether to show a `keras.utils.Progbar` of the tiles.

    Returns:
        float32 array of the same shape as `images`.

    Example:

    >>> import numpy as np
    >>> from keras_denoise._tiling import predict_tiled
    >>> images = np.random.default_rng(0).random((2, 30, 20, 1))
    >>> out = predict_tiled(lambda tiles: 1 - tiles, images, tile_size=8, overlap=4)
    >>> np.allclose(out, 1 - images)
    True
    """
    count, height, width, _ = images.shape
    rows, columns = tile_grid(
        height, width, tile_size=tile_size, overlap=overlap, multiple=multiple
    )
    progbar = None
    if verbose:
        progbar = keras.utils.Progbar(count * len(rows) * len(columns), unit_name="tile")
    result = np.empty(images.shape, dtype=np.float32)
    for tiles, placements in tile_batches(images, rows, columns, batch_size=batch_size):
        outputs = keras.ops.convert_to_numpy(predict(tiles))
        for output, (index, row, column) in zip(outputs, placements, strict=True):
            # Rows and columns past `height` and `width` are padding: drop them.
            top, bottom = row.keep_start, min(row.keep_stop, height)
            left, right = column.keep_start, min(column.keep_stop, width)
            if top < bottom and left < right:
                result[index, top:bottom, left:right] = output[
                    top - row.start : bottom - row.start, left - column.start : right - column.start
                ]
        if progbar is not None:
            progbar.add(len(placements))
    return result
