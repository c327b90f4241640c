"""Shared pytest configuration: Hypothesis profiles, quiet TensorFlow, data fixtures."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _pytest.doctest import DoctestItem  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Models are slow to build, so property tests use few examples and no deadline.
settings.register_profile(
    "default",
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=200)
_DEFAULT_PROFILE = "ci" if os.environ.get("CI") else "default"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _DEFAULT_PROFILE))

ROOT = pathlib.Path(__file__).resolve().parent
MNIST_PATH = ROOT.parent / "shared" / "data" / "mnist.npz"


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same Keras, NumPy and Python random state."""
    import keras

    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def mnist_path():
    """Path of the full MNIST file in `../shared/data`; skips when it is absent."""
    if not MNIST_PATH.is_file():
        pytest.skip(f"MNIST not found at {MNIST_PATH}")
    return MNIST_PATH


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _self_contained_examples(request):
    """Docstring examples run in an empty namespace, as a reader copies them.

    `--doctest-modules` would run them in their module's globals, where an
    example missing its own `import numpy as np` still passes.
    """
    if isinstance(request.node, DoctestItem):
        request.node.dtest.globs = {"__name__": "__main__"}


@pytest.fixture
def operation_types():
    """`types(layer, channels)`: the operation types of the layer's TensorFlow graph.

    The graph is traced for float32 inputs of shape `(None, 6, 6, channels)`.
    """

    def types(layer, channels):
        import tensorflow as tf

        spec = tf.TensorSpec((None, 6, 6, channels), "float32")
        graph = tf.function(layer).get_concrete_function(spec).graph
        return {operation.type for operation in graph.get_operations()}

    return types
