"""The GPU checks of the training benchmark, in one call on a lent GPU machine.

Runs `bench_training.py` on the JAX backend, in order of priority, and writes
every result as soon as it exists (`results.json` in `--out`), so a run cut
short still reports what finished:

1. where the time of the GPU speed target goes, in short runs (8 epochs),
   each alone on the GPU, with the `ConvAutoencoder` and `fit_denoising` in
   float32: as it stands (16 fused steps per execution); again with JAX's
   persistent compilation cache filled by the run before (how much of epoch
   1 is compiling); with 64 steps per execution (the per-execution
   overhead); with XLA's GPU autotuning off (its share of the compile time,
   and what it buys per epoch); with XLA's command buffers (CUDA graphs)
   extended to loops (whether per-step kernel launches set the epoch time);
2. `UNetDenoiser` variants for 35 epochs (quality only), three at a time:
   the GPU is far from busy with one of these small models, so running them
   side by side costs little more than one;
3. the reference recipe for 35 epochs, alone (the side-by-side speed figure;
   the issue's H100 figure until it runs on the same machine).

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --data mnist.npz --out results/

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SWEEP_EPOCHS = 8
# Filled by the first sweep run, read by the second: epoch 1 without compiling.
CACHE_DIR = os.path.join(tempfile.gettempdir(), "keras_denoise_jax_cache")
CACHE = {
    "JAX_COMPILATION_CACHE_DIR": CACHE_DIR,
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}

# (name, bench_training.py arguments, extra environment); the names are the JSON keys.
CONVAE = ["--which", "keras_denoise"]
SWEEP = [
    ("convae_fused_cold_cache", CONVAE, CACHE),
    ("convae_fused_warm_cache", CONVAE, CACHE),
    ("convae_fused_spe64", [*CONVAE, "--fit-options", '{"steps_per_execution": 64}'], {}),
    ("convae_fused_autotune0", CONVAE, {"XLA_FLAGS": "--xla_gpu_autotune_level=0"}),
    # XLA's default command buffers (CUDA graphs) leave out loops: with WHILE the whole scan
    # of an execution can launch as one graph instead of kernel by kernel every step.
    ("convae_fused_graph_loops", CONVAE, {"XLA_FLAGS": "--xla_gpu_enable_command_buffer="
                                          "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,"
                                          "CONDITIONAL,WHILE"}),
]
UNET_ROUND = [
    ("unet_silu_seed1", ["--seed", "1", "--unet-options", '{"activation": "silu"}'], {}),
    ("unet_silu_5_levels",
     ["--unet-options", '{"activation": "silu", "filters": [24, 32, 48, 64, 80]}'], {}),
    ("unet_silu_wide_top",
     ["--unet-options", '{"activation": "silu", "filters": [40, 48, 64, 80]}'], {}),
]
REFERENCE = [("reference", ["--which", "reference"], {})]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=35)
    parser.add_argument("--train-subset", type=int, default=0)
    return parser.parse_args(argv)


def command(args, options, json_path, epochs):
    return [
        sys.executable, os.path.join(HERE, "bench_training.py"), "--data", args.data,
        "--backend", "jax", "--epochs", str(epochs),
        "--train-subset", str(args.train_subset), "--json", json_path, *options,
    ]


def run_stage(args, jobs, results, shared_gpu, epochs=None):
    """Start every job of the stage together, wait for all, record their results."""
    env = dict(os.environ, KERAS_BACKEND="jax")
    if shared_gpu:  # several processes on one GPU: allocate as needed, not 75% each
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    running = []
    for name, options, extra_env in jobs:
        options = options if "--which" in options else ["--which", "unet",
                                                        "--dtype-policy", "mixed_bfloat16",
                                                        *options]
        path = os.path.join(args.out, f".{name}.json")
        print(f"=== start {name}: {' '.join(options)}", flush=True)
        running.append((name, path, time.perf_counter(),
                        subprocess.Popen(command(args, options, path, epochs or args.epochs),
                                         env={**env, **extra_env})))
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
    shutil.rmtree(CACHE_DIR, ignore_errors=True)  # the first sweep run compiles everything
    for job in SWEEP:  # one at a time: these are timings
        run_stage(args, [job], results, shared_gpu=False,
                  epochs=min(SWEEP_EPOCHS, args.epochs))
    run_stage(args, UNET_ROUND, results, shared_gpu=True)
    run_stage(args, REFERENCE, results, shared_gpu=False)
    summary(results)


if __name__ == "__main__":
    main()
