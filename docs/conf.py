"""Sphinx configuration of the course website: ``make site`` (docs/build.py) stages the README and the stored
notebooks next to this file's copy and builds them with myst-nb, nothing executed, nothing fetched."""

from __future__ import annotations

from docutils import nodes
from docutils.utils.math.latex2mathml import tex2mathml

project = "dlopt-kit"
author = "dlopt-kit"
copyright = "dlopt-kit"  # noqa: A001 - Sphinx's name for it

extensions = ["myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", ".doctrees", "**.ipynb_checkpoints"]
root_doc = "index"

nb_execution_mode = "off"  # outputs, figures and tables exactly as stored
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN: panels are shown as screenshots instead
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "dlopt-kit: deep-learning optimization, a course"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_copy_source = False
html_show_sourcelink = False
html_math_renderer = "mathml"  # math as MathML, rendered by the browser: MathJax would come from a CDN
suppress_warnings = ["myst.header"]


def _inline_math(self, node: nodes.Element) -> None:
    self.body.append(tex2mathml(node.astext()))
    raise nodes.SkipNode


def _block_math(self, node: nodes.Element) -> None:
    self.body.append(f'<div class="math">{tex2mathml(node.astext(), as_block=True)}</div>')
    raise nodes.SkipNode


def setup(app) -> None:  # noqa: ANN001 - Sphinx's application object
    app.add_html_math_renderer("mathml", (_inline_math, None), (_block_math, None))
