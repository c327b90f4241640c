import builtins
import json
import re
import types

import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, GaussianNoise, _evaluate
from keras_denoise._evaluate import evaluate, format_table
from keras_denoise.metrics import psnr, ssim

ALL_BASELINES = ("median", "tv", "nl_means", "wavelet")


class _Identity:
    """A stand-in denoiser that returns its input and records the calls."""

    def __init__(self):
        self.calls = []

    def denoise(self, images, *, batch_size=64):
        self.calls.append((images.shape, batch_size))
        return images


def _quick(images, model=None, **kwargs):
    kwargs.setdefault("noise_factors", (0.3,))
    kwargs.setdefault("baselines", ())
    kwargs.setdefault("verbose", False)
    return evaluate(model, images, **kwargs)


def test_rows_follow_noise_levels_then_methods(rng):
    images = rng.random((4, 16, 16)).astype("float32")
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4)
    rows = _quick(images, model, noise_factors=(0.1, 0.5), baselines=("median", "tv"))
    assert [(row["noise_factor"], row["method"]) for row in rows] == [
        (noise_factor, method)
        for noise_factor in (0.1, 0.5)
        for method in ("noisy", "model", "median", "tv")
    ]
    for row in rows:
        assert list(row) == ["noise_factor", "method", "psnr", "ssim"]
        assert all(type(row[key]) is float for key in ("noise_factor", "psnr", "ssim"))
        assert -1.0 <= row["ssim"] <= 1.0


def test_rows_are_the_metrics_of_the_noisy_and_denoised_images(rng):
    images = rng.random((4, 16, 16, 1)).astype("float32")
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=4)
    noisy_row, model_row = _quick(images, model, seed=3)
    noisy = GaussianNoise(0.3, seed=3)(images)
    assert noisy_row["psnr"] == pytest.approx(psnr(images, noisy))
    assert noisy_row["ssim"] == pytest.approx(ssim(images, noisy))
    assert model_row["psnr"] == pytest.approx(psnr(images, model.denoise(noisy)), rel=1e-5)


def test_model_none_and_no_baselines_leave_rows_out(rng):
    rows = _quick(rng.random((3, 16, 16)), noise_factors=(0.1, 0.2))
    assert [row["method"] for row in rows] == ["noisy", "noisy"]


def test_model_gets_the_noisy_batch_and_batch_size(rng):
    model = _Identity()
    noisy_row, model_row = _quick(rng.random((5, 16, 16, 3)), model, batch_size=2)
    # First one clean image, to check up front that the model takes the images.
    assert model.calls == [((1, 16, 16, 3), 1), ((5, 16, 16, 3), 2)]
    assert model_row["psnr"] == noisy_row["psnr"] and model_row["ssim"] == noisy_row["ssim"]


def test_same_seed_same_table_other_seed_other_noise(rng):
    images = rng.random((4, 16, 16))
    first = _quick(images, noise_factors=(0.2, 0.4), baselines=("median",), seed=5)
    assert _quick(images, noise_factors=(0.2, 0.4), baselines=("median",), seed=5) == first
    assert _quick(images, noise_factors=(0.2, 0.4), baselines=("median",), seed=6) != first


def test_each_level_does_not_depend_on_the_others(rng):
    images = rng.random((4, 16, 16))
    both = _quick(images, noise_factors=(0.2, 0.4))
    assert _quick(images, noise_factors=(0.4,)) == both[1:]


def test_noise_factors_and_baselines_may_be_numpy_arrays(rng):
    images = rng.random((3, 16, 16))
    expected = _quick(images, noise_factors=(0.2, 0.4), baselines=("median",))
    rows = _quick(images, noise_factors=np.array([0.2, 0.4]), baselines=np.array(["median"]))
    assert rows == expected
    assert all(type(row["noise_factor"]) is float for row in rows)


def test_noisy_psnr_is_near_theory():
    # Pixels at 0.5 with noise of standard deviation 0.1: clipping is negligible, MSE = 0.01.
    rows = _quick(np.full((20, 16, 16), 0.5), noise_factors=(0.1,))
    assert rows[0]["psnr"] == pytest.approx(20.0, abs=0.1)


def test_psnr_falls_as_noise_rises(rng):
    rows = _quick(rng.random((4, 16, 16)), noise_factors=(0.1, 0.3, 0.5, 0.7))
    values = [row["psnr"] for row in rows]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 16, 16, 1), (3, 16, 16, 3)])
def test_shapes_dtypes_and_every_baseline(shape, dtype, rng):
    images = rng.random(shape)
    if dtype == "uint8":
        images = np.round(images * 255).astype(np.uint8)
    rows = _quick(images.astype(dtype), baselines=ALL_BASELINES)
    assert [row["method"] for row in rows] == ["noisy", *ALL_BASELINES]
    assert all(np.isfinite(row["psnr"]) for row in rows)


def _documented_baseline(name, image, noise_factor):
    """What `evaluate`'s docstring says each baseline runs, on one `(H, W, C)` image."""
    from skimage import filters, restoration

    axis = -1 if image.shape[-1] == 3 else None
    image = image if axis else image[..., 0]
    if name == "median":
        return filters.median(image, footprint=np.ones((3, 3, 1)[: image.ndim], bool))
    if name == "tv":
        weight = min(max(0.4 * noise_factor, 0.01), 0.5)
        return restoration.denoise_tv_chambolle(image, weight=weight, channel_axis=axis)
    if name == "nl_means":
        sigma = restoration.estimate_sigma(image, average_sigmas=True, channel_axis=axis)
        return restoration.denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True,
                                            patch_size=3, patch_distance=5, channel_axis=axis)
    return restoration.denoise_wavelet(image, method="BayesShrink", mode="soft",
                                       rescale_sigma=True, channel_axis=axis)


@pytest.mark.parametrize("noise_factor", [0.3, 1.5])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", ALL_BASELINES)
def test_baselines_run_scikit_image_with_the_documented_settings(name, channels, noise_factor):
    # Smooth images, on which the settings matter: a gradient and a disc.
    rows, columns = np.mgrid[:24, :24] / 23.0
    scene = 0.2 + 0.4 * rows + 0.3 * ((rows - 0.5) ** 2 + (columns - 0.6) ** 2 < 0.1)
    images = np.stack([scene, scene.T])[..., None].repeat(channels, axis=-1).astype("float32")
    _, row = _quick(images, noise_factors=(noise_factor,), baselines=(name,), seed=4)
    noisy = GaussianNoise(noise_factor, seed=4)(images)
    expected = [_documented_baseline(name, image, noise_factor) for image in noisy]
    expected = np.clip(np.stack(expected).reshape(images.shape), 0.0, 1.0)
    assert row["method"] == name
    assert row["psnr"] == pytest.approx(psnr(images, expected), rel=1e-5)
    assert row["ssim"] == pytest.approx(ssim(images, expected), rel=1e-5, abs=1e-6)


def test_uint8_equals_scaled_float(rng):
    images = rng.integers(0, 256, (3, 16, 16), dtype=np.uint8)
    assert _quick(images, baselines=("median",)) == _quick(
        images.astype("float32") / 255.0, baselines=("median",)
    )


def test_max_images_keeps_the_first_images(rng):
    images = rng.random((6, 16, 16))
    assert _quick(images, max_images=2) == _quick(images[:2])
    assert _quick(images, max_images=100) == _quick(images)


def test_verbose_shows_a_progress_bar(rng, capsys):
    _quick(rng.random((2, 16, 16)), noise_factors=(0.1, 0.2), baselines=("median",), verbose=True)
    assert "4/4" in capsys.readouterr().out


def test_not_verbose_prints_nothing(rng, capsys):
    _quick(rng.random((2, 16, 16)), noise_factors=(0.1, 0.2), baselines=("median",), verbose=False)
    assert capsys.readouterr() == ("", "")


def test_baselines_beat_the_noisy_input_on_digits(mnist_path):
    with np.load(mnist_path, allow_pickle=False) as data:
        digits = data["x_test"][:20]
    rows = evaluate(None, digits, noise_factors=(0.5,), baselines=ALL_BASELINES, verbose=False)
    scores = {row["method"]: row for row in rows}
    for name in ALL_BASELINES:
        assert scores[name]["psnr"] > scores["noisy"]["psnr"] + 1.0, name
    assert scores["median"]["ssim"] > scores["noisy"]["ssim"]


def test_no_noise_and_a_blank_image(rng):
    # scikit-image's wavelet noise estimate is NaN for a constant image without noise.
    images = rng.random((3, 16, 16))
    images[1] = 0.0
    baselines = ("median", "tv", "nl_means", "wavelet")
    rows = _quick(images, noise_factors=(0.0, 0.1), baselines=baselines)
    assert all(not np.isnan(row["psnr"]) and not np.isnan(row["ssim"]) for row in rows)
    wavelet = [row for row in rows if row["method"] == "wavelet"]
    assert wavelet[0]["psnr"] > 20 and np.isfinite(wavelet[1]["psnr"])


def _refuse_to_score(*args, **kwargs):
    raise AssertionError("scored the images before trying the model")


@pytest.mark.parametrize("shape", [(2, 8, 8), (2, 16, 16, 3)])
def test_images_that_do_not_fit_the_model(rng, monkeypatch, shape):
    # Refused up front, before the noisy row is scored, naming `clean_images` as given.
    monkeypatch.setattr(_evaluate, "psnr", _refuse_to_score)
    monkeypatch.setattr(_evaluate, "ssim", _refuse_to_score)
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=2)
    match = re.escape(
        "`clean_images` must hold images of the shape `model` takes (16, 16, 1). "
        f"Received: clean_images with shape {shape}"
    )
    with pytest.raises(ValueError, match=match):
        _quick(rng.random(shape), model, noise_factors=(0.1,))


class _Diverged(_Identity):
    """A stand-in denoiser whose output holds one NaN or infinite value, as after divergence."""

    def __init__(self, bad):
        super().__init__()
        self.bad = bad

    def denoise(self, images, *, batch_size=64):
        denoised = np.array(super().denoise(images, batch_size=batch_size))
        denoised.flat[-1] = self.bad
        return denoised


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_model_output_is_refused(rng, bad):
    match = (
        r"`model` must denoise the images to finite values \(NaN or infinite ones come from a "
        r"model whose training diverged\)\. Received: denoised images at noise_factor=0\.5 "
        r"with 1 such values"
    )
    with pytest.raises(ValueError, match=match):
        _quick(rng.random((3, 16, 16)), _Diverged(bad), noise_factors=(0.5,))


def test_a_diverged_model_is_refused(rng):
    # Its NaN output was refused by `psnr`, naming an argument `estimate` that `evaluate` lacks.
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=2, batch_norm=False)
    model.set_weights([np.full_like(weight, np.nan) for weight in model.get_weights()])
    with pytest.raises(ValueError, match=r"`model` must denoise .* training diverged"):
        _quick(rng.random((3, 16, 16)), model, noise_factors=(0.5,))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"model": object()}, TypeError, "model"),
        ({"model": types.SimpleNamespace(denoise=3)}, TypeError, r"model=namespace\(denoise=3\)"),
        ({"clean_images": np.zeros((16, 16))}, ValueError, "clean_images"),
        ({"clean_images": np.zeros((2, 16, 16), dtype=np.int64)}, TypeError, "clean_images"),
        ({"clean_images": np.full((2, 16, 16), np.nan)}, ValueError, "clean_images"),
        ({"clean_images": np.full((2, 16, 16), 2.0)}, ValueError, "clean_images"),
        ({"clean_images": np.full((2, 16, 16), 1.01)}, ValueError,
         r"clean_images.*\[0, 1\].*\[1\.01, 1\.01\]"),
        ({"clean_images": np.full((2, 16, 16), -0.5)}, ValueError,
         r"clean_images.*\[0, 1\].*\[-0\.5, -0\.5\]"),
        ({"noise_factors": 0.5}, TypeError, "noise_factors"),
        ({"noise_factors": "0.5"}, TypeError, r"a sequence of .*Received: noise_factors='0\.5'"),
        ({"noise_factors": ()}, ValueError, "noise_factors"),
        ({"noise_factors": (0.1, -0.5)}, ValueError, r"noise_factors=\(0.1, -0.5\)"),
        ({"noise_factors": (float("nan"),)}, ValueError, r"noise_factors=\(nan,\)"),
        ({"noise_factors": (0.5, 1e39)}, ValueError, r"1e6\. .*=\(0\.5, 1e\+39\)"),
        ({"noise_factors": ("0.1",)}, TypeError, r"noise_factors=\('0.1',\)"),
        ({"noise_factors": np.zeros((2, 2))}, TypeError, "noise_factors"),
        ({"noise_factors": (0.5, 0.3, 0.5)}, ValueError,
         r"must not repeat a level .*Received: noise_factors=\(0\.5, 0\.3, 0\.5\)"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": None}, TypeError, r"`seed` must be an integer between 0 and .*seed=None"),
        ({"baselines": "median"}, TypeError, "baselines"),
        ({"baselines": ("median", "gaussian")}, ValueError, "baselines"),
        ({"baselines": ("median", "median")}, ValueError, "baselines"),
        ({"baselines": (None,)}, ValueError, "baselines"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2**20 + 1}, ValueError, r"at most 1048576\. Received: batch_size=1048577"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"max_images": 0}, ValueError, "max_images"),
        ({"max_images": "all"}, TypeError, "max_images"),
        ({"verbose": "yes"}, TypeError, "verbose"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    arguments = {"model": None, "clean_images": np.zeros((2, 16, 16)), **kwargs}
    with pytest.raises(error, match=match):
        evaluate(arguments.pop("model"), arguments.pop("clean_images"), **arguments)


def test_without_scikit_image_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("skimage"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"keras-denoise\[skimage\]"):
        evaluate(None, np.zeros((2, 16, 16)), baselines=(), verbose=False)


def test_format_table_lays_out_every_row(rng):
    rows = _quick(rng.random((2, 16, 16)), noise_factors=(0.1, 0.5), baselines=("median",))
    lines = format_table(rows).splitlines()
    assert len(lines) == 1 + len(rows)
    assert lines[0].split() == ["noise", "method", "PSNR", "(dB)", "SSIM"]
    assert len({len(line) for line in lines}) == 1
    assert lines[1].startswith("0.10") and lines[3].startswith("0.50")
    assert lines[2].startswith(" ") and lines[4].startswith(" ")
    for line, row in zip(lines[1:], rows, strict=True):
        assert line.split()[-3:] == [row["method"], f"{row['psnr']:.2f}", f"{row['ssim']:.4f}"]


def test_format_table_tells_close_noise_levels_apart():
    rows = [
        {"noise_factor": value, "method": "noisy", "psnr": 40.0, "ssim": 0.99}
        for value in (0.001, 0.004, 0.005, 0.015, 0.1, 1 / 3, 12.34567)
    ]
    lines = format_table(rows).splitlines()
    labels = [line.split()[0] for line in lines[1:]]
    # Up to six decimals, however many digits come before them.
    assert labels == ["0.001", "0.004", "0.005", "0.015", "0.10", "0.333333", "12.34567"]
    assert len({len(line) for line in lines}) == 1  # the column widens to the longest label


def test_format_table_labels_float32_levels_like_the_others():
    # A float32 0.1 is 0.10000000149...: it was labelled "0.1", beside "0.30".
    rows = [
        {"noise_factor": float(value), "method": "noisy", "psnr": 9.0, "ssim": 0.5}
        for value in np.array([0.1, 0.3], "float32")
    ] + [{"noise_factor": 1e-7, "method": "noisy", "psnr": 9.0, "ssim": 0.5}]
    labels = [line.split()[0] for line in format_table(rows).splitlines()[1:]]
    assert labels == ["0.10", "0.30", "1e-07"]


def test_format_table_aligns_negative_ssim():
    rows = [
        {"noise_factor": 0.5, "method": "noisy", "psnr": 9.0, "ssim": -0.0123},
        {"noise_factor": 0.5, "method": "model", "psnr": 19.0, "ssim": 0.85},
    ]
    lines = format_table(rows).splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[1].endswith("-0.0123") and lines[2].endswith(" 0.8500")


def test_format_table_labels_each_group_of_a_repeated_level():
    # Rows of two runs at the same level (two models, say) read as two groups, not one.
    rows = [
        {"noise_factor": 0.5, "method": method, "psnr": 9.0, "ssim": 0.5}
        for method in ("noisy", "model", "noisy", "model")
    ]
    labels = [line[:4].strip() for line in format_table(rows).splitlines()[1:]]
    assert labels == ["0.50", "", "0.50", ""]


def test_format_table_widens_for_long_method_names():
    rows = [
        {"noise_factor": 0.5, "method": "a_long_method_name", "psnr": 12.0, "ssim": 0.5},
        {"noise_factor": 0.5, "method": "tv", "psnr": 9.0, "ssim": 0.25},
    ]
    lines = format_table(rows).splitlines()
    assert "a_long_method_name" in lines[1]
    # The columns stay aligned: every line as long, the numbers ending in the same places.
    assert len({len(line) for line in lines}) == 1
    assert lines[1].index("12.00") + len("12.00") == lines[2].index("9.00") + len("9.00")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([], "non-empty list"),
        ("rows", "non-empty list"),
        (b"rows", "non-empty list"),
        (None, "non-empty list"),
        ([{"noise_factor": 0.5, "method": "noisy", "psnr": 9.0}], "mapping with keys"),
        ([1.0], "mapping with keys"),
        ([{"noise_factor": 0.5, "method": "noisy", "psnr": 9.0, "ssim": None}], "numbers"),
        ([{"noise_factor": "low", "method": "noisy", "psnr": 9.0, "ssim": 0.5}], "numbers"),
        # Strings of numbers too: float() read them.
        ([{"noise_factor": 0.5, "method": "noisy", "psnr": "12.5", "ssim": 0.5}], "numbers"),
        ([{"noise_factor": 0.5, "method": "noisy", "psnr": 9.0, "ssim": True}], "numbers"),
    ],
)
def test_format_table_rejects_bad_rows(rows, match):
    with pytest.raises(ValueError, match=match):
        format_table(rows)


def test_format_table_reads_rows_back_from_the_command_lines_json(tmp_path):
    # `keras-denoise evaluate --json` writes the infinite PSNR of noise factor 0 as null.
    rows = json.loads(json.dumps([
        {"noise_factor": 0.0, "method": "noisy", "psnr": None, "ssim": 1.0},
        {"noise_factor": 0.0, "method": "model", "psnr": 30.5, "ssim": 0.9},
    ]))  # fmt: skip
    lines = format_table(rows).splitlines()
    assert lines[1].split() == ["0.00", "noisy", "inf", "1.0000"]


def test_one_image_with_channels_needs_a_batch_axis(rng):
    image = rng.random((16, 16, 1))
    with pytest.raises(ValueError, match=r"`clean_images` is ambiguous: one image with 1 channel"):
        evaluate(None, image, noise_factors=(0.5,), baselines=(), verbose=False)
    rows = evaluate(None, image[None], noise_factors=(0.5,), baselines=(), verbose=False)
    assert [row["method"] for row in rows] == ["noisy"]
