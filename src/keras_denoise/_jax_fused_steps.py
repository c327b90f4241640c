"""Run `steps_per_execution` training or test steps as one compiled JAX call.

Keras's JAX trainer runs `steps_per_execution` steps as a Python loop over a
compiled single step: every step is a separate dispatch of the compiled
function, with the whole training state (weights, optimizer slots, metric and
noise-generator state) passed in and out. For small models on a GPU this
per-step round trip, not the arithmetic, sets the speed: on an H100 an epoch
of the reference autoencoder (938 training and validation steps of 64
images) took 1.76 s that way, 0.76 s fused (benchmarks/RESULTS.md).

`fused_step_function` stacks the batches of one execution and runs them with
`jax.lax.scan` inside a single compiled call: the state stays on the device
between steps, and the arithmetic is the same as the loop's, step after step.
An execution with fewer batches (the end of an epoch) or batches of another
shape (a smaller last batch) runs step by step through the single-step
function, so only one fused program is compiled. With `PAD_SHORT_EXECUTIONS`,
a short execution runs through the fused program instead, padded with steps
whose updates are discarded, and only a batch of another shape runs alone.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import keras

# XLA options for compiling the steps on a GPU (an empty dict keeps XLA's defaults).
# Options this JAX's XLA rejects are dropped with a warning, once.
GPU_COMPILER_OPTIONS: dict[str, Any] = {}
# Whether a short execution (the end of an epoch) runs through the fused program, padded
# with steps whose updates are discarded, instead of step by step through a second
# program. Fewer programs to compile, but every fused step then selects between its new
# and its old state; off until measured on a GPU (benchmarks/gpu_check.py).
PAD_SHORT_EXECUTIONS = False
# Whether the single-step programs an epoch will need (for a smaller last batch, and for
# the remaining full batches of a short execution unless padded) compile in background
# threads while the fused program compiles, rather than one after the other when first
# needed. Off until measured on a GPU: XLA's autotuning times kernels on the device, and
# concurrent compilations may disturb its choices.
PRECOMPILE = False


def worth_fusing() -> bool:
    """Whether JAX computes on an accelerator, where the per-step dispatch dominates.

    On a CPU the arithmetic of a step outweighs its dispatch, and fusing only
    adds compile time (measured: 3 epochs of a small autoencoder took 30 s
    fused against 15 s step by step on the 2-core CPU, nearly all of it
    compiling).
    """
    import jax

    return jax.default_backend() != "cpu"


@functools.cache
def _accepted(options: tuple) -> bool:
    """Whether this JAX's XLA compiles a trivial program with `options`."""
    import jax

    try:
        jax.jit(lambda value: value + 1, compiler_options=dict(options))(0.0)
    except Exception as error:  # XLA raises JaxRuntimeError (INVALID_ARGUMENT)
        warnings.warn(
            f"keras_denoise: XLA rejected the options {dict(options)!r} for the fused "
            f"training steps; compiling them with XLA's defaults. ({error})",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


def compiler_options() -> dict[str, Any] | None:
    """The XLA options the fused steps are compiled with: `GPU_COMPILER_OPTIONS` on a GPU."""
    import jax

    if jax.default_backend() != "gpu" or not GPU_COMPILER_OPTIONS:
        return None
    options = tuple(sorted(GPU_COMPILER_OPTIONS.items()))
    return dict(options) if _accepted(options) else None


def _abstract(value: Any, leading: int | None = None) -> Any:
    """The shape, dtype and placement of an array, with another leading size if given."""
    import jax

    shape = tuple(value.shape) if leading is None else (leading, *value.shape[1:])
    # An uncommitted array (JAX's default placement) stays unplaced: a program compiled
    # for a placement returns committed arrays, and `jax.jit` compiles anew for those.
    committed = getattr(value, "committed", False)
    return jax.ShapeDtypeStruct(
        shape,
        value.dtype,
        sharding=value.sharding if committed else None,
        weak_type=getattr(value, "weak_type", False),
    )


def fused_step_function(
    step: Callable, steps: int, *, other_batch_sizes: tuple[int, ...] = ()
) -> Callable:
    """Return Keras's `iterator_step(state, iterator)` running `steps` steps per call.

    Args:
        step: the model's `train_step` or `test_step`, `(state, data) -> (logs, state)`,
            not yet compiled.
        steps: steps per call (the model's `steps_per_execution`), at least 2.
        other_batch_sizes: sizes of batches expected besides the first batch's (the
            epoch's last batch), for `PRECOMPILE`.

    Returns:
        A function of `(state, iterator)` returning `(logs, state)` after taking up to
        `steps` batches from `iterator`, as the trainer's own does; `logs` are the
        last step's.
    """
    import jax
    import numpy as np

    options = compiler_options()
    pad = PAD_SHORT_EXECUTIONS
    precompile = PRECOMPILE
    compiling = {}  # batch signature -> future of the single step compiled for it
    single = jax.jit(step, donate_argnums=0, compiler_options=options)

    def scanned(state, stacked, count):
        def body(carry, inputs):
            index, data = inputs
            logs, updated = step(carry, data)
            if pad:  # steps from `count` on pad a short execution: discard their updates
                keep = index < count
                updated = jax.tree_util.tree_map(
                    lambda new, old: jax.numpy.where(keep, new, old), updated, carry
                )
            return updated, logs

        indices = jax.numpy.arange(steps, dtype="int32") if pad else None
        state, logs = jax.lax.scan(body, state, (indices, stacked))
        last = count - 1 if pad else -1
        return jax.tree_util.tree_map(lambda value: value[last], logs), state

    fused = jax.jit(scanned, donate_argnums=0, compiler_options=options)
    fused_structure: list[Any] = []  # the batch structure and shapes `fused` was compiled for

    def stack(*values):
        if values[0] is None:
            return None
        if all(isinstance(value, np.ndarray) for value in values):
            return np.stack(values)  # host batches (CPU): one transfer into the call
        return jax.numpy.stack(values)

    def signature(batch):
        leaves, structure = jax.tree_util.tree_flatten(batch)
        return structure, tuple((tuple(leaf.shape), str(leaf.dtype)) for leaf in leaves)

    def iterator_step(state: Any, iterator: Any) -> tuple:
        batches = [next(iterator)]  # StopIteration here ends the epoch, as in Keras
        for _ in range(steps - 1):
            try:
                batches.append(next(iterator))
            except StopIteration:
                break
        # The leading batches of one shape run as one call of the fused program (padded
        # to `steps` with copies of the last of them if the epoch ends sooner and `pad`);
        # the others step by step. The fused program is compiled for the first shape
        # that fills two steps or more.
        first = signature(batches[0])
        count = 1
        while count < len(batches) and signature(batches[count]) == first:
            count += 1
        if not fused_structure and count > 1:
            fused_structure.append(first)
            if precompile:
                start_compiling(state, batches[0])
        if not fused_structure or first != fused_structure[0]:
            count = 0
        elif count < steps and not pad:
            count = 0
        logs = None
        if count:
            padded = batches[:count] + [batches[count - 1]] * (steps - count)
            stacked = keras.tree.map_structure(stack, *padded, none_is_leaf=True)
            logs, state = fused(state, stacked, np.int32(count) if pad else None)
        for batch in batches[count:]:
            logs, state = single_step(state, batch)
        return logs, state

    def start_compiling(state: Any, batch: Any) -> None:
        """Trace the single steps to come here, and compile them in background threads."""
        from concurrent.futures import ThreadPoolExecutor

        full = jax.tree_util.tree_leaves(batch)[0].shape[0]
        sizes = [size for size in other_batch_sizes if size != full]
        if not pad:
            sizes.append(full)
        abstract_state = jax.tree_util.tree_map(_abstract, state)
        executor = ThreadPoolExecutor(max_workers=max(1, len(sizes)))
        for size in sizes:
            resized = functools.partial(_abstract, leading=size)
            abstract_batch = jax.tree_util.tree_map(resized, batch)
            lowered = single.lower(abstract_state, abstract_batch)
            compiling[signature(abstract_batch)] = executor.submit(lowered.compile)
        executor.shutdown(wait=False)

    def single_step(state: Any, batch: Any) -> tuple:
        key = signature(batch) if compiling else None
        if key in compiling:
            try:
                compiled = compiling[key].result()
            except Exception:  # noqa: BLE001 - compiled again below, where errors show
                compiled = None
            if compiled is not None:
                try:
                    return compiled(state, batch)
                except (TypeError, ValueError):  # not the arguments it was compiled for
                    pass
            del compiling[key]
        return single(state, batch)

    return iterator_step
