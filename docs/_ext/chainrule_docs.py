"""Sphinx glue for chainrule's documentation site.

* Notebook sections: ``chainrule_notebook_sections`` maps a folder of the site to a glob
  of committed notebooks (relative to the repository, the parent of ``docs/``), or to a
  pair ``(glob, "student")`` for exercise notebooks in nbgrader's format. Before Sphinx
  reads its sources, the matching notebooks are mirrored into ``docs/<folder>/``
  (git-ignored), so a new notebook appears in the site without an edit and a deleted
  one disappears. A ``"student"`` section mirrors what students get: each notebook goes
  through nbgrader's preprocessors (``make exercises``' own function), and one that
  still holds a solution marker stops the build, so no solution reaches the site.
* Links to repository files: a link in an included file (the README) to a notebook the
  site publishes goes to that notebook's page (``assignments/source/backprop/X.ipynb``
  to ``exercises/X``, the students' version); a link to any other repository file is a
  warning naming it, so the strict build fails rather than publish a dead link.
* README anchors: a ``#heading`` link of the README resolves on the site wherever that
  heading ended up (the README's sections are spread over several pages).
* A ``sh`` block that starts with a ``$`` prompt is a shell session (commands and their
  output): it is highlighted as ``console``, since output does not lex as shell code.
* ``Value``'s methods and operators are made from the rule table at import: their
  entries show the signature a user calls (``x.tanh()``, ``x + other``) and the text of
  every row behind them (``**`` has two: a ``Value`` exponent and a constant one).
* ``{chainrule-rules}``: the engine's derivative table, read from ``RULES`` at build time.
* ``{chainrule-cli}``: the ``--help`` of the ``chainrule`` command and each subcommand,
  read from its argument parser at build time.
* Every name in the ``__all__`` of ``chainrule_public_packages`` (``chainrule.engine``,
  ``chainrule.nn``, ``chainrule.viz``, ``chainrule.viz.playground`` and
  ``chainrule.exercises``) must be documented somewhere in the site: a missing one is a
  warning, so the strict build fails.
* MathJax is served from the site itself (copied from the installed
  ``django-static-mathjax`` package), so pages work offline and fetch nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import glob
import importlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.pycode import ModuleAnalyzer
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PUBLIC_PACKAGES = ("chainrule.engine", "chainrule.nn", "chainrule.viz",
                   "chainrule.viz.playground", "chainrule.exercises")
# Markers that nbgrader's preprocessors remove with what they enclose: one left in a
# student version is a cell not marked as a solution (or test) that still holds its answer.
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS",
                    "END HIDDEN TESTS", "BEGIN MARK SCHEME", "END MARK SCHEME")
# The parts of MathJax 3 that a page with TeX uses: the component, the extensions it
# loads on demand, the fonts, and the menu / accessibility modules.
MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2",
                 "ui", "a11y", "sre")


# -- notebooks -------------------------------------------------------------------------

def mirror_notebooks(app: Sphinx, config) -> None:
    """Copy each section's notebooks into docs/<folder>/ (only what changed), and note
    which repository file each page shows (for links to it: ``RepositoryLinks``)."""
    srcdir = Path(app.srcdir)
    root = srcdir.parent
    published: dict[Path, str] = {}
    for folder, section in config.chainrule_notebook_sections.items():
        pattern, version = (section, "committed") if isinstance(section, str) else section
        if version not in ("committed", "student"):
            raise ExtensionError(f"chainrule docs: section {folder!r}: unknown version "
                                 f"{version!r} (use 'committed' or 'student')")
        sources = sorted(Path(p) for p in glob.glob(str(root / pattern), recursive=True))
        target = srcdir / folder
        target.mkdir(exist_ok=True)
        wanted = {}
        for src in sources:
            if src.name in wanted:
                raise ValueError(f"two notebooks named {src.name} match {pattern!r}")
            try:  # a notebook that cannot be read is reported by name, and left out
                notebook = nbformat.read(src, as_version=4)
            except Exception as error:  # any reason is reported
                logger.warning("chainrule docs: %s cannot be read as a notebook: %s",
                               src, " ".join(str(error).split())[:300])
                continue
            if version == "student":
                try:
                    notebook = _student_version(notebook, src)
                except ExtensionError:
                    (target / src.name).unlink(missing_ok=True)  # no stale copy either
                    raise
            wanted[src.name] = nbformat.writes(_without_live_widgets(notebook))
            published[src.resolve()] = f"{folder}/{src.stem}"
        for old in target.glob("*.ipynb"):
            if old.name not in wanted:
                old.unlink()
        for name, text in wanted.items():
            dst = target / name
            if not dst.exists() or dst.read_text(encoding="utf-8") != text:
                dst.write_text(text, encoding="utf-8")
        if not wanted:
            logger.warning("chainrule docs: no notebook matches %r (section %r)",
                           pattern, folder)
    app.chainrule_published = published


MAKE_EXERCISES = Path(__file__).resolve().parents[2] / "scripts" / "make_exercises.py"


@functools.cache
def _make_exercises():
    spec = importlib.util.spec_from_file_location("_chainrule_make_exercises", MAKE_EXERCISES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _student_version(notebook, src: Path):
    """The student's copy of an nbgrader source notebook, as ``make exercises`` writes it
    (its own function, from ``scripts/make_exercises.py``); refused if any solution,
    hidden test or mark scheme is left in it (a cell not marked as a solution keeps its
    markers, and its answer)."""
    try:
        student = _make_exercises().student_version(notebook)
    except ImportError as error:
        raise ExtensionError(f"chainrule docs: the exercises need nbgrader ({error}); "
                             "pip install -e '.[docs]'") from error
    except Exception as error:  # nbgrader refuses, e.g. a solution outside a solution cell
        raise ExtensionError(f"chainrule docs: nbgrader cannot make the student version "
                             f"of {src}: {error}; not publishing it") from error
    for number, cell in enumerate(student.cells, 1):
        text = cell.get("source", "")
        for marker in SOLUTION_MARKERS:
            if marker in text:
                raise ExtensionError(f"chainrule docs: the student version of {src} still "
                                     f"has {marker!r} in cell {number}; not publishing it")
    return student


def keep_outputs_with_doctrees(app: Sphinx) -> None:
    """MyST-NB writes notebook images next to the output folder (``site/../``, the
    repository root); put them beside the doctrees instead, in the build folder."""
    config = getattr(app.env, "mystnb_config", None)
    if config is not None:
        folder = Path(app.doctreedir).parent / "jupyter_execute"
        app.env.mystnb_config = config.copy(output_folder=str(folder.resolve()))


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("*An interactive widget appears here when the notebook runs in Jupyter "
               "(it needs a live kernel, which a web page does not have).*")


def _without_live_widgets(notebook):
    """A widget output shows only its Python repr on a static page: say what it is."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/markdown": WIDGET_NOTE}
    return notebook


# -- links to repository files, anchors of the README, shell sessions -------------------

def _source_of(node: nodes.Node) -> str | None:
    while node is not None:
        if getattr(node, "source", None):
            return node.source
        node = node.parent
    return None


class RepositoryLinks(SphinxTransform):
    """A link to a repository file (``[x](assignments/source/backprop/x.ipynb)`` in the
    README) goes to the page that shows it; a file the site does not publish is a
    warning naming it. Runs on the read doctree, before MyST resolves links."""

    default_priority = 400

    def apply(self, **kwargs) -> None:
        published = getattr(self.app, "chainrule_published", {})
        root = Path(self.app.srcdir).parent.resolve()
        for node in list(self.document.findall(addnodes.pending_xref)):
            target = node.get("reftarget", "")
            if (node.get("reftype") != "myst" or node.get("refdomain")
                    or not target or target.startswith("#") or "://" in target):
                continue
            source = _source_of(node)
            if source is None:
                continue
            path, _, anchor = target.partition("#")
            file = (Path(source).parent / path).resolve()
            if file in published:
                node.replace_self(addnodes.pending_xref(
                    "", *node.children, refdomain="doc", reftarget=published[file],
                    reftargetid=anchor or None, refdoc=node.get("refdoc", self.env.docname),
                    reftype="myst", refexplicit=node.get("refexplicit", False),
                    classes=node.get("classes", [])))
            elif file.is_relative_to(root) and file.exists():
                logger.warning("chainrule docs: a link to the repository file %s, which "
                               "the site does not publish (link to a page of the site, "
                               "or publish the file as a notebook section)",
                               file.relative_to(root), location=node)
                node.replace_self(nodes.inline("", "", *node.children))


class ShellSessions(SphinxTransform):
    """Highlight a ``sh`` block that starts with a ``$`` prompt as a ``console`` session
    (its output lines are not shell code, and do not lex as such)."""

    default_priority = 400

    def apply(self, **kwargs) -> None:
        for block in self.document.findall(nodes.literal_block):
            if (block.get("language") in ("sh", "bash", "shell")
                    and block.astext().lstrip().startswith("$ ")):
                block["language"] = "console"


def _readme_slugs(readme: Path) -> set[str]:
    """The anchors GitHub gives the README's headings (MyST makes them the same way)."""
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode
    from myst_parser.mdit_to_docutils.base import compute_unique_slug
    from myst_parser.slugs import github_slugify

    tree = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(
        readme.read_text(encoding="utf-8")))
    slugs: set[str] = set()
    for node in tree.walk():
        if node.type == "heading":
            slugs.add(compute_unique_slug(node, slugs, github_slugify))
    return slugs


def readme_anchors(app: Sphinx, env) -> None:
    """Make each README heading's anchor a label of the page its section is on.

    A ``[Files](#files-what-is-read-and-what-is-written)`` link works on GitHub because
    the README is one page; on the site the section is on another page than the link,
    which MyST resolves only through a label. A heading whose slug is on several pages
    gets none (the link then fails the strict build, naming the anchor).
    """
    readme = Path(app.srcdir).parent / "README.md"
    if not readme.exists():
        return
    wanted = _readme_slugs(readme)
    found: dict[str, list[tuple[str, str, str]]] = {}
    for docname in sorted(env.found_docs):
        for slug, (_, section_id, title) in env.metadata[docname].get("myst_slugs",
                                                                      {}).items():
            if slug in wanted:
                found.setdefault(slug, []).append((docname, section_id, title))
    std = env.get_domain("std")
    for slug, places in found.items():
        if (len(places) != 1 or slug in std.labels or slug in std.anonlabels
                or slug in env.found_docs):  # a page's own name already resolves
            continue
        docname, section_id, title = places[0]
        std.anonlabels[slug] = (docname, section_id)
        std.labels[slug] = (docname, section_id, title)


# -- Value's methods, made from the table ------------------------------------------------

def _value_rules(name: str) -> list:
    """The rows of RULES behind ``chainrule.engine.Value.<name>`` (none for other names)."""
    owner, _, member = name.rpartition(".")
    if owner != "chainrule.engine.Value":
        return []
    from chainrule.engine import RULES

    return [rule for rule in RULES.values() if rule.method == member]


def value_op_signature(app: Sphinx, what: str, name: str, obj, options, signature,
                       return_annotation):
    """``x.tanh()``, ``x + other``, ``Value.sum(items)``: how the op is called (the
    function the table makes has the generic signature of its builder)."""
    rules = _value_rules(name)
    if not rules:
        return None
    if any(rule.arity == 0 for rule in rules):
        return "(items)", "Value"
    if name.rpartition(".")[2].startswith("__"):
        binary = any(rule.arity == 2 or rule.param is not None for rule in rules)
        return ("(other)" if binary else "()"), "Value"
    if all(rule.param is None for rule in rules):
        return "()", "Value"
    return signature, "Value"


def value_op_docstring(app: Sphinx, what: str, name: str, obj, options,
                       lines: list[str]) -> None:
    """Every row behind a method (``__pow__`` is both ``a ** b`` and ``x ** c``), in the
    words ``install`` gives one row, and where the row is in the table."""
    rules = _value_rules(name)
    if not rules:
        return
    lines[:] = []
    for rule in rules:
        lines += [f"{rule.doc}; {rule.derivative}." if rule.doc else rule.derivative, ""]
    rows = ", ".join(f"``{rule.name}``" for rule in rules)
    lines.append(f"({'Rows' if len(rules) > 1 else 'Row'} {rows} of the "
                 ":ref:`derivative table <derivative-rules>`.)")


# -- the derivative table --------------------------------------------------------------

def _text(text: str) -> nodes.paragraph:
    return nodes.paragraph("", "", nodes.Text(text))


def _literal(text: str) -> nodes.paragraph:
    return nodes.paragraph("", "", nodes.literal(text, text))


def _table(header: list[str], rows: list[list[nodes.Node]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["chainrule-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for title in header:
        row += nodes.entry("", _text(title))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", cell)
        body += row
    return table


class RulesTable(SphinxDirective):
    """The rows of ``chainrule.engine.RULES``: op, symbol, inputs, derivative."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from chainrule.engine import RULES

        arity = {0: "n", 1: "1", 2: "2"}
        rows = [[_literal(rule.name), _literal(rule.symbol),
                 _text(arity.get(rule.arity, str(rule.arity))), _literal(rule.derivative)]
                for rule in RULES.values()]
        if not rows:
            raise self.error("chainrule.engine.RULES is empty")
        return [_table(["op", "symbol", "inputs", "derivative"], rows, [12, 8, 6, 60])]


# -- the command line ------------------------------------------------------------------

class CliHelp(SphinxDirective):
    """``chainrule --help`` and ``chainrule COMMAND --help``, one literal block each."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from chainrule.viz.cli import build_parser

        # argparse wraps at the terminal's width; pin it so the page does not depend on it
        with _environ(COLUMNS="88"):
            parser = build_parser()
            parts = [("chainrule", parser.format_help())]
            for action in parser._subparsers._group_actions:  # the one subparsers action
                if isinstance(action, argparse._SubParsersAction):
                    parts += [(f"chainrule {name}", sub.format_help())
                              for name, sub in action.choices.items()]
        out: list[nodes.Node] = []
        for title, text in parts:
            section = nodes.section(ids=[nodes.make_id(title)])
            section += nodes.title(title, "", nodes.literal(title, title))
            section += nodes.literal_block(text, text, language="text")
            out.append(section)
        return out


@contextlib.contextmanager
def _environ(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# -- every public name is documented ---------------------------------------------------

def check_public_names(app: Sphinx, env) -> None:
    documented = set(env.get_domain("py").objects)
    modules = {package: importlib.import_module(package)
               for package in app.config.chainrule_public_packages}
    # a re-export (chainrule.nn.Value) counts when its original is documented
    originals = {id(getattr(modules[p], n)) for p in modules
                 for n in modules[p].__all__ if f"{p}.{n}" in documented}
    for package, module in modules.items():
        for name in module.__all__:
            if (f"{package}.{name}" not in documented
                    and id(getattr(module, name)) not in originals):
                logger.warning("chainrule docs: %s.%s is public (in __all__) but not "
                               "documented in the API reference", package, name)


# -- re-exported data keeps the docstring written where it is defined ----------------

def reexported_data_docstring(app: Sphinx, what: str, name: str, obj, options,
                              lines: list[str]) -> None:
    """``chainrule.nn.INITS`` is defined (and documented) in ``chainrule.nn.module``.

    autodoc looks for the docstring of a data item in the module named in the directive;
    for a re-export it finds none there and shows the docstring of the value's type
    (``dict``'s). Use the docstring from the submodule that defines the name instead.
    """
    if what != "data" or "." not in name:
        return
    package, short = name.rsplit(".", 1)
    for modname, module in list(sys.modules.items()):
        if not modname.startswith(package + ".") or getattr(module, short, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # no source: keep what autodoc found
            continue
        if ("", short) in docs:
            lines[:] = list(docs[("", short)])
            return


def note_bases(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    """Start a class's docstring with its public base classes, when it has any.

    (autodoc's ``show-inheritance`` also prints ``Bases: object`` and private bases such
    as ``no_grad``'s ``_ModeSwitch``, which tell a reader nothing.)
    """
    if what not in ("class", "exception"):
        return
    bases = [b for b in getattr(obj, "__bases__", ())
             if b is not object and not b.__name__.startswith("_")]
    if bases:
        names = ", ".join(f":class:`~{b.__module__}.{b.__qualname__}`"
                          if b.__module__ != "builtins" else f":class:`{b.__qualname__}`"
                          for b in bases)
        lines[:0] = [f"*Bases:* {names}", ""]


# -- MathJax, served locally -----------------------------------------------------------

def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import mathjax  # django-static-mathjax: MathJax 3 as static files

    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / part)


def setup(app: Sphinx) -> dict:
    # folder -> glob of notebooks, or (glob, "committed" | "student")
    app.add_config_value("chainrule_notebook_sections", {}, "env", types=frozenset({dict}))
    app.add_config_value("chainrule_public_packages", PUBLIC_PACKAGES, "env",
                         types=frozenset({tuple, list}))
    app.connect("config-inited", mirror_notebooks)
    app.add_transform(RepositoryLinks)
    app.add_transform(ShellSessions)
    app.connect("env-updated", readme_anchors)
    app.connect("autodoc-process-signature", value_op_signature)
    app.connect("autodoc-process-docstring", value_op_docstring)
    # after MyST-NB's own builder-inited handler (priority 500), which sets the folder
    app.connect("builder-inited", keep_outputs_with_doctrees, priority=900)
    app.connect("env-check-consistency", check_public_names)
    app.connect("build-finished", copy_mathjax)
    app.connect("autodoc-process-docstring", reexported_data_docstring)
    app.connect("autodoc-process-docstring", note_bases)
    app.add_directive("chainrule-rules", RulesTable)
    app.add_directive("chainrule-cli", CliHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
