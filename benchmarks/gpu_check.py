"""The GPU checks of the training benchmark, in one call on a lent GPU machine.

Runs `bench_training.py` on the JAX backend, in order of priority, and writes
every result as soon as it exists (`results.json` in `--out`), so a run cut
short still reports what finished:

1. the GPU speed target: `ConvAutoencoder` trained with `fit_denoising` for
   35 epochs of full MNIST in float32, alone on the GPU;
2. the reference recipe for 35 epochs, alone (the side-by-side speed figure);
3. `UNetDenoiser` variants for 35 epochs (quality only), three at a time:
   the GPU is far from busy with one of these small models, so running them
   side by side costs little more than one; between the two rounds, the
   `ConvAutoencoder` in mixed bfloat16 and with `steps_per_execution=64`.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --data mnist.npz --out results/

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (name, bench_training.py arguments); the names are also the JSON keys.
SPEED = [
    ("convae_float32", ["--which", "keras_denoise"]),
    ("convae_mixed_bfloat16", ["--which", "keras_denoise", "--dtype-policy", "mixed_bfloat16"]),
    ("convae_mixed_bfloat16_spe64", ["--which", "keras_denoise", "--dtype-policy",
                                     "mixed_bfloat16", "--fit-options",
                                     '{"steps_per_execution": 64}']),
]
UNET_ROUNDS = [
    [
        ("unet_default", []),
        ("unet_silu", ["--unet-options", '{"activation": "silu"}']),
        ("unet_silu_seed1", ["--seed", "1", "--unet-options", '{"activation": "silu"}']),
    ],
    [
        ("unet_gelu", ["--unet-options", '{"activation": "gelu"}']),
        ("unet_silu_5_levels",
         ["--unet-options", '{"activation": "silu", "filters": [24, 32, 48, 64, 80]}']),
        ("unet_silu_wide_top",
         ["--unet-options", '{"activation": "silu", "filters": [40, 48, 64, 80]}']),
    ],
]
REFERENCE = [("reference", ["--which", "reference"])]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=35)
    parser.add_argument("--train-subset", type=int, default=0)
    return parser.parse_args(argv)


def command(args, options, json_path):
    return [
        sys.executable, os.path.join(HERE, "bench_training.py"), "--data", args.data,
        "--backend", "jax", "--epochs", str(args.epochs),
        "--train-subset", str(args.train_subset), "--json", json_path, *options,
    ]


def run_stage(args, jobs, results, shared_gpu):
    """Start every job of the stage together, wait for all, record their results."""
    env = dict(os.environ, KERAS_BACKEND="jax")
    if shared_gpu:  # several processes on one GPU: allocate as needed, not 75% each
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    running = []
    for name, options in jobs:
        options = options if "--which" in options else ["--which", "unet",
                                                        "--dtype-policy", "mixed_bfloat16",
                                                        *options]
        path = os.path.join(args.out, f".{name}.json")
        print(f"=== start {name}: {' '.join(options)}", flush=True)
        running.append((name, path, time.perf_counter(),
                        subprocess.Popen(command(args, options, path), env=env)))
    for name, path, start, process in running:
        code = process.wait()
        entry = {"returncode": code, "wall_s": time.perf_counter() - start,
                 "shared_gpu": shared_gpu}
        if code == 0:
            with open(path) as file:
                entry.update(json.load(file))
            os.remove(path)
        results[name] = entry
        print(f"=== done {name}: rc {code}, {entry['wall_s']:.0f} s", flush=True)
        with open(os.path.join(args.out, "results.json"), "w") as file:
            json.dump(results, file, indent=1)


def summary(results):
    print(f"{'run':24}{'params':>9}{'fit s':>8}{'epoch1 s':>9}{'median ep':>10}"
          f"{'PSNR':>8}{'SSIM':>8}{'val BCE':>9}")
    for name, entry in results.items():
        if entry.get("returncode"):
            print(f"{name:24} failed (rc {entry['returncode']})")
            continue
        (result,) = entry["results"].values()
        times = result["epoch_seconds"]
        print(f"{name:24}{result['parameters']:>9,}{sum(times):>8.1f}{times[0]:>9.2f}"
              f"{sorted(times)[len(times) // 2]:>10.3f}{result['psnr_db']:>8.3f}"
              f"{result['ssim']:>8.4f}{result['final_val_loss']:>9.4f}")


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = {}
    run_stage(args, SPEED[:1], results, shared_gpu=False)
    run_stage(args, REFERENCE, results, shared_gpu=False)
    run_stage(args, UNET_ROUNDS[0], results, shared_gpu=True)
    for job in SPEED[1:]:  # one at a time: these are timings
        run_stage(args, [job], results, shared_gpu=False)
    run_stage(args, UNET_ROUNDS[1], results, shared_gpu=True)
    summary(results)


if __name__ == "__main__":
    main()
