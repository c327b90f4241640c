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
function, so only one fused program is compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras


def worth_fusing() -> bool:
    """Whether JAX computes on an accelerator, where the per-step dispatch dominates.

    On a CPU the arithmetic of a step outweighs its dispatch, and fusing only
    adds compile time (measured: 3 epochs of a small autoencoder took 30 s
    fused against 15 s step by step on the 2-core CPU, nearly all of it
    compiling).
    """
    import jax

    return jax.default_backend() != "cpu"


def fused_step_function(step: Callable, steps: int) -> Callable:
    """Return Keras's `iterator_step(state, iterator)` running `steps` steps per call.

    Args:
        step: the model's `train_step` or `test_step`, `(state, data) -> (logs, state)`,
            not yet compiled.
        steps: steps per call (the model's `steps_per_execution`), at least 2.

    Returns:
        A function of `(state, iterator)` returning `(logs, state)` after taking up to
        `steps` batches from `iterator`, as the trainer's own does; `logs` are the
        last step's.
    """
    import jax
    import numpy as np

    single = jax.jit(step, donate_argnums=0)

    def scanned(state, stacked):
        def body(carry, data):
            logs, carry = step(carry, data)
            return carry, logs

        state, logs = jax.lax.scan(body, state, stacked)
        return jax.tree_util.tree_map(lambda value: value[-1], logs), state

    fused = jax.jit(scanned, donate_argnums=0)
    fused_structure = []  # the batch structure and shapes `fused` was compiled for

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
        signatures = {signature(batch) for batch in batches}
        if len(batches) == steps and len(signatures) == 1:
            (current,) = signatures
            if not fused_structure:
                fused_structure.append(current)
            if current == fused_structure[0]:
                stacked = keras.tree.map_structure(stack, *batches, none_is_leaf=True)
                return fused(state, stacked)
        for batch in batches:
            logs, state = single(state, batch)
        return logs, state

    return iterator_step
