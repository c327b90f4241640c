"""Tiled denoising of large images with `UNetDenoiser`: throughput and memory.

    python benchmarks/bench_tiling.py --size 4096 --tile-size 512

Denoises one noisy `size` x `size` grayscale image with tiling and reports megapixels per
second and the peak resident memory of the process, then checks on a smaller image that the
tiled result matches the untiled one. The model is untrained: throughput does not depend on
the weights. It is the default `UNetDenoiser` unless `--unet-options` gives other keywords.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
from bench_training import check_json_options  # this folder is on sys.path when run as a script

from keras_denoise._cli import (
    _check_output_file,
    _checked,
    _nonnegative_int,
    _positive_int,
    _write_json,
)

# The tiled == untiled check denoises a `--check-size` x (`--check-size` - 17) image (a width
# that is neither square nor a multiple of the tiles), with tiles of 128 pixels.
CHECK_NARROWER = 17
CHECK_TILE = 128


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=_positive_int("size"), default=4096,
                        help="side of the large image")
    parser.add_argument("--tile-size", type=_positive_int("tile_size"), default=512)
    parser.add_argument("--overlap", type=_checked(int, _nonnegative_int, "overlap"),
                        default=None,
                        help="context around each tile (default: the model's receptive radius)")
    parser.add_argument("--batch-size", type=_positive_int("batch_size"), default=4)
    parser.add_argument("--check-size", type=int, default=384,
                        help="height of the image used for the tiled == untiled check (its "
                             f"width is {CHECK_NARROWER} less; tiles of {CHECK_TILE}: from "
                             f"{CHECK_TILE + CHECK_NARROWER + 1} on, the image spans several)")
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
    if args.check_size <= CHECK_NARROWER:
        parser.error(f"--check-size must be at least {CHECK_NARROWER + 1}: the check image is "
                     f"--check-size x (--check-size - {CHECK_NARROWER}) pixels. "
                     f"Received: --check-size={args.check_size}")
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

    small = noise(
        rng.random((args.check_size, args.check_size - CHECK_NARROWER), dtype=np.float32)
    )
    tiled = model.denoise(small, tile_size=CHECK_TILE, overlap=overlap,
                          batch_size=args.batch_size)
    untiled = model.denoise(small, batch_size=1)
    results = {
        "image": f"{args.size}x{args.size}x1",
        "tile_size": args.tile_size,
        "overlap": overlap,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 2),
        "megapixels_per_s": round(args.size * args.size / 1e6 / seconds, 3),
        "peak_rss_mib_before_large_image": round(rss_before),
        "peak_rss_mib": round(peak_rss_mib()),
        "image_mib_float32": round(image.nbytes / 2**20),
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
