"""Sphinx configuration of chainrule's documentation site (``make docs``).

The site is built from what the repository already has: README sections (included, not
copied), the committed notebooks with their outputs (never executed here), the students'
versions of the exercise notebooks, and the docstrings of chainrule.engine,
chainrule.nn, chainrule.viz and chainrule.exercises. ``make docs`` runs Sphinx
with warnings as errors and nitpicky cross-references, so a broken link, a reference to
a name that does not exist, a docstring that does not parse or a notebook that cannot be
read fails the build. Nothing is fetched at build time or when a page is viewed.
"""

from __future__ import annotations

import sys
from importlib.metadata import version as _version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "chainrule"
author = "the chainrule developers"
copyright = "chainrule developers, MIT licence"  # noqa: A001 - Sphinx's name
release = _version("chainrule")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "chainrule_docs",
]

# -- the notebook sections: site folder -> committed notebooks (repository-relative) --
# Each folder is a mirror made at build time (git-ignored); its section page in docs/
# lists it with a glob, so new notebooks appear without an edit.
chainrule_notebook_sections = {
    "notebooks": "notebooks/*.ipynb",
    # the exercises as students get them: each page is made from the teacher's version
    # by nbgrader's preprocessors (what `make exercises` runs), at build time, so a fresh
    # clone builds them and no solution is published (exercises.md lists them)
    "exercises": ("assignments/source/*/*.ipynb", "student"),
}
# A new section is one more line here pointing at the notebooks to publish, and a page
# like tutorial.md whose glob toctree lists "<folder>/*", named in index.md.

root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# -- strictness -------------------------------------------------------------------------
nitpicky = True
# Names from outside chainrule cannot be linked offline (no inventories are downloaded):
# their annotations stay plain text. Every chainrule name must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|graphviz|matplotlib|PIL|ipywidgets|collections\.abc|typing"
               r"|contextvars|argparse|pathlib|os|io|decimal|fractions|concurrent"
               r"|dataclasses|enum|types|threading|json|random|_asyncio|asyncio)\..*"),
    (r"py:.*", r"(Path|ArrayLike|NDArray|Callable|Iterable|Iterator|Sequence|Mapping"
               r"|Generator|Any|Digraph|Axes|Figure|Fraction|Decimal)"),
]

# -- API reference (autodoc + napoleon: the docstrings are Google style with reST roles)
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    # the operators, whose docstrings state their derivative rules
    "special-members": "__add__, __sub__, __mul__, __truediv__, __pow__, __rpow__, "
                       "__neg__, __abs__, __call__",
    # values such as tables of functions print addresses; the docstring says what it holds
    "no-value": True,
}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
add_module_names = False
python_display_short_literal_types = True

# -- notebooks: rendered with their committed outputs, never executed -----------------
nb_execution_mode = "off"
nb_merge_streams = True
# widgets need a live kernel (chainrule_docs replaces their outputs with a note): load
# no widget JavaScript, which would come from a CDN
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- HTML -------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"chainrule {release}"
html_static_path = ["_static"]
html_css_files = ["chainrule.css"]
html_favicon = "_static/favicon.svg"
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
# MathJax 3 from the site itself (chainrule_docs copies it): no CDN
mathjax_path = "mathjax/tex-chtml.js"
