"""Training speed of the default `ConvAutoencoder` on each Keras backend.

The reference task (MNIST, noise 0.5, batch 64) on a subset of the training
images; each backend runs in its own subprocess. Speed is in samples per
second over the steady-state epochs: every epoch but the first, which
includes tracing and compilation.

Usage:

    python benchmarks/bench_backends.py [--images 6000] [--epochs 2]
        [--backends tensorflow jax torch] [--mnist ../shared/data/mnist.npz]

A backend that is not installed gets a row saying so; one whose run fails, a
row with the last line of its error, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

from keras_denoise._cli import _positive_int

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
BACKENDS = ("tensorflow", "jax", "torch")


def _measure(mnist: str, images: int, epochs: int) -> dict:
    """Train in this process (backend from KERAS_BACKEND); return the timings."""
    import keras
    import numpy as np

    from keras_denoise import ConvAutoencoder, GaussianNoise

    with np.load(mnist, allow_pickle=False) as data:
        train = data["x_train"][:images]
    if len(train) < images:
        message = f"--images is more than the {len(train)} of {mnist}. Received: --images={images}"
        raise ValueError(message)
    epoch_times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    keras.utils.set_random_seed(0)
    model = ConvAutoencoder()
    model.compile()
    stream = GaussianNoise(0.5, seed=0).dataset(train, batch_size=64)
    history = model.fit(stream, epochs=epochs, verbose=0, callbacks=[Timer()])
    steady = epoch_times[1:]
    return {
        "backend": keras.backend.backend(),
        "epoch_seconds": epoch_times,
        "first_epoch_s": epoch_times[0],
        "samples_per_s": len(train) * len(steady) / sum(steady),
        "final_loss": history.history["loss"][-1],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the table; return the exit status: 1 if a backend's run failed, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=_positive_int("images"), default=6000,
                        help="training images (the first N of x_train)")
    parser.add_argument("--epochs", type=_positive_int("epochs"), default=2,
                        help="epochs, the first not timed")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2: the first epoch is not timed. "
                     f"Received: --epochs={args.epochs}")
    if not os.path.isfile(args.mnist):
        parser.error(f"--mnist: no such file: {args.mnist!r}")
    if args.worker:
        print(json.dumps(_measure(args.mnist, args.images, args.epochs)))
        return 0

    versions = {}
    for name in ("keras", *args.backends):
        if importlib.util.find_spec(name) is not None:
            versions[name] = subprocess.run(
                [sys.executable, "-c", f"import {name}; print({name}.__version__)"],
                capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            ).stdout.strip()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          + ", ".join(f"{name} {version}" for name, version in versions.items()))
    print(f"{args.images} images, batch 64, {args.epochs} epochs (first not timed)")
    print("| backend | samples/s | first epoch (s) | final loss |")
    print("|---|---:|---:|---:|")
    failed = False
    for backend in args.backends:
        if backend not in versions:
            print(f"| {backend} | not installed | | |")
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        process = subprocess.run(
            [sys.executable, __file__, "--worker", "--mnist", args.mnist,
             "--images", str(args.images), "--epochs", str(args.epochs)],
            capture_output=True, text=True, env=env,
        )
        if process.returncode != 0:
            last = (process.stderr.strip().splitlines() or [f"exit status {process.returncode}"])
            print(f"| {backend} | failed: {last[-1]} | | |")
            failed = True
            continue
        result = json.loads(process.stdout.strip().splitlines()[-1])
        print(f"| {backend} | {result['samples_per_s']:.0f} | {result['first_epoch_s']:.1f} "
              f"| {result['final_loss']:.4f} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
