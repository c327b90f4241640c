"""Reference denoising recipe vs. `fit_denoising`, side by side on MNIST.

Each recipe runs in its own subprocess (so its peak RSS is its own) with the
same data, epochs and noise level; the parent prints a comparison table.

    python benchmarks/bench_training.py --data ../shared/data/mnist.npz --epochs 35

See benchmarks/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import zipfile

import numpy as np

BATCH_SIZE = 64
NOISE_FACTOR = 0.5
VALIDATION_SPLIT = 0.1
TEST_NOISE_SEED = 2024
TURN = "WAITING FOR TURN:"


def reference_model():
    """The classic tutorial's autoencoder, written out with the functional API."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="sigmoid")(x)
    x = layers.Dense(7 * 7 * 32, activation="relu")(x)
    x = layers.Reshape((7, 7, 32))(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu", padding="same")(x)
    outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def reference_data(x_train, seed):
    """The tutorial's training data: `(noisy, clean)`, float64 copies of `x_train` in [0, 1]
    with a channel axis, the noisy one drawn once (`noise_factor * N(0, 1)`, clipped)."""
    x = x_train.astype("float64")[..., None] / 255.0
    rng = np.random.default_rng(seed)
    return np.clip(x + NOISE_FACTOR * rng.normal(size=x.shape), 0, 1), x


def per_image_log_kl(y_true, y_pred):
    """`10 * log10` of each image's mean Bernoulli KL divergence (an experiment, `--loss`).

    The mean PSNR over images averages logarithms of per-image errors, while binary
    cross-entropy averages the errors themselves, so well-denoised images hardly steer
    training. This loss takes the logarithm per image of the cross-entropy less the clean
    image's own entropy (so that a perfect estimate scores 0 before the logarithm), keeping
    the cross-entropy's gradient through the sigmoid.
    """
    import keras

    ops = keras.ops
    epsilon = 1e-7
    clean = ops.cast(y_true, "float32")
    estimate = ops.clip(ops.cast(y_pred, "float32"), epsilon, 1.0 - epsilon)
    target = ops.clip(clean, epsilon, 1.0 - epsilon)
    divergence = clean * ops.log(target / estimate) + (1.0 - clean) * ops.log(
        (1.0 - target) / (1.0 - estimate)
    )
    per_image = ops.mean(ops.reshape(divergence, (ops.shape(divergence)[0], -1)), axis=1)
    return 10.0 * ops.log10(per_image + 1e-6)


def stolen_seconds():
    """CPU time the hypervisor gave to others, all CPUs summed (Linux; else None).

    A virtual machine's "steal" column of /proc/stat: when it grows during an
    epoch, the epoch ran on a busy host and its wall time says less about
    the recipe.
    """
    try:
        with open("/proc/stat") as file:
            fields = file.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def wait_for_turn(message):
    """Tell the parent `message` on stdout, then block until it answers a line on stdin."""
    print(message, flush=True)
    if not sys.stdin.readline():
        raise SystemExit("bench_training: the parent process went away")


def make_epoch_timer(label, epochs, take_turns=False):
    """A Keras callback recording the wall time of every epoch (in `.times`).

    It also prints one line per epoch to stderr, which the parent does not
    capture, so a long run shows its progress. With `take_turns`, every
    epoch and the evaluation after training start only when the parent
    says so (see `run_interleaved`), and the end of each epoch is reported
    on stdout.
    """
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []
            self.cpu_times = []
            self.steal_times = []

        def on_epoch_begin(self, epoch, logs=None):
            if take_turns:
                wait_for_turn(f"{TURN} epoch {epoch + 1}")
            self._steal = stolen_seconds()
            self._cpu = time.process_time()
            self._start = time.perf_counter()

        def on_train_end(self, logs=None):
            if take_turns:
                wait_for_turn(f"{TURN} evaluation")

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)
            self.cpu_times.append(time.process_time() - self._cpu)
            steal = stolen_seconds()
            self.steal_times.append(
                None if steal is None or self._steal is None else steal - self._steal
            )
            losses = ", ".join(
                f"{key} {value:.4f}" for key, value in (logs or {}).items()
                if key in ("loss", "val_loss")
            )
            steal = "" if self.steal_times[-1] is None else f", steal {self.steal_times[-1]:.1f} s"
            print(f"[{label}] epoch {epoch + 1}/{epochs}: {self.times[-1]:.1f} s "
                  f"(CPU {self.cpu_times[-1]:.1f} s{steal}), {losses}",
                  file=sys.stderr, flush=True)

    return EpochTimer()


def load_mnist(path, train_subset, test_subset=0):
    """MNIST's training and test digits at `path`, the first `train_subset` and `test_subset`
    of each (0: all)."""
    with np.load(path, allow_pickle=False) as data:
        x_train, x_test = data["x_train"], data["x_test"]
    if train_subset:
        x_train = x_train[:train_subset]
    if test_subset:
        x_test = x_test[:test_subset]
    return x_train, x_test


def quality(model, x_test):
    """PSNR / SSIM on every digit of `x_test`, noised with a fixed seed.

    The noise is drawn in the digits' order, so the first N digits get the same noise as in a
    run on all of them: a `--test-subset` run scores a prefix of the full run's noisy digits.
    """
    rng = np.random.default_rng(TEST_NOISE_SEED)
    clean = x_test.astype("float32")[..., None] / 255.0
    noisy = np.clip(clean + NOISE_FACTOR * rng.standard_normal(clean.shape, "float32"), 0, 1)
    estimate = np.asarray(model.predict(noisy, batch_size=256, verbose=0), "float32")
    try:
        from keras_denoise.metrics import psnr, ssim
    except ImportError:  # the reference recipe alone, without keras-denoise installed
        mse = np.mean((clean - estimate) ** 2, axis=(1, 2, 3))
        return {
            "test_images": len(clean),
            "psnr_db": float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12)))),
            "ssim": None,
            "metrics_source": "numpy PSNR (mean over images); keras_denoise.metrics missing",
        }
    result = {
        "test_images": len(clean),
        "psnr_db": float(psnr(clean, estimate, data_range=1.0)),
        "metrics_source": "keras_denoise.metrics",
    }
    try:
        result["ssim"] = float(ssim(clean, estimate, data_range=1.0))
    except ImportError:  # SSIM needs scikit-image, which a GPU machine may lack
        result["ssim"] = None
        result["metrics_source"] += " (no SSIM: scikit-image missing)"
    return result


def run_one(which, args):
    """Train one recipe in this process and return its measurements."""
    import keras

    x_train, x_test = load_mnist(args.data, args.train_subset, args.test_subset)
    keras.utils.set_random_seed(args.seed)
    timer = make_epoch_timer(which, args.epochs, take_turns=args.take_turns)
    callbacks = [timer]
    if args.backup_dir:
        # Before the timer, so that a resumed run's first timed epoch is its next one.
        callbacks.insert(0, keras.callbacks.BackupAndRestore(os.path.join(args.backup_dir, which)))
    start = time.perf_counter()
    if which == "reference":
        x_noisy, x = reference_data(x_train, args.seed)
        model = reference_model()
        history = model.fit(
            x_noisy, x, batch_size=BATCH_SIZE, epochs=args.epochs,
            validation_split=VALIDATION_SPLIT, callbacks=callbacks, verbose=args.verbose,
        )
        # What Keras's validation_split trains on: floor(N * (1 - split)) images
        # (keras/src/trainers/data_adapters/array_slicing.py, train_validation_split).
        trained = int(len(x) * (1.0 - VALIDATION_SPLIT))
        fused_compiler_options = None
        learning_rate = float(model.optimizer.learning_rate)  # Adam's default, constant
    else:
        from keras_denoise import ConvAutoencoder, UNetDenoiser, _jax_fused_steps

        fused = json.loads(args.fused_options)
        if "gpu_compiler_options" in fused:
            _jax_fused_steps.GPU_COMPILER_OPTIONS = dict(fused["gpu_compiler_options"])
        _jax_fused_steps.PAD_SHORT_EXECUTIONS = bool(
            fused.get("pad_short_executions", _jax_fused_steps.PAD_SHORT_EXECUTIONS)
        )
        _jax_fused_steps.PRECOMPILE = bool(fused.get("precompile", _jax_fused_steps.PRECOMPILE))
        model = (
            UNetDenoiser(**json.loads(args.unet_options)) if which == "unet" else ConvAutoencoder()
        )
        trained = int(len(x_train) * (1 - VALIDATION_SPLIT))
        # None: the model's compile() default (Adam at 1e-3 for ConvAutoencoder, ConvMuon at
        # 3e-3 for UNetDenoiser), unless an option below changes the optimizer or its rate.
        optimizer = None
        if (args.learning_rate is not None or args.optimizer is not None
                or args.learning_rate_schedule == "linear-step"):
            # --learning-rate: the default optimizer at another rate; --optimizer: Adam or
            # keras_denoise.ConvMuon (Muon for the convolution kernels); linear-step: the rate
            # falls linearly to zero over every step of the run.
            model.compile()
            rate = (args.learning_rate if args.learning_rate is not None
                    else float(model.optimizer.learning_rate))
            if args.learning_rate_schedule == "linear-step":
                steps = -(-trained // BATCH_SIZE) * args.epochs
                rate = keras.optimizers.schedules.PolynomialDecay(
                    rate, steps, end_learning_rate=0.0, power=1.0)
            if args.optimizer == "muon":
                from keras_denoise import ConvMuon

                optimizer = ConvMuon(rate)
            elif args.optimizer == "adam":
                optimizer = keras.optimizers.Adam(rate)
            else:
                optimizer = type(model.optimizer)(rate)
        if args.loss == "log_kl":
            # Binary cross-entropy as a metric, so that the validation losses compare.
            model.compile(optimizer=optimizer, loss=per_image_log_kl,
                          metrics=[keras.metrics.BinaryCrossentropy(name="bce")])
        else:
            model.compile(optimizer=optimizer)
        # The peak rate: the first step's under a schedule, the rate the cosine decays from.
        learning_rate = float(model.optimizer.learning_rate)
        options = {
            "learning_rate_schedule": (
                args.learning_rate_schedule if args.learning_rate_schedule == "cosine" else None
            ),
            "dtype_policy": None if args.dtype_policy == "float32" else args.dtype_policy,
            **json.loads(args.fit_options),
        }
        history = model.fit_denoising(
            x_train, noise_factor=NOISE_FACTOR, batch_size=BATCH_SIZE, epochs=args.epochs,
            validation_split=VALIDATION_SPLIT, seed=args.seed, callbacks=callbacks,
            verbose=args.verbose, **options,
        )
        fused_compiler_options = (
            _jax_fused_steps.compiler_options() if args.backend == "jax" else None
        )
    total = time.perf_counter() - start
    after_first = sum(timer.times[1:])
    timed = len(timer.times)  # fewer than `epochs` in a run resumed from `--backup-dir`
    if not timed:
        # A backup written after the last epoch, by a run stopped before Keras deleted it:
        # fit restored the trained weights and ran no epoch, so only the quality is measured.
        print(f"{which}: the backup in --backup-dir held all {args.epochs} epochs; no epoch "
              "trained now, so speed and losses are not measured, only the restored model's "
              "quality", file=sys.stderr, flush=True)
    result = {
        "which": which,
        "parameters": model.count_params(),
        "train_samples": trained,
        "epochs": args.epochs,
        "epochs_timed": timed,
        "epoch_seconds": timer.times,
        "epoch_cpu_seconds": timer.cpu_times,
        "epoch_steal_seconds": timer.steal_times,
        "samples_per_s_all_epochs": trained * timed / sum(timer.times) if timed else None,
        "samples_per_s_after_first": trained * (timed - 1) / after_first if timed > 1 else None,
        "samples_per_s_median_epoch": (
            trained / float(np.median(timer.times)) if timed else None
        ),
        "wall_s_including_setup": total,
        "final_val_loss": last_value(history, "val_loss"),
        # The validation binary cross-entropy: the loss, or under `--loss log_kl` a metric.
        "final_val_bce": last_value(
            history, "val_bce" if "val_bce" in history.history else "val_loss"
        ),
        "final_loss": last_value(history, "loss"),
        "optimizer": type(model.optimizer).__name__,
        "learning_rate": learning_rate,
        "fused_compiler_options": fused_compiler_options,
    }
    result["peak_rss_mib"] = peak_rss_mib()  # data preparation and training
    result.update(quality(model, x_test))
    result["peak_rss_mib_with_evaluation"] = peak_rss_mib()
    if args.save_dir:
        result["saved_model"] = save_trained(model, args.save_dir, which)
    return result


def last_value(history, key):
    """The last epoch's `key` in a Keras `History`, or None when no epoch ran."""
    values = history.history.get(key, [])
    return float(values[-1]) if values else None


def save_trained(model, folder, which):
    """Save `model` as `folder/which.keras`; on failure warn and return None (keep the figures)."""
    from keras_denoise import save_model

    path = os.path.join(folder, f"{which}.keras")
    try:
        os.makedirs(folder, exist_ok=True)
        save_model(model, path)
    except OSError as error:
        print(f"Could not save the {which} model to {path}: {error}", file=sys.stderr)
        return None
    return path


def peak_rss_mib():
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions(backend):
    import keras

    info = {"python": platform.python_version(), "keras": keras.__version__,
            "numpy": np.__version__, "backend": backend, "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine()}
    if backend == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        info["jax"] = jax.__version__
    elif backend == "torch":
        import torch

        info["torch"] = torch.__version__
    return info


# Keywords the script passes to `fit_denoising` itself, and where each comes from.
FIT_KEYWORDS_SET = {
    "model": "the recipe's model", "clean_images": "the MNIST training digits",
    "noise_factor": f"fixed at {NOISE_FACTOR}", "batch_size": f"fixed at {BATCH_SIZE}",
    "epochs": "--epochs", "validation_split": f"fixed at {VALIDATION_SPLIT}", "seed": "--seed",
    "callbacks": "the epoch timer and --backup-dir", "verbose": "--verbose",
    "learning_rate_schedule": "--learning-rate-schedule", "dtype_policy": "--dtype-policy",
}
FUSED_KEYS = ("gpu_compiler_options", "pad_short_executions", "precompile")


def check_json_options(parser, option, text, refused=None, allowed=None):
    """Parse `option`'s JSON `text` to a dict, or exit with an argparse error (status 2)."""
    received = f"Received: {option}={text!r}"
    try:
        options = json.loads(text)
    except ValueError as error:
        parser.error(f"{option} is not valid JSON ({error}). {received}")
    if not isinstance(options, dict):
        parser.error(f"{option} must be a JSON object ({{...}}). {received}")
    clashes = sorted(set(options) & set(refused or {}))
    if clashes:
        sources = "; ".join(f"{key!r}: {refused[key]}" for key in clashes)
        parser.error(f"{option} cannot set what the script sets itself ({sources}). {received}")
    unknown = sorted(set(options) - set(allowed)) if allowed is not None else []
    if unknown:
        parser.error(f"{option} takes only the keys {list(allowed)}; unknown: {unknown}. "
                     f"{received}")
    return options


def check_args(parser, args):
    """Argument errors that would otherwise surface in a child, or after training."""
    if args.epochs < 1:
        parser.error(f"--epochs must be a positive integer. Received: --epochs={args.epochs}")
    if args.train_subset < 0 or args.train_subset == 1:
        # A slice from the end otherwise; one image leaves nothing to validate on.
        parser.error("--train-subset must be 0 (all the training images) or at least 2 (one "
                     "to train on, one for the validation split). Received: --train-subset="
                     f"{args.train_subset}")
    if args.test_subset < 0:
        parser.error("--test-subset must be 0 (all the test digits) or positive. Received: "
                     f"--test-subset={args.test_subset}")
    check_data(parser, args)
    if args.optimizer is not None and args.which != "unet":
        parser.error("--optimizer chooses the U-Net's optimizer: it takes --which unet. "
                     f"Received: --optimizer={args.optimizer} --which={args.which}")
    check_json_options(parser, "--fit-options", args.fit_options, refused=FIT_KEYWORDS_SET)
    check_json_options(parser, "--unet-options", args.unet_options)
    fused = check_json_options(parser, "--fused-options", args.fused_options, allowed=FUSED_KEYS)
    if not isinstance(fused.get("gpu_compiler_options", {}), dict):
        parser.error("--fused-options: 'gpu_compiler_options' must be a JSON object. "
                     f"Received: --fused-options={args.fused_options!r}")
    if args.json is not None:
        folder = os.path.dirname(os.path.abspath(args.json))
        if os.path.isdir(args.json):
            parser.error("--json must be a file path, not a folder. "
                         f"Received: --json={args.json!r}")
        if not os.path.isdir(folder):
            parser.error(f"the folder of --json, {folder!r}, does not exist. "
                         f"Received: --json={args.json!r}")


def load_npz(parser, path, keys):
    """The arrays `keys` of the `.npz` at `path` (`--data`), or exit with a usage error."""
    if not os.path.isfile(path):
        parser.error(f"--data: no such file: {path!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in keys:
                if key not in data.files:
                    parser.error(f"--data: {path!r} holds no `{key}` (it holds {data.files}); "
                                 "give an .npz in the layout of keras.datasets.mnist")
            return {key: data[key] for key in keys}
    except (OSError, ValueError, zipfile.BadZipFile) as error:  # not an .npz, or pickles
        parser.error(f"--data: {path!r} is not an .npz of images: {error}")


def check_data(parser, args):
    """`--data` holds MNIST in the layout of `keras.datasets.mnist`, with at least as many
    digits as `--train-subset` and `--test-subset` take."""
    arrays = load_npz(parser, args.data, ("x_train", "x_test"))
    for option, subset, key in (("--train-subset", args.train_subset, "x_train"),
                                ("--test-subset", args.test_subset, "x_test")):
        if subset > len(arrays[key]):
            parser.error(f"{option} must be at most {len(arrays[key]):,}, the digits in `{key}` "
                         f"of --data. Received: {option}={subset}")


def write_json(path, data):
    """Write `data` to `path` as strict JSON (null for a non-finite number), atomically."""
    try:
        from keras_denoise._cli import _write_json
    except ImportError:  # without keras_denoise (the reference recipe alone): a plain write
        with open(path, "w") as file:
            json.dump(data, file, indent=2)
    else:
        _write_json(path, data)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "mnist.npz"))
    parser.add_argument("--epochs", type=int, default=35)
    parser.add_argument("--train-subset", type=int, default=0,
                        help="use only the first N training images (0: all 60,000)")
    parser.add_argument("--test-subset", type=int, default=0,
                        help="score on only the first N test digits (0: all 10,000), for "
                             "quick checks: the issue's figures are on all of them")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                        default="tensorflow")
    parser.add_argument("--which", choices=["both", "all", "reference", "keras_denoise", "unet"],
                        default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate-schedule",
                        choices=["cosine", "constant", "linear-step"], default="cosine",
                        help="fit_denoising's learning_rate_schedule (keras-denoise recipes "
                             "only), or an experiment, 'linear-step': Adam's rate falling "
                             "linearly to zero over the run's steps")
    parser.add_argument("--dtype-policy", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                        default="float32",
                        help="fit_denoising's dtype_policy (keras-denoise recipes only)")
    parser.add_argument("--fit-options", default="{}",
                        help='extra fit_denoising keywords as JSON, e.g. \'{"jit_compile": true}\'')
    parser.add_argument("--fused-options", default="{}",
                        help="experiments with JAX's fused steps on a GPU, as JSON: "
                             "'gpu_compiler_options' (XLA options for the fused steps, "
                             "replacing the library's), 'pad_short_executions' and "
                             "'precompile'")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="the optimizer's learning rate for the keras-denoise recipes "
                             "(default: each model's compile() default)")
    parser.add_argument("--optimizer", choices=["adam", "muon"], default=None,
                        help="the U-Net's optimizer: Adam (its compile() default until "
                             "2026-12-05), or keras_denoise.ConvMuon, Muon for the convolution "
                             "kernels (its default since; --which unet only; default: the "
                             "model's compile() default)")
    parser.add_argument("--loss", choices=["binary_crossentropy", "log_kl"],
                        default="binary_crossentropy",
                        help="the keras-denoise recipes' loss: their compile() default, or "
                             "an experiment, the per-image log Bernoulli KL divergence "
                             "(`per_image_log_kl`; binary cross-entropy is then tracked as "
                             "the metric 'bce')")
    parser.add_argument("--unet-options", default="{}",
                        help='UNetDenoiser keywords as JSON, e.g. \'{"mark_clipped": false}\'')
    parser.add_argument("--interleave", action="store_true",
                        help="run the recipes' epochs in turns (reference epoch 1, "
                             "keras_denoise epoch 1, reference epoch 2, ...), each recipe "
                             "still in its own process, so that slow and fast spells of a "
                             "shared machine fall on both alike")
    parser.add_argument("--backup-dir",
                        help="back up each recipe's training state here after every epoch "
                             "(keras.callbacks.BackupAndRestore) and, if a backup is there, "
                             "resume from it: a quality run may span several sittings; the "
                             "speed figures then cover the epochs of the last sitting only")
    parser.add_argument("--save-dir",
                        help="save each trained model here as RECIPE.keras (written "
                             "atomically), to evaluate it again without retraining")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--json", help="write all results to this JSON file")
    parser.add_argument("--child", choices=["reference", "keras_denoise", "unet"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--take-turns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.interleave and args.backup_dir:
        # A resumed recipe runs fewer epochs than the turns its parent would hand out.
        parser.error("--interleave and --backup-dir cannot be combined")
    check_args(parser, args)
    return args


def child_command(which, argv, take_turns=False):
    command = [sys.executable, os.path.abspath(__file__), *argv, "--child", which]
    return command + ["--take-turns"] if take_turns else command


def parse_result(name, stdout):
    lines = [row for row in stdout.splitlines() if row.startswith("RESULT ")]
    if not lines:
        message = f"The {name} run printed no result."
        raise RuntimeError(message)
    return json.loads(lines[-1][len("RESULT "):])


def run_interleaved(names, argv, env):
    """Run the recipes in their own processes, one epoch at a time in turns.

    Every child prepares its data and model, then waits before each epoch
    and before its evaluation until the parent writes a line to its stdin;
    the parent lets one child at a time go, so no two recipes ever compute at
    once, and a spell of slowness of the machine falls on neighbouring
    epochs of both recipes rather than on one recipe's whole run.
    """
    children = {
        name: subprocess.Popen(child_command(name, argv, take_turns=True), env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for name in names
    }
    waiting = {}

    def next_turn(name):
        """Read the child's stdout up to its next request for a turn (None: it finished)."""
        child = children[name]
        while True:
            line = child.stdout.readline()
            if not line:
                return None
            if line.startswith(TURN):
                return line[len(TURN):].strip()
            waiting.setdefault(name + " output", []).append(line)

    try:
        for name in names:
            waiting[name] = next_turn(name)
        while any(waiting[name] is not None for name in names):
            for name in names:
                if waiting[name] is None:
                    continue
                children[name].stdin.write("go\n")
                children[name].stdin.flush()
                waiting[name] = next_turn(name)
        results = {}
        for name in names:
            children[name].stdin.close()
            code = children[name].wait()
            if code:
                message = f"The {name} run failed with exit status {code}."
                raise RuntimeError(message)
            results[name] = parse_result(name, "".join(waiting.get(name + " output", [])))
        return results
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        result = run_one(args.child, args)
        result["versions"] = versions(args.backend)
        print("RESULT " + json.dumps(result))
        return
    env = dict(os.environ, KERAS_BACKEND=args.backend, TF_CPP_MIN_LOG_LEVEL="2")
    names = {
        "both": ["reference", "keras_denoise"],
        "all": ["reference", "keras_denoise", "unet"],
    }.get(args.which, [args.which])
    if args.interleave and len(names) > 1:
        results = run_interleaved(names, argv, env)
    else:
        results = {}
        for name in names:
            completed = subprocess.run(child_command(name, argv), env=env, check=True,
                                       stdout=subprocess.PIPE, text=True)
            results[name] = parse_result(name, completed.stdout)
    if args.json:  # before the report: a failure there must not lose the results
        write_json(args.json, {"args": vars(args), "results": results})
    report(results)


def report(results):
    rows = [
        ("parameters", "parameters", "{:,}"),
        ("samples/s, all epochs", "samples_per_s_all_epochs", "{:.0f}"),
        ("samples/s, epochs 2+", "samples_per_s_after_first", "{:.0f}"),
        ("samples/s, median epoch", "samples_per_s_median_epoch", "{:.0f}"),
        ("peak RSS, training (MiB)", "peak_rss_mib", "{:.0f}"),
        ("peak RSS, +test (MiB)", "peak_rss_mib_with_evaluation", "{:.0f}"),
        ("final val loss", "final_val_loss", "{:.4f}"),
        ("final val BCE", "final_val_bce", "{:.4f}"),
        ("test digits", "test_images", "{:,}"),
        ("test PSNR (dB)", "psnr_db", "{:.2f}"),
        ("test SSIM", "ssim", "{:.4f}"),
    ]
    names = list(results)
    print(f"{'':26}" + "".join(f"{name:>16}" for name in names))
    for label, key, fmt in rows:
        cells = [results[n][key] for n in names]
        print(f"{label:26}" + "".join(
            f"{fmt.format(c) if c is not None else '-':>16}" for c in cells))
    for name in names:
        epochs = zip(results[name]["epoch_seconds"], results[name]["epoch_cpu_seconds"],
                     results[name]["epoch_steal_seconds"], strict=True)
        print(f"{name} epochs, wall / process CPU / stolen s: " + (", ".join(
            f"{wall:.1f}/{cpu:.1f}/{'-' if steal is None else format(steal, '.1f')}"
            for wall, cpu, steal in epochs) or "none timed"))
    if names[:2] == ["reference", "keras_denoise"]:
        ref, ours = (results[n] for n in names[:2])
        for key in ("samples_per_s_all_epochs", "samples_per_s_after_first",
                    "samples_per_s_median_epoch"):
            if ref[key] and ours[key]:
                print(f"speed ratio ({key}): {ours[key] / ref[key]:.2f}x")
        print(paired_ratios(ref, ours))
        print(f"peak RSS ratio, training: {ours['peak_rss_mib'] / ref['peak_rss_mib']:.2f}")
    print("metrics:", results[names[-1]]["metrics_source"])
    print("versions:", results[names[-1]]["versions"])


def paired_ratios(ref, ours):
    """The line of keras_denoise's speed over the reference's, epoch by epoch.

    A run resumed from `--backup-dir` times only its last epochs, so the two recipes may have
    timed different numbers of epochs: only the epochs both timed are paired (by epoch number).
    """
    theirs, mine = ref["epoch_seconds"], ours["epoch_seconds"]
    common = min(len(theirs), len(mine))
    note = ""
    if len(theirs) != len(mine):
        last = ref["epochs"]
        span = f"epoch {last}" if common == 1 else f"epochs {last - common + 1}-{last}"
        note = (f" ({span} only, the ones both recipes timed: the reference timed "
                f"{len(theirs)}, keras_denoise {len(mine)})")
    if not common:
        return f"speed ratio, epoch by epoch: no epoch timed by both recipes{note}"
    paired = [
        (ours["train_samples"] / new) / (ref["train_samples"] / old)
        for old, new in zip(theirs[len(theirs) - common:], mine[len(mine) - common:], strict=True)
    ]
    return (f"speed ratio, epoch by epoch{note}: " + " ".join(f"{r:.2f}" for r in paired)
            + f" (median {float(np.median(paired)):.2f}x)")


if __name__ == "__main__":
    main()
