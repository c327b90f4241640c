"""`ConvMuon`: the Muon optimizer extended to convolution kernels."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import keras
from keras import ops

# The output layers of `UNetDenoiser` ("output") and `ConvAutoencoder` ("output_conv").
DEFAULT_EXCLUDE_LAYERS = (r"(^|/)output(_conv)?/",)


@keras.saving.register_keras_serializable(package="keras_denoise")
class ConvMuon(keras.optimizers.Muon):
    """Muon for convolutional networks: every kernel takes the orthogonalized step.

    Muon keeps a momentum of each weight matrix's gradient and steps along
    its orthogonalized form (its singular values set to about 1 by
    Newton-Schulz iterations), so every direction of the matrix moves by the
    same amount. `keras.optimizers.Muon` gives this step only to 2-D variables
    (dense kernels) and Adam's to everything else, so a convolutional network
    such as `UNetDenoiser` would be trained by Adam alone. `ConvMuon` also
    gives it to convolution kernels of any rank, each seen as a matrix from
    its flattened window to its last axis: `(rows * columns * input channels,
    filters)` for `Conv2D`, `(rows * columns * filters, input channels)` for
    `Conv2DTranspose`. Biases, normalization parameters, embeddings and the
    layers matched by `exclude_layers` (by default the output layers of
    `UNetDenoiser` and `ConvAutoencoder`) take Adam's step.

    Everything else is `keras.optimizers.Muon`'s, including its scaling of
    the update to Adam's size (`rms_rate=0.2`), so the same learning rate
    suits both; this class only changes the defaults of the learning rate
    (3e-3, as `UNetDenoiser` trains best at), of `exclude_layers` and of the
    weight decays (none, as with `keras.optimizers.Adam`). On the reference
    task it trained `UNetDenoiser` to a higher test PSNR than Adam in the
    same number of epochs (benchmarks/RESULTS.md), so `UNetDenoiser.compile()`
    uses it by default.

    Args:
        learning_rate: a float or a `keras.optimizers.schedules` schedule.
            Defaults to 3e-3.
        exclude_layers: regular expressions; a variable whose path matches
            one takes Adam's step. Defaults to the output layers' names;
            `None`, as in `keras.optimizers.Muon`, excludes no layer.
        weight_decay: decoupled weight decay of the Muon variables, or
            `None`. Defaults to `None`.
        adam_weight_decay: the same for the Adam variables. Defaults to
            `None`.
        **kwargs: the other arguments of `keras.optimizers.Muon`
            (`momentum`, `ns_steps`, `rms_rate`, ...).

    Raises:
        TypeError: if `exclude_layers` is a string, is not iterable, or
            holds a non-string.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import ConvMuon, UNetDenoiser
    >>> model = UNetDenoiser(filters=(4, 8))
    >>> model.compile(optimizer=ConvMuon())
    >>> history = model.fit_denoising(np.zeros((16, 16, 16, 1)), epochs=1, verbose=0)
    >>> type(model.optimizer).__name__
    'ConvMuon'
    """

    def __init__(
        self,
        learning_rate: Any = 3e-3,
        exclude_layers: Any = DEFAULT_EXCLUDE_LAYERS,
        weight_decay: float | None = None,
        adam_weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        if exclude_layers is None:  # as in `keras.optimizers.Muon`: no layer is excluded
            exclude_layers = []
        iterable = isinstance(exclude_layers, Iterable) and not isinstance(exclude_layers, str)
        # A list first, so that a generator is read once, not used up by the check.
        patterns = list(exclude_layers) if iterable else []
        if not iterable or not all(isinstance(pattern, str) for pattern in patterns):
            message = (
                "`exclude_layers` must be a list of regular expressions (strings), or None. "
                f"Received: exclude_layers={exclude_layers!r}"
            )
            raise TypeError(message)
        super().__init__(
            learning_rate=learning_rate,
            exclude_layers=patterns,
            weight_decay=weight_decay,
            adam_weight_decay=adam_weight_decay,
            **kwargs,
        )

    def _should_use_adamw(self, variable: Any) -> bool:
        if len(variable.shape) < 2:
            return True
        if self.exclude_embeddings and "embedding" in variable.path.lower():
            return True
        return any(re.search(pattern, variable.path) for pattern in self.exclude_layers)

    def zeropower_via_newtonschulz5(self, x: Any, steps: int) -> Any:
        # Orthogonalize the kernel seen as a matrix, then give it back its shape.
        shape = x.shape
        matrix = super().zeropower_via_newtonschulz5(_as_matrix(x), steps)
        return ops.reshape(matrix, shape)

    def lr_adjust(self, x: Any) -> Any:
        # Keras scales the step by sqrt(max(rows, columns)) * rms_rate: those of the matrix,
        # not the kernel. The factor is a Python number here, so that it takes the dtype of `x`
        # (Keras's is a float32 tensor, which a float64 model's TensorFlow step refuses).
        if self.rms_rate is None:
            return x
        rows, columns = math.prod(x.shape[:-1]), x.shape[-1]
        return x * (math.sqrt(max(rows, columns)) * self.rms_rate)


def _as_matrix(x: Any) -> Any:
    """A kernel as a matrix: its flattened window and input axis by its last axis."""
    return ops.reshape(x, (-1, x.shape[-1]))
