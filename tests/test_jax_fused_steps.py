import keras
import numpy as np
import pytest

from keras_denoise import ConvAutoencoder, _jax_fused_steps
from keras_denoise._noisy_trainer import fit_denoising

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="fuses steps of Keras's JAX trainer only"
)


def toy_step(state, data):
    """A stateful step: the state accumulates a weighted sum of each batch."""
    (images,) = data
    total = state["total"] * 0.5 + images.sum()
    return {"total": total, "rows": images.shape[0] * 1.0}, {"total": total}


def batches(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((size, 3)).astype("float32"),) for size in sizes]


def step_by_step(data):
    state, logs = {"total": np.float32(0.0)}, None
    for batch in data:
        logs, state = toy_step(state, batch)
    return logs, state


@pytest.fixture(params=[False, True], ids=["step-by-step-rest", "padded-rest"])
def pad(request, monkeypatch):
    """Both ways of running a short execution: step by step, or padded and fused."""
    monkeypatch.setattr(_jax_fused_steps, "PAD_SHORT_EXECUTIONS", request.param)
    return request.param


@pytest.mark.parametrize(
    "sizes",
    [[4] * 6, [4] * 5 + [2], [4] * 4, [4] * 7, [3], [4] * 2 + [2]],
    ids=["full", "short-last-batch", "two-full", "partial-execution", "one-batch",
         "short-first-execution"],
)
def test_same_state_and_logs_as_the_loop(sizes, pad):
    function = _jax_fused_steps.fused_step_function(toy_step, 3)
    data = batches(sizes)
    iterator = iter(data)
    state, logs = {"total": np.float32(0.0)}, None
    for _ in range(-(-len(sizes) // 3)):
        logs, state = function(state, iterator)
    expected_logs, expected_state = step_by_step(data)
    np.testing.assert_allclose(state["total"], expected_state["total"], rtol=1e-6)
    np.testing.assert_allclose(logs["total"], expected_logs["total"], rtol=1e-6)
    assert float(logs["rows"]) == expected_logs["rows"]
    with pytest.raises(StopIteration):
        function(state, iterator)


@pytest.mark.parametrize(("pad", "expected"), [(False, [(4, 3), (4, 3)]), (True, [(4, 3)])],
                         indirect=["pad"])
def test_padding_runs_a_short_execution_through_the_fused_program(pad, expected):
    traced = []

    def counting_step(state, data):
        traced.append(data[0].shape)
        return toy_step(state, data)

    function = _jax_fused_steps.fused_step_function(counting_step, 3)
    data = batches([4] * 8)
    iterator = iter(data)
    state = {"total": np.float32(0.0)}
    for _ in range(3):  # executions of 3, 3 and 2 steps
        logs, state = function(state, iterator)
    # Without padding, the last two steps run through the single-step program (one more
    # trace); with it, through the scan, whose padding step leaves no trace in the state.
    assert traced == expected
    expected_logs, expected_state = step_by_step(data)
    np.testing.assert_allclose(state["total"], expected_state["total"], rtol=1e-6)
    np.testing.assert_allclose(logs["total"], expected_logs["total"], rtol=1e-6)


@pytest.fixture
def backend_compiles():
    """A list that gets one entry per program XLA compiles while the test runs."""
    import jax

    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield compiles
    jax.monitoring.unregister_event_duration_listener(listener)


@pytest.mark.parametrize("device_batches", [False, True], ids=["host", "device"])
@pytest.mark.parametrize("other_batch_sizes", [(2,), (2, 4)], ids=["last", "last-and-full"])
def test_precompiled_steps_give_the_loop_result_and_compile_once(
    pad, device_batches, other_batch_sizes, monkeypatch, backend_compiles
):
    import jax

    monkeypatch.setattr(_jax_fused_steps, "PRECOMPILE", True)
    traced = []

    def counting_step(state, data):
        traced.append(data[0].shape)
        logs, updated = toy_step({"total": state["total"]}, data)
        return logs, {**updated, "steps": state["steps"] + 1}

    function = _jax_fused_steps.fused_step_function(
        counting_step, 3, other_batch_sizes=other_batch_sizes
    )
    data = batches([4] * 5 + [2])  # executions of 3 and 2 + 1 steps, the last batch of 2
    if device_batches:
        data = [tuple(jax.device_put(part) for part in batch) for batch in data]
    # A weakly typed step counter, as a Python number makes: precompiled for that type too.
    state = {"total": jax.numpy.float32(0.0), "steps": jax.numpy.asarray(0)}
    assert state["steps"].weak_type
    for epoch in range(3):
        iterator = iter(data)
        logs, state = function(state, iterator)
        if epoch == 0:
            # All traced at the first call, each once: the single steps to come (the full
            # one only if unpadded, whatever the sizes named), then the scan.
            assert traced == [(2, 3)] + ([] if pad else [(4, 3)]) + [(4, 3)]
        logs, state = function(state, iterator)
        if epoch == 0:
            compiled = len(backend_compiles)
    # Nothing was traced again, and later epochs compile nothing, with the state coming
    # out of the precompiled steps.
    assert len(traced) == (2 if pad else 3)
    assert len(backend_compiles) == compiled
    assert int(state["steps"]) == 3 * len(data)
    expected_logs, expected_state = step_by_step(data * 3)
    np.testing.assert_allclose(state["total"], expected_state["total"], rtol=1e-6)
    np.testing.assert_allclose(logs["total"], expected_logs["total"], rtol=1e-6)


def test_host_and_device_batches_give_the_same_result():
    import jax

    data = batches([4] * 3)
    device_data = [tuple(jax.device_put(part) for part in batch) for batch in data]
    function = _jax_fused_steps.fused_step_function(toy_step, 3)
    host_state = function({"total": np.float32(0.0)}, iter(data))[1]
    device_state = function({"total": np.float32(0.0)}, iter(device_data))[1]
    np.testing.assert_allclose(host_state["total"], device_state["total"], rtol=1e-6)


def test_a_none_in_the_batches_reaches_the_step_as_none(pad):
    # Keras passes batches such as `(x, None)` (a generator of unlabelled images) as they are.
    def step(state, data):
        images, labels = data
        assert labels is None
        return toy_step(state, (images,))

    data = batches([4] * 3 + [2])
    function = _jax_fused_steps.fused_step_function(step, 3)
    iterator = iter([(*batch, None) for batch in data])
    state = {"total": np.float32(0.0)}
    for _ in range(2):  # three batches fused, then the last one alone
        state = function(state, iterator)[1]
    np.testing.assert_allclose(state["total"], step_by_step(data)[1]["total"], rtol=1e-6)


def test_fuses_only_the_first_batch_signature():
    traced = []

    def counting_step(state, data):
        traced.append(data[0].shape)
        return toy_step(state, data)

    function = _jax_fused_steps.fused_step_function(counting_step, 2)
    state = {"total": np.float32(0.0)}
    for sizes in ([4, 4], [4, 4], [5, 5], [5, 5], [5]):
        state = function(state, iter(batches(sizes)))[1]
    # One trace of the scan body for (4, 3), one of the single step for (5, 3) (run twice
    # per execution but compiled once, and reused by the lone batch of the last execution);
    # no fused program for the second signature.
    assert traced == [(4, 3), (5, 3)]
    expected = step_by_step(
        batches([4, 4]) + batches([4, 4]) + batches([5, 5]) * 2 + batches([5])
    )[1]
    np.testing.assert_allclose(state["total"], expected["total"], rtol=1e-6)


def test_batches_of_another_dtype_are_never_stacked_together():
    # Stacking a uint8 batch with float32 ones would hand the step float32 pixels of 0-255.
    def scaling_step(state, data):
        (images,) = data
        if images.dtype == np.uint8:
            images = images / 255.0
        return toy_step(state, (images,))

    floats = batches([4] * 3)
    as_bytes = [(np.round(images * 255).astype("uint8"),) for (images,) in floats]
    data = floats[:2] + [as_bytes[2]] + floats[:1] + as_bytes[:1]
    function = _jax_fused_steps.fused_step_function(scaling_step, 2)
    iterator = iter(data)
    state = {"total": np.float32(0.0)}
    for _ in range(3):  # two float32 batches fused, then uint8 and float32, then uint8
        state = function(state, iterator)[1]
    expected = {"total": np.float32(0.0)}
    for batch in data:
        expected = scaling_step(expected, batch)[1]
    np.testing.assert_allclose(state["total"], expected["total"], rtol=1e-6)


def test_precompiling_when_every_batch_is_full(pad, monkeypatch):
    # Padded, with no other batch size, no single step is left to precompile.
    monkeypatch.setattr(_jax_fused_steps, "PRECOMPILE", True)
    data = batches([4] * 6)
    function = _jax_fused_steps.fused_step_function(toy_step, 3, other_batch_sizes=())
    iterator = iter(data)
    state = {"total": np.float32(0.0)}
    for _ in range(2):
        state = function(state, iterator)[1]
    np.testing.assert_allclose(state["total"], step_by_step(data)[1]["total"], rtol=1e-6)


@pytest.mark.parametrize("failure", ["compiling", "calling"])
def test_a_failed_precompilation_falls_back_to_the_single_step(failure, monkeypatch):
    # Whatever goes wrong with a step compiled in the background, the step is compiled
    # again in the foreground, where a real error would show.
    import jax

    monkeypatch.setattr(_jax_fused_steps, "PRECOMPILE", True)

    refused = []

    def refuse(*args):
        refused.append(args)
        raise TypeError("not the arguments it was compiled for")

    def compile_badly(lowered, *args, **kwargs):
        if failure == "compiling":
            raise RuntimeError("XLA ran out of memory")
        return refuse

    monkeypatch.setattr(jax.stages.Lowered, "compile", compile_badly)
    data = batches([4] * 3 + [2])
    function = _jax_fused_steps.fused_step_function(toy_step, 3, other_batch_sizes=(2,))
    state = {"total": np.float32(0.0)}
    for _ in range(2):  # two epochs: a failed precompiled step is dropped, not tried again
        iterator = iter(data)
        for _ in range(2):
            state = function(state, iterator)[1]
    assert len(refused) == (1 if failure == "calling" else 0)
    np.testing.assert_allclose(state["total"], step_by_step(data * 2)[1]["total"], rtol=1e-6)


@pytest.fixture(scope="module")
def digits():
    """300 sample digits, center 24x24 pooled to 12x12, as uint8."""
    from keras_denoise.datasets import load_sample_digits

    images = load_sample_digits()[0][:300, 2:26, 2:26, 0]
    return np.round(images.reshape(300, 12, 2, 12, 2).mean(axis=(2, 4)) * 255).astype("uint8")


@pytest.mark.parametrize("precompile", [False, True], ids=["", "precompiled"])
def test_fit_denoising_fused_equals_step_by_step(monkeypatch, pad, precompile, digits):
    monkeypatch.setattr(_jax_fused_steps, "PRECOMPILE", precompile)

    def train(fuse):
        monkeypatch.setattr(_jax_fused_steps, "worth_fusing", lambda: fuse)
        calls = []
        original = _jax_fused_steps.fused_step_function
        monkeypatch.setattr(
            _jax_fused_steps,
            "fused_step_function",
            lambda step, steps, **kwargs: calls.append((steps, kwargs))
            or original(step, steps, **kwargs),
        )
        keras.utils.set_random_seed(1)
        model = ConvAutoencoder(image_shape=(12, 12, 1), latent_dim=8)
        initial = model.get_weights()
        # SGD with momentum: every step moves the weights by about 1e-2 here, and the
        # optimizer and batch-norm states go through the fused steps too. (Adam would
        # turn float32 rounding in the near-zero gradients of the biases before batch
        # normalization into differences of ~1e-3; in float64 fused and looped agree to
        # 1e-14.)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
        # 240 training images in batches of 32: executions of 3, 3 and 2 steps, the last
        # batch of 16; 60 validation images: one execution of 2 steps.
        history = fit_denoising(model, digits, epochs=1, batch_size=32, validation_split=0.2,
                                seed=3, steps_per_execution=3, verbose=0)
        return initial, model.get_weights(), history.history, calls

    initial, fused_weights, fused_history, fused_calls = train(True)
    _, loop_weights, loop_history, loop_calls = train(False)
    # The training and the test function, each told the size of its short last batch.
    assert fused_calls == [(3, {"other_batch_sizes": (16,)}), (3, {"other_batch_sizes": (28,)})]
    assert loop_calls == []
    # The model learns the digits (uniform noise would leave val_loss near ln 2).
    assert loop_history["val_loss"][0] < 0.65
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(fused_history[key], loop_history[key], rtol=1e-6)
    # Observed on a CPU: at most 2e-7 apart, while each step moves some weight by >1e-2.
    assert max(np.max(np.abs(a - b)) for a, b in zip(initial, loop_weights, strict=True)) > 0.05
    for fused, loop in zip(fused_weights, loop_weights, strict=True):
        np.testing.assert_allclose(fused, loop, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("settings", "fuses"),
    [
        ({}, True),
        ({"steps_per_execution": 1}, False),
        ({"jit_compile": False}, False),
        ({"run_eagerly": True}, False),
        ({"distribution": object()}, False),
        ({"nnx": True}, False),
        ({"accelerator": False}, False),
    ],
    ids=["accelerator", "one-step", "no-jit", "eager", "distribution", "nnx", "cpu"],
)
def test_steps_are_fused_only_when_every_condition_holds(settings, fuses, monkeypatch):
    from keras_denoise._noisy_trainer import NoisyTrainer

    settings = {"steps_per_execution": 4, "jit_compile": True, "run_eagerly": False,
                "distribution": None, "nnx": False, "accelerator": True, **settings}
    monkeypatch.setattr(_jax_fused_steps, "worth_fusing", lambda: settings["accelerator"])
    monkeypatch.setattr(keras.distribution, "distribution", lambda: settings["distribution"])
    monkeypatch.setattr(keras.config, "is_nnx_enabled", lambda: settings["nnx"])
    trainer = NoisyTrainer(ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8))
    trainer.compile(optimizer="sgd", steps_per_execution=settings["steps_per_execution"],
                    jit_compile=settings["jit_compile"])
    # Set after compiling: `compile(run_eagerly=True)` would also turn `jit_compile` off.
    trainer.run_eagerly = settings["run_eagerly"]
    assert trainer._fuses_steps() is fuses


def test_compiler_options_apply_on_a_gpu_only(monkeypatch):
    import jax

    options = {"xla_gpu_autotune_level": 0}
    monkeypatch.setattr(_jax_fused_steps, "GPU_COMPILER_OPTIONS", options)
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    assert _jax_fused_steps.compiler_options() is None
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert _jax_fused_steps.compiler_options() == options
    # The fused program compiles with them (XLA takes GPU options on any backend).
    function = _jax_fused_steps.fused_step_function(toy_step, 2)
    state = function({"total": np.float32(0.0)}, iter(batches([4] * 2)))[1]
    expected = step_by_step(batches([4] * 2))[1]
    np.testing.assert_allclose(state["total"], expected["total"], rtol=1e-6)


def test_rejected_compiler_options_fall_back_to_the_defaults(monkeypatch):
    import jax

    _jax_fused_steps._accepted.cache_clear()
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(_jax_fused_steps, "GPU_COMPILER_OPTIONS",
                        {"xla_gpu_enable_command_buffer": "NOT_A_COMMAND"})
    with pytest.warns(RuntimeWarning, match="XLA rejected the options"):
        assert _jax_fused_steps.compiler_options() is None


def test_cpu_keeps_keras_step_loop(monkeypatch):
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("checks the CPU path")
    calls = []
    monkeypatch.setattr(
        _jax_fused_steps, "fused_step_function", lambda *args: calls.append(args)
    )
    model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
    images = np.zeros((40, 16, 16), "uint8")
    history = fit_denoising(model, images, epochs=1, batch_size=8, steps_per_execution=4,
                            validation_split=0.2, verbose=0)
    assert calls == []
    assert len(history.history["loss"]) == 1
