"""Hypothesis strategies shared by the test suite (the one place they live)."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

noise_factors = st.floats(min_value=0.0, max_value=2.0, allow_nan=False)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
channels = st.sampled_from([1, 2, 3, 4])
sides = st.integers(min_value=4, max_value=24)
latent_dims = st.integers(min_value=1, max_value=32)


@st.composite
def image_shapes(draw, min_side=4, max_side=24):
    """`(height, width, channels)` with sides in `[min_side, max_side]`."""
    height = draw(st.integers(min_side, max_side))
    width = draw(st.integers(min_side, max_side))
    return (height, width, draw(channels))


@st.composite
def filter_stacks(draw, max_stages=3):
    """Matching `(encoder_filters, decoder_filters)` with 1 to `max_stages` stages."""
    stages = draw(st.integers(1, max_stages))
    widths = st.integers(1, 8)
    return (
        tuple(draw(widths) for _ in range(stages)),
        tuple(draw(widths) for _ in range(stages)),
    )


@st.composite
def image_batches(draw, max_batch=4, min_side=4, max_side=16, channels_=channels):
    """float32 image batches with pixels in [0, 1]."""
    shape = (
        draw(st.integers(1, max_batch)),
        draw(st.integers(min_side, max_side)),
        draw(st.integers(min_side, max_side)),
        draw(channels_),
    )
    return draw(
        hnp.arrays(
            np.float32,
            shape,
            elements=st.floats(0.0, 1.0, width=32, allow_nan=False, allow_infinity=False),
        )
    )


_bad_ints = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
)
_activation_names = {"relu", "sigmoid", "linear", "tanh", "gelu", "elu", "softmax", "swish"}

# For each ConvAutoencoder hyperparameter, values that must be refused.
INVALID_CONV_VALUES = {
    "latent_dim": st.one_of(_bad_ints, st.integers(65537, 10**12)),
    "image_shape": st.one_of(
        st.tuples(st.integers(4, 64), st.integers(4, 64)),
        st.tuples(st.integers(-5, 3), st.integers(4, 64), st.integers(1, 3)),
        st.tuples(st.integers(4, 64), st.integers(4, 64), st.integers(-3, 0)),
        st.tuples(st.integers(8193, 10**9), st.integers(4, 64), st.integers(1, 3)),
        st.tuples(st.floats(4, 64), st.integers(4, 64), st.integers(1, 3)),
        st.text(max_size=5),
    ),
    "encoder_filters": st.one_of(
        st.lists(st.integers(-5, 0), min_size=3, max_size=3),
        st.lists(st.integers(4097, 10**9), min_size=3, max_size=3),
        st.just([]),
        st.integers(1, 64),
    ),
    "decoder_filters": st.one_of(
        st.lists(st.integers(1, 8), min_size=1, max_size=2),
        st.lists(st.integers(-5, 0), min_size=3, max_size=3),
    ),
    "kernel_size": st.one_of(_bad_ints, st.integers(16, 10**6)),
    "activation": st.one_of(
        st.text(min_size=1, max_size=8).filter(lambda name: name not in _activation_names),
        st.integers(),
    ),
    "batch_norm": st.one_of(st.integers(), st.text(max_size=3), st.none()),
}


@st.composite
def invalid_conv_configs(draw):
    """`(key, config)`: a small valid ConvAutoencoder config with one value made invalid."""
    key = draw(st.sampled_from(sorted(INVALID_CONV_VALUES)))
    config = {"image_shape": (8, 8, 1), "latent_dim": 4}
    config[key] = draw(INVALID_CONV_VALUES[key])
    if key == "decoder_filters":
        config["encoder_filters"] = (4, 4, 4)
    return key, config
