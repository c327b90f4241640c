"""Sphinx directives that build tables from the real library at build time.

``.. architecture-table:: ConvAutoencoder()``
    One row per layer of the model the expression builds: name, type, output
    shape and parameter count, then the totals. The table is computed from the
    model itself, so it cannot drift from the code.

``.. error-table::``
    One call per content line; each must raise. One row per call: the call,
    the exception type and its message, as the library produces them. A call
    that does not raise fails the build.

Expressions are evaluated with every name of ``keras_denoise.__all__`` in
scope, plus ``np`` (NumPy) and ``keras_denoise`` itself.

`reset_keras` gives each gallery example a fresh Keras session, and
`FigureScraper` is the sphinx-gallery image scraper for
``keras_denoise.plotting``, whose functions return `matplotlib.figure.Figure`
objects without registering them with ``pyplot``.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


def _namespace() -> dict:
    import keras_denoise

    namespace = {name: getattr(keras_denoise, name) for name in keras_denoise.__all__}
    namespace.update(np=np, keras_denoise=keras_denoise)
    return namespace


def _cell(content: str | nodes.Node) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, str):
        content = nodes.Text(content)
    entry += nodes.paragraph("", "", content)
    return entry


def _table(headers: list[str], rows: list[list], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["keras-denoise-table", "colwidths-given"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    header_row = nodes.row()
    for header in headers:
        header_row += _cell(header)
    head += header_row
    group += head
    body = nodes.tbody()
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += _cell(cell)
        body += row
    group += body
    return table


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("None" if side is None else str(side) for side in shape) + ")"


def _size(variables: list) -> int:
    return sum(math.prod(variable.shape) for variable in variables)


class ArchitectureTable(SphinxDirective):
    """Layer-by-layer table of the model built by the directive's argument."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"caption": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        model = eval(self.arguments[0], _namespace())  # noqa: S307 (trusted docs source)
        shape = tuple(model.inputs[0].shape)
        rows = [["images", "Input", nodes.literal(text=_shape(shape)), "0"]]
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            shape = tuple(layer.compute_output_shape(shape))
            rows.append(
                [
                    nodes.literal(text=layer.name),
                    type(layer).__name__,
                    nodes.literal(text=_shape(shape)),
                    f"{layer.count_params():,}",
                ]
            )
        trainable = _size(model.trainable_weights)
        frozen = _size(model.non_trainable_weights)
        rows.append(
            [
                "Total",
                "",
                "",
                f"{trainable + frozen:,} ({trainable:,} trainable, {frozen:,} non-trainable)",
            ]
        )
        table = _table(["Layer", "Type", "Output shape", "Parameters"], rows, [22, 20, 24, 34])
        if "caption" in self.options:
            title = nodes.title(text=self.options["caption"])
            table.insert(0, title)
        return [table]


class ErrorTable(SphinxDirective):
    """Run each content line, expect an exception, and tabulate it."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        namespace = _namespace()
        rows = []
        for line in self.content:
            call = line.strip()
            if not call or call.startswith("#"):
                continue
            try:
                exec(call, namespace)  # noqa: S102 (trusted docs source)
            except Exception as error:  # noqa: BLE001 (any error is what we show)
                rows.append(
                    [
                        nodes.literal(text=call),
                        nodes.literal(text=type(error).__name__),
                        str(error),
                    ]
                )
            else:
                message = f"error-table: {call!r} did not raise"
                raise self.error(message)
        return [_table(["Call", "Error", "Message"], rows, [36, 14, 50])]


# Figures already turned into gallery images (module-level: scrapers are pickled).
_SAVED_FIGURES = weakref.WeakSet()


class FigureScraper:
    """Save the new `Figure` objects an example block left behind.

    A block's figures are the value of its last expression (kept by
    sphinx-gallery as ``___``) and any figure bound to a global name; each is
    saved once, in the order it appears.
    """

    def __repr__(self) -> str:  # stable, so sphinx-gallery's cache can compare it
        return "FigureScraper()"

    def __call__(self, block, block_vars: dict, gallery_conf: dict) -> str:
        from matplotlib.figure import Figure
        from sphinx_gallery.scrapers import figure_rst

        example_globals = block_vars["example_globals"]
        candidates = [value for name, value in example_globals.items() if name != "___"]
        candidates.append(example_globals.get("___"))
        figures = []
        for value in candidates:
            if isinstance(value, Figure) and value not in _SAVED_FIGURES and value not in figures:
                figures.append(value)
        rst = []
        for figure in figures:
            image_path = block_vars["image_path_iterator"].next()
            figure.savefig(image_path)
            _SAVED_FIGURES.add(figure)
            rst.append(
                figure_rst([image_path], gallery_conf["src_dir"], srcsetpaths=[{0: image_path}])
            )
        return "".join(rst)


def reset_keras(gallery_conf: dict, fname: str) -> None:
    """Start each gallery example with a fresh Keras state (layer names, graphs)."""
    import keras

    keras.utils.clear_session()


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document only the members keras-denoise defines, not Keras' own.

    Class pages list inherited members (the mixins' ``denoise``, ``save``...),
    but methods and properties inherited from Keras, TensorFlow or PyTorch
    base classes belong to their own documentation.
    """
    if what != "class":
        return None
    target = getattr(obj, "fget", obj)  # properties
    target = getattr(target, "__func__", target)  # class and static methods
    module = getattr(target, "__module__", None)
    if isinstance(module, str) and module.split(".")[0] != "keras_denoise":
        return True
    return None


def init_signature(app, what, name, obj, options, signature, return_annotation):
    """Show a keras-denoise class's ``__init__`` arguments, not ``(*args, **kwargs)``.

    `keras.Model` defines ``__new__(cls, *args, **kwargs)``, which autodoc
    would otherwise report as the signature of every model class.
    """
    import inspect

    if what != "class" or not getattr(obj, "__module__", "").startswith("keras_denoise"):
        return None
    parameters = list(inspect.signature(obj.__init__).parameters.values())[1:]
    text = str(inspect.Signature(parameters))
    return text, return_annotation


def drop_builtin_docstrings(app, what, name, obj, options, lines):
    """Give data such as ``__version__`` no docstring rather than that of `str`."""
    import inspect

    builtin = inspect.cleandoc(type(obj).__doc__ or "")
    if what in {"data", "attribute"} and "\n".join(lines).strip() == builtin:
        lines[:] = []


def setup(app):
    app.add_directive("architecture-table", ArchitectureTable)
    app.add_directive("error-table", ErrorTable)
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("autodoc-process-signature", init_signature)
    app.connect("autodoc-process-docstring", drop_builtin_docstrings)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
