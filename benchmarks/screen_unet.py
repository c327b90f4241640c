"""Short quality screens of `UNetDenoiser` variants on a subset of MNIST.

    python benchmarks/screen_unet.py --options '{"activation": "gelu"}'
    python benchmarks/screen_unet.py --passes 2

From the project's root (MNIST from `../shared/data/mnist.npz` unless `--data` says otherwise),
trains one model with `fit_denoising` (mixed bfloat16 by default, cosine schedule from
`--learning-rate`, 3e-3 by default, with Adam unless `--optimizer muon`) on the first
`--train-subset` training digits for `--epochs` epochs, then prints one JSON line: parameters,
fit time, final validation loss and the mean PSNR on the first 2,000 test digits noised with
`np.random.default_rng(2024)`. A screen says whether a change is worth a 35-epoch run
(`bench_training.py --which unet`); its figures compare only with other screens of the same
settings. See benchmarks/RESULTS.md.

`--passes N` (N > 1) screens an experiment that is not a library option: the U-Net's blocks
(built as `UNetDenoiser` builds them) applied N times with shared weights, each pass reading the
noisy digits, their clipped-pixel indicators and the previous pass's estimate (the first pass:
the noisy digits).

`--residual`, `--pooling average`, `--upsampling bilinear` and `--skip add` screen more
experiments outside the library, on the same U-Net otherwise (`filters`, `activation` and
`convolutions` options): residual blocks (each block's input, through a 1x1 convolution where
the width changes, added before its last activation), average instead of max pooling, bilinear
upsampling instead of a 2x2 transposed convolution, and skips added to the upsampled features
instead of concatenated with them. `--stem-kernel K` gives the U-Net's first convolution a
KxK kernel instead of 3x3, and `--head-kernel K` its output layer a KxK kernel instead of 1x1.
`--padding centered` pads the 28x28 digits to the U-Net's size multiple on all four sides (2
pixels each for four levels) instead of at the bottom and right only. `--long-skip block`
concatenates the U-Net's input (the noisy digits and their clipped-pixel indicators) to the last
decoder block's input as well, and `--long-skip head` to the output layer's input, so that the
noisy pixels reach the estimate without passing through the network.
`--encoder-convolutions N` gives every encoder block N convolutions, the `convolutions` option
then setting the bottleneck's and the decoder blocks' counts, so that depth moves between the
encoder and the decoder at the same parameter count (`--encoder-convolutions 2` with
`convolutions=[4, 4, 4, 3]` against `convolutions=3`).

`--reparam acb` and `--reparam rep` screen structural re-parameterization: every convolution of
the blocks is trained as a sum of batch-normalized branches that folds, after training, into one
convolution and an affine map, that is into the same U-Net as without the flag (so the trained
model has more parameters than the one it folds into: the JSON line gives both, `parameters` and
`parameters_folded`). `acb` adds a 3x1 and a 1x3 convolution to each 3x3 one (asymmetric
convolution blocks), `rep` a 1x1 convolution and, where the widths match, the batch-normalized
input itself (RepVGG's branches). The branches change how training moves the folded kernel, not
what the folded model can compute. The PSNR is that of the trained, unfolded model, which the
folded one would equal up to float rounding (the script does not fold).

`--groups N` screens grouped convolutions: every convolution of the blocks whose input width N
divides (all but the first, which reads the image and its two indicators) becomes N convolutions,
each reading every N-th input channel and writing 1/N of the outputs, with 1/N of the parameters
in all. Group g reads channels g, g + N, ..., and writes a contiguous run, so each group of the
next grouped convolution reads from every group of this one (ShuffleNet's channel shuffle, at
no cost). It buys width at a fixed parameter count, as in ResNeXt: `filters=(64, 64, 64, 48)` with
`--groups 2` has fewer parameters than `(48, 48, 48, 32)` without. They are computed as dense
convolutions with masked kernels, as TensorFlow's grouped kernel runs about 24x slower on this
CPU; `parameters` counts the grouped form's.

`--share-levels` screens kernels shared across scales: the encoder's levels use one set of
convolution kernels wherever a convolution's position in its block and its input and output widths
match (with three equally wide levels above the bottleneck, as screened, the top level's first
convolution, which reads the image, is the only one of its own), the decoder's levels another (the
2x2 transposed convolutions too), while every convolution keeps its own batch normalization, so
each level has its own statistics, scale and offset. Like `--groups`, it buys width at a fixed
parameter count, here by reuse rather than sparsity and at the dense width's cost:
`filters=(80, 80, 80, 32)` with `--share-levels` has 489,057 parameters.

`--decoder-filters JSON` gives the decoder blocks their own widths (a list, one per level above
the bottleneck, top level first), `filters` then setting the encoder blocks' and the
bottleneck's; each 2x2 transposed convolution upsamples to its decoder block's width. It moves
width from the encoder to the decoder at about the same parameter count.

`--dilation R` (R > 1) screens dilated convolutions: in every encoder and decoder block, the
convolutions between the first and the last (the middle one of three) read their 3x3 inputs R
pixels apart, so a three-convolution block sees 5 + 2R pixels across instead of 7, at the same
parameter count; the bottleneck's convolutions are not dilated. It widens the context at full
resolution, before any pooling, as dilated denoisers such as IRCNN do.

`--schedule linear-step` replaces the cosine decay of Adam's rate, per epoch, with a linear decay
to zero over the run's steps (a schedule object in a new Adam), and `--schedule cosine-step` with a
cosine decay to zero per step, which separates the schedule's shape from its granularity.
`--schedule constant` keeps the rate constant, as `fit_denoising` does by default.

`--optimizer muon` trains with Muon instead of Adam: `keras_denoise.ConvMuon` at the same
learning rate and schedule (`keras.optimizers.Muon` with its scaling of the update to Adam's size,
without weight decay, extended to convolution kernels): every convolution kernel but the output
layer's takes Muon's step, its momentum orthogonalized by Newton-Schulz iterations with the kernel
seen as a matrix from its flattened window to its last axis (a `Conv2D`'s output channels, a
`Conv2DTranspose`'s input channels); the output layer, the biases and the batch normalizations
take Adam's. Keras's own `Muon` gives its
step only to 2-D variables, so it would train a convolutional model with Adam alone.

`--random-canvas` screens training on shifted canvases: `UNetDenoiser` pads 28x28 digits at the
bottom and right to its size multiple (32x32 for four levels); here each training batch is
padded at a random offset instead (the same zero margin, split at random between top and bottom,
left and right), so that the pooling grid falls differently on the digit and the model cannot rely
on where the padding lies. `--offset-ensemble` also scores the model on every such offset of the
test digits (25 for a margin of 4) and on the mean of those estimates, cycle spinning over the
pooling grid; both print more figures: `psnr_offsets` (one per offset, top then left) and
`psnr_ensemble`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import time

import numpy as np

BATCH_SIZE = 64  # fit_denoising's default
VALIDATION_SPLIT = 0.1


def _unet_body(inputs, filters, convolutions, activation, policy, *, residual=False,
               pooling="max", upsampling="transpose", skip="concatenate", stem_kernel=3,
               long_skip="none", encoder_convolutions=None, reparam="none", groups=1,
               share_levels=False, decoder_filters=None, dilation=1):
    """The U-Net graph `UNetDenoiser` builds, from `inputs` to its last block's features.

    `residual=True` adds each block's input (through a 1x1 convolution and batch normalization
    where the width changes) to its last batch normalization's output, before the activation;
    `pooling="average"` downsamples by average instead of max pooling; `upsampling="bilinear"`
    upsamples by bilinear interpolation instead of a 2x2 transposed convolution (followed by a
    1x1 convolution to the skip's width where `skip="add"`); `skip="add"` adds the encoder's
    features to the upsampled ones instead of concatenating them; `stem_kernel` is the kernel
    size of the first convolution; `long_skip="block"` also concatenates `inputs` (the noisy
    image and its indicators) to the last decoder block's input; `encoder_convolutions`, where
    given, is the number of convolutions in each encoder block (one per level above the
    bottleneck), `convolutions` then setting the bottleneck's and the decoder's;
    `reparam="acb"` or `"rep"` trains each convolution as a sum of batch-normalized branches
    (the module's docstring); `groups` > 1 makes every convolution whose input width it divides
    a grouped convolution with a channel shuffle (`grouped_conv2d_class`); `share_levels=True`
    gives the encoder's levels one set of convolution kernels, and the decoder's another, wherever
    a convolution's position in its block and its widths match (the batch normalizations stay
    per level); `decoder_filters`, where given, are the decoder blocks' widths (one per level
    above the bottleneck, top level first), `filters` then setting the encoder's and the
    bottleneck's; `dilation` > 1 is the dilation rate of every convolution of the encoder and
    decoder blocks but each block's first and last (the bottleneck's are never dilated).
    """
    import keras

    from keras_denoise._fused_batch_normalization import FusedBatchNormalization

    layers = keras.layers
    GroupedConv2D = grouped_conv2d_class()

    shared = {}  # `share_levels`: (part, index in block, widths, kernel, dilation) -> layer

    def reused(layer_class, key, *args, **kwargs):
        # A new layer, or where `share_levels` and `key` allow, the one made before with `key`.
        if not share_levels or key is None:
            return layer_class(*args, **kwargs)
        if key not in shared:
            shared[key] = layer_class(*args, **kwargs)
        return shared[key]

    def convolution(tensor, width, kernel, place, rate=1):
        key = None if place is None else (*place, tensor.shape[-1], width, kernel, rate)
        if groups == 1 or tensor.shape[-1] % groups:
            return reused(layers.Conv2D, key, width, kernel, padding="same", use_bias=False,
                          dilation_rate=rate, dtype=policy)(tensor)
        return reused(GroupedConv2D, key, groups, width, kernel, padding="same",
                      use_bias=False, dtype=policy)(tensor)

    def normalized_convolution(tensor, width, kernel, place, rate=1):
        return FusedBatchNormalization(dtype=policy)(
            convolution(tensor, width, kernel, place, rate))

    def branches(tensor, width, kernel, place, rate=1):
        # One convolution and its batch normalization, or (`reparam`) a sum of branches that
        # folds into them after training: each branch is linear in `tensor` at inference.
        summands = [normalized_convolution(tensor, width, kernel, place, rate)]
        if reparam == "acb":
            summands.append(normalized_convolution(tensor, width, (kernel, 1), place))
            summands.append(normalized_convolution(tensor, width, (1, kernel), place))
        elif reparam == "rep":
            summands.append(normalized_convolution(tensor, width, 1, place))
            if tensor.shape[-1] == width:
                summands.append(FusedBatchNormalization(dtype=policy)(tensor))
        return summands[0] if len(summands) == 1 else layers.Add(dtype=policy)(summands)

    def block(tensor, width, count, first_kernel=3, part=None):
        shortcut = tensor
        for index in range(count):
            kernel = first_kernel if index == 0 else 3
            place = None if part is None else (part, index)
            # `dilation`: the inner convolutions of the encoder and decoder blocks.
            rate = dilation if part is not None and 0 < index < count - 1 else 1
            tensor = branches(tensor, width, kernel, place, rate)
            if residual and index == count - 1:
                if shortcut.shape[-1] != width:
                    shortcut = layers.Conv2D(width, 1, use_bias=False, dtype=policy)(shortcut)
                    shortcut = FusedBatchNormalization(dtype=policy)(shortcut)
                tensor = layers.Add(dtype=policy)([tensor, shortcut])
            tensor = layers.Activation(activation, dtype=policy)(tensor)
        return tensor

    pool = {"max": layers.MaxPooling2D, "average": layers.AveragePooling2D}[pooling]
    merge = {"concatenate": layers.Concatenate, "add": layers.Add}[skip]
    features, skips = inputs, []
    encoder = convolutions[:-1] if encoder_convolutions is None else encoder_convolutions
    for level, (width, count) in enumerate(zip(filters[:-1], encoder, strict=True)):
        features = block(features, width, count, stem_kernel if level == 0 else 3, "encoder")
        skips.append(features)
        features = pool(2, dtype=policy)(features)
    features = block(features, filters[-1], convolutions[-1])
    decoder = filters[:-1] if decoder_filters is None else decoder_filters
    for level in range(len(filters) - 2, -1, -1):
        # Upsampled to the skip's width where the two are added, to the block's otherwise.
        up_width = filters[level] if skip == "add" else decoder[level]
        if upsampling == "bilinear":
            features = layers.UpSampling2D(2, interpolation="bilinear", dtype=policy)(features)
            if skip == "add":
                features = layers.Conv2D(up_width, 1, dtype=policy)(features)
        else:
            key = ("up", features.shape[-1], up_width)
            features = reused(layers.Conv2DTranspose, key, up_width, 2, strides=2,
                              dtype=policy)(features)
        features = merge(dtype=policy)([features, skips[level]])
        if level == 0 and long_skip == "block":
            features = layers.Concatenate(dtype=policy)([features, inputs])
        features = block(features, decoder[level], convolutions[level], part="decoder")
    return features


def grouped_conv2d_class():
    """`GroupedConv2D(groups, filters, kernel_size, ...)`: a grouped convolution with a shuffle.

    Group g reads input channels g, g + groups, ... and writes the g-th contiguous run of
    outputs, so each group of a following grouped convolution reads from every group of this one
    (a channel shuffle). It is computed as a dense convolution whose kernel is masked to that
    pattern: on this CPU that runs at the dense width's speed, where TensorFlow's grouped kernel
    is about 24x slower (and split convolutions on gathered channels also slower). The masked
    weights get no gradient and count in `masked_parameters`, not in the grouped form's
    parameters (`grouped_parameters`). The initializer is the Glorot uniform of each group's own
    convolution, whose fans are 1/groups of the dense kernel's (so `groups` times its variance).
    """
    import keras

    class GroupedConv2D(keras.layers.Conv2D):
        def __init__(self, groups, filters, kernel_size, **kwargs):
            initializer = keras.initializers.VarianceScaling(
                scale=float(groups), mode="fan_avg", distribution="uniform")
            super().__init__(filters, kernel_size, kernel_initializer=initializer, **kwargs)
            self.mask_groups = groups
            self.mask = None

        def build(self, input_shape):
            super().build(input_shape)
            inputs, outputs = input_shape[-1], self.filters
            pattern = (np.arange(inputs)[:, None] % self.mask_groups
                       == np.arange(outputs)[None, :] // (outputs // self.mask_groups))
            self.mask = np.broadcast_to(pattern, self.kernel.shape).astype("float32")

        @property
        def masked_parameters(self):
            return int(self.mask.size - self.mask.sum())

        def convolution_op(self, inputs, kernel):
            mask = keras.ops.convert_to_tensor(self.mask, dtype=kernel.dtype)
            return super().convolution_op(inputs, kernel * mask)

    return GroupedConv2D


def grouped_parameters(model) -> int:
    """`model`'s parameter count with grouped convolutions counted in their grouped form."""
    return model.count_params() - sum(
        getattr(layer, "masked_parameters", 0) for layer in model.layers)


def _padded_digits(filters, padding="end"):
    """28x28 digit inputs, zero-padded to the U-Net's multiple, and the margins padded.

    `padding="end"` pads at the bottom and right, as `UNetDenoiser` does; `"centered"` splits
    the margin between both sides (the larger half at the bottom and right).
    """
    import keras

    side = 28 + (-28 % 2 ** (len(filters) - 1))
    before = (side - 28) // 2 if padding == "centered" else 0
    margins = ((before, side - 28 - before),) * 2
    inputs = keras.Input((28, 28, 1))
    padded = keras.layers.ZeroPadding2D(margins, dtype="float32")(inputs)
    return inputs, padded, margins


def _compiled_digits_model(inputs, estimate, margins):
    """The model from 28x28 `inputs` to `estimate` cropped back to 28x28, compiled."""
    import keras

    outputs = keras.layers.Cropping2D(margins, dtype="float32")(estimate)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    return model


def shared_weight_passes(passes: int, filters: tuple, activation: str, dtype: str):
    """A model that applies one U-Net body `passes` times to 28x28 digits."""
    import keras

    from keras_denoise._unet_denoiser import _ClipIndicators

    layers = keras.layers
    policy = keras.dtype_policies.get(dtype)
    inputs, padded, margins = _padded_digits(filters)
    side = 28 + sum(margins[0])
    body_inputs = keras.Input((side, side, 4))  # image, two indicators, estimate
    features = _unet_body(body_inputs, filters, (2,) * len(filters), activation, policy)
    body = keras.Model(body_inputs, layers.Conv2D(1, 1, dtype="float32")(features))

    marked = _ClipIndicators(dtype="float32")(padded)
    estimate = padded
    for _ in range(passes):
        logits = body(layers.Concatenate(dtype="float32")([marked, estimate]))
        estimate = layers.Activation("sigmoid", dtype="float32")(logits)
    return _compiled_digits_model(inputs, estimate, margins)


def block_variant(filters: tuple, convolutions: tuple, activation: str, dtype: str, *,
                  residual: bool, pooling: str, upsampling: str, skip: str,
                  stem_kernel: int = 3, head_kernel: int = 1, padding: str = "end",
                  long_skip: str = "none", encoder_convolutions: tuple | None = None,
                  reparam: str = "none", groups: int = 1, share_levels: bool = False,
                  decoder_filters: tuple | None = None, dilation: int = 1):
    """`UNetDenoiser`'s model for 28x28 digits with one of the experiments' changes."""
    import keras

    from keras_denoise._unet_denoiser import _ClipIndicators

    layers = keras.layers
    policy = keras.dtype_policies.get(dtype)
    inputs, padded, margins = _padded_digits(filters, padding)
    marked = _ClipIndicators(dtype=policy)(padded)
    features = _unet_body(marked, filters, convolutions, activation, policy,
                          residual=residual, pooling=pooling, upsampling=upsampling, skip=skip,
                          stem_kernel=stem_kernel, long_skip=long_skip,
                          encoder_convolutions=encoder_convolutions, reparam=reparam,
                          groups=groups, share_levels=share_levels,
                          decoder_filters=decoder_filters, dilation=dilation)
    if long_skip == "head":
        features = layers.Concatenate(dtype=policy)([features, marked])
    estimate = layers.Conv2D(1, head_kernel, padding="same", activation="sigmoid",
                             dtype="float32")(features)
    return _compiled_digits_model(inputs, estimate, margins)


def random_canvas(unet, seed: int):
    """A model that pads 28x28 digits for `unet` at a random offset per training batch."""
    import keras

    ops = keras.ops
    margin = -28 % unet.size_multiple

    class RandomCanvas(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.unet = unet
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=False):
            if training:
                offsets = keras.random.randint((2,), 0, margin + 1, seed=self.seed_generator)
            else:
                offsets = ops.zeros((2,), "int32")
            top, left = offsets[0], offsets[1]
            zero = ops.zeros((), "int32")
            batch = ops.shape(images)[0]
            framed = ops.pad(images, [[0, 0], [margin, margin], [margin, margin], [0, 0]])
            canvas = ops.slice(framed, ops.stack([zero, margin - top, margin - left, zero]),
                               (batch, 28 + margin, 28 + margin, 1))
            estimate = self.unet(canvas, training=training)
            return ops.slice(estimate, ops.stack([zero, top, left, zero]), (batch, 28, 28, 1))

    model = RandomCanvas()
    model.build((None, 28, 28, 1))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    return model


def offset_estimates(unet, noisy):
    """`unet`'s estimates of the 28x28 `noisy` digits padded at every offset, by (top, left)."""
    margin = -28 % unet.size_multiple
    estimates = {}
    for top in range(margin + 1):
        for left in range(margin + 1):
            padded = np.pad(noisy, [(0, 0), (top, margin - top), (left, margin - left), (0, 0)])
            estimate = np.asarray(unet.predict(padded, batch_size=256, verbose=0), "float32")
            estimates[top, left] = estimate[:, top : top + 28, left : left + 28]
    return estimates


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "mnist.npz"),
                        help="MNIST .npz in keras.datasets' layout")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--train-subset", type=int, default=12800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype-policy", default="mixed_bfloat16")
    parser.add_argument("--options", default="{}", help="UNetDenoiser keywords as JSON")
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="the learning rate before any decay (default: 3e-3, "
                        "UNetDenoiser.compile's)")
    parser.add_argument("--schedule", choices=("cosine", "cosine-step", "linear-step", "constant"),
                        default="cosine",
                        help="the learning-rate schedule (above; default: cosine, per epoch)")
    parser.add_argument("--optimizer", choices=("adam", "muon"), default="adam",
                        help="Adam, or Muon for the convolution kernels (above)")
    parser.add_argument("--passes", type=int, default=1,
                        help="N > 1: the shared-weight experiment described above")
    parser.add_argument("--residual", action="store_true",
                        help="the residual-block experiment described above")
    parser.add_argument("--pooling", choices=("max", "average"), default="max",
                        help="'average': the average-pooling experiment described above")
    parser.add_argument("--upsampling", choices=("transpose", "bilinear"), default="transpose",
                        help="'bilinear': the bilinear-upsampling experiment described above")
    parser.add_argument("--skip", choices=("concatenate", "add"), default="concatenate",
                        help="'add': the additive-skip experiment described above")
    parser.add_argument("--stem-kernel", type=int, default=3,
                        help="the first convolution's kernel size (an odd number)")
    parser.add_argument("--head-kernel", type=int, default=1,
                        help="the output layer's kernel size (an odd number)")
    parser.add_argument("--padding", choices=("end", "centered"), default="end",
                        help="'centered': the centered-padding experiment described above")
    parser.add_argument("--long-skip", choices=("none", "block", "head"), default="none",
                        help="'block' or 'head': the long-skip experiment described above")
    parser.add_argument("--encoder-convolutions", type=int, default=None,
                        help="convolutions in every encoder block; the `convolutions` option "
                        "then sets the bottleneck's and the decoder's (above)")
    parser.add_argument("--reparam", choices=("none", "acb", "rep"), default="none",
                        help="'acb' or 'rep': the re-parameterization experiment described above")
    parser.add_argument("--groups", type=int, default=1,
                        help="N > 1: the grouped-convolution experiment described above")
    parser.add_argument("--decoder-filters", default=None,
                        help="the decoder blocks' widths as a JSON list, top level first (above)")
    parser.add_argument("--dilation", type=int, default=1,
                        help="R > 1: the dilated-convolution experiment described above")
    parser.add_argument("--share-levels", action="store_true",
                        help="the encoder's levels share kernels, and the decoder's (above)")
    parser.add_argument("--random-canvas", action="store_true",
                        help="the random-canvas experiment described above")
    parser.add_argument("--offset-ensemble", action="store_true",
                        help="also score every padding offset and their mean (above)")
    args = parser.parse_args(argv)
    received = f"Received: --options={args.options!r}"
    try:
        options = json.loads(args.options)
    except ValueError as error:
        parser.error(f"--options is not valid JSON ({error}). {received}")
    if not isinstance(options, dict):
        parser.error(f"--options must be a JSON object of UNetDenoiser keywords. {received}")
    if "dtype" in options:
        parser.error(f"--options cannot set 'dtype': --dtype-policy sets it. {received}")
    if not args.learning_rate > 0:
        parser.error("--learning-rate must be a positive number. "
                     f"Received: --learning-rate={args.learning_rate}")
    if args.epochs < 1:
        parser.error(f"--epochs must be a positive integer. Received: --epochs={args.epochs}")
    if args.train_subset < 2:
        # A slice from the end otherwise; the validation split needs one image, training another.
        parser.error("--train-subset must be an integer of at least 2 (the first N training "
                     f"digits). Received: --train-subset={args.train_subset}")
    if args.encoder_convolutions is not None and args.encoder_convolutions < 1:
        parser.error("--encoder-convolutions must be a positive integer. "
                     f"Received: --encoder-convolutions={args.encoder_convolutions}")
    for flag, value in (("--stem-kernel", args.stem_kernel), ("--head-kernel", args.head_kernel)):
        if value < 1 or value % 2 == 0:
            parser.error(f"{flag} must be a positive odd integer. Received: {flag}={value}")
    for flag, value in (("--groups", args.groups), ("--dilation", args.dilation)):
        if value < 1:
            parser.error(f"{flag} must be a positive integer. Received: {flag}={value}")
    if args.dilation > 1 and (args.reparam != "none" or args.groups > 1):
        parser.error("--dilation takes neither --reparam nor --groups. Received: "
                     f"--dilation={args.dilation} --reparam={args.reparam} --groups={args.groups}")
    if args.passes < 1:
        parser.error(f"`passes` must be a positive integer. Received: passes={args.passes}")
    # Each flag that builds the experiments' own graph, and whether it is set.
    variant_set = {
        "--residual": args.residual, "--pooling": args.pooling != "max",
        "--upsampling": args.upsampling != "transpose", "--skip": args.skip != "concatenate",
        "--stem-kernel": args.stem_kernel != 3, "--head-kernel": args.head_kernel != 1,
        "--padding": args.padding != "end", "--long-skip": args.long_skip != "none",
        "--encoder-convolutions": args.encoder_convolutions is not None,
        "--reparam": args.reparam != "none", "--groups": args.groups > 1,
        "--share-levels": args.share_levels,
        "--decoder-filters": args.decoder_filters is not None, "--dilation": args.dilation > 1,
    }
    variant = any(variant_set.values())
    *leading, last = variant_set
    variant_flags = f"{', '.join(leading)} and {last}"
    if args.reparam != "none" and args.residual:
        parser.error("--reparam takes no --residual: each re-parameterized convolution is a sum "
                     f"of branches already. Received: --reparam={args.reparam} --residual")
    if (args.random_canvas or args.offset_ensemble) and (variant or args.passes > 1):
        parser.error(f"--random-canvas and --offset-ensemble take neither --passes > 1 nor "
                     f"{variant_flags}")
    if variant and args.passes > 1:
        parser.error(f"{variant_flags} take --passes 1 only")
    if args.passes > 1 or variant:
        flags = "--passes > 1" if args.passes > 1 else variant_flags
        allowed = ["filters", "activation"] + ([] if args.passes > 1 else ["convolutions"])
        unused = sorted(set(options) - set(allowed))
        if unused:
            parser.error(f"With {flags}, the options allowed are {allowed}. Received: {unused}")

    import keras

    from keras_denoise import ConvMuon, UNetDenoiser, fit_denoising
    from keras_denoise.metrics import psnr

    keras.utils.set_random_seed(args.seed)
    with np.load(args.data, allow_pickle=False) as data:
        x_train = data["x_train"][: args.train_subset, :, :, None]
        x_test = data["x_test"][:2000, :, :, None].astype("float32") / 255
    noise = np.random.default_rng(2024).standard_normal(x_test.shape, dtype=np.float32)
    noisy_test = np.clip(x_test + 0.5 * noise, 0.0, 1.0)

    if args.passes > 1 or variant:
        # The experiments build their own graph; unset options take UNetDenoiser's defaults.
        from keras_denoise import _validation

        defaults = inspect.signature(UNetDenoiser).parameters
        keywords = {name: options.get(name, defaults[name].default) for name in allowed}
        try:
            filters = _validation.check_filters(keywords["filters"], "filters")
            if any(width % args.groups for width in filters):
                raise ValueError(f"--groups must divide every width of `filters`. Received: "
                                 f"--groups={args.groups}, filters={list(filters)}")
            if variant:
                convolutions = _validation.check_convolutions(
                    keywords["convolutions"], len(filters)
                )
        except (TypeError, ValueError) as error:  # TypeError: not a sequence of integers
            parser.error(str(error))
        decoder_filters = None
        if args.decoder_filters is not None:
            given = f"Received: --decoder-filters={args.decoder_filters!r}"
            try:
                decoder_filters = _validation.check_filters(
                    json.loads(args.decoder_filters), "decoder_filters")
            except (TypeError, ValueError) as error:  # json's errors are ValueErrors
                parser.error(f"--decoder-filters must be a JSON list of widths ({error}). {given}")
            if len(decoder_filters) != len(filters) - 1:
                parser.error("--decoder-filters must list the decoder's widths, one per level "
                             f"above the bottleneck ({len(filters) - 1} here). {given}")
    if args.passes > 1:
        model = shared_weight_passes(
            args.passes, filters, keywords["activation"], args.dtype_policy
        )
    elif variant:
        variant_options = dict(
            residual=args.residual, pooling=args.pooling, upsampling=args.upsampling,
            skip=args.skip, stem_kernel=args.stem_kernel, head_kernel=args.head_kernel,
            padding=args.padding, long_skip=args.long_skip,
            encoder_convolutions=(None if args.encoder_convolutions is None
                                  else (args.encoder_convolutions,) * (len(filters) - 1)),
            groups=args.groups, share_levels=args.share_levels, decoder_filters=decoder_filters,
            dilation=args.dilation,
        )
        model = block_variant(filters, convolutions, keywords["activation"], args.dtype_policy,
                              reparam=args.reparam, **variant_options)
    else:
        unet = UNetDenoiser(dtype=args.dtype_policy, **options)
        if args.random_canvas:
            model = random_canvas(unet, args.seed)  # compiled there; it trains `unet`
        else:
            model = unet
            # Adam, every screen's baseline (UNetDenoiser.compile()'s default is ConvMuon).
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    if args.schedule == "cosine" and args.optimizer == "adam":
        model.optimizer.learning_rate = args.learning_rate  # the cosine decays from it
    else:
        rate = args.learning_rate  # fit_denoising's cosine decays from it
        if args.schedule not in ("cosine", "constant"):
            # Per step, to zero at the last step: a schedule object in a new optimizer.
            steps = -(-int(len(x_train) * (1.0 - VALIDATION_SPLIT)) // BATCH_SIZE) * args.epochs
            if args.schedule == "linear-step":
                rate = keras.optimizers.schedules.PolynomialDecay(
                    args.learning_rate, steps, end_learning_rate=0.0, power=1.0)
            else:
                rate = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
        if args.optimizer == "muon":
            optimizer = ConvMuon(rate)  # no weight decay; the output layer on Adam
        else:
            optimizer = keras.optimizers.Adam(rate)
        model.compile(optimizer=optimizer, loss=model.loss)
    start = time.perf_counter()
    history = fit_denoising(
        model, x_train, noise_factor=0.5, epochs=args.epochs, batch_size=BATCH_SIZE,
        validation_split=VALIDATION_SPLIT, seed=args.seed, verbose=0,
        learning_rate_schedule="cosine" if args.schedule == "cosine" else None,
    )
    fit_s = time.perf_counter() - start
    denoised = np.asarray(model.predict(noisy_test, batch_size=256, verbose=0), dtype="float32")
    result = {
        "options": options, "passes": args.passes, "residual": args.residual,
        "pooling": args.pooling, "upsampling": args.upsampling, "skip": args.skip,
        "stem_kernel": args.stem_kernel, "head_kernel": args.head_kernel,
        "padding": args.padding, "long_skip": args.long_skip,
        "encoder_convolutions": args.encoder_convolutions, "reparam": args.reparam,
        "groups": args.groups, "share_levels": args.share_levels,
        "decoder_filters": None if args.decoder_filters is None else list(decoder_filters),
        "dilation": args.dilation,
        "learning_rate": args.learning_rate, "schedule": args.schedule,
        "optimizer": args.optimizer, "seed": args.seed,
        "epochs": args.epochs,
        "train_subset": args.train_subset, "parameters": grouped_parameters(model),
        "fit_s": round(fit_s, 1), "val_loss": round(float(history.history["val_loss"][-1]), 5),
        "psnr": round(float(psnr(x_test, denoised)), 3),
    }
    if args.reparam != "none":
        # The model the branches fold into: the same graph without them (built after training,
        # so that its initializers draw nothing the trained model's run would have).
        result["parameters_folded"] = grouped_parameters(block_variant(
            filters, convolutions, keywords["activation"], args.dtype_policy,
            **variant_options))
    if args.random_canvas:
        result["random_canvas"] = True
    if args.offset_ensemble:
        estimates = offset_estimates(unet, noisy_test)
        result["psnr_offsets"] = [round(float(psnr(x_test, e)), 3) for e in estimates.values()]
        ensemble = np.mean(list(estimates.values()), axis=0)
        result["psnr_ensemble"] = round(float(psnr(x_test, ensemble)), 3)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
