"""The GPU checks of the training benchmark, in one call on a lent GPU machine.

Runs `bench_training.py` on the JAX backend, in order of priority, and writes
every result as soon as it exists (`results.json` in `--out`), so a run cut
short still reports what finished:

1. the GPU speed target, in short runs (6 epochs), each alone on the GPU,
   with the `ConvAutoencoder` and `fit_denoising` in float32: the fused steps
   with XLA's defaults; with XLA's command buffers (CUDA graphs) extended to
   loops and conditionals, so that an execution's whole `lax.scan` can launch
   as one graph instead of kernel by kernel (its optimized HLO is dumped to
   `xla_dump.tar.gz`); the same with dynamic-slice fusions in the graphs too;
2. the options with the fastest epoch again, without XLA's autotuning (its
   share of the compile time), then with the epoch's last, short execution
   padded and run through the fused program (`PAD_SHORT_EXECUTIONS`: fewer
   programs to compile), then with the single-step programs compiled in
   background threads (`PRECOMPILE`), then with cuDNN's convolutions in NHWC
   (Keras's channels-last layout: no transposes around them); each is kept
   if it makes the projected `--epochs` fit time
   (epoch 1 plus the median epoch for the others) shorter;
3. the chosen options for `--epochs` (35: the speed target's figure);
4. with `--stages speed,unet` (or `unet` alone, with the library's
   settings), `UNetDenoiser` variants for `--epochs` (quality only), three at
   a time: the GPU is far from busy with one of these small models, so
   running them side by side costs little more than one.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --data .devdata/mnist.npz --out results/

The exit status is 1 if any run failed (`results.json` says which). See
benchmarks/README.md.
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
SWEEP_EPOCHS = 6
# XLA's command buffers (CUDA graphs): its default types, plus loops and conditionals, so
# that the whole scan of an execution can launch as one graph instead of kernel by kernel.
GRAPHS = "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,CONDITIONAL,WHILE"
# Not XLA options: `_jax_fused_steps.PAD_SHORT_EXECUTIONS` and `PRECOMPILE`, passed along.
PAD = "pad_short_executions"
PRECOMPILE = "precompile"
NOT_XLA = (PAD, PRECOMPILE)
DUMP = os.path.join(tempfile.gettempdir(), "keras_denoise_xla_dump")

# (name, bench_training.py arguments, extra environment, settings of the fused steps: XLA
# options, and the `NOT_XLA` switches)
CONVAE = ["--which", "keras_denoise"]
SPEED = [
    ("convae_fused", CONVAE, {}, {}),
    ("convae_graphs", CONVAE,
     {"XLA_FLAGS": f"--xla_dump_to={DUMP} --xla_dump_hlo_module_re=.*scanned.*"},
     {"xla_gpu_enable_command_buffer": GRAPHS}),
    ("convae_graphs_ds", CONVAE, {},
     {"xla_gpu_enable_command_buffer": GRAPHS + ",DYNAMIC_SLICE_FUSION"}),
    ("convae_graphs_ds_copy", CONVAE, {},
     {"xla_gpu_enable_command_buffer": GRAPHS + ",DYNAMIC_SLICE_FUSION,DYNAMIC_SLICE_COPY_FUSION"}),
]
UNET_ROUND = [
    # Trained with UNetDenoiser.compile()'s default optimizer: keras_denoise.ConvMuon since
    # 2026-12-05 (Adam before; on the CPU ConvMuon gave this first variant 22.017 dB). The
    # first variant is the default UNetDenoiser since 2026-12-05; its options stay explicit so
    # that the results name the model.
    # 35 epochs on the CPU (RESULTS.md): SiLU with two convolutions per block and
    # (48, 48, 64, 64) 21.95 dB; three convolutions per block with (48, 48, 48, 32), about as
    # many parameters, 21.99 dB (three runs: 21.989, 21.995, 21.989), the best so far. Then the
    # same with the rest of the 0.5M budget in the bottleneck (12-epoch CPU screen: 21.611
    # against 21.621), and the best trained in float32 instead of mixed bfloat16 (on the CPU
    # 1.5-2.2x slower, 4-6 hours for 35 epochs; in 12-epoch screens +0.01 dB on the ReLU
    # default and -0.005 dB on this model, both within the seed-to-seed spread, so only a
    # 35-epoch run, cheap on a GPU, settles it). The last option wins over the round's
    # `--dtype-policy mixed_bfloat16`. (GELU with three convolutions left the round: its CPU
    # screen gave 21.615 against SiLU's 21.621.)
    ("unet_silu_c3",
     ["--unet-options",
      '{"activation": "silu", "filters": [48, 48, 48, 32], "convolutions": 3}']),
    ("unet_silu_c3_b40",
     ["--unet-options",
      '{"activation": "silu", "filters": [48, 48, 48, 40], "convolutions": 3}']),
    ("unet_silu_c3_float32",
     ["--unet-options",
      '{"activation": "silu", "filters": [48, 48, 48, 32], "convolutions": 3}',
      "--dtype-policy", "float32"]),
]


STAGES = ("speed", "unet")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=35)
    parser.add_argument("--train-subset", type=int, default=0)
    parser.add_argument("--stages", default="speed",
                        help="comma-separated: 'speed' (stages 1-3), 'unet' (stage 4)")
    args = parser.parse_args(argv)
    # Checked before anything runs: a lent GPU's minutes are few.
    if not os.path.isfile(args.data):
        parser.error(f"--data: no such file: {args.data!r}")
    if args.epochs < 1:
        parser.error(f"--epochs must be a positive integer. Received: --epochs={args.epochs}")
    if args.train_subset < 0:
        parser.error(f"--train-subset must be 0 (all) or positive. Received: {args.train_subset}")
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    if not stages or not set(stages) <= set(STAGES):
        parser.error(f"--stages must name some of {', '.join(STAGES)}. Received: {args.stages!r}")
    args.stages = stages
    return args


def write_results(results, out):
    """`results.json` in `out`, replaced whole (a run cut off never leaves half a file)."""
    path = os.path.join(out, "results.json")
    with open(path + ".tmp", "w") as file:
        json.dump(results, file, indent=1)
    os.replace(path + ".tmp", path)


def xla_options(settings):
    """The XLA options among the fused steps' `settings`."""
    return {key: value for key, value in settings.items() if key not in NOT_XLA}


def command(args, options, json_path, epochs, settings):
    fused = {key: value for key, value in settings.items() if key in NOT_XLA}
    fused = json.dumps({**fused, "gpu_compiler_options": xla_options(settings)})
    return [
        sys.executable, os.path.join(HERE, "bench_training.py"), "--data", args.data,
        "--backend", "jax", "--epochs", str(epochs),
        "--train-subset", str(args.train_subset), "--json", json_path,
        "--fused-options", fused, *options,
    ]


def run_stage(args, jobs, results, shared_gpu, epochs):
    """Start every job `(name, options, env, settings)` together, wait, record results."""
    env = dict(os.environ, KERAS_BACKEND="jax")
    if shared_gpu:  # several processes on one GPU: allocate as needed, not 75% each
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    running = []
    for name, options, extra_env, settings in jobs:
        path = os.path.join(args.out, f".{name}.json")
        print(f"=== start {name}: {' '.join(options)} {settings or ''}", flush=True)
        running.append((name, path, time.perf_counter(), settings,
                        subprocess.Popen(command(args, options, path, epochs, settings),
                                         env={**env, **extra_env})))
    for name, path, start, settings, process in running:
        code = process.wait()
        entry = {"returncode": code, "wall_s": time.perf_counter() - start,
                 "shared_gpu": shared_gpu, "settings": settings}
        if code == 0:
            with open(path) as file:
                entry.update(json.load(file))
            os.remove(path)
        results[name] = entry
        print(f"=== done {name}: rc {code}, {entry['wall_s']:.0f} s", flush=True)
        write_results(results, args.out)


def measure(results, name, key, epochs=None):
    """`key` of run `name`, inf if it failed.

    'epoch' is its median epoch; 'projected' its fit time over `epochs` epochs: the
    first (with the compilations) plus the median for each of the others.
    """
    entry = results.get(name, {})
    if entry.get("returncode") != 0:
        return float("inf")
    (result,) = entry["results"].values()
    if result.get("fused_compiler_options") != (xla_options(entry["settings"]) or None):
        return float("inf")  # XLA rejected the options: it ran without them
    times = result["epoch_seconds"]
    median = sorted(times)[len(times) // 2]
    return median if key == "epoch" else times[0] + (epochs - 1) * median


def _number(value, width, spec):
    """`value` formatted, or "n/a" where a run could not measure it (SSIM without scikit-image)."""
    return f"{value:>{width}{spec}}" if isinstance(value, (int, float)) else f"{'n/a':>{width}}"


def summary(results):
    """Print one row per run; return the number of runs that failed."""
    print(f"{'run':24}{'params':>9}{'fit s':>8}{'epoch1 s':>9}{'median ep':>10}"
          f"{'PSNR':>8}{'SSIM':>8}{'val BCE':>9}")
    failed = 0
    for name, entry in results.items():
        if entry.get("returncode"):
            print(f"{name:24} failed (rc {entry['returncode']})")
            failed += 1
            continue
        (result,) = entry["results"].values()
        times = result["epoch_seconds"]
        print(f"{name:24}{_number(result['parameters'], 9, ',')}{sum(times):>8.1f}"
              f"{times[0]:>9.2f}{sorted(times)[len(times) // 2]:>10.3f}"
              f"{_number(result.get('psnr_db'), 8, '.3f')}{_number(result.get('ssim'), 8, '.4f')}"
              f"{_number(result.get('final_val_loss'), 9, '.4f')}")
    return failed


# Tried in turn on the best settings so far, each kept if it shortens the projected fit:
# (name, more bench_training.py arguments, more settings of the fused steps).
CHAIN = [
    ("convae_best_autotune0", [], {"xla_gpu_autotune_level": 0}),
    # the epoch's last, short execution through the fused program
    ("convae_best_padded", [], {PAD: True}),
    # the single-step programs compiled in background threads
    ("convae_best_precompiled", [], {PRECOMPILE: True}),
    # cuDNN's convolutions in Keras's channels-last layout (XLA's choice for float32: NCHW)
    ("convae_best_nhwc", [], {"xla_gpu_force_conv_nhwc": True}),
]


def speed_stages(args, results):
    """Stages 1-3; returns the chosen settings."""
    sweep = min(SWEEP_EPOCHS, args.epochs)
    shutil.rmtree(DUMP, ignore_errors=True)  # only this call's programs in xla_dump.tar.gz
    for job in SPEED:  # one at a time: these are timings
        run_stage(args, [job], results, shared_gpu=False, epochs=sweep)
    if os.path.isdir(DUMP):
        shutil.make_archive(os.path.join(args.out, "xla_dump"), "gztar", DUMP)
    name = min((job[0] for job in SPEED), key=lambda n: measure(results, n, "epoch"))
    options, chosen = CONVAE, dict(results[name]["settings"])
    for variant, more_options, more_settings in CHAIN:
        job = (variant, [*options, *more_options], {}, {**chosen, **more_settings})
        run_stage(args, [job], results, False, sweep)
        if (measure(results, variant, "projected", args.epochs)
                < measure(results, name, "projected", args.epochs)):
            name, options, chosen = variant, job[1], job[3]
    print(f"=== chosen: {' '.join(options)} {chosen}", flush=True)
    run_stage(args, [("convae_chosen_35", options, {}, chosen)], results, False, args.epochs)
    return chosen


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = {}
    chosen = {}
    if "speed" in args.stages:
        chosen = speed_stages(args, results)
    if "unet" in args.stages:
        run_stage(args, [(n, ["--which", "unet", "--dtype-policy", "mixed_bfloat16", *o], {},
                          chosen) for n, o in UNET_ROUND], results, True, args.epochs)
    failed = summary(results)
    if failed:
        print(f"=== {failed} of {len(results)} runs failed: see results.json", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
