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
