"""Sphinx configuration of the keras-denoise documentation.

Build everything (API reference, gallery, generated tables) with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build is offline: no intersphinx inventories, no downloads. The gallery
scripts run with the small settings of ``KERAS_DENOISE_EXAMPLES_QUICK=1``
unless that variable is already set (``=0`` trains the full configurations).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

os.environ.setdefault("KERAS_DENOISE_EXAMPLES_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

from keras_denoise_docs import FigureScraper  # noqa: E402

import keras_denoise  # noqa: E402  (after the environment is set)

# -- Project ------------------------------------------------------------------

project = "keras-denoise"
author = "The keras-denoise developers"
copyright = "The keras-denoise developers"
release = keras_denoise.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "keras_denoise_docs",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "sg_execution_times.rst"]
default_role = "py:obj"
pygments_style = "sphinx"

# -- API reference --------------------------------------------------------------

autosummary_generate = True
autosummary_ignore_module_all = False  # list exactly what `__all__` exports
autosummary_imported_members = False
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False  # keep Keras' own docstrings out of these pages
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- Gallery ------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("keras_denoise",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"keras_denoise": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "capture_repr": (),
    "matplotlib_animations": False,
    # keras_denoise.plotting returns Figures without pyplot; pyplot figures too.
    "image_scrapers": (FigureScraper(), "matplotlib"),
    "reset_modules": ("matplotlib", "keras_denoise_docs.reset_keras"),
    "show_memory": False,
    "min_reported_time": 1,
}

# -- HTML ---------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"keras-denoise {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Learned image denoising with Keras 3",
    "fixed_sidebar": True,
    "page_width": "1200px",
    "sidebar_width": "230px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
