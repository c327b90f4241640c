"""The benchmark scripts run end to end, as benchmarks/README.md documents them.

They are not part of the package, but the issue's side-by-side comparison is their
output: a change to the library that breaks them (as `compile(optimizer=None)` once
did for the `keras_denoise` recipe) should fail here, not on the next full run.
"""

import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script, *arguments, returncode=0):
    """Run `benchmarks/{script}.py` with `arguments`, check its exit status, return the result."""
    command = [sys.executable, str(BENCHMARKS / f"{script}.py"), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == returncode, completed.stderr[-3000:]
    return completed


@pytest.mark.slow
def test_training_benchmark_runs_all_three_recipes(mnist_path, tmp_path):
    # The README's quick check, on fewer digits and one more epoch (a median of three): every
    # recipe trains, is timed and is scored. Scored on 500 test digits: on 2 CPU cores the
    # default U-Net takes 20-40 s to denoise all 10,000 (benchmarks/RESULTS.md).
    out = tmp_path / "results.json"
    completed = _run(
        "bench_training", "--data", str(mnist_path), "--train-subset", "300", "--epochs", "3",
        "--which", "all", "--test-subset", "500", "--json", str(out),
    )
    assert "speed ratio" in completed.stdout
    assert re.search(r"^test digits +500 +500 +500$", completed.stdout, re.MULTILINE)
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"reference", "keras_denoise", "unet"}
    assert results["reference"]["parameters"] == results["keras_denoise"]["parameters"] == 440_865
    # Each keras-denoise recipe trains with its model's compile() default.
    assert results["keras_denoise"]["optimizer"] == "Adam"
    assert results["unet"]["optimizer"] == "ConvMuon"
    for name, result in results.items():
        assert result["train_samples"] == 270, name  # 90% of the subset; 10% validates
        assert result["test_images"] == 500, name
        assert result["epochs_timed"] == 3, name
        assert len(result["epoch_seconds"]) == 3, name
        for key in ("samples_per_s_all_epochs", "final_val_loss", "psnr_db", "ssim",
                    "peak_rss_mib"):
            assert math.isfinite(result[key]) and result[key] > 0, (name, key, result[key])
        # The rates are those of the epochs' own times (three, so that a median is no mean).
        seconds = result["epoch_seconds"]
        assert result["samples_per_s_all_epochs"] == pytest.approx(270 * 3 / sum(seconds))
        assert result["samples_per_s_after_first"] == pytest.approx(270 * 2 / sum(seconds[1:]))
        assert result["samples_per_s_median_epoch"] == pytest.approx(270 / sorted(seconds)[1])


@pytest.mark.slow
def test_training_benchmark_interleaves_the_epochs_and_saves_the_models(mnist_path, tmp_path):
    import keras_denoise

    out, models = tmp_path / "results.json", tmp_path / "models"
    completed = _run(
        "bench_training", "--data", str(mnist_path), "--train-subset", "200", "--epochs", "2",
        "--which", "both", "--interleave", "--save-dir", str(models), "--test-subset", "200",
        "--json", str(out),
    )
    # Each child logs its epochs on the stderr it shares with the parent, in the turns given.
    epochs = [line.split(":")[0] for line in completed.stderr.splitlines()
              if line.startswith("[")]
    assert epochs == ["[reference] epoch 1/2", "[keras_denoise] epoch 1/2",
                      "[reference] epoch 2/2", "[keras_denoise] epoch 2/2"]
    results = json.loads(out.read_text())["results"]
    for name in ("reference", "keras_denoise"):
        assert len(results[name]["epoch_seconds"]) == 2, name
        assert results[name]["saved_model"] == str(models / f"{name}.keras")
        model = keras_denoise.load_model(results[name]["saved_model"])
        assert model.count_params() == 440_865
        # A plain Keras model for the reference recipe: bench_noise_levels.py scores it on
        # `predict`.
        assert hasattr(model, "denoise") == (name == "keras_denoise")
    assert "speed ratio, epoch by epoch: " in completed.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("option", "expected"), [("adam", "Adam"), ("muon", "ConvMuon")])
def test_training_benchmark_optimizer_option_replaces_the_unet_default(
    bench_training, mnist_path, option, expected
):
    # The recipe as its child process runs it, here: the parent's part is checked above.
    args = bench_training.parse_args([
        "--data", str(mnist_path), "--train-subset", "200", "--epochs", "1", "--which", "unet",
        "--optimizer", option, "--learning-rate", "1e-3", "--unet-options", '{"filters": [4, 8]}',
        "--test-subset", "100", "--child", "unet",
    ])  # fmt: skip
    result = bench_training.run_one("unet", args)
    assert result["optimizer"] == expected
    assert result["learning_rate"] == pytest.approx(1e-3)
    assert result["test_images"] == 100


class _Stopped(Exception):
    """Raised by a test's epoch timer to stop a recipe as a killed run would stop."""


@pytest.mark.slow
def test_training_benchmark_resumes_from_its_backup(bench_training, mnist_path, tmp_path,
                                                    monkeypatch, capsys):
    # The recipe as its child process runs it, stopped after an epoch by its timer (which
    # runs after BackupAndRestore has saved that epoch), then run again with the same options.
    real_timer = bench_training.make_epoch_timer

    def stop_after(last):
        def make_epoch_timer(label, epochs, take_turns=False):
            timer = real_timer(label, epochs, take_turns)
            on_epoch_end = timer.on_epoch_end

            def stop(epoch, logs=None):
                on_epoch_end(epoch, logs)
                if epoch + 1 == last:
                    raise _Stopped

            timer.on_epoch_end = stop
            return timer

        monkeypatch.setattr(bench_training, "make_epoch_timer", make_epoch_timer)

    def run(backup_dir):
        args = bench_training.parse_args([
            "--data", str(mnist_path), "--train-subset", "128", "--test-subset", "50",
            "--epochs", "3", "--which", "keras_denoise", "--child", "keras_denoise",
            *(["--backup-dir", str(backup_dir)] if backup_dir else []),
        ])  # fmt: skip
        return bench_training.run_one("keras_denoise", args)

    uninterrupted = run(None)
    stop_after(1)
    with pytest.raises(_Stopped):
        run(tmp_path / "first")
    assert (tmp_path / "first" / "keras_denoise").is_dir()
    monkeypatch.setattr(bench_training, "make_epoch_timer", real_timer)
    resumed = run(tmp_path / "first")
    # Epochs 2 and 3 only, timed and trained as in the uninterrupted run.
    assert resumed["epochs_timed"] == len(resumed["epoch_seconds"]) == 2
    assert resumed["samples_per_s_all_epochs"] == pytest.approx(
        115 * 2 / sum(resumed["epoch_seconds"]))
    assert resumed["final_val_loss"] == pytest.approx(uninterrupted["final_val_loss"], rel=1e-4)
    assert resumed["psnr_db"] == pytest.approx(uninterrupted["psnr_db"], abs=1e-3)
    assert not (tmp_path / "first" / "keras_denoise").exists()  # deleted by a finished run

    # A backup of all three epochs (stopped before Keras deleted it): only the quality.
    stop_after(3)
    with pytest.raises(_Stopped):
        run(tmp_path / "last")
    monkeypatch.setattr(bench_training, "make_epoch_timer", real_timer)
    capsys.readouterr()
    restored = run(tmp_path / "last")
    assert "the backup in --backup-dir held all 3 epochs" in capsys.readouterr().err
    assert restored["epochs_timed"] == 0 and restored["epoch_seconds"] == []
    for key in ("samples_per_s_all_epochs", "samples_per_s_after_first",
                "samples_per_s_median_epoch", "final_val_loss", "final_loss"):
        assert restored[key] is None, key
    assert restored["psnr_db"] == pytest.approx(uninterrupted["psnr_db"], abs=1e-3)


def test_training_benchmark_scores_every_test_digit_unless_told_otherwise(bench_training,
                                                                          mnist_path):
    import numpy as np

    args = bench_training.parse_args(["--data", str(mnist_path)])
    x_train, x_test = bench_training.load_mnist(args.data, args.train_subset, args.test_subset)
    assert (len(x_train), len(x_test)) == (60_000, 10_000)
    x_train, x_test = bench_training.load_mnist(args.data, 300, 500)
    assert (len(x_train), len(x_test)) == (300, 500)
    # Subsets of every digit are allowed (one more is refused: see above).
    every = ["--data", str(mnist_path), "--train-subset", "60000", "--test-subset", "10000"]
    assert bench_training.parse_args(every).test_subset == 10_000

    # A subset's noisy digits are the first of the whole test set's (same seed, same order).
    class Recorder:
        def predict(self, images, batch_size=None, verbose=0):
            self.images = images
            return images

    whole, part = Recorder(), Recorder()
    bench_training.quality(whole, x_test)
    bench_training.quality(part, x_test[:120])
    np.testing.assert_array_equal(part.images, whole.images[:120])


def _recipe_result(samples_per_s, peak_rss_mib, epoch_seconds, epochs):
    """A result of `bench_training.py`'s child process, with the keys its report reads."""
    rates = ("samples_per_s_all_epochs", "samples_per_s_after_first", "samples_per_s_median_epoch")
    return {
        "parameters": 440_865, **dict(zip(rates, samples_per_s, strict=True)),
        "peak_rss_mib": peak_rss_mib, "peak_rss_mib_with_evaluation": peak_rss_mib + 100.0,
        "final_val_loss": 0.1, "final_val_bce": 0.1, "test_images": 10_000, "psnr_db": 20.0,
        "ssim": 0.8,
        "train_samples": 900, "epochs": epochs, "epoch_seconds": epoch_seconds,
        "epoch_cpu_seconds": [2 * time for time in epoch_seconds],
        "epoch_steal_seconds": [None] * len(epoch_seconds),
        "metrics_source": "keras_denoise.metrics", "versions": "keras 3",
    }  # fmt: skip


def test_training_report_gives_keras_denoise_over_the_reference(bench_training, capsys):
    # keras_denoise resumed from a backup: it timed epochs 2-4, the reference all four.
    results = {
        "reference": _recipe_result((1000.0, 1100.0, 1050.0), 2000.0, [10.0, 9.0, 8.0, 8.0], 4),
        "keras_denoise": _recipe_result((1500.0, 1650.0, 1400.0), 800.0, [5.0, 6.0, 2.0], 4),
    }
    bench_training.report(results)
    lines = capsys.readouterr().out.splitlines()
    for line in (
        "speed ratio (samples_per_s_all_epochs): 1.50x",
        "speed ratio (samples_per_s_after_first): 1.50x",
        "speed ratio (samples_per_s_median_epoch): 1.33x",
        # Epoch by epoch, the last three of each: 9/5, 8/6 and 8/2 seconds.
        "speed ratio, epoch by epoch (epochs 2-4 only, the ones both recipes timed: the "
        "reference timed 4, keras_denoise 3): 1.80 1.33 4.00 (median 1.80x)",
        "peak RSS ratio, training: 0.40",
        "test digits                         10,000          10,000",
    ):
        assert line in lines


def test_tiling_benchmark_reports_throughput_and_matches_untiled(tmp_path):
    # The default model's check tiles are 128 + 2 * 73 = 274 pixels, 280 on its grid of 8: a
    # check image 298 high (281 wide) is the least that spans two along each side.
    out = tmp_path / "tiling.json"
    _run(
        "bench_tiling", "--size", "512", "--tile-size", "128", "--check-size", "298", "--json",
        str(out),
    )
    result = json.loads(out.read_text())
    assert result["image"] == "512x512x1"
    assert result["seconds"] > 0
    # Both are rounded: the time to 0.01 s, the throughput to three significant digits.
    seconds = 512 * 512 / 1e6 / result["megapixels_per_s"]
    assert abs(seconds - result["seconds"]) <= 0.006 * result["seconds"] + 0.006
    assert result["overlap"] == 73
    assert result["check_image"] == "298x281x1"
    assert result["check_tiles"] == [2, 2]
    assert result["max_abs_diff_tiled_vs_untiled"] <= 1e-4
    assert result["unet_options"] == {}


def test_tiling_benchmark_takes_unet_options(tmp_path):
    from keras_denoise import UNetDenoiser

    options = {"filters": [8, 16], "convolutions": 2, "activation": "relu"}
    out = tmp_path / "tiling.json"
    _run(
        "bench_tiling", "--size", "256", "--tile-size", "64", "--unet-options", json.dumps(options),
        "--json", str(out),
    )
    result = json.loads(out.read_text())
    model = UNetDenoiser(**options)
    assert result["unet_options"] == options
    assert result["parameters"] == model.count_params()
    assert result["overlap"] == model.receptive_radius == 9
    # Without --check-size, the default 384 x 367 check image: windows of 128 + 2 * 9 = 146
    # (148 on the grid of 4) advancing by 128 give three along each side.
    assert result["check_image"] == "384x367x1"
    assert result["check_tiles"] == [3, 3]
    assert result["max_abs_diff_tiled_vs_untiled"] <= 1e-4


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--unet-options", "[1]"], "must be a JSON object"),
     (["--unet-options", '{"image_shape": [8, 8, 1]}'], "cannot set"),
     (["--unet-options", '{"filtrs": [8]}'], "unexpected keyword arguments: filtrs"),
     (["--tile-size", "100"],
      "--tile-size must be a multiple of 8, the model's size multiple. Received: --tile-size=100"),
     # One short of the least check image that the default model tiles (see above).
     (["--check-size", "297"], "--check-size must be at least 298 for this model and overlap"),
     (["--check-size", "0"], "Received: check_size=0"),
     # 1,033 x 1,016 pixels is 1,049,528, more than denoise takes whole.
     (["--check-size", "1033"], "at most 1,048,576 pixels"),
     (["--overlap", "460"], "give a smaller --overlap. Received: overlap=460")],
)  # fmt: skip
def test_tiling_benchmark_refuses_bad_options(bench_tiling, capsys, arguments, message):
    assert message in _refused(bench_tiling, arguments, capsys, tiny=["--size", "64"])


@pytest.mark.slow
@pytest.mark.parametrize("reparam", ["acb", "rep"])
def test_unet_screen_reparam_folds_into_the_library_unet(mnist_path, reparam):
    # The screens' experiments rebuild UNetDenoiser's graph; their rows compare with the
    # library's model only while that graph is the same, which the folded count checks.
    from keras_denoise import UNetDenoiser

    options = {"activation": "silu", "filters": [16, 16], "convolutions": 2}
    completed = _run(
        "screen_unet", "--data", str(mnist_path), "--epochs", "1", "--train-subset", "128",
        "--reparam", reparam, "--options", json.dumps(options),
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    library = UNetDenoiser(**options).count_params()
    assert result["parameters_folded"] == library
    assert result["parameters"] > library  # the branches, trained and then folded away
    assert result["reparam"] == reparam
    assert math.isfinite(result["psnr"]) and result["psnr"] > 0


def _screen_tiny(mnist_path):
    """The options of a tiny `screen_unet.py` run (see `_refused`)."""
    return ["--data", str(mnist_path), "--epochs", "1", "--train-subset", "128"]


def test_unet_screen_refuses_reparam_with_residual_blocks(screen_unet, capsys, mnist_path):
    stderr = _refused(screen_unet, ["--reparam", "acb", "--residual"], capsys,
                      tiny=_screen_tiny(mnist_path))
    assert "--reparam takes no --residual" in stderr
    assert "Received: --reparam=acb --residual" in stderr


def _script(name):
    """The benchmark script `name` loaded as a module, as tests/test_datasets.py loads its.

    Its folder is on `sys.path` while it loads, as when it runs: scripts import from each other.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def _refused(script, arguments, capsys, tiny=()):
    """Run `script.main(arguments)` here (no process to start); check it exits with status 2
    (an argparse error, before any work) and return what it printed on stderr.

    `tiny` goes before `arguments`: the options of a run small enough that a refusal that
    broke fails the test in seconds, rather than run the script's full default for hours.
    """
    with pytest.raises(SystemExit) as exit_info:
        script.main([*tiny, *arguments])
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def bench_tiling():
    return _script("bench_tiling")


@pytest.fixture(scope="module")
def bench_noise_levels():
    return _script("bench_noise_levels")


@pytest.fixture(scope="module")
def screen_unet():
    return _script("screen_unet")


@pytest.fixture(scope="module")
def bench_training():
    return _script("bench_training")


@pytest.fixture(scope="module")
def bench_backends():
    return _script("bench_backends")


@pytest.mark.parametrize("groups", [2, 4])
def test_unet_screen_grouped_convolution_is_split_convolutions_with_a_shuffle(screen_unet,
                                                                             groups):
    # The masked dense kernel must compute what `groups` separate convolutions compute, group g
    # reading input channels g, g + groups, ... and writing the g-th run of outputs.
    import keras
    import numpy as np

    grouped = screen_unet.grouped_conv2d_class()(groups, 8, 3, padding="same",
                                                 use_bias=False)
    images = np.random.default_rng(0).random((2, 6, 6, 12), dtype=np.float32)
    outputs = np.asarray(grouped(images))
    kernel = np.asarray(grouped.kernel)
    width = 8 // groups
    expected = []
    for group in range(groups):
        split = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)
        split.build((None, 6, 6, 12 // groups))
        split.kernel.assign(kernel[:, :, group::groups, group * width:(group + 1) * width])
        expected.append(np.asarray(split(images[..., group::groups])))
    np.testing.assert_allclose(outputs, np.concatenate(expected, axis=-1), atol=1e-5)
    assert grouped.masked_parameters == 3 * 3 * 12 * 8 * (groups - 1) // groups


@pytest.mark.slow
def test_unet_screen_groups_counts_the_grouped_parameters(mnist_path):
    from keras_denoise import UNetDenoiser

    options = {"activation": "silu", "filters": [16, 16], "convolutions": 2}
    completed = _run(
        "screen_unet", "--data", str(mnist_path), "--epochs", "1", "--train-subset", "128",
        "--groups", "2", "--options", json.dumps(options),
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    # Grouped in halves: every 3x3 convolution but the first (it reads 3 channels), that is
    # four of 16 -> 16 channels and the decoder's 32 -> 16 one.
    halved = (4 * 9 * 16 * 16 + 9 * 32 * 16) // 2
    assert result["parameters"] == UNetDenoiser(**options).count_params() - halved
    assert result["groups"] == 2
    assert math.isfinite(result["psnr"]) and result["psnr"] > 0


def test_unet_screen_share_levels_shares_kernels_and_keeps_batch_normalizations(screen_unet):
    import keras

    from keras_denoise._fused_batch_normalization import FusedBatchNormalization

    def model(share_levels):
        return screen_unet.block_variant(
            (16, 16, 16), (2, 2, 2), "silu", "float32", residual=False, pooling="max",
            upsampling="transpose", skip="concatenate", share_levels=share_levels)

    def count(layers, kind):
        return sum(isinstance(layer, kind) for layer in layers)

    own, shared = model(False), model(True)
    # Shared: the encoder's second convolutions (16 -> 16), the decoder's two 2x2 transposed
    # convolutions (16 -> 16, with biases) and both decoder blocks' convolutions (32 -> 16 and
    # 16 -> 16). Not shared: each level's first encoder convolution (3 or 16 channels in).
    assert own.count_params() - shared.count_params() == (
        9 * 16 * 16 + (4 * 16 * 16 + 16) + (9 * 32 * 16 + 9 * 16 * 16))
    assert count(own.layers, keras.layers.Conv2D) - count(shared.layers, keras.layers.Conv2D) == 3
    assert (count(own.layers, keras.layers.Conv2DTranspose)
            - count(shared.layers, keras.layers.Conv2DTranspose)) == 1
    # The batch normalizations stay one per level: each level keeps its own statistics.
    assert (count(own.layers, FusedBatchNormalization)
            == count(shared.layers, FusedBatchNormalization) == 10)
    images = keras.ops.ones((1, 28, 28, 1))
    assert shared(images).shape == (1, 28, 28, 1)


def test_unet_screen_decoder_filters_set_the_decoder_blocks_widths(screen_unet):
    import keras

    def model(decoder_filters):
        return screen_unet.block_variant(
            (16, 16, 16), (2, 2, 2), "silu", "float32", residual=False, pooling="max",
            upsampling="transpose", skip="concatenate", decoder_filters=decoder_filters)

    own, wide = model(None), model((32, 24))
    assert model((16, 16)).count_params() == own.count_params()

    def decoder(level_width, below, skip):  # 2x2 upsampling (biased), two convolutions, two BN
        return ((4 * below * level_width + level_width) + 9 * (level_width + skip) * level_width
                + 9 * level_width * level_width + 2 * 4 * level_width)

    def head(width):
        return width + 1

    expected = (decoder(24, 16, 16) + decoder(32, 24, 16) + head(32)
                - decoder(16, 16, 16) - decoder(16, 16, 16) - head(16))
    assert wide.count_params() - own.count_params() == expected
    assert wide(keras.ops.ones((1, 28, 28, 1))).shape == (1, 28, 28, 1)


def test_unet_screen_dilation_dilates_the_inner_convolutions_of_encoder_and_decoder(screen_unet):
    import keras

    def model(dilation):
        return screen_unet.block_variant(
            (16, 16, 16), (3, 3, 3), "silu", "float32", residual=False, pooling="max",
            upsampling="transpose", skip="concatenate", dilation=dilation)

    plain, dilated = model(1), model(2)
    assert dilated.count_params() == plain.count_params()
    rates = [tuple(layer.dilation_rate) for layer in dilated.layers
             if type(layer) is keras.layers.Conv2D and layer.kernel_size == (3, 3)]
    # Encoder levels 1 and 2, the bottleneck, decoder levels 2 and 1: three convolutions each,
    # the middle one dilated everywhere but in the bottleneck.
    one, two = (1, 1), (2, 2)
    assert rates == [one, two, one] * 2 + [one, one, one] + [one, two, one] * 2
    assert all(tuple(layer.dilation_rate) == one for layer in plain.layers
               if isinstance(layer, keras.layers.Conv2D))
    assert dilated(keras.ops.ones((1, 28, 28, 1))).shape == (1, 28, 28, 1)


def test_unet_screen_refuses_dilation_with_grouped_convolutions(screen_unet, capsys,
                                                                mnist_path):
    stderr = _refused(screen_unet, ["--dilation", "2", "--groups", "2"], capsys,
                      tiny=_screen_tiny(mnist_path))
    assert "--dilation takes neither --reparam nor --groups" in stderr
    assert "Received: --dilation=2 --reparam=none --groups=2" in stderr


def test_unet_screen_refuses_decoder_filters_of_the_wrong_length(screen_unet, capsys,
                                                                 mnist_path):
    arguments = ["--decoder-filters", "[16]", "--options", json.dumps({"filters": [16, 16, 16]})]
    stderr = _refused(screen_unet, arguments, capsys, tiny=_screen_tiny(mnist_path))
    assert "one per level above the bottleneck (2 here)" in stderr
    assert "Received: --decoder-filters='[16]'" in stderr


def test_unet_screen_refuses_passes_with_any_graph_experiment(screen_unet, capsys, mnist_path):
    stderr = _refused(screen_unet, ["--passes", "2", "--dilation", "2"], capsys,
                      tiny=_screen_tiny(mnist_path))
    assert ("--residual, --pooling, --upsampling, --skip, --stem-kernel, --head-kernel, "
            "--padding, --long-skip, --encoder-convolutions, --reparam, --groups, "
            "--share-levels, --decoder-filters and --dilation take --passes 1 only"
            ) in stderr


def test_unet_screen_refuses_filters_that_are_not_a_sequence(screen_unet, capsys, mnist_path):
    # `check_filters` raises TypeError here, which the script once let escape as a traceback
    # (here it would escape `_refused`'s SystemExit check).
    arguments = ["--residual", "--options", json.dumps({"filters": 48})]
    assert "`filters` must be a sequence of positive integers. Received: filters=48" in (
        _refused(screen_unet, arguments, capsys, tiny=_screen_tiny(mnist_path)))


def test_unet_screen_refuses_groups_that_do_not_divide_the_widths(screen_unet, capsys,
                                                                  mnist_path):
    arguments = ["--groups", "3", "--options", json.dumps({"filters": [16, 16]})]
    assert "Received: --groups=3, filters=[16, 16]" in _refused(
        screen_unet, arguments, capsys, tiny=_screen_tiny(mnist_path))


class _Identity:
    """A "model" that returns its input: what the recipes' scoring makes of the noisy digits."""

    def predict(self, images, batch_size=None, verbose=0):
        return images


def test_training_benchmark_reference_data_is_one_fixed_float64_noisy_copy(bench_training):
    # The tutorial's recipe, whose memory the keras-denoise way is compared with: a float64
    # copy of the digits and one of the noisy digits, drawn once from the seed.
    import numpy as np

    digits = np.random.default_rng(0).integers(0, 256, (200, 12, 10), dtype=np.uint8)
    digits[:, :4] = 128  # a band of mid-grey, for the statistics below
    noisy, clean = bench_training.reference_data(digits, seed=5)
    assert noisy.dtype == clean.dtype == np.float64
    assert noisy.shape == clean.shape == (200, 12, 10, 1)
    np.testing.assert_array_equal(clean[..., 0], digits / 255.0)
    normal = np.random.default_rng(5).normal(size=clean.shape)
    np.testing.assert_array_equal(noisy, np.clip(clean + 0.5 * normal, 0.0, 1.0))
    # Its statistics: a mid-grey pixel (128), about one standard deviation of noise 0.5 from
    # either bound, is clipped with probability Phi(-1.004) + Phi(-0.996) = 31.7% (21% at a
    # noise factor of 0.4, 40% at 0.6); 8,000 of them give that within +-0.5 points (1 sd).
    grey = noisy[:, :4]
    assert np.mean((grey == 0.0) | (grey == 1.0)) == pytest.approx(0.317, abs=0.03)
    again, _ = bench_training.reference_data(digits, seed=5)
    np.testing.assert_array_equal(again, noisy)
    other, _ = bench_training.reference_data(digits, seed=6)
    assert not np.array_equal(other, noisy)


def test_training_benchmark_reference_recipe_fits_the_noisy_copy_to_the_clean(
    bench_training, mnist_path, monkeypatch
):
    # The tutorial's `fit` call, seen by a stand-in for its model (training it is timed in
    # the end-to-end tests above, which cannot tell inputs from targets in 3 epochs).
    import numpy as np

    calls = {}

    class History:
        history = {"loss": [0.3], "val_loss": [0.2]}

    class Model:
        optimizer = type("Adam", (), {"learning_rate": 1e-3})()

        def fit(self, x, y, **kwargs):
            calls.update(x=x, y=y, **kwargs)
            for callback in kwargs["callbacks"]:
                callback.on_epoch_begin(0)
                callback.on_epoch_end(0, {})
            return History()

        def predict(self, images, batch_size=None, verbose=0):
            return images

        def count_params(self):
            return 440_865

    monkeypatch.setattr(bench_training, "reference_model", Model)
    args = bench_training.parse_args([
        "--data", str(mnist_path), "--train-subset", "100", "--test-subset", "10", "--epochs",
        "1", "--seed", "3", "--which", "reference", "--child", "reference",
    ])  # fmt: skip
    result = bench_training.run_one("reference", args)
    with np.load(mnist_path) as data:
        noisy, clean = bench_training.reference_data(data["x_train"][:100], seed=3)
    np.testing.assert_array_equal(calls["x"], noisy)
    np.testing.assert_array_equal(calls["y"], clean)
    assert (calls["batch_size"], calls["epochs"], calls["validation_split"]) == (64, 1, 0.1)
    assert (result["train_samples"], result["epochs_timed"]) == (90, 1)
    assert (result["final_val_loss"], result["optimizer"]) == (0.2, "Adam")


def test_training_benchmark_scores_on_digits_noised_at_half_clipped(bench_training,
                                                                      mnist_path):
    # The noisy input's own scores: on all 10,000 test digits they are 9.38 dB (the issue's
    # figure) and SSIM 0.413; unclipped noise would give 6.0 dB, a noise factor of 0.4 11 dB.
    import numpy as np

    with np.load(mnist_path) as data:
        digits = data["x_test"][:500]
    scores = bench_training.quality(_Identity(), digits)
    assert scores["test_images"] == 500
    assert scores["psnr_db"] == pytest.approx(9.39, abs=0.05)
    assert scores["ssim"] == pytest.approx(0.40, abs=0.02)
    assert scores == bench_training.quality(_Identity(), digits)  # its own fixed seed


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--epochs", "0"], "--epochs must be a positive integer. Received: --epochs=0"),
     (["--train-subset", "1"], "at least 2 (one to train on, one for the validation split). "
                               "Received: --train-subset=1"),
     (["--train-subset", "-5"], "Received: --train-subset=-5"),
     (["--train-subset", "60001"], "--train-subset must be at most 60,000, the digits in "
                                   "`x_train` of --data. Received: --train-subset=60001"),
     (["--test-subset", "-1"], "--test-subset must be 0 (all the test digits) or positive. "
                               "Received: --test-subset=-1"),
     (["--test-subset", "10001"], "--test-subset must be at most 10,000, the digits in "
                                  "`x_test` of --data. Received: --test-subset=10001"),
     (["--data", "{dir}/none.npz"], "--data: no such file: '{dir}/none.npz'"),
     (["--data", "{dir}/data.npz"], "--data: '{dir}/data.npz' holds no `x_train`"),
     (["--data", "{dir}/notes.txt"], "--data: '{dir}/notes.txt' is not an .npz of images"),
     (["--data", "{dir}/truncated.npz"], "--data: '{dir}/truncated.npz' is not an .npz"),
     (["--optimizer", "muon", "--which", "both"], "Received: --optimizer=muon --which=both"),
     (["--interleave", "--backup-dir", "{dir}"], "--interleave and --backup-dir cannot be"),
     (["--fit-options", '{"epochs": 3}'], "--fit-options cannot set what the script sets"),
     (["--unet-options", "[4]"], "--unet-options must be a JSON object"),
     (["--fused-options", '{"fast": 1}'], "--fused-options takes only the keys"),
     (["--json", "{dir}"], "--json must be a file path, not a folder"),
     (["--json", "{dir}/no/results.json"], "the folder of --json")],
)  # fmt: skip
def test_training_benchmark_refuses_bad_options(
    bench_training, capsys, mnist_path, noise_levels_files, arguments, message
):
    # Before any recipe starts; the bad data files are `bench_noise_levels.py`'s.
    folder = noise_levels_files
    tiny = ["--data", str(mnist_path), "--which", "reference", "--epochs", "1",
            "--train-subset", "2", "--test-subset", "1"]
    arguments = [part.replace("{dir}", str(folder)) for part in arguments]
    assert message.replace("{dir}", str(folder)) in _refused(bench_training, arguments, capsys,
                                                             tiny=tiny)


@pytest.fixture(scope="module")
def noise_levels_files(tmp_path_factory):
    """An `.npz` of 12 test images 16x16, and two saved models for `bench_noise_levels.py`.

    `unet.keras` is a small untrained `UNetDenoiser`; `plain.keras` a plain Keras model
    (no `denoise`) that maps `x` to `2x - 0.5`, half of it outside [0, 1] for the script
    to clip. `notes.txt`, `truncated.npz` (the first 100 bytes of `data.npz`) and `bright.npz`
    (pixels of 2.0) are data the script must refuse.
    """
    import keras
    import numpy as np

    from keras_denoise import UNetDenoiser

    folder = tmp_path_factory.mktemp("noise_levels")
    images = np.random.default_rng(0).integers(0, 256, (12, 16, 16), dtype=np.uint8)
    np.savez(folder / "data.npz", x_test=images)
    UNetDenoiser(filters=(4, 8)).save(folder / "unet.keras")
    inputs = keras.Input((None, None, 1))
    plain = keras.Model(inputs, keras.layers.Rescaling(2.0, offset=-0.5)(inputs))
    plain.save(folder / "plain.keras")
    (folder / "notes.txt").write_text("not an archive")
    (folder / "truncated.npz").write_bytes((folder / "data.npz").read_bytes()[:100])
    np.savez(folder / "bright.npz", x_test=np.full((2, 8, 8), 2.0))
    return folder


class _Doubled:
    """What `bench_noise_levels.py` must make of `plain.keras`: `2x - 0.5`, clipped."""

    def denoise(self, images, batch_size=64):
        import numpy as np

        return np.clip(2.0 * images - 0.5, 0.0, 1.0)


def test_noise_levels_benchmark_scores_models_and_baselines_on_the_same_noise(
    noise_levels_files,
):
    import numpy as np

    import keras_denoise

    folder = noise_levels_files
    out, figure = folder / "levels.json", folder / "levels.png"
    completed = _run(
        "bench_noise_levels", "--data", str(folder / "data.npz"), f"unet={folder / 'unet.keras'}",
        f"plain={folder / 'plain.keras'}", "--noise-factors", "0,0.5", "--baselines", "median",
        "--seed", "3", "--max-images", "10", "--json", str(out), "--figure", str(figure),
    )
    result = json.loads(out.read_text())
    assert result["images"] == 10
    assert result["seed"] == 3
    assert result["models"] == {"unet": str(folder / "unet.keras"),
                                "plain": str(folder / "plain.keras")}
    assert set(result["seconds"]) == {"noisy and baselines", "unet", "plain"}
    assert figure.read_bytes().startswith(b"\x89PNG")
    rows = result["rows"]
    assert [(row["noise_factor"], row["method"]) for row in rows] == [
        (level, method) for level in (0.0, 0.5) for method in ("noisy", "unet", "plain", "median")
    ]
    assert rows[0]["psnr"] is None  # the noisy input at level 0 is the clean image: infinite

    # The same rows from `evaluate` in this process: every row of a level on the same noise.
    with np.load(folder / "data.npz") as data:
        clean = data["x_test"][:10]
    options = {"noise_factors": (0.0, 0.5), "seed": 3, "verbose": False}
    expected = keras_denoise.evaluate(None, clean, baselines=("median",), **options)
    for label, model in (("unet", keras_denoise.load_model(folder / "unet.keras")),
                         ("plain", _Doubled())):
        rows_of_model = keras_denoise.evaluate(model, clean, baselines=(), **options)
        expected += [{**row, "method": label} for row in rows_of_model if row["method"] == "model"]
    order = {"noisy": 0, "unet": 1, "plain": 2, "median": 3}
    expected.sort(key=lambda row: (row["noise_factor"], order[row["method"]]))
    for row, want in zip(rows[1:], expected[1:], strict=True):
        assert row["method"] == want["method"]
        assert row["psnr"] == pytest.approx(want["psnr"], abs=1e-4), row
        assert row["ssim"] == pytest.approx(want["ssim"], abs=1e-5), row
    for method in ("noisy", "unet", "plain", "median"):
        assert f"{method} " in completed.stdout  # the table


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["unet"], "models must be given as LABEL=PATH. Received: 'unet'"),
     (["={dir}/unet.keras"], "models must be given as LABEL=PATH. Received: '={dir}/unet.keras'"),
     (["unet="], "models must be given as LABEL=PATH. Received: 'unet='"),
     (["a={dir}/unet.keras", "a={dir}/plain.keras"],
      "each LABEL must be unique (it names the rows); repeated: ['a']"),
     (["a={dir}/none.keras"], "models: no such file: '{dir}/none.keras'"),
     (["a={dir}/data.npz"], "models: a={dir}/data.npz cannot be loaded"),
     (["--data", "{dir}/none.npz"], "--data: no such file: '{dir}/none.npz'"),
     (["--data", "{dir}/unet.keras"], "--data: '{dir}/unet.keras' holds no `x_test`"),
     (["--data", "{dir}/notes.txt"], "--data: '{dir}/notes.txt' is not an .npz of images"),
     (["--data", "{dir}/truncated.npz"], "--data: '{dir}/truncated.npz' is not an .npz"),
     (["--data", "{dir}/bright.npz"], "--data: `x_test` must hold pixels in [0, 1]"),
     (["--baselines", "median,medain"], "--baselines: `baselines` must be distinct names from"),
     (["--seed", "-1"], "Received: seed=-1"),
     (["--figure", "{dir}/levels.gif"], "the figure must end with one of .png, .pdf, .svg"),
     (["--json", "{dir}/no/levels.json"], "the folder of `--json`")],
)  # fmt: skip
def test_noise_levels_benchmark_refuses_bad_arguments_before_scoring(
    bench_noise_levels, capsys, noise_levels_files, arguments, message
):
    folder = noise_levels_files
    defaults = ["--data", "{dir}/data.npz", "plain={dir}/plain.keras"]
    arguments = [part.format(dir=folder) for part in (*defaults, *arguments)]
    assert message.format(dir=folder) in _refused(bench_noise_levels, arguments, capsys)


@pytest.fixture(scope="module")
def backends_data(tmp_path_factory):
    """128 digits 28x28 in the layout of MNIST's `x_train`."""
    import numpy as np

    folder = tmp_path_factory.mktemp("backends")
    images = np.random.default_rng(0).integers(0, 256, (128, 28, 28), dtype=np.uint8)
    np.savez(folder / "mnist.npz", x_train=images)
    return folder


@pytest.mark.slow
def test_backends_benchmark_times_a_backend_in_a_process_of_its_own(
    bench_backends, backends_data, capsys, monkeypatch
):
    # The table here, each backend in a real process of its own, whose JSON line (kept by a
    # spy) has every epoch's time.
    workers, real_run = [], subprocess.run

    def run(command, **kwargs):
        completed = real_run(command, **kwargs)
        if "--worker" in command:
            workers.append((kwargs["env"]["KERAS_BACKEND"], completed))
        return completed

    monkeypatch.setattr(bench_backends.subprocess, "run", run)
    arguments = ["--images", "128", "--epochs", "3", "--backends", "tensorflow",
                 "--mnist", str(backends_data / "mnist.npz")]
    assert bench_backends.main(arguments) == 0
    out = capsys.readouterr().out
    assert "128 images, batch 64, 3 epochs (first not timed)" in out
    [(backend, completed)] = workers
    assert backend == "tensorflow"
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    seconds = result["epoch_seconds"]
    assert len(seconds) == 3 and result["first_epoch_s"] == seconds[0]
    assert result["samples_per_s"] == pytest.approx(128 * 2 / (seconds[1] + seconds[2]))
    assert result["backend"] == "tensorflow"
    assert 0 < result["final_loss"] < 1  # binary cross-entropy of an autoencoder in training
    row = (f"| tensorflow | {result['samples_per_s']:.0f} | {result['first_epoch_s']:.1f} "
           f"| {result['final_loss']:.4f} |")
    assert row in out.splitlines()


def test_backends_benchmark_worker_refuses_more_images_than_the_file_holds(bench_backends,
                                                                           backends_data):
    path = backends_data / "mnist.npz"
    message = f"--images is more than the 128 of {path}. Received: --images=129"
    with pytest.raises(ValueError, match=re.escape(message)):
        bench_backends._measure(str(path), 129, 2)


@pytest.mark.parametrize(
    ("stderr", "row"),
    [("Traceback (most recent call last):\n  ...\nValueError: --images is more than the 128\n",
      "| tensorflow | failed: ValueError: --images is more than the 128 | | |"),
     ("", "| tensorflow | failed: exit status 1 | | |")],
)  # fmt: skip
def test_backends_benchmark_reports_a_failed_run_and_exits_1(
    bench_backends, backends_data, capsys, monkeypatch, stderr, row
):
    # The worker's process faked (a real one is timed above): its traceback's last line, or
    # without one its exit status, goes in the table, and the script exits with status 1.
    def run(command, **kwargs):
        if "--worker" in command:
            assert kwargs["env"]["KERAS_BACKEND"] == "tensorflow"
            return subprocess.CompletedProcess(command, 1, stdout="", stderr=stderr)
        return subprocess.CompletedProcess(command, 0, stdout="9.9\n", stderr="")

    monkeypatch.setattr(bench_backends.subprocess, "run", run)
    arguments = ["--backends", "tensorflow", "--mnist", str(backends_data / "mnist.npz")]
    assert bench_backends.main(arguments) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("keras 9.9, tensorflow 9.9")
    assert lines[-1] == row


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--epochs", "1"],
      "--epochs must be at least 2: the first epoch is not timed. Received: --epochs=1"),
     (["--images", "0"], "Received: images=0"),
     (["--backends", "numpy"], "invalid choice: 'numpy'"),
     (["--mnist", "none.npz"], "--mnist: no such file: 'none.npz'")],
)  # fmt: skip
def test_backends_benchmark_refuses_bad_arguments(bench_backends, capsys, backends_data,
                                                  arguments, message):
    tiny = ["--images", "64", "--backends", "tensorflow", "--mnist",
            str(backends_data / "mnist.npz")]
    assert message in _refused(bench_backends, arguments, capsys, tiny=tiny)


@pytest.fixture(scope="module")
def gpu_check():
    return _script("gpu_check")


class FakeBenchTraining:
    """Stands for the `bench_training.py` children of `gpu_check.py`, which need a GPU.

    Each child writes the result its run's entry in `table` gives: `(first epoch s,
    median epoch s)`, the same with "rejected" (XLA refused the options, and the child ran
    without them), or "fails" (exit status 1). Every command line is kept with its
    environment.
    """

    def __init__(self, table, dump):
        self.table, self.dump, self.calls = table, dump, []

    def __call__(self, command, env):
        self.calls.append((command, env))
        path = command[command.index("--json") + 1]
        name = pathlib.Path(path).name[1 : -len(".json")]
        epochs = int(command[command.index("--epochs") + 1])
        fused = json.loads(command[command.index("--fused-options") + 1])
        entry = self.table[name]
        if "--xla_dump_to=" in env.get("XLA_FLAGS", ""):  # XLA writes its programs there
            pathlib.Path(self.dump).mkdir(parents=True, exist_ok=True)
            (pathlib.Path(self.dump) / "module.scanned.txt").write_text("HloModule scanned")
        if entry != "fails":
            first, median, *rejected = entry
            result = {
                "parameters": 440_865, "epoch_seconds": [first] + [median] * (epochs - 1),
                "psnr_db": 20.5, "ssim": 0.8, "final_val_loss": 0.095,
                "fused_compiler_options": (
                    None if rejected else fused["gpu_compiler_options"] or None
                ),
            }  # fmt: skip
            pathlib.Path(path).write_text(json.dumps({"results": {"run": result}}))
        code = 1 if entry == "fails" else 0
        return type("Process", (), {"wait": lambda self: code})()


def test_gpu_check_keeps_each_option_that_shortens_the_projected_fit(
    gpu_check, bench_training, monkeypatch, capsys, tmp_path, rng
):
    # A lent GPU's minutes are few: the script's choices, its results file and the command
    # lines it gives bench_training.py are checked here, with the children faked.
    data = tmp_path / "mnist.npz"
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    np.savez(data, x_train=images[:16], x_test=images[16:])
    dump = tmp_path / "dump"
    monkeypatch.setattr(gpu_check, "DUMP", str(dump))
    fake = FakeBenchTraining(
        {
            "convae_fused": (10.0, 1.0),
            "convae_graphs": (10.0, 0.8),  # the fastest median epoch that ran as asked
            "convae_graphs_ds": (10.0, 0.5, "rejected"),  # ran without the option asked
            "convae_graphs_ds_copy": "fails",
            "convae_best_autotune0": (5.0, 0.8),  # shorter: kept
            "convae_best_padded": (20.0, 0.7),  # 20 + 34 x 0.7 > 5 + 34 x 0.8: dropped
            "convae_best_precompiled": (3.0, 0.8),  # shorter: kept
            "convae_best_nhwc": "fails",
            "convae_chosen_35": (3.0, 0.8),
            "unet_silu_c3": (30.0, 2.0),
            "unet_silu_c3_b40": (30.0, 2.0),
            "unet_silu_c3_float32": "fails",
        },
        dump,
    )
    monkeypatch.setattr(gpu_check.subprocess, "Popen", fake)
    out = tmp_path / "results"
    argv = ["--data", str(data), "--out", str(out), "--stages", "speed,unet"]
    assert gpu_check.main(argv) == 1  # runs failed
    stdout = capsys.readouterr().out
    assert "=== 3 of 12 runs failed: see results.json" in stdout
    graphs = {"xla_gpu_enable_command_buffer": gpu_check.GRAPHS}
    chosen = {**graphs, "xla_gpu_autotune_level": 0, gpu_check.PRECOMPILE: True}
    assert f"=== chosen: --which keras_denoise {chosen}" in stdout

    results = json.loads((out / "results.json").read_text())
    assert list(results) == [name for name in fake.table]  # in the order they ran
    assert [results[name]["returncode"] for name in results].count(1) == 3
    assert results["convae_chosen_35"]["settings"] == chosen
    assert sorted(path.name for path in out.iterdir()) == ["results.json", "xla_dump.tar.gz"]
    for command, env in fake.calls:
        name = pathlib.Path(command[command.index("--json") + 1]).name[1:-5]
        # Every command line is one bench_training.py takes, on the JAX backend.
        assert command[:2] == [sys.executable, str(BENCHMARKS / "bench_training.py")]
        parsed = bench_training.parse_args(command[2:])
        assert parsed.backend == env["KERAS_BACKEND"] == "jax"
        fused = json.loads(parsed.fused_options)
        settings = results[name]["settings"]
        assert fused["gpu_compiler_options"] == gpu_check.xla_options(settings)
        assert {key: fused[key] for key in fused if key != "gpu_compiler_options"} == {
            key: settings[key] for key in gpu_check.NOT_XLA if key in settings
        }
        # The speed runs are timed alone on the GPU, for 6 epochs and then the 35; the U-Nets
        # share it, in mixed bfloat16 (but the variant that says float32: the last option
        # wins), trained with the speed stage's choice.
        unet = name.startswith("unet")
        assert parsed.epochs == (35 if unet or name == "convae_chosen_35" else 6)
        assert ("XLA_PYTHON_CLIENT_PREALLOCATE" in env) is unet
        assert parsed.which == ("unet" if unet else "keras_denoise")
        if unet:
            policy = "float32" if name.endswith("_float32") else "mixed_bfloat16"
            assert parsed.dtype_policy == policy and settings == chosen


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--data", "none.npz"], "--data: no such file: 'none.npz'"),
     (["--epochs", "0"], "--epochs must be a positive integer. Received: --epochs=0"),
     (["--train-subset", "-1"], "--train-subset must be 0 (all) or positive"),
     (["--stages", "speed,fast"], "--stages must name some of speed, unet")],
)  # fmt: skip
def test_gpu_check_refuses_bad_arguments_before_any_run(
    gpu_check, capsys, tmp_path, arguments, message
):
    data = tmp_path / "mnist.npz"
    data.write_bytes(b"")
    argv = ["--data", str(data), "--out", str(tmp_path / "out"), *arguments]
    with pytest.raises(SystemExit) as raised:
        gpu_check.parse_args(argv)
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
