"""Tiled denoising of large images with `UNetDenoiser`: throughput and memory.

    python benchmarks/bench_tiling.py --size 4096 --tile-size 512

Denoises one noisy `size` x `size` grayscale image with tiling and reports megapixels per
second and the peak resident memory of the process, then checks on a smaller image, cut into
at least two tiles along each side, that the tiled result matches the untiled one. The model
is untrained: throughput does not depend on the weights. It is the default `UNetDenoiser`
unless `--unet-options` gives other keywords. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
from bench_training import check_json_options  # this folder is on sys.path when run as a script

from keras_denoise import _tiling
from keras_denoise._cli import (
    _check_output_file,
    _checked,
    _nonnegative_int,
    _positive_int,
    _write_json,
)
from keras_denoise._unet_denoiser import AUTO_TILE_PIXELS

# The tiled == untiled check denoises a `--check-size` x (`--check-size` - 17) image (a width
# that is neither square nor a multiple of the tiles), with tiles of 128 pixels (or the model's
# size multiple, if larger). By default it is 384 pixels high, or more where the model's
# windows (a tile and its overlap on both sides) need it to span two tiles along each side.
CHECK_NARROWER = 17
CHECK_TILE = 128
CHECK_SIZE = 384


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tile_count(height: int, tile_size: int, overlap: int, multiple: int) -> tuple[int, int]:
    """Rows and columns of tiles that `denoise` cuts the check image of `height` into."""
    rows, columns = _tiling.tile_grid(height, height - CHECK_NARROWER, tile_size=tile_size,
                                      overlap=overlap, multiple=multiple)
    return len(rows), len(columns)


def _check_image(parser, check_size, multiple: int, overlap: int) -> tuple[int, int]:
    """The tile size and height of the tiled == untiled check: tiled on both axes, yet whole."""
    check_tile = -(-CHECK_TILE // multiple) * multiple
    least = CHECK_NARROWER + 1
    while min(_tile_count(least, check_tile, overlap, multiple)) < 2:
        least += 1
        if least * (least - CHECK_NARROWER) > AUTO_TILE_PIXELS:
            parser.error("the tiled == untiled check cannot cut an image that denoise takes "
                         f"whole (at most {AUTO_TILE_PIXELS:,} pixels) into two tiles of "
                         f"{check_tile} pixels and their overlap along each side: give a smaller "
                         f"--overlap. Received: overlap={overlap}")
    if check_size is None:
        check_size = max(CHECK_SIZE, least)
    received = f"Received: --check-size={check_size}"
    if check_size < least:
        parser.error(f"--check-size must be at least {least} for this model and overlap: a "
                     f"smaller check image fits in one tile of {check_tile} pixels and "
                     f"{overlap} of overlap along a side, where tiled equals untiled trivially. "
                     f"{received}")
    if check_size * (check_size - CHECK_NARROWER) > AUTO_TILE_PIXELS:
        parser.error(f"--check-size must leave the check image at most {AUTO_TILE_PIXELS:,} "
                     "pixels: denoise tiles larger ones itself, and the check needs one denoised "
                     f"whole. {received}")
    return check_tile, check_size


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=_positive_int("size"), default=4096,
                        help="side of the large image")
    parser.add_argument("--tile-size", type=_positive_int("tile_size"), default=512)
    parser.add_argument("--overlap", type=_checked(int, _nonnegative_int, "overlap"),
                        default=None,
                        help="context around each tile (default: the model's receptive radius)")
    parser.add_argument("--batch-size", type=_positive_int("batch_size"), default=4)
    parser.add_argument("--check-size", type=_positive_int("check_size"), default=None,
                        help="height of the image used for the tiled == untiled check (its "
                             f"width is {CHECK_NARROWER} less), large enough for two tiles of "
                             f"{CHECK_TILE} pixels and their overlap along each side, and at "
                             f"most {AUTO_TILE_PIXELS:,} pixels in all, which denoise takes "
                             f"whole (default: {CHECK_SIZE}, or the least size that tiles)")
    parser.add_argument("--unet-options", default="{}",
                        help="UNetDenoiser keywords as JSON (default: the default model), e.g. "
                             '\'{"filters": [32, 48, 64, 96], "convolutions": 2, '
                             '"activation": "relu"}\'')
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    unet_options = check_json_options(
        parser, "--unet-options", args.unet_options,
        refused={"image_shape": "one channel, any size"},
    )
    if args.json is not None:
        try:
            _check_output_file(args.json, "--json")
        except OSError as error:
            parser.error(str(error))

    import keras

    from keras_denoise import GaussianNoise, UNetDenoiser

    keras.utils.set_random_seed(0)
    try:
        model = UNetDenoiser(**unet_options)
    except (TypeError, ValueError) as error:
        parser.error(f"--unet-options: {error}")
    overlap = model.receptive_radius if args.overlap is None else args.overlap
    if args.tile_size % model.size_multiple:
        parser.error(f"--tile-size must be a multiple of {model.size_multiple}, the model's "
                     f"size multiple. Received: --tile-size={args.tile_size}")
    check_tile, check_size = _check_image(parser, args.check_size, model.size_multiple, overlap)
    rng = np.random.default_rng(0)
    noise = GaussianNoise(0.5, seed=0)

    # Warm up (traces the model for the tile shape), then time the large image.
    warm = noise(rng.random((args.tile_size, args.tile_size), dtype=np.float32))
    model.denoise(warm, tile_size=args.tile_size, overlap=overlap, batch_size=args.batch_size)
    image = noise(rng.random((args.size, args.size), dtype=np.float32))
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    out = model.denoise(image, tile_size=args.tile_size, overlap=overlap,
                        batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    assert out.shape == image.shape

    small = noise(rng.random((check_size, check_size - CHECK_NARROWER), dtype=np.float32))
    tiled = model.denoise(small, tile_size=check_tile, overlap=overlap,
                          batch_size=args.batch_size)
    untiled = model.denoise(small, batch_size=1)
    results = {
        "image": f"{args.size}x{args.size}x1",
        "tile_size": args.tile_size,
        "overlap": overlap,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 2),
        # Three significant digits: small images on a slow machine run well under 0.1 MP/s.
        "megapixels_per_s": float(f"{args.size * args.size / 1e6 / seconds:.3g}"),
        "peak_rss_mib_before_large_image": round(rss_before),
        "peak_rss_mib": round(peak_rss_mib()),
        "image_mib_float32": round(image.nbytes / 2**20),
        "check_image": f"{check_size}x{check_size - CHECK_NARROWER}x1",
        "check_tiles": _tile_count(check_size, check_tile, overlap, model.size_multiple),
        "max_abs_diff_tiled_vs_untiled": float(np.abs(tiled - untiled).max()),
        "parameters": model.count_params(),
        "unet_options": unet_options,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    for key, value in results.items():
        print(f"{key:34} {value}")
    if args.json:
        _write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
