"""Saved denoisers and classical filters over noise levels, in one table and one figure.

    python benchmarks/bench_noise_levels.py --data ../shared/data/mnist.npz \
        unet=models/unet.keras conv_autoencoder=models/keras_denoise.keras \
        --json levels.json --figure levels.png

Noises the MNIST test digits at each noise level with `GaussianNoise(noise_factor, seed=seed)`
and scores, with `keras_denoise.evaluate`, the noisy input, each saved model (`LABEL=PATH`,
as `bench_training.py --save-dir` writes them) and the scikit-image baselines, all on the same
noisy images. The baselines run once, not once per model. A model without a `denoise` method
(the reference recipe's plain Keras model) is scored on its `predict`, clipped to [0, 1].
Needs the `skimage` extra. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from bench_training import load_npz, versions  # this folder is on sys.path when run as a script

from keras_denoise import _validation
from keras_denoise._cli import (
    _baselines,
    _check_output_file,
    _checked,
    _figure_path,
    _noise_factors,
    _positive_int,
)


class _Predictor:
    """`denoise` for a plain Keras model: its `predict`, clipped to [0, 1]."""

    def __init__(self, model):
        self.model = model

    def denoise(self, images, batch_size=64):
        outputs = self.model.predict(images, batch_size=batch_size, verbose=0)
        return np.clip(np.asarray(outputs, dtype="float32"), 0.0, 1.0)


def _model_argument(text: str) -> tuple[str, str]:
    label, separator, path = text.partition("=")
    if not separator or not label or not path:
        message = f"models must be given as LABEL=PATH. Received: {text!r}"
        raise argparse.ArgumentTypeError(message)
    return label, path


def _check_arguments(parser, args):
    """Refuse, before any scoring, what would otherwise fail (or drop a model) after it."""
    from keras_denoise._evaluate import _check_baselines

    try:
        _check_baselines(args.baselines)
    except ValueError as error:
        parser.error(f"--baselines: {error}")
    labels = [label for label, _ in args.models]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        given = " ".join(f"{label}={path}" for label, path in args.models)
        parser.error(f"models: each LABEL must be unique (it names the rows); repeated: "
                     f"{repeated}. Received: {given}")
    for label, path in args.models:
        if not os.path.isfile(path):
            parser.error(f"models: no such file: {path!r}. Received: {label}={path}")
    for option in ("json", "figure"):
        path = getattr(args, option)
        if path is not None:
            try:
                _check_output_file(path, f"--{option}")
            except OSError as error:
                parser.error(str(error))


def _load_test_images(parser, path: str, max_images: int | None) -> np.ndarray:
    """The `x_test` images of the `.npz` at `path` (the first `max_images`), checked and
    scaled to float32 in [0, 1], as `evaluate` takes them."""
    clean = load_npz(parser, path, ("x_test",))["x_test"]
    clean = clean if max_images is None else clean[:max_images]
    try:  # what evaluate would refuse only after the models are loaded
        return _validation.as_float_images(
            clean, "x_test", min_ndim=3, max_ndim=4, check_range=True
        )
    except (TypeError, ValueError) as error:
        parser.error(f"--data: {error}")


def _load_models(parser, models):
    """The models of `LABEL=PATH` by label, loaded (a few seconds) before the baselines run."""
    import keras_denoise
    from keras_denoise._cli import _FILE_ERRORS

    loaded = {}
    for label, path in models:
        try:
            model = keras_denoise.load_model(path)
        except (ValueError, TypeError, OSError, *_FILE_ERRORS) as error:
            message = " ".join(str(error).split()) or type(error).__name__
            parser.error(f"models: {label}={path} cannot be loaded: {message}")
        loaded[label] = model if callable(getattr(model, "denoise", None)) else _Predictor(model)
    return loaded


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=_model_argument, metavar="LABEL=PATH",
                        help="a saved .keras model and the name its rows get")
    parser.add_argument("--data", required=True, help="MNIST .npz in Keras layout (x_test)")
    parser.add_argument("--noise-factors", default="0.1,0.3,0.5,0.7", type=_noise_factors,
                        help="comma-separated noise levels, each from 0 to 1e6")
    parser.add_argument("--baselines", default=("median", "tv", "nl_means", "wavelet"),
                        type=_baselines,
                        help="comma-separated scikit-image baselines among median, tv, nl_means "
                             "and wavelet, or 'none' (default: all four)")
    parser.add_argument("--seed", type=_checked(int, _validation.check_seed, "seed"), default=0,
                        help="seed of the noise, 0 to 2**32 - 1")
    parser.add_argument("--max-images", type=_positive_int("max_images"), default=None,
                        help="score only the first N test digits (default: all 10,000)")
    parser.add_argument("--json", help="write the rows and the setup to this JSON file")
    parser.add_argument("--figure", type=_figure_path,
                        help="plot PSNR against the noise level to this file (.png, .pdf, .svg)")
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    clean = _load_test_images(parser, args.data, args.max_images)

    import keras

    import keras_denoise
    from keras_denoise._cli import _write_json
    from keras_denoise.plotting import plot_evaluation

    models = _load_models(parser, args.models)
    noise_factors = args.noise_factors
    baselines = args.baselines
    options = {"noise_factors": noise_factors, "seed": args.seed, "verbose": False}

    # One run for the noisy input and the baselines, then one per model without them: every run
    # draws the same noise (same seed, same images), so the rows are on the same noisy digits.
    start = time.perf_counter()
    reference_rows = keras_denoise.evaluate(None, clean, baselines=baselines, **options)
    seconds = {"noisy and baselines": round(time.perf_counter() - start, 1)}
    model_rows = {}
    for label, model in models.items():
        start = time.perf_counter()
        rows = keras_denoise.evaluate(model, clean, baselines=(), **options)
        seconds[label] = round(time.perf_counter() - start, 1)
        model_rows[label] = [row for row in rows if row["method"] == "model"]

    table = []
    for index, noise_factor in enumerate(noise_factors):
        group = [row for row in reference_rows if row["noise_factor"] == noise_factor]
        table.append(group[0])  # the noisy input
        table.extend({**rows[index], "method": label} for label, rows in model_rows.items())
        table.extend(group[1:])
    print(keras_denoise.format_table(table))
    print("seconds:", seconds)
    results = {
        "images": len(clean),
        "seed": args.seed,
        "models": dict(args.models),
        "rows": table,
        "seconds": seconds,
        "versions": versions(keras.backend.backend()),
    }
    if args.json:  # before the figure: a plotting error must not lose the scores
        _write_json(args.json, results)  # strict JSON: null for an infinite PSNR (noise 0)
    if args.figure:
        plot_evaluation(table, path=args.figure)
    return results


if __name__ == "__main__":
    main()
