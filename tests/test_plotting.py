import os
import re
import types
import warnings

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from keras_denoise import ConvAutoencoder, plotting


def _image_axes(figure):
    return [ax for ax in figure.axes if ax.images]


def _images(rng, n, layout, dtype, side=8):
    shape = {"gray": (n, side, side), "gray1": (n, side, side, 1), "rgb": (n, side, side, 3)}
    images = rng.random(shape[layout])
    return (images * 255).astype(np.uint8) if dtype == "uint8" else images.astype(dtype)


def _leftovers(folder, name):
    return [entry for entry in os.listdir(folder) if entry != name]


@pytest.fixture(scope="module")
def tiny_model():
    return ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=3)


ROWS = [
    {"noise_factor": noise_factor, "method": method, "psnr": psnr, "ssim": ssim}
    for noise_factor, method, psnr, ssim in [
        (0.5, "noisy", 8.0, 0.1),
        (0.1, "noisy", 20.0, 0.5),
        (0.1, "autoencoder", 26.0, 0.9),
        (0.5, "autoencoder", 19.0, 0.7),
        (0.3, "noisy", 12.0, 0.3),
        (0.3, "autoencoder", 22.0, 0.8),
    ]
]


# show_images


@pytest.mark.parametrize("layout", ["gray", "gray1", "rgb"])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_show_images_draws_one_axes_per_image(rng, layout, dtype):
    figure = plotting.show_images(_images(rng, 7, layout, dtype), ncols=3)
    assert isinstance(figure, Figure)
    assert len(_image_axes(figure)) == 7
    assert len(figure.axes) == 7
    assert figure.axes[0].get_subplotspec().get_gridspec().get_geometry() == (3, 3)


@pytest.mark.parametrize("layout", ["gray", "gray1"])
def test_show_images_uses_gray_on_a_fixed_range(rng, layout):
    image = plotting.show_images(_images(rng, 2, layout, "float32")).axes[0].images[0]
    assert image.get_cmap().name == "gray"
    assert image.get_clim() == (0.0, 1.0)
    assert image.get_array().ndim == 2


def test_show_images_shows_rgb_in_colour(rng):
    image = plotting.show_images(_images(rng, 2, "rgb", "uint8")).axes[0].images[0]
    assert image.get_array().shape == (8, 8, 3)
    assert image.get_array().max() <= 1.0


@pytest.mark.parametrize("layout", ["gray", "rgb"])
def test_show_images_clips_to_the_unit_range(rng, layout):
    # A model without a sigmoid output can return values just outside [0, 1].
    images = _images(rng, 2, layout, "float32") * 1.4 - 0.2
    shown = np.asarray(plotting.show_images(images).axes[0].images[0].get_array())
    np.testing.assert_allclose(shown, np.clip(images[0], 0.0, 1.0))


def test_show_images_turns_ticks_off(rng):
    ax = plotting.show_images(_images(rng, 2, "gray", "float32")).axes[0]
    assert len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0


def test_show_images_classic_grid(rng):
    figure = plotting.show_images(_images(rng, 25, "gray", "float32"))
    assert figure.axes[0].get_subplotspec().get_gridspec().get_geometry() == (5, 5)


def test_show_images_reduces_ncols_to_the_number_of_images(rng):
    figure = plotting.show_images(_images(rng, 2, "gray", "float32"), ncols=5)
    assert figure.axes[0].get_subplotspec().get_gridspec().get_geometry() == (1, 2)


def test_show_images_titles(rng):
    figure = plotting.show_images(_images(rng, 3, "gray", "float32"), titles=["a", "b", "c"])
    assert [ax.get_title() for ax in figure.axes] == ["a", "b", "c"]
    small = FontProperties(size="small").get_size_in_points()
    assert [ax.title.get_fontsize() for ax in figure.axes] == [small] * 3


def test_show_images_rejects_wrong_number_of_titles(rng):
    with pytest.raises(ValueError, match="titles"):
        plotting.show_images(_images(rng, 3, "gray", "float32"), titles=["a"])


@pytest.mark.parametrize("titles", ["abc", b"abc", 5])
def test_show_images_rejects_titles_that_are_not_a_sequence(rng, titles):
    with pytest.raises(TypeError, match=f"titles={titles!r}"):
        plotting.show_images(_images(rng, 3, "gray", "float32"), titles=titles)


def test_show_images_takes_an_array_of_titles(rng):
    figure = plotting.show_images(_images(rng, 2, "gray", "float32"), titles=np.array([7, 8]))
    assert [ax.get_title() for ax in figure.axes] == ["7", "8"]


@pytest.mark.parametrize("ncols", [0, -2])
def test_show_images_rejects_non_positive_ncols(rng, ncols):
    with pytest.raises(ValueError, match="ncols"):
        plotting.show_images(_images(rng, 3, "gray", "float32"), ncols=ncols)


def test_show_images_rejects_float_ncols(rng):
    with pytest.raises(TypeError, match="ncols"):
        plotting.show_images(_images(rng, 3, "gray", "float32"), ncols=2.0)


@pytest.mark.parametrize("shape", [(8, 8), (2, 8, 8, 2), (2, 8, 8, 4), (0, 8, 8)])
def test_show_images_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="images"):
        plotting.show_images(np.zeros(shape))


def test_show_images_rejects_integer_images():
    with pytest.raises(TypeError, match="images"):
        plotting.show_images(np.zeros((2, 8, 8), dtype=np.int64))


# compare


@pytest.mark.parametrize("layout", ["gray", "gray1", "rgb"])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_compare_draws_three_rows_with_psnr_titles(rng, layout, dtype):
    clean = _images(rng, 6, layout, dtype)
    noisy = _images(rng, 6, layout, dtype)
    figure = plotting.compare(clean, noisy, clean, n=4)
    assert isinstance(figure, Figure)
    assert len(_image_axes(figure)) == 12
    titles = [ax.get_title() for ax in figure.axes]
    assert all(title == "" for title in titles[:4])
    assert all(title.endswith(" dB") for title in titles[4:8])
    assert all(title == "inf dB" for title in titles[8:])
    assert [figure.axes[i].get_ylabel() for i in (0, 4, 8)] == ["clean", "noisy", "denoised"]


def test_compare_titles_hold_each_images_psnr():
    clean = np.full((2, 8, 8), 0.5)
    noisy = clean + np.array([0.1, 0.01])[:, None, None]
    figure = plotting.compare(clean, noisy, noisy)
    assert [ax.get_title() for ax in figure.axes[2:4]] == ["20.0 dB", "40.0 dB"]


def test_compare_scores_the_images_before_clipping_them_for_display():
    # Unclipped noise: 0.5 + 0.7 shows as 1.0 (an error of 0.5, 6.0 dB), but scores 3.1 dB.
    clean = np.full((1, 8, 8), 0.5)
    figure = plotting.compare(clean, clean + 0.7, clean - 0.7)
    assert [ax.get_title() for ax in figure.axes[1:]] == ["3.1 dB", "3.1 dB"]
    assert figure.axes[1].images[0].get_array().max() == 1.0


def test_compare_shows_the_first_n_images_in_their_rows(rng):
    clean, noisy, denoised = (_images(rng, 5, "gray", "float32") for _ in range(3))
    figure = plotting.compare(clean, noisy, denoised, n=3)
    for row, images in enumerate((clean, noisy, denoised)):
        for column in range(3):
            shown = figure.axes[3 * row + column].images[0].get_array()
            np.testing.assert_array_equal(shown, images[column])


def test_compare_reduces_n_to_the_number_of_images(rng):
    clean = _images(rng, 2, "gray", "float32")
    assert len(plotting.compare(clean, clean, clean, n=5).axes) == 6


def test_compare_rejects_mismatched_shapes(rng):
    clean = _images(rng, 3, "gray", "float32")
    with pytest.raises(ValueError, match="denoised"):
        plotting.compare(clean, clean, clean[:2])


def test_compare_rejects_non_positive_n(rng):
    clean = _images(rng, 3, "gray", "float32")
    with pytest.raises(ValueError, match="`n`"):
        plotting.compare(clean, clean, clean, n=0)


# plot_history


def test_plot_history_one_axes_per_metric():
    logs = {
        "loss": [0.3, 0.2, 0.1],
        "psnr": [15, 18, 20],
        "val_loss": [0.4, 0.3, 0.2],
        "val_psnr": [14, 17, 19],
    }
    figure = plotting.plot_history(logs)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "psnr"]
    for ax in figure.axes:
        assert [line.get_label() for line in ax.lines] == ["training", "validation"]
        assert [text.get_text() for text in ax.get_legend().get_texts()] == [
            "training",
            "validation",
        ]
        np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", ax.get_title())


def test_plot_history_marks_whole_epochs_only():
    ax = plotting.plot_history({"loss": [0.3, 0.2]}).axes[0]
    ax.figure.canvas.draw()
    ticks = [tick for tick in ax.get_xticks() if 1 <= tick <= 2]
    assert ticks == [1.0, 2.0]


def test_plot_history_names_metrics_that_are_not_strings():
    figure = plotting.plot_history({"loss": [0.3, 0.2], 7: [1.0, 2.0]})
    assert [ax.get_title() for ax in figure.axes] == ["loss", "7"]


def test_plot_history_metric_with_validation_only():
    logs = {"loss": [0.3, 0.2], "val_loss": [0.4, 0.3], "val_psnr": [14.0, 17.0]}
    figure = plotting.plot_history(logs)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "psnr"]
    assert [line.get_label() for line in figure.axes[1].lines] == ["validation"]


def test_plot_history_without_validation():
    figure = plotting.plot_history({"loss": [0.3, 0.2]})
    assert len(figure.axes) == 1
    assert len(figure.axes[0].lines) == 1


def test_plot_history_takes_a_keras_history():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse", metrics=["mae"])
    data = np.zeros((8, 2)), np.zeros((8, 1))
    history = model.fit(*data, validation_data=data, epochs=2, verbose=0)
    figure = plotting.plot_history(history)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "mae"]
    assert all(len(ax.lines) == 2 for ax in figure.axes)


def _x(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return list(line.get_xdata())


@pytest.mark.parametrize(
    ("logs", "options", "expected"),
    [
        ({"loss": [4, 3, 2, 1], "val_loss": [3, 1]}, {}, [2, 4]),
        ({"loss": [4, 3, 2, 1, 0], "val_loss": [2]}, {"validation_freq": 3}, [3]),
        ({"loss": [4, 3, 2, 1], "val_loss": [3, 2, 1]}, {"validation_freq": [1, 2, 4]},
         [1, 2, 4]),
        ({"loss": [4, 3], "val_loss": [3, 2]}, {"validation_freq": 1}, [1, 2]),
    ],
)
def test_plot_history_places_validation_values_on_their_epochs(logs, options, expected):
    # With `fit(validation_freq=2)`, the validation values of epochs 2 and 4 were drawn at
    # epochs 1 and 2.
    ax = plotting.plot_history(logs, **options).axes[0]
    assert _x(ax, "training") == list(range(1, len(logs["loss"]) + 1))
    assert _x(ax, "validation") == expected


@pytest.mark.parametrize(
    ("validation_freq", "error", "match"),
    [
        (3, ValueError, r"`validation_freq` places 1 validation values on epochs 1-4, but "
                        r"history\['val_loss'\] holds 2\. Received: validation_freq=3"),
        ([1, 9], ValueError, r"places 1 validation values"),
        (0, ValueError, r"`validation_freq` must be a positive integer"),
        ([2, 0], ValueError, r"`validation_freq` must be a positive integer"),
        ("2", TypeError, r"`validation_freq` must be a positive integer or a list of epochs"),
    ],
)
def test_plot_history_rejects_a_validation_freq_that_does_not_fit(validation_freq, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_history({"loss": [4, 3, 2, 1], "val_loss": [3, 1]},
                              validation_freq=validation_freq)


def test_plot_history_says_when_it_inferred_validation_freq():
    # Given nothing, it echoed the value it worked out as if the caller had passed it.
    match = r"holds 3\. Received: validation_freq=None \(inferred as 1\)$"
    with pytest.raises(ValueError, match=match):
        plotting.plot_history({"loss": [1, 2], "val_loss": [1, 2, 3]})


def test_plot_history_checks_validation_freq_without_validation_values():
    with pytest.raises(ValueError, match=r"`validation_freq` must be a positive integer"):
        plotting.plot_history({"loss": [0.3, 0.2]}, validation_freq=-2)


def test_plot_history_of_a_resumed_keras_fit_numbers_its_epochs():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    data = np.zeros((8, 2)), np.zeros((8, 1))
    history = model.fit(*data, validation_data=data, validation_freq=2, initial_epoch=2,
                        epochs=6, verbose=0)
    ax = plotting.plot_history(history).axes[0]
    assert _x(ax, "training") == [3, 4, 5, 6]
    assert _x(ax, "validation") == [4, 6]


def test_plot_history_draws_a_diverged_run_with_gaps():
    # A NaN loss, as a diverged run records, is what people most want to see plotted.
    ax = plotting.plot_history({"loss": [0.3, 0.2, float("nan"), float("inf")]}).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.3, 0.2, np.nan, np.nan])


def test_plot_history_rejects_empty_history():
    with pytest.raises(ValueError, match="history"):
        plotting.plot_history({})


def test_plot_history_rejects_other_objects():
    with pytest.raises(TypeError, match="history"):
        plotting.plot_history([0.3, 0.2])


# plot_latent


def test_plot_latent_with_classes_draws_a_legend(tiny_model, rng):
    images = _images(rng, 12, "gray", "float32")
    labels = np.arange(12) % 3
    figure = plotting.plot_latent(tiny_model, images, labels=labels)
    ax = figure.axes[0]
    assert len(ax.collections) == 3
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["0", "1", "2"]
    coordinates, ratios = plotting._principal_components(
        tiny_model.encode(images).astype(np.float64)
    )
    for label, points in enumerate(ax.collections):
        np.testing.assert_allclose(points.get_offsets(), coordinates[labels == label], atol=1e-6)
    assert ax.get_xlabel() == f"PC 1 ({100 * ratios[0]:.1f}% of variance)"
    assert ax.get_ylabel() == f"PC 2 ({100 * ratios[1]:.1f}% of variance)"
    assert ratios[0] > ratios[1]
    assert ax.get_title() == "latent space (PCA)"


def test_plot_latent_draws_a_legend_for_up_to_ten_classes(tiny_model, rng):
    images = _images(rng, 20, "gray", "float32")
    figure = plotting.plot_latent(tiny_model, images, labels=np.arange(20) % 10)
    assert len(figure.axes) == 1  # no colour bar
    assert len(figure.axes[0].get_legend().get_texts()) == 10


def test_plot_latent_with_continuous_labels_draws_a_colour_bar(tiny_model, rng):
    images = _images(rng, 12, "gray1", "uint8")
    figure = plotting.plot_latent(tiny_model, images, labels=rng.random(12))
    assert len(figure.axes) == 2  # the scatter and its colour bar


def test_plot_latent_colours_by_value_float_labels_and_many_classes(tiny_model, rng):
    images = _images(rng, 12, "gray", "float32")
    few_floats = np.tile([0.0, 0.5, 1.0], 4)  # three values, but measured, not classes
    figure = plotting.plot_latent(tiny_model, images, labels=few_floats)
    assert len(figure.axes) == 2 and figure.axes[0].get_legend() is None
    np.testing.assert_array_equal(figure.axes[0].collections[0].get_array(), few_floats)
    many_classes = np.arange(12) * 100  # 12 integer classes: coloured by their values
    figure = plotting.plot_latent(tiny_model, images, labels=many_classes)
    assert len(figure.axes) == 2
    np.testing.assert_array_equal(figure.axes[0].collections[0].get_array(), many_classes)


def test_plot_latent_names_the_classes_of_many_string_labels(tiny_model, rng):
    # More than ten classes take a colour bar: its ticks were the classes' codes, 0 to 11.
    images = _images(rng, 12, "gray", "float32")
    names = [f"class {i:02d}" for i in range(12)]
    figure = plotting.plot_latent(tiny_model, images, labels=names)
    colour_bar = figure.axes[1]
    assert [tick.get_text() for tick in colour_bar.get_yticklabels()] == names


def test_plot_latent_of_identical_latents_explains_no_variance(rng):
    class ConstantEncoder:
        def encode(self, images, batch_size):
            return np.zeros((len(images), 4), np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plotting.plot_latent(ConstantEncoder(), _images(rng, 3, "gray", "float32")).axes[0]
    assert ax.get_xlabel() == "PC 1 (0.0% of variance)"
    assert ax.get_ylabel() == "PC 2 (0.0% of variance)"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_plot_latent_refuses_non_finite_latents(rng, bad):
    # A diverged model's NaN latents made NumPy's SVD fail ("SVD did not converge").
    class DivergedEncoder:
        def encode(self, images, batch_size):
            latents = np.zeros((len(images), 4), np.float32)
            latents[1, 2] = bad
            return latents

    with pytest.raises(ValueError, match=r"finite latent vectors .*Received: latents with 1 "):
        plotting.plot_latent(DivergedEncoder(), _images(rng, 3, "gray", "float32"))


def test_plot_latent_without_labels(tiny_model, rng):
    figure = plotting.plot_latent(tiny_model, _images(rng, 5, "gray", "float32"), batch_size=2)
    offsets = figure.axes[0].collections[0].get_offsets()
    assert offsets.shape == (5, 2)


def test_plot_latent_encodes_in_batches_of_batch_size(rng):
    class RecordingEncoder:
        def __init__(self):
            self.batch_sizes = []

        def encode(self, images, *, batch_size=64):
            self.batch_sizes.append(batch_size)
            return images.reshape(len(images), -1)[:, :3]

    model = RecordingEncoder()
    plotting.plot_latent(model, _images(rng, 5, "gray", "float32"), batch_size=2)
    assert model.batch_sizes == [2]


def test_plot_latent_explained_variance_matches_pca(rng):
    latents = rng.normal(size=(50, 3)) * [3.0, 1.0, 0.1]
    coordinates, ratios = plotting._principal_components(latents)
    variances = np.linalg.eigvalsh(np.cov(latents.T))[::-1]
    np.testing.assert_allclose(ratios, variances[:2] / variances.sum())
    np.testing.assert_allclose(np.var(coordinates, axis=0, ddof=1), variances[:2])


def test_plot_latent_with_one_latent_dimension(rng):
    model = ConvAutoencoder(image_shape=(8, 8, 1), latent_dim=1)
    figure = plotting.plot_latent(model, _images(rng, 4, "gray", "float32"))
    offsets = figure.axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(offsets[:, 1], 0.0)
    assert figure.axes[0].get_xlabel() == "PC 1 (100.0% of variance)"


@pytest.mark.parametrize("labels", [[0, 1], [[0], [1], [0], [1]]])
def test_plot_latent_rejects_labels_of_the_wrong_shape(tiny_model, rng, labels):
    expected = r"shape \(4,\)\. Received: labels with shape \(" + str(len(labels))
    with pytest.raises(ValueError, match=expected):
        plotting.plot_latent(tiny_model, _images(rng, 4, "gray", "float32"), labels=labels)


@pytest.mark.parametrize("model", [None, 3, types.SimpleNamespace(encode=3)])
def test_plot_latent_needs_a_model_with_encode(rng, model):
    with pytest.raises(TypeError, match=re.escape(f"model={model!r}")):
        plotting.plot_latent(model, _images(rng, 4, "gray", "float32"))


def test_plot_latent_needs_one_latent_vector_per_image(rng):
    class FlatEncoder:
        def encode(self, images, batch_size):
            return np.arange(len(images), dtype=np.float32)

    with pytest.raises(ValueError, match=r"one latent vector per image.*shape \(4,\)"):
        plotting.plot_latent(FlatEncoder(), _images(rng, 4, "gray", "float32"))


def test_plot_latent_needs_two_images(tiny_model, rng):
    with pytest.raises(ValueError, match="two images"):
        plotting.plot_latent(tiny_model, _images(rng, 1, "gray1", "float32"))


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 1)])
def test_plot_latent_of_one_image_asks_for_two(tiny_model, rng, shape):
    # The model encodes one image to one vector: not a fault of `model.encode`.
    match = re.escape(f"at least two images to project. Received: one image of shape {shape}")
    with pytest.raises(ValueError, match=match):
        plotting.plot_latent(tiny_model, rng.random(shape))


@pytest.mark.parametrize(
    "labels",
    [[None, 1, 2, 3], np.array(["a", 1, 2, 3], dtype=object),
     [0, "a", 1, "b"], (0.5, "a", "b", "c")],  # NumPy turns these numbers into strings
)  # fmt: skip
def test_plot_latent_refuses_labels_of_mixed_kinds(tiny_model, rng, labels):
    with pytest.raises(TypeError, match=r"`labels` must all be numbers.*dtype object"):
        plotting.plot_latent(tiny_model, _images(rng, 4, "gray", "float32"), labels=labels)


# plot_evaluation


@pytest.mark.parametrize(("metric", "label"), [("psnr", "PSNR (dB)"), ("ssim", "SSIM")])
def test_plot_evaluation_one_line_per_method(metric, label):
    ax = plotting.plot_evaluation(ROWS, metric=metric).axes[0]
    assert [line.get_label() for line in ax.lines] == ["noisy", "autoencoder"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("noise factor", label)
    assert ax.get_title() == f"{metric.upper()} against noise factor"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0.1, 0.3, 0.5])
    expected = [
        row[metric]
        for row in sorted(ROWS, key=lambda row: row["noise_factor"])
        if row["method"] == "noisy"
    ]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), expected)
    assert ax.lines[0].get_marker() == "o"
    assert ax.get_legend() is not None


@pytest.mark.parametrize("metric", ["mse", ["psnr"]])
def test_plot_evaluation_rejects_unknown_metric(metric):
    with pytest.raises(ValueError, match=re.escape(f"Received: metric={metric!r}")):
        plotting.plot_evaluation(ROWS, metric=metric)


def test_plot_evaluation_rejects_missing_keys():
    with pytest.raises(ValueError, match="method"):
        plotting.plot_evaluation([{"noise_factor": 0.1, "psnr": 20.0}])


@pytest.mark.parametrize("value", ["high", "12.5", True])
def test_plot_evaluation_rejects_non_numeric_values(value):
    row = {"noise_factor": 0.1, "method": "noisy", "psnr": value}
    with pytest.raises(ValueError, match=r"`rows\[0\]` must hold numbers under 'noise_factor'"):
        plotting.plot_evaluation([row])


def test_plot_evaluation_draws_rows_read_back_from_json():
    # `keras-denoise evaluate --json` writes the infinite PSNR of noise factor 0 as null,
    # which is left out of the line as matplotlib leaves out infinite values.
    rows = [{"noise_factor": 0.0, "method": "noisy", "psnr": None, "ssim": 1.0},
            {"noise_factor": 0.5, "method": "noisy", "psnr": 9.4, "ssim": 0.2}]  # fmt: skip
    (line,) = plotting.plot_evaluation(rows).axes[0].lines
    np.testing.assert_array_equal(line.get_ydata(), [np.inf, 9.4])


def test_plot_evaluation_rejects_empty_rows():
    with pytest.raises(ValueError, match="rows"):
        plotting.plot_evaluation([])


def test_plot_evaluation_rejects_non_dict_rows():
    with pytest.raises(TypeError, match="rows"):
        plotting.plot_evaluation([(0.1, "noisy", 20.0)])


# plot_anomaly_scores


def test_plot_anomaly_scores_draws_histograms_and_roc(rng):
    scores = np.concatenate([rng.normal(0, 1, 100), rng.normal(3, 1, 20)])
    is_anomaly = np.repeat([False, True], [100, 20])
    figure = plotting.plot_anomaly_scores(scores, is_anomaly, threshold=2.0)
    histogram_ax, roc_ax = figure.axes
    assert len(histogram_ax.patches) == 60  # 30 shared bins for each class
    normal, anomalous = histogram_ax.containers
    assert [bar.get_x() for bar in normal] == [bar.get_x() for bar in anomalous]
    assert sum(bar.get_height() for bar in normal) == 100
    assert sum(bar.get_height() for bar in anomalous) == 20
    labels = [text.get_text() for text in histogram_ax.get_legend().get_texts()]
    assert labels == ["normal", "anomalous", "threshold = 2"]
    assert "AUC = 0.9" in roc_ax.get_title()
    curve, chance = roc_ax.lines
    assert roc_ax.get_title() == f"ROC curve ({curve.get_label()})"
    assert chance.get_label() == "chance"
    np.testing.assert_array_equal(chance.get_xydata(), [[0, 0], [1, 1]])
    assert roc_ax.get_xlim() == (0, 1) and roc_ax.get_ylim() == (0, 1.02)


@pytest.mark.parametrize(
    "scores",
    [[0.3, 0.1 + 0.2, 0.3, 0.1 + 0.2], [1e6, 1e6 + 1e-9, 1e6, 1e6 + 1e-9], [0.5] * 4],
    ids=["one-step-apart", "large-and-close", "equal"],
)
def test_plot_anomaly_scores_of_scores_too_close_for_30_bins(scores):
    # NumPy cannot split a spread of a few float64 steps into 30 bins, and raised.
    figure = plotting.plot_anomaly_scores(scores, [0, 1, 0, 1])
    normal, anomalous = figure.axes[0].containers
    assert sum(bar.get_height() for bar in normal) == sum(bar.get_height() for bar in anomalous)
    assert [bar.get_x() for bar in normal] == [bar.get_x() for bar in anomalous]
    assert sum(bar.get_height() for bar in normal) == 2


def test_plot_anomaly_scores_without_threshold():
    figure = plotting.plot_anomaly_scores([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert len(figure.axes[0].lines) == 0
    assert figure.axes[1].get_title() == "ROC curve (AUC = 0.750)"


def test_plot_anomaly_scores_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="is_anomaly"):
        plotting.plot_anomaly_scores([0.1, 0.4, 0.8], [0, 1])


@pytest.mark.parametrize("threshold", [float("inf"), float("nan"), 10**400])
def test_plot_anomaly_scores_rejects_non_finite_threshold(threshold):
    # 10**400, past float64's range, raised Python's OverflowError.
    with pytest.raises(ValueError, match=r"`threshold` must be finite\. Received: threshold="):
        plotting.plot_anomaly_scores([0.1, 0.4], [0, 1], threshold=threshold)


@pytest.mark.parametrize("threshold", ["high", True, np.True_])
def test_plot_anomaly_scores_rejects_non_numeric_threshold(threshold):
    with pytest.raises(TypeError, match="threshold"):
        plotting.plot_anomaly_scores([0.1, 0.4], [0, 1], threshold=threshold)


# Saving


def _draw_each(rng, tiny_model, path):
    images = _images(rng, 4, "gray", "float32")
    yield plotting.show_images(images, path=path)
    yield plotting.compare(images, images, images, path=path)
    yield plotting.plot_history({"loss": [0.2, 0.1]}, path=path)
    yield plotting.plot_latent(tiny_model, images, path=path)
    yield plotting.plot_evaluation(ROWS, path=path)
    yield plotting.plot_anomaly_scores([0.1, 0.4], [0, 1], path=path)


@pytest.mark.parametrize(
    ("extension", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")]
)
def test_every_function_saves_its_figure(tmp_path, rng, tiny_model, extension, magic):
    path = tmp_path / f"figure.{extension.upper() if extension == 'pdf' else extension}"
    for figure in _draw_each(rng, tiny_model, path):
        assert isinstance(figure, Figure)
        assert path.read_bytes().startswith(magic)
        path.unlink()
        assert _leftovers(tmp_path, path.name) == []


def test_saves_to_a_string_path(tmp_path, rng):
    path = str(tmp_path / "grid.png")
    plotting.show_images(_images(rng, 2, "gray", "float32"), path=path)
    assert os.path.getsize(path) > 0


def test_failed_save_leaves_the_old_file_intact(tmp_path, rng, monkeypatch):
    path = tmp_path / "grid.png"
    path.write_bytes(b"old figure")

    def broken_savefig(self, *args, **kwargs):
        with open(args[0], "wb") as handle:
            handle.write(b"half a figure")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plotting.show_images(_images(rng, 2, "gray", "float32"), path=path)
    assert path.read_bytes() == b"old figure"
    assert _leftovers(tmp_path, "grid.png") == []


@pytest.mark.parametrize("path", ["figure.jpg", "figure", "figure.png.txt"])
def test_rejects_unsupported_extensions(tmp_path, rng, path):
    with pytest.raises(ValueError, match="path"):
        plotting.show_images(_images(rng, 2, "gray", "float32"), path=tmp_path / path)


def test_rejects_non_path(rng):
    with pytest.raises(TypeError, match="path"):
        plotting.show_images(_images(rng, 2, "gray", "float32"), path=42)


def test_public_api():
    assert sorted(plotting.__all__) == [
        "compare",
        "plot_anomaly_scores",
        "plot_evaluation",
        "plot_history",
        "plot_latent",
        "show_images",
    ]
    assert all(callable(getattr(plotting, name)) for name in plotting.__all__)


@pytest.mark.parametrize("channels", [1, 3])
def test_one_image_with_channels_needs_a_batch_axis(rng, channels):
    # Drawn as a batch, it made 16 strips 1 or 3 pixels wide.
    image = rng.random((16, 16, channels))
    with pytest.raises(ValueError, match=r"`images` is ambiguous: one image with"):
        plotting.show_images(image)
    with pytest.raises(ValueError, match=r"`clean` is ambiguous: one image with"):
        plotting.compare(image, image, image)
    assert len(plotting.show_images(image[None]).axes) == 1
