"""Training speed of the default `ConvAutoencoder` on each Keras backend.

The reference task (MNIST, noise 0.5, batch 64) on a subset of the training
images; each backend runs in its own subprocess. Speed is in samples per
second over the steady-state epochs: every epoch but the first, which
includes tracing and compilation.

Usage:

    python benchmarks/bench_backends.py [--images 6000] [--epochs 2]
        [--backends tensorflow jax torch] [--mnist ../shared/data/mnist.npz]
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def _measure(mnist: str, images: int, epochs: int) -> dict:
    """Train in this process (backend from KERAS_BACKEND); return the timings."""
    import keras
    import numpy as np

    from keras_denoise import ConvAutoencoder, GaussianNoise

    with np.load(mnist, allow_pickle=False) as data:
        train = data["x_train"][:images]
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
        "first_epoch_s": epoch_times[0],
        "samples_per_s": len(train) * len(steady) / sum(steady),
        "final_loss": history.history["loss"][-1],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000, help="training images")
    parser.add_argument("--epochs", type=int, default=2, help="epochs, the first not timed")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is not timed")
    if args.worker:
        print(json.dumps(_measure(args.mnist, args.images, args.epochs)))
        return

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
            print(f"| {backend} | failed: {process.stderr.strip().splitlines()[-1]} | | |")
            continue
        result = json.loads(process.stdout.strip().splitlines()[-1])
        print(f"| {backend} | {result['samples_per_s']:.0f} | {result['first_epoch_s']:.1f} "
              f"| {result['final_loss']:.4f} |")


if __name__ == "__main__":
    main()
