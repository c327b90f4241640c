"""`NoisyTrainer` and `fit_denoising`: train a denoiser on noise drawn inside the training step."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from keras_denoise import _jax_fused_steps, _validation
from keras_denoise._gaussian_noise import GaussianNoise, _check_clip

# Steps run per call of the compiled training function: fewer Python round trips per epoch.
_DEFAULT_STEPS_PER_EXECUTION = {"tensorflow": 16, "jax": 16}

# Where `TrainingNoise` saves the state of its seed generator among its weights.
_SEED_STATE_KEY = "seed_generator_state"


def _check_layer_seed(seed: Any) -> int | None:
    """`seed` as an `int` in `[0, 2**31 - 1]`, or `None`: it seeds a `SeedGenerator`."""
    return _validation.check_seed(seed, "seed", allow_none=True, maximum=_validation.MAX_LAYER_SEED)


def _replica_index() -> Any:
    """This replica's index when TensorFlow runs the step on several, otherwise None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context.replica_id_in_sync_group


@keras.saving.register_keras_serializable(package="keras_denoise")
class TrainingNoise(keras.layers.Layer):
    """Scale images to [0, 1] and, while training, add clipped Gaussian noise.

    uint8 inputs are divided by 255; other inputs are cast to the compute
    dtype. With `training=True` the output is
    `clip(images + noise_factor * N(0, 1))`, the noise drawn in the compute
    dtype from a `keras.random.SeedGenerator(seed)`, so it is fresh at every
    step, drawn inside the compiled step on every backend, and the same `seed`
    gives the same sequence. Otherwise the images pass through unchanged (like
    `keras.layers.GaussianNoise`).

    Args:
        noise_factor: standard deviation of the noise, a number from 0 to 1e6.
        clip: `(low, high)` bounds of the noisy images, or `None`.
        seed: integer seed of the noise, from 0 to 2**31 - 1, or `None`.
        **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_denoise._noisy_trainer import TrainingNoise
    >>> layer = TrainingNoise(0.5, seed=0)
    >>> noisy = layer(np.full((2, 8, 8, 1), 128, "uint8"), training=True)
    >>> tuple(noisy.shape), float(keras.ops.min(noisy)) >= 0.0
    ((2, 8, 8, 1), True)
    """

    def __init__(
        self,
        noise_factor: float = 0.5,
        *,
        clip: tuple[float, float] | None = (0.0, 1.0),
        seed: int | None = None,
        **kwargs: Any,
    ):
        noise_factor = _validation.check_noise_factor(noise_factor)
        clip = _check_clip(clip)
        seed = _check_layer_seed(seed)
        super().__init__(**kwargs)
        self.noise_factor = noise_factor
        self.clip = clip
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def scale(self, images: Any) -> Any:
        """`images` in the compute dtype, uint8 divided by 255."""
        if keras.backend.standardize_dtype(images.dtype) == "uint8":
            return keras.ops.cast(images, self.compute_dtype) / 255.0
        return keras.ops.cast(images, self.compute_dtype)

    def call(self, images: Any, training: bool = False) -> Any:
        images = self.scale(images)
        if not training:
            return images
        noisy = images + self._normal(keras.ops.shape(images))
        if self.clip is not None:
            noisy = keras.ops.clip(noisy, self.clip[0], self.clip[1])
        return noisy

    def _normal(self, shape: Any) -> Any:
        """`noise_factor * N(0, 1)` of `shape`, drawn from the seed generator.

        The replicas of a `tf.distribute` strategy share the seed generator, so
        they would draw the same numbers for their shares of a batch; each one
        folds its index into the step's seed instead.
        """
        replica = _replica_index()
        if replica is None:
            return keras.random.normal(
                shape, stddev=self.noise_factor, dtype=self.compute_dtype, seed=self.seed_generator
            )
        import tensorflow as tf

        seed = tf.random.experimental.stateless_fold_in(self.seed_generator.next(), replica)
        return tf.random.stateless_normal(
            shape, stddev=self.noise_factor, dtype=self.compute_dtype, seed=seed
        )

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    # Keras saves a layer's weights but not the state of its seed generators, so a
    # run resumed from a backup (`keras.callbacks.BackupAndRestore`) would draw the
    # noise of its first epochs again. The state is saved with the weights here.
    def save_own_variables(self, store: Any) -> None:
        super().save_own_variables(store)
        store[_SEED_STATE_KEY] = self.seed_generator.state

    def load_own_variables(self, store: Any) -> None:
        if _SEED_STATE_KEY in store.keys():  # absent from files saved before it was added
            self.seed_generator.state.assign(np.asarray(store[_SEED_STATE_KEY]))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"noise_factor": self.noise_factor, "clip": self.clip, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="keras_denoise")
class NoisyTrainer(keras.Model):
    """Wraps a denoiser so that `fit(clean_images)` trains it on noisy inputs.

    `call` corrupts its (clean) input with a `TrainingNoise` layer, `noise`,
    and passes it to `denoiser`; with no targets given, the loss and metrics
    compare the output with the clean input. At evaluation (`training=False`)
    the input is taken as already noisy and the targets must be given. The
    trainer owns no weights of its own besides the noise state: training it
    trains `denoiser`. Used by `fit_denoising`; callbacks given to it see this
    wrapper as their `model` (the denoiser is `model.denoiser`).

    On JAX with an accelerator (GPU or TPU), the `steps_per_execution` steps of
    one execution run as a single compiled call (a `jax.lax.scan` over the
    stacked batches) instead of Keras's loop of one call per step, which keeps
    the training state on the device between steps: on an H100 it cut an epoch
    of the reference autoencoder from 1.76 s to 0.76 s.

    Args:
        denoiser: the `keras.Model` to train.
        noise_factor: standard deviation of the training noise.
        clip: `(low, high)` bounds of the noisy images, or `None`.
        seed: integer seed of the noise, from 0 to 2**31 - 1, or `None`.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import ConvAutoencoder
    >>> from keras_denoise._noisy_trainer import NoisyTrainer
    >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
    >>> trainer = NoisyTrainer(model, 0.5, seed=0)
    >>> trainer.compile(optimizer="adam", loss="binary_crossentropy")
    >>> history = trainer.fit(np.zeros((8, 16, 16, 1), "uint8"), epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    # Keras's step functions, which `make_train_function` and `make_test_function` replace with
    # the fused JAX steps where those apply.
    train_function: Any
    test_function: Any

    def __init__(
        self,
        denoiser: keras.Model,
        noise_factor: float = 0.5,
        *,
        clip: tuple[float, float] | None = (0.0, 1.0),
        seed: int | None = None,
        **kwargs: Any,
    ):
        if not isinstance(denoiser, keras.Model):
            message = f"`denoiser` must be a keras.Model. Received: denoiser={denoiser!r}"
            raise TypeError(message)
        noise = TrainingNoise(noise_factor, clip=clip, seed=seed, name="noise")
        super().__init__(**kwargs)
        self.denoiser = denoiser
        self.noise = noise
        self.noise_factor = noise.noise_factor
        self.clip = noise.clip
        self.seed = noise.seed
        # Sizes of the smaller last batches of training and validation, set by
        # `fit_denoising` so that the fused JAX steps can compile for them early.
        self._last_batch_sizes: dict[str, tuple[int, ...]] = {"train": (), "test": ()}

    def call(self, images: Any, training: bool = False) -> Any:
        denoised = self.denoiser(self.noise(images, training=training), training=training)
        return keras.ops.cast(denoised, "float32")

    def _targets(self, x: Any, y: Any) -> Any:
        """The clean images as float32 in [0, 1]: `y`, or the input itself if `y` is None.

        Scaled in float32 whatever the noise layer's compute dtype (under a global
        mixed policy, bfloat16 would round 77 / 255 to 0.3027).
        """
        return _validation.cast_pixels(x if y is None else y, "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(
            x=x, y=self._targets(x, y), y_pred=y_pred, sample_weight=sample_weight,
            training=training,
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, self._targets(x, y), y_pred, sample_weight)

    def _fuses_steps(self) -> bool:
        """Whether an execution's steps run as one compiled call (JAX on an accelerator)."""
        return (
            keras.backend.backend() == "jax"
            and self.steps_per_execution > 1
            and self.jit_compile
            and not self.run_eagerly
            and keras.distribution.distribution() is None
            and not keras.config.is_nnx_enabled()
            and _jax_fused_steps.worth_fusing()
        )

    def make_train_function(self, force: bool = False) -> Any:
        if not self._fuses_steps():
            return super().make_train_function(force)
        if self.train_function is None or force:
            self.train_function = _jax_fused_steps.fused_step_function(
                self.train_step,
                self.steps_per_execution,
                other_batch_sizes=self._last_batch_sizes["train"],
            )
        return self.train_function

    def make_test_function(self, force: bool = False) -> Any:
        if not self._fuses_steps():
            return super().make_test_function(force)
        if self.test_function is None or force:
            self.test_function = _jax_fused_steps.fused_step_function(
                self.test_step,
                self.steps_per_execution,
                other_batch_sizes=self._last_batch_sizes["test"],
            )
        return self.test_function

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "denoiser": keras.saving.serialize_keras_object(self.denoiser),
                "noise_factor": self.noise_factor,
                "clip": self.clip,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> NoisyTrainer:
        config = dict(config)
        config["denoiser"] = keras.saving.deserialize_keras_object(config["denoiser"])
        return cls(**config)


def _check_clean_images(images: Any, name: str, *, check_range: bool = True) -> np.ndarray:
    """uint8 stays uint8 (4x smaller, scaled in the step); anything else becomes float32.

    Float pixels must lie in [0, 1] unless `check_range` is False (checked on the
    float32 copy that is made anyway, without another copy).
    """
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        if not 3 <= images.ndim <= 4 or images.size == 0:
            message = (
                f"`{name}` must be a non-empty batch (N, height, width[, channels]). "
                f"Received: {name} with shape {images.shape}"
            )
            raise ValueError(message)
        array = images
    else:
        array = _validation.as_float_images(
            images, name, min_ndim=3, max_ndim=4, check_range=check_range
        )
    _validation.check_batch_layout(array, name)
    return array[..., None] if array.ndim == 3 else array


def _check_validation_pair(pair: Any) -> tuple:
    """A `(noisy, clean)` validation pair: equal counts and image shapes.

    The clean images must lie in [0, 1]; the noisy ones only be finite (they are
    inputs, used as given).
    """
    noisy = _check_clean_images(pair[0], "validation_data", check_range=False)
    clean = _check_clean_images(pair[1], "validation_data")
    if len(noisy) != len(clean):
        message = (
            "`validation_data` must be a (noisy, clean) pair with as many noisy images as "
            f"clean ones. Received: validation_data with {len(noisy)} noisy and {len(clean)} "
            "clean images"
        )
        raise ValueError(message)
    if noisy.shape[1:] != clean.shape[1:]:
        message = (
            "`validation_data` must be a (noisy, clean) pair of images of one shape. "
            f"Received: validation_data with noisy images {noisy.shape[1:]} and clean "
            f"images {clean.shape[1:]}"
        )
        raise ValueError(message)
    return noisy, clean


def _check_validation_split(value: Any) -> float:
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
        message = (
            "`validation_split` must be a number in [0, 1). "
            f"Received: validation_split={value!r}"
        )
        raise TypeError(message)
    if not 0.0 <= value < 1.0:
        message = (
            "`validation_split` must be a number in [0, 1). "
            f"Received: validation_split={value!r}"
        )
        raise ValueError(message)
    return float(value)


def _check_steps_per_execution(value: Any, model: keras.Model) -> int:
    # Keras 3's multi-step loop on TensorFlow fails on several replicas of a
    # `MirroredStrategy` or `MultiWorkerMirroredStrategy` (a graph error, "You must
    # feed a value for placeholder tensor"; keras-team/keras#19246), so one step
    # per execution there.
    strategy = _model_strategy(model)
    one_step = False
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        import tensorflow as tf

        mirrored = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
        one_step = isinstance(strategy, mirrored)
    if value is None:
        return 1 if one_step else _DEFAULT_STEPS_PER_EXECUTION.get(keras.backend.backend(), 1)
    value = _validation.check_positive_int(value, "steps_per_execution", maximum=1 << 16)
    if value > 1 and keras.backend.backend() == "torch":
        message = (
            "`steps_per_execution` must be 1 on the PyTorch backend (Keras runs one step "
            f"per call there). Received: steps_per_execution={value!r}"
        )
        raise ValueError(message)
    if one_step and value > 1:
        message = (
            f"`steps_per_execution` must be 1 for a model built in the scope of a "
            f"`{type(strategy).__name__}` with {strategy.num_replicas_in_sync} replicas "
            f"(Keras's multi-step loop fails there). Received: steps_per_execution={value!r}"
        )
        raise ValueError(message)
    return value


def _check_jit_compile(value: Any) -> bool | str:
    """A bool, or `"auto"`: another type raises `TypeError`, another string `ValueError`."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    message = f"`jit_compile` must be True, False or 'auto'. Received: jit_compile={value!r}"
    if not isinstance(value, str):
        raise TypeError(message)
    if value != "auto":
        raise ValueError(message)
    return "auto"


# The policies `fit_denoising` can train under: the model's float32 weights are
# made before the policy is applied, so it must keep float32 variables ("bfloat16"
# or "float64" would feed float32 kernels with inputs of another dtype).
_DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def _check_dtype_policy(value: Any) -> keras.DTypePolicy | None:
    if value is None:
        return None
    message = (
        f"`dtype_policy` must be None or one of {', '.join(map(repr, _DTYPE_POLICIES))} "
        f"(or a `keras.DTypePolicy` of one). Received: dtype_policy={value!r}"
    )
    try:
        policy = keras.dtype_policies.get(value)
    except (ValueError, TypeError):
        raise ValueError(message) from None
    if policy.name not in _DTYPE_POLICIES:
        raise ValueError(message)
    return policy


def _check_callbacks(value: Any) -> list:
    """`callbacks` as a new list: None, one callback, or a list or tuple of callbacks."""
    if value is None:
        return []
    if isinstance(value, keras.callbacks.Callback):
        return [value]
    if isinstance(value, (list, tuple)) and all(
        isinstance(callback, keras.callbacks.Callback) for callback in value
    ):
        return list(value)
    message = (
        "`callbacks` must be a `keras.callbacks.Callback` or a list of them. "
        f"Received: callbacks={_validation._short_repr(value)}"
    )
    raise TypeError(message)


_LEARNING_RATE_SCHEDULES = ("cosine",)


def _check_learning_rate_schedule(value: Any) -> str | None:
    if value is not None and value not in _LEARNING_RATE_SCHEDULES:
        message = (
            "`learning_rate_schedule` must be None or 'cosine'. "
            f"Received: learning_rate_schedule={value!r}"
        )
        raise ValueError(message)
    return value


def _settable_learning_rate(optimizer: Any) -> float:
    """The optimizer's constant learning rate; an error if a schedule already drives it."""
    current = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    try:
        optimizer.learning_rate = current
    except TypeError:
        message = (
            "`learning_rate_schedule='cosine'` needs an optimizer compiled with a constant "
            "learning rate, not a `LearningRateSchedule`. Received: "
            f"optimizer={type(optimizer).__name__} with a learning rate schedule"
        )
        raise ValueError(message) from None
    return current


class _CosineDecay:
    """Epoch -> learning rate along a half cosine, for `LearningRateScheduler`."""

    def __init__(self, base: float, epochs: int):
        self.base = base
        self.epochs = epochs

    def __call__(self, epoch: int, learning_rate: float | None = None) -> float:
        return self.base * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))


def check_model_takes(
    run: Callable[[np.ndarray], Any], model: Any, images: np.ndarray, name: str
) -> None:
    """Run `model` through `run` on one of `images`; a `ValueError` naming `name` if it refuses.

    A check before any work (a training epoch, a table's other rows) that
    would be wasted; the message gives the shape of `images` as the caller
    was given it.
    """
    try:
        run(images[:1])
    except ValueError as error:
        expected = getattr(model, "input_shape", None)
        takes = "" if not isinstance(expected, tuple) else f" {expected[1:]}"
        message = (
            f"`{name}` must hold images of the shape `model` takes{takes}. "
            f"Received: {name} with shape {images.shape}"
        )
        raise ValueError(message) from error


def _noisy_validation(
    clean: np.ndarray, noise_factor: float, clip: tuple | None, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """One fixed noise draw, so that `val_loss` is comparable from epoch to epoch."""
    return GaussianNoise(noise_factor, clip=clip, seed=seed).pairs(clean)


class _EpochOrder(keras.callbacks.Callback):
    """The epoch whose training order `_tensorflow_batches` draws: a callback that sets it.

    The order of epoch `e` is a shuffle seeded by `(seed, e)`, so it does not
    depend on what ran before: a run resumed at epoch `e` (by
    `keras.callbacks.BackupAndRestore` or `initial_epoch`) sees the orders an
    uninterrupted run would have seen. `fit` calls `on_epoch_begin` before it
    creates the epoch's iterator, which is when the order is drawn.
    """

    def __init__(self, seed: int | None = None):
        import tensorflow as tf  # only on the TensorFlow backend

        super().__init__()
        if seed is None:
            # Follows TensorFlow's global seed, as set by `keras.utils.set_random_seed`.
            seed = int(tf.random.uniform([], maxval=_validation.MAX_LAYER_SEED, dtype="int64"))
        self.seed = seed
        self.epoch = tf.Variable(0, dtype="int64", trainable=False, name="epoch")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.assign(epoch)


def _tensorflow_batches(arrays: Any, batch_size: int, *, order: _EpochOrder | None = None) -> Any:
    """The batches `fit` would make of `arrays`, as a `tf.data.Dataset` without autotuning.

    Keras feeds NumPy arrays to TensorFlow through a `tf.data` pipeline with
    autotuning on, and every epoch it replaces that pipeline's iterator. With
    TensorFlow 2.21 on a CPU, destroying an iterator waits for its autotuning
    thread to wake from a timed sleep, which grows to tens of seconds: epochs
    of `fit_denoising` on full MNIST on a 2-core CPU (20-28 s of work) took
    40-48 s, the process idle for about 20 s at the start of each. This
    pipeline batches as Keras's does (full batches, then the rest) with
    autotuning off and a fixed prefetch.

    With an `order` (a callback that `fit` must also be given), every epoch
    gets a new random order, a function of `order.seed` and the epoch.
    (Keras's pipeline draws its order with an op that each new iterator
    restarts, so with a global seed set, as `keras.utils.set_random_seed`
    does, every epoch repeated the first epoch's order.) Without one, the
    arrays keep their order.

    `arrays` is one array or a tuple of arrays of equal length.
    """
    import tensorflow as tf  # only on the TensorFlow backend

    data = tuple(tf.convert_to_tensor(array) for array in keras.tree.flatten(arrays))
    count = int(data[0].shape[0])
    batches = -(-count // batch_size)

    def indices(_):
        indices = tf.range(count, dtype="int64")
        if order is None:
            return indices
        seed = tf.stack([tf.constant(order.seed, "int64"), order.epoch.read_value()])
        return tf.random.experimental.stateless_shuffle(indices, seed)

    def gather(indices):
        batch = tuple(tf.gather(array, indices) for array in data)
        return batch if len(batch) > 1 else batch[0]

    dataset = (
        tf.data.Dataset.range(1)
        .map(indices)
        .flat_map(lambda indices: tf.data.Dataset.from_tensor_slices(indices).batch(batch_size))
        .map(gather)
        .apply(tf.data.experimental.assert_cardinality(batches))
        .prefetch(2)
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    # The epoch is state outside the pipeline (no checkpoint of it is needed).
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _compile_settings(model: keras.Model) -> dict:
    """The arguments `model` was compiled with, for compiling the trainer alike.

    Rebuilt from the compile config, so the trainer gets metric objects of its
    own; losses and metrics that cannot be rebuilt from a config (plain Python
    functions that are not registered as serializable) are passed as given.
    """
    try:
        return keras.saving.deserialize_keras_object(model.get_compile_config())
    except (TypeError, ValueError):
        return dict(model._compile_config.config)


def _model_strategy(model: keras.Model) -> Any:
    """The `tf.distribute` strategy `model` was built in, or None.

    Keras's TensorFlow trainer records the strategy in scope when a model is
    made and runs its steps in it.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    return getattr(model, "_distribute_strategy", None)


def _strategy_scope(model: keras.Model) -> Any:
    """The scope of the strategy `model` was built in, or a null context.

    The variables that training creates (the optimizer's, the noise layer's)
    must be created in the model's strategy scope.
    """
    strategy = _model_strategy(model)
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def split_count(count: int, validation_split: float) -> int:
    """How many of `count` images train, the rest validating, as `validation_split` splits.

    Raises:
        ValueError: if either part would be empty (for a nonzero split).
    """
    if not validation_split:
        return count
    train = int(count * (1.0 - validation_split))
    if not 0 < train < count:
        message = (
            f"`validation_split` leaves no training or no validation images out of "
            f"{count}. Received: validation_split={validation_split!r}"
        )
        raise ValueError(message)
    return train


def _check_no_batch_of_one(count: int, batch_size: int) -> None:
    """Refuse, on PyTorch without CUDA, a training split that ends in a one-image batch.

    Keras hands PyTorch convolution kernels as permuted (non-contiguous)
    views, and PyTorch's CPU convolution fails on them in the backward pass of
    a batch of one small image ("slow_conv2d: grad_weight must be
    contiguous"; Keras 3.15, PyTorch 2.13), after the epoch has started.
    """
    if (batch_size != 1 and count % batch_size != 1) or keras.backend.backend() != "torch":
        return
    import torch

    if torch.cuda.is_available():
        return
    message = (
        f"`batch_size` makes a batch of one image ({count} training images), and Keras on "
        f"PyTorch's CPU backend cannot train on a batch of one image "
        f"(PyTorch raises 'slow_conv2d: grad_weight must be contiguous'). Choose another "
        f"batch size. Received: batch_size={batch_size}"
    )
    raise ValueError(message)


def fit_denoising(
    model: keras.Model,
    clean_images: Any,
    *,
    noise_factor: float = 0.5,
    clip: tuple[float, float] | None = (0.0, 1.0),
    epochs: int = 1,
    batch_size: int = 64,
    validation_split: float = 0.0,
    validation_data: Any = None,
    seed: int | None = None,
    shuffle: bool = True,
    steps_per_execution: int | None = None,
    jit_compile: bool | str = "auto",
    dtype_policy: Any = None,
    learning_rate_schedule: str | None = None,
    callbacks: keras.callbacks.Callback | list | tuple | None = None,
    verbose: Any = "auto",
    initial_epoch: int = 0,
) -> keras.callbacks.History:
    """Train `model` to denoise, drawing fresh noise inside every training step.

    The fast equivalent of `model.fit(noisy_copy, clean_images, ...)`: no
    noisy copy of the data is made. `model` is wrapped in a `NoisyTrainer`
    that adds `noise_factor * N(0, 1)` to each clean batch (then clips it)
    inside the compiled step, so each epoch sees new noise. uint8 images stay
    uint8 (4x less memory than float32) and are scaled to [0, 1] in the step.

    `model` is trained with its own compile settings (optimizer, loss,
    metrics; `model.compile()` first if it was not compiled), and its weights
    and optimizer state are updated in place.

    Validation images (`validation_split` takes the last fraction of
    `clean_images`, as `keras.Model.fit` does) are noised once, with a fixed
    draw seeded from `seed`, so `val_loss` measures the same task every epoch.

    Args:
        model: the denoiser, a `keras.Model` mapping noisy to clean images.
        clean_images: clean training images `(N, height, width[, channels])`,
            uint8 in 0-255 or float in [0, 1].
        noise_factor: standard deviation of the noise, from 0 to 1e6. Defaults to 0.5.
        clip: `(low, high)` bounds of the noisy images, or `None`.
        epochs: index of the last epoch to train. Defaults to 1.
        batch_size: images per step. Defaults to 64.
        validation_split: fraction of `clean_images` held out for validation.
        validation_data: clean validation images, or a `(noisy, clean)` pair
            used as given (as many noisy images as clean ones, of one shape).
            Takes precedence over `validation_split`.
        seed: integer seed of the noise (training and validation), from 0 to
            2**31 - 1, or `None`; on TensorFlow it also seeds the order of
            the training images. Weight initialization (and, with `seed=None`
            or on other backends, the order) follows
            `keras.utils.set_random_seed`. The noise generator's state is
            saved with the weights, so a run resumed by
            `keras.callbacks.BackupAndRestore` draws the noise an
            uninterrupted run would have drawn (and, on TensorFlow, reads the
            images in its order).
        shuffle: whether to shuffle the training images every epoch (a new
            order each epoch).
        steps_per_execution: training steps per call of the compiled step;
            callbacks and the progress bar are updated that often. Defaults to
            16 on TensorFlow and JAX, 1 on PyTorch and for a model built in
            the scope of a `tf.distribute` strategy with several replicas
            (where Keras's multi-step loop fails); in both, larger values
            raise a `ValueError`. On JAX with a GPU or TPU these steps run as
            one compiled call.
        jit_compile: whether to compile the step with XLA; `"auto"` lets
            Keras decide (XLA on JAX and on TensorFlow with a GPU).
        dtype_policy: `"mixed_bfloat16"`, `"mixed_float16"` or `"float32"`
            (or a `keras.DTypePolicy` of one): the layers of `model` compute
            in that dtype during this call (the weights stay float32, the loss
            is computed in float32, and `"mixed_float16"` scales the loss),
            except the output layers of `ConvAutoencoder` and `UNetDenoiser`,
            which compute in float32 as when the model is built with the
            policy (for a plain `keras.Model`, every layer takes it).
            `None` keeps the model's own. Policies with other variable dtypes
            (`"bfloat16"`, `"float64"`) raise a `ValueError`.
            On CPUs with bfloat16 matrix units (Intel AMX, for example)
            `"mixed_bfloat16"` trains much faster; on CPUs without bfloat16
            instructions it is emulated and several times slower.
        learning_rate_schedule: `None` keeps the optimizer's learning rate;
            `"cosine"` decays it along a half cosine from its compiled value
            at the first epoch towards zero at the last,
            `lr * (1 + cos(pi * epoch / epochs)) / 2`, set at the start of
            every epoch (with `keras.callbacks.LearningRateScheduler`, so a
            resumed run picks up the schedule where it stopped). The
            optimizer's learning rate is restored when the call returns.
        callbacks: a Keras callback or a list of them; their `model` is the
            `NoisyTrainer`.
        verbose: passed to `keras.Model.fit`.
        initial_epoch: epoch to start from (to resume a run). The noise then
            starts again from `seed`'s first draws (and, on TensorFlow, the
            image order is that of an uninterrupted run): to resume exactly,
            with the noise too, use `keras.callbacks.BackupAndRestore`.

    Returns:
        The `keras.callbacks.History` of the run (`loss`, `val_loss`, metrics).

    Raises:
        ValueError: if an argument is out of range (float images outside
            [0, 1] included), if `model` is compiled without an optimizer
            or without a loss (as a plain `keras.Model` is by `compile()`),
            or, on PyTorch's CPU backend, if `batch_size`
            would make a batch of a single image (PyTorch's CPU convolution
            fails on its gradient with Keras's kernel layout).
        TypeError: if an argument has the wrong type.

    Example:

    >>> import numpy as np
    >>> from keras_denoise import ConvAutoencoder
    >>> from keras_denoise import fit_denoising
    >>> model = ConvAutoencoder(image_shape=(16, 16, 1), latent_dim=8)
    >>> images = np.random.default_rng(0).random((40, 16, 16), dtype="float32")
    >>> history = fit_denoising(model, images, epochs=2, validation_split=0.2, seed=0,
    ...                         verbose=0)
    >>> sorted(history.history), len(history.history["loss"])
    (['loss', 'val_loss'], 2)
    """
    if not isinstance(model, keras.Model):
        message = f"`model` must be a keras.Model. Received: model={model!r}"
        raise TypeError(message)
    clean = _check_clean_images(clean_images, "clean_images")
    noise_factor = _validation.check_noise_factor(noise_factor)
    clip = _check_clip(clip)
    epochs = _validation.check_positive_int(epochs, "epochs", maximum=_validation.MAX_EPOCHS)
    batch_size = _validation.check_positive_int(
        batch_size, "batch_size", maximum=_validation.MAX_BATCH_SIZE
    )
    validation_split = _check_validation_split(validation_split)
    seed = _check_layer_seed(seed)
    shuffle = _validation.check_bool(shuffle, "shuffle")
    steps_per_execution = _check_steps_per_execution(steps_per_execution, model)
    jit_compile = _check_jit_compile(jit_compile)
    policy = _check_dtype_policy(dtype_policy)
    learning_rate_schedule = _check_learning_rate_schedule(learning_rate_schedule)
    callbacks = _check_callbacks(callbacks)
    if not _validation.is_int(initial_epoch):
        message = f"`initial_epoch` must be an integer. Received: initial_epoch={initial_epoch!r}"
        raise TypeError(message)
    if not 0 <= initial_epoch < epochs:
        message = (
            f"`initial_epoch` must be an integer in [0, epochs={epochs}). "
            f"Received: initial_epoch={initial_epoch!r}"
        )
        raise ValueError(message)

    if validation_data is not None:
        if isinstance(validation_data, tuple) and len(validation_data) == 3:
            # Keras's (x, y, sample_weight): NumPy would read it as three images, or refuse it.
            message = (
                "`validation_data` must be clean images or a (noisy, clean) pair; sample "
                "weights are not supported. Received: validation_data, a tuple of 3"
            )
            raise ValueError(message)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            validation_data = _check_validation_pair(validation_data)
        else:
            clean_val = _check_clean_images(validation_data, "validation_data")
            validation_data = _noisy_validation(clean_val, noise_factor, clip, seed)
    elif validation_split:
        count = split_count(len(clean), validation_split)
        validation_data = _noisy_validation(clean[count:], noise_factor, clip, seed)
        clean = clean[:count]

    _check_no_batch_of_one(len(clean), batch_size)

    # On TensorFlow, a model built in a `tf.distribute` strategy's scope is trained
    # in it: the trainer, the optimizer's variables and the noise state are made there.
    with _strategy_scope(model):
        if not model.compiled:
            model.compile()
        if model.optimizer is None:
            message = (
                "`model` must be compiled with an optimizer (`keras.Model.compile` leaves "
                "none for `optimizer=None`). Received: model.optimizer=None"
            )
            raise ValueError(message)
        config = _compile_settings(model)
        if config.get("loss") is None:
            message = (
                "`model` must be compiled with a loss (`keras.Model.compile` has none by "
                "default; keras-denoise's models default to binary cross-entropy). "
                "Received: model.loss=None"
            )
            raise ValueError(message)
        config.update(
            optimizer=model.optimizer,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
        trainer = NoisyTrainer(
            model,
            noise_factor,
            clip=clip,
            seed=seed,
            dtype=policy,
            name=f"{model.name}_noisy_trainer",
        )
        trainer.compile(**config)
        # Builds the trainer, which `BackupAndRestore` requires, and checks that the model
        # takes the images (the validation images too, which `fit` reads only after an epoch).
        check_model_takes(trainer, trainer.denoiser, clean, "clean_images")
        if validation_data is not None:
            check_model_takes(trainer, trainer.denoiser, validation_data[0], "validation_data")
        validation_size = 0 if validation_data is None else len(validation_data[0])
        trainer._last_batch_sizes = {
            "train": tuple({len(clean) % batch_size} - {0}),
            "test": tuple({validation_size % batch_size} - {0}),
        }

        base_learning_rate = None
        if learning_rate_schedule == "cosine":
            base_learning_rate = _settable_learning_rate(model.optimizer)
            # First, so that the caller's callbacks see the epoch's rate, and its
            # `learning_rate` in the logs at the epoch's end (a CSVLogger, say).
            callbacks.insert(
                0, keras.callbacks.LearningRateScheduler(_CosineDecay(base_learning_rate, epochs))
            )

        # Every layer takes the policy but the output layers of keras-denoise's models,
        # which stay in float32, as when the model is built with the policy.
        output_layers = getattr(model, "_OUTPUT_LAYER_NAMES", ())
        layers = [
            layer
            for layer in (model._flatten_layers(include_self=True) if policy is not None else ())
            if layer.name not in output_layers
        ]
        saved_policies = [layer.dtype_policy for layer in layers]
        try:
            for layer in layers:
                layer.dtype_policy = policy
            if keras.backend.backend() == "tensorflow":
                # The dataset shuffles itself (`fit` only warns about `shuffle` for datasets).
                order = _EpochOrder(seed) if shuffle else None
                if order is not None:
                    callbacks.append(order)
                data = {"x": _tensorflow_batches(clean, batch_size, order=order), "shuffle": False}
                if validation_data is not None:
                    validation_data = _tensorflow_batches(validation_data, batch_size)
            else:
                data = {"x": clean, "batch_size": batch_size, "shuffle": shuffle}
            history = trainer.fit(
                **data,
                epochs=epochs,
                verbose=verbose,
                callbacks=callbacks,
                validation_data=validation_data,
                initial_epoch=initial_epoch,
            )
        finally:
            for layer, saved in zip(layers, saved_policies, strict=True):
                layer.dtype_policy = saved
            if base_learning_rate is not None:
                model.optimizer.learning_rate = base_learning_rate
    model.history = history
    return history
