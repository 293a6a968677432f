"""Sphinx configuration of the numrnn course site. Build it with ``python docs/build.py OUT``.

docs/build.py stages this folder with the notebooks, the README and MathJax into a scratch source
folder, so every path here is relative to that staged folder (README.md and figures/ are copies of
the repository's). Nothing is fetched from the network when the site is built or read: MathJax is a
local copy (``_static/mathjax``), the theme's fonts and icons ship with the theme, the notebooks'
widget scripts (which myst-nb loads from a CDN by default) are switched off.
"""
import os
import sys

if "NUMRNN_SITE_REPO" not in os.environ:
    sys.exit("docs/conf.py: build the site with `python docs/build.py OUT` (it stages the sources)")
sys.path.insert(0, os.environ["NUMRNN_SITE_REPO"])
import numrnn  # noqa: E402  (this checkout's numrnn: docs/build.py names the repository)

project = "numrnn"
author = "the numrnn authors"
copyright = "numrnn authors, MIT licence"
release = version = numrnn.__version__

extensions = [
    "myst_nb",                   # .md pages and the executed .ipynb notebooks
    "sphinx.ext.autodoc",
    "numpydoc",                  # numrnn's docstrings are numpydoc
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
exclude_patterns = ["README.md", "_build", "**.ipynb_checkpoints", "figures/**", "jupyter_execute"]
suppress_warnings = ["myst.header"]       # the README's sections start at level 2 when included

# -- MyST / notebooks ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "force"               # every build runs every notebook (quick sizes: build.py)
nb_execution_timeout = 600
nb_execution_raise_on_error = True        # a notebook that fails fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_ipywidgets_js = {}                     # no require.js / html-manager from a CDN

# -- API reference -----------------------------------------------------------------------------
# each object once, on the page of the module that defines it (a package page shows its docstring
# and what the package itself defines, not what it re-exports through __all__)
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False        # not pytest's or numpy's docstrings on numrnn's subclasses
numpydoc_show_class_members = False       # automodule lists the members once, in source order
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

# -- HTML --------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = f"numrnn {release}: the course"
html_static_path = ["_static"]
html_context = {"default_mode": "light"}  # unset, a first visit logs "Got invalid theme mode"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,         # buttons that would reach for the network stay off
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "launch_buttons": {},
}
mathjax_path = "mathjax/tex-chtml.js"     # MathJax 3, copied into _static by docs/build.py
