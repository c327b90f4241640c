import importlib
import subprocess
import sys

import pytest

import keras_denoise

PUBLIC_NAMES = [
    "ConvAutoencoder",
    "ConvMuon",
    "GaussianNoise",
    "NoisyPairs",
    "UNetDenoiser",
    "__version__",
    "anomaly_scores",
    "anomaly_threshold",
    "datasets",
    "enable_determinism",
    "evaluate",
    "fit_denoising",
    "format_table",
    "load_model",
    "metrics",
    "plotting",
    "roc_auc",
    "roc_curve",
    "save_model",
]


def _in_fresh_process(code):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_all_lists_the_public_names():
    assert keras_denoise.__all__ == PUBLIC_NAMES


def test_all_lists_exactly_the_names_the_package_loads_lazily():
    # `__all__` is written out for type checkers; `__getattr__` loads from `_EXPORTS`.
    expected = [*keras_denoise._EXPORTS, *keras_denoise._SUBMODULES, "__version__"]
    assert sorted(keras_denoise.__all__) == sorted(expected)
    assert len(set(keras_denoise.__all__)) == len(keras_denoise.__all__)


def test_every_public_name_resolves_to_its_object():
    for name in keras_denoise.__all__:
        assert getattr(keras_denoise, name) is not None
    for name in ("datasets", "metrics", "plotting"):
        assert getattr(keras_denoise, name) is importlib.import_module(f"keras_denoise.{name}")
    from keras_denoise._unet_denoiser import UNetDenoiser

    assert keras_denoise.UNetDenoiser is UNetDenoiser


def test_import_is_lazy_and_every_name_is_listed_before_first_use():
    # Without Keras loaded, `dir` (tab completion) must already offer every public name, and
    # a submodule must load on first use without being imported by name.
    code = (
        "import sys, keras_denoise as kd\n"
        "print('keras' in sys.modules, set(kd.__all__) <= set(dir(kd)))\n"
        "print(kd.plotting.__name__)"
    )
    assert _in_fresh_process(code).splitlines() == ["False True", "keras_denoise.plotting"]


def test_an_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match=r"^module 'keras_denoise' has no attribute 'Nope'$"):
        keras_denoise.Nope  # noqa: B018
