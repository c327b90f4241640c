"""Make `src/keras_denoise/data/sample_digits.npz`, the MNIST sample shipped in the package.

The sample holds real MNIST digits (LeCun, Cortes and Burges; CC BY-SA 3.0, see
NOTICE), unmodified and stored as uint8. Each split is drawn without
replacement from the same split of the complete MNIST file, stratified by
class: every digit gets a share of the sample proportional to its share of the
split (largest-remainder rounding). The chosen digits are kept in their MNIST
order.

Besides `x_train`, `y_train`, `x_test` and `y_test`, the archive records how
it was made: `source_sha256` (the digest of the MNIST file), `seed`, and
`train_indices` / `test_indices` (the positions of the chosen digits in the
MNIST splits), so `x_train == mnist["x_train"][train_indices]`.

Run it from the repository root::

    python scripts/make_sample_digits.py --source ../shared/data/mnist.npz
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

import numpy as np

from keras_denoise._saving import atomic_path

MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
_CHUNK_BYTES = 1 << 20


def sha256sum(path: str | os.PathLike) -> str:
    """Hexadecimal SHA-256 digest of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stratified_indices(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `count` items drawn from `labels` in proportion to each class."""
    if count > len(labels):
        message = f"Cannot draw {count} digits from a split of {len(labels)}."
        raise ValueError(message)
    classes, sizes = np.unique(labels, return_counts=True)
    quotas = count * sizes / sizes.sum()
    counts = np.floor(quotas).astype(int)
    # Largest remainder: the classes whose quotas lost the most to rounding get one more.
    counts[np.argsort(counts - quotas, kind="stable")[: count - counts.sum()]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == label), size, replace=False)
        for label, size in zip(classes, counts, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def make_sample(
    source: str | os.PathLike, out: str | os.PathLike, *, train: int, test: int, seed: int
) -> None:
    """Draw the sample from the MNIST file `source` and write it atomically to `out`."""
    digest = sha256sum(source)
    if digest != MNIST_SHA256:
        message = (
            f"{os.fspath(source)!r} is not the expected MNIST file: its SHA-256 is {digest}, "
            f"expected {MNIST_SHA256}."
        )
        raise ValueError(message)
    rng = np.random.default_rng(seed)
    arrays = {}
    with np.load(source, allow_pickle=False) as mnist:
        for split, count in (("train", train), ("test", test)):
            labels = mnist[f"y_{split}"]
            indices = stratified_indices(labels, count, rng)
            arrays[f"x_{split}"] = mnist[f"x_{split}"][indices]
            arrays[f"y_{split}"] = labels[indices]
            arrays[f"{split}_indices"] = indices
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle, **arrays, source_sha256=np.array(digest), seed=np.array(seed)
        )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        message = f"must be a positive integer, not {text}"
        raise argparse.ArgumentTypeError(message)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="../shared/data/mnist.npz",
                        help="the complete MNIST file, in the keras layout")
    parser.add_argument("--out", default="src/keras_denoise/data/sample_digits.npz",
                        help="where to write the sample")
    parser.add_argument("--train", type=_positive_int, default=3000,
                        help="number of training digits")
    parser.add_argument("--test", type=_positive_int, default=600, help="number of test digits")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    args = parser.parse_args(argv)
    try:
        make_sample(args.source, args.out, train=args.train, test=args.test, seed=args.seed)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
