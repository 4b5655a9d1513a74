"""The ``chainrule`` command: ``demo``, ``graph`` and ``train``.

``chainrule demo`` trains a small network on the moons data set and writes the gate
example's picture, its backward step-through, the training plots and the model into a
folder. ``chainrule graph EXPR --at x=-2,y=5 -o f.svg`` draws any arithmetic expression
with its values and gradients; the expression is parsed safely (``chainrule.viz.expr``,
never ``eval``). ``chainrule train`` trains an MLP on a TensorFlow-Playground data set.
``chainrule check FILE.py:NAME`` grades a student's own Value class: the one command
that imports (so runs) user code, which it says in its help.

Errors print one line on stderr, never a traceback, and exit with 2 for a bad argument
or expression and 1 when the work itself fails (no Graphviz, an unwritable folder).
Output files are written atomically: a failure leaves no partial file, and a failed
``demo`` or ``train`` removes the output folder it created.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

BAD_INPUT = 2
FAILED = 1


class CommandError(Exception):
    """A failure to report on one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say(*parts: Any) -> None:
    print(*parts, flush=True)


# -- helpers for output files ------------------------------------------------------------


def _output_file(path: str) -> tuple[Path, str]:
    """The checked output path and its format, before any work is done."""
    from .graph import format_for

    out = Path(path)
    if out.is_dir():
        raise CommandError(f"-o {path!r} is a folder; give a file name such as gate.svg",
                           BAD_INPUT)
    try:
        fmt = format_for(out)
    except ValueError as exc:
        raise CommandError(str(exc), BAD_INPUT) from None
    folder = out.parent
    if not folder.is_dir():
        raise CommandError(f"cannot write {path!r}: folder {str(folder)!r} does not exist",
                           BAD_INPUT)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write {path!r}: folder {str(folder)!r} is not writable",
                           BAD_INPUT)
    return out, fmt


class _OutputFolder:
    """The ``-o`` folder of ``demo`` and ``train``: checked before any work, created when
    the run starts, and if the run fails (an error, Ctrl-C) the folders it created are
    removed again with the files it wrote there: a failed run leaves nothing behind. A
    folder that was already there stays as it is (each file in it is replaced whole or
    not at all).
    """

    def __init__(self, path: str) -> None:
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"-o {path!r} exists and is not a folder", BAD_INPUT)
        missing: list[Path] = []  # the folders to create, deepest first
        existing = folder
        while not existing.exists():
            if existing.is_symlink():
                raise CommandError(f"-o {path!r}: {str(existing)!r} is a dangling symlink",
                                   BAD_INPUT)
            missing.append(existing)
            if existing.parent == existing:
                break
            existing = existing.parent
        if not existing.is_dir():
            raise CommandError(f"-o {path!r}: {str(existing)!r} is not a folder", BAD_INPUT)
        self.path, self.folder, self.missing = path, folder, missing
        self.written: list[Path] = []

    def __enter__(self) -> _OutputFolder:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._remove()
            raise CommandError(f"cannot create folder {self.path!r}: "
                               f"{exc.strerror or exc}") from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            self._remove()
            raise CommandError(f"cannot write into folder {self.path!r}: permission denied")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._remove()

    def _remove(self) -> None:
        if not self.missing:
            return  # the folder was there before: what was replaced is not coming back
        for path in self.written:
            with contextlib.suppress(OSError):
                path.unlink()
        for folder in self.missing:  # deepest first; stops at one holding other files
            try:
                folder.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                break


def _render_failure(exc: Exception) -> CommandError:
    return CommandError(_one_line(str(exc)), FAILED)


def _save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically (PNG, 110 dpi)."""
    import io

    from ._io import atomic_write

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return atomic_write(path, buffer.getvalue())


# -- chainrule graph ------------------------------------------------------------------------


def _graph(args: argparse.Namespace) -> int:
    from chainrule.engine import no_grad  # noqa: F401 - engine import checks the install

    from .expr import ExpressionError, build_expression, parse_assignments
    from .graph import (
        GraphTooLargeError,
        GraphvizNotFoundError,
        RenderError,
        RenderTimeoutError,
        draw_graph,
        save_graph,
    )
    from .steps import export_steps_html
    from .text import graph_text

    if args.output is None and not args.text and args.steps is None:
        raise CommandError("nothing to do: give -o FILE (svg, png, pdf or dot), --steps "
                           "FILE.html, or --text", BAD_INPUT)
    out = fmt = None
    if args.output is not None:
        out, fmt = _output_file(args.output)
    steps_out = None
    if args.steps is not None:
        steps_out, steps_fmt = Path(args.steps), Path(args.steps).suffix.lower()
        if steps_fmt not in (".html", ".htm"):
            raise CommandError(f"--steps {args.steps!r}: the step-through is an .html file",
                               BAD_INPUT)
        if not steps_out.parent.is_dir():
            raise CommandError(f"cannot write {args.steps!r}: folder "
                               f"{str(steps_out.parent)!r} does not exist", BAD_INPUT)
    try:
        variables = parse_assignments(args.at or "")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            root, leaves = build_expression(args.expression, variables)
            root.backward()
    except ExpressionError as exc:
        raise CommandError(str(exc), BAD_INPUT) from None
    for w in caught[:3]:
        print(f"chainrule graph: warning: {_one_line(str(w.message))}", file=sys.stderr)
    unused = [name for name in variables if name not in leaves]
    if unused:
        print(f"chainrule graph: warning: --at gives {', '.join(unused)} but the expression "
              "does not use it", file=sys.stderr)

    from ._io import format_number

    _say(f"{root.label or args.expression} = {format_number(root.data, 6)}")
    for name, leaf in leaves.items():
        _say(f"  d/d{name} = {format_number(leaf.grad, 6)}")
    if args.text:
        _say(graph_text(root))
    try:
        if out is not None:
            dot = draw_graph(root, rankdir=args.rankdir, show_grad=not args.no_grad,
                             edge_labels=args.edge_labels, max_nodes=args.max_nodes,
                             timeout=args.timeout)
            save_graph(dot, out, format=fmt)
            _say(f"wrote {out}")
        if steps_out is not None:
            export_steps_html(root, steps_out, rankdir=args.rankdir,
                              max_nodes=args.max_nodes, timeout=args.timeout,
                              title=f"Backward pass of {args.expression}")
            _say(f"wrote {steps_out}")
    except GraphTooLargeError:
        # The library's message names Python functions; a command-line user has options.
        raise CommandError(f"the graph has more than --max-nodes {args.max_nodes} values; "
                           "Graphviz would need minutes to lay it out: pass a larger "
                           "--max-nodes, or --text for a text tree", BAD_INPUT) from None
    except RenderTimeoutError:
        raise CommandError(f"Graphviz did not finish within --timeout {args.timeout:g} s: "
                           "pass a larger --timeout, or --text for a text tree") from None
    except (GraphvizNotFoundError, RenderError) as exc:
        raise _render_failure(exc) from None
    except OSError as exc:
        raise CommandError(f"cannot write output: {exc.strerror or exc}") from None
    return 0


# -- chainrule demo and train ------------------------------------------------------------------


def _gate_files(folder: Path, written: list[Path]) -> list[Path]:
    """The (x + y) z gate of the lecture notes: picture and step-through, added to
    ``written`` as they are written."""
    from chainrule.engine import Value

    from .graph import GraphvizNotFoundError, draw_graph, save_graph
    from .steps import export_steps_html

    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    _say(f"gate (x + y) z at x=-2, y=5, z=-4: f = {f.data:g}, df/dx = {x.grad:g}, "
         f"df/dy = {y.grad:g}, df/dz = {z.grad:g}")
    try:
        dot = draw_graph(f, edge_labels=True)
        written.append(save_graph(dot, folder / "gate.svg"))
        written.append(save_graph(dot, folder / "gate.png"))
        written.append(export_steps_html(f, folder / "gate_steps.html",
                                         title="Backward pass of f = (x + y) z"))
    except GraphvizNotFoundError as exc:
        print(f"chainrule demo: warning: skipped the gate pictures: {_one_line(str(exc))}",
              file=sys.stderr)
    return written


_DATASETS = ("moons", "circles", "xor", "spiral", "gaussians")
_OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")


def _train_and_plot(folder: Path, *, dataset: str, samples: int, noise: float | None,
                    hidden: list[int], activation: str, optimizer: str, lr: float | None,
                    epochs: int, batch_size: int | None, seed: int, progress: bool,
                    written: list[Path], standardize: bool = False) -> list[Path]:
    """Train an MLP, print its accuracy, and write plots and the model into ``folder``
    (each file is added to ``written`` once it exists).

    With ``standardize`` the model sees inputs rescaled to mean 0 and std 1 (the
    statistics go to ``standardizer.json``); plots stay in the data's own coordinates.
    """
    import json

    import chainrule.nn as nn

    from ._io import atomic_write
    from .graph import GraphvizNotFoundError, save_graph
    from .plots import plot_decision_boundary, plot_history, predict_grid
    from .summary import draw_summary

    make = getattr(nn, f"make_{dataset}")
    kwargs: dict[str, Any] = {"seed": seed}
    if noise is not None:
        kwargs["noise"] = noise
    X_raw, y = make(samples, **kwargs)  # noqa: N806
    scaler = nn.Standardizer().fit(X_raw) if standardize else None
    X = scaler.transform(X_raw) if scaler is not None else X_raw  # noqa: N806
    n_classes = int(y.max()) + 1
    nout = 1 if n_classes == 2 else n_classes
    model = nn.MLP(2, [*hidden, nout], activation=activation, seed=seed)
    title = f"MLP(2, {[*hidden, nout]}), {activation}, on {dataset}"
    opt_class = {"sgd": nn.SGD, "adam": nn.Adam, "rmsprop": nn.RMSprop,
                 "adagrad": nn.Adagrad}[optimizer]
    default_lr = {"sgd": 0.1, "adam": 0.01, "rmsprop": 0.01, "adagrad": 0.1}[optimizer]
    opt = opt_class(model.parameters(), lr=default_lr if lr is None else lr)
    fit_kwargs: dict[str, Any] = {"optimizer": opt, "epochs": epochs, "progress": progress}
    if batch_size is not None:
        fit_kwargs["batch_size"] = batch_size
    _say(f"training {model!r} on {samples} {dataset} points for {epochs} epochs "
         f"({optimizer}, lr {opt_kwargs_lr(opt)})")
    start = time.perf_counter()
    history = nn.fit(model, X, y, **fit_kwargs)
    elapsed = time.perf_counter() - start
    final_loss, acc = nn.evaluate(model, X, y)
    _say(f"trained in {elapsed:.1f} s: loss {final_loss:.4g}"
         + (f", training accuracy {acc:.1%}" if acc is not None else ""))
    written.append(_save_figure(plot_history(history, title=title), folder / "loss.png"))
    predict = None
    if scaler is not None:
        def predict(points: Any) -> Any:
            return predict_grid(model, scaler.transform(points))
    written.append(_save_figure(
        plot_decision_boundary(model, X_raw, y, predict=predict,
                               title=title + (f" (accuracy {acc:.1%})"
                                              if acc is not None else "")),
        folder / "decision_boundary.png"))
    model_path = folder / "model.json"
    written.append(model_path)  # listed first: a save that fails part-way leaves nothing
    model.save(model_path)
    if scaler is not None:
        stats = {"format": "chainrule-standardizer", "mean": scaler.mean.tolist(),
                 "std": scaler.std.tolist()}
        written.append(atomic_write(folder / "standardizer.json",
                                    json.dumps(stats, indent=1) + "\n"))
    # The trained network on the first sample, one box per layer.
    out = model(X[0])
    loss_root = out if not isinstance(out, list) else nn.cross_entropy(out, int(y[0]))
    loss_root.backward()
    try:
        written.append(save_graph(draw_summary(loss_root, model=model, level="layer"),
                                  folder / "network.svg"))
    except GraphvizNotFoundError as exc:
        print(f"chainrule: warning: skipped network.svg: {_one_line(str(exc))}",
              file=sys.stderr)
    finally:
        model.zero_grad()
    return written


def opt_kwargs_lr(opt: Any) -> str:
    lr = getattr(opt, "lr", None)
    return f"{lr:g}" if isinstance(lr, (int, float)) else "default"


def _demo(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    with _OutputFolder(args.output) as out:
        _gate_files(out.folder, out.written)
        _train_and_plot(
            out.folder, dataset="moons", samples=args.samples, noise=0.1, hidden=[16, 16],
            activation="tanh", optimizer="adam", lr=0.05, epochs=args.epochs,
            batch_size=None, seed=args.seed, progress=not args.no_progress,
            written=out.written)
    _say(f"done in {time.perf_counter() - start:.1f} s; wrote:")
    for path in out.written:
        _say(f"  {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    with _OutputFolder(args.output) as out:
        _train_and_plot(
            out.folder, dataset=args.dataset, samples=args.samples, noise=args.noise,
            hidden=args.hidden, activation=args.activation, optimizer=args.optimizer,
            lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
            progress=not args.no_progress, standardize=not args.no_standardize,
            written=out.written)
    _say("wrote:")
    for path in out.written:
        _say(f"  {path}")
    return 0


# -- chainrule check ---------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    """Grade a student's Value class; exit 0 when ok, 1 when not, 2 for a bad argument."""
    import json

    from chainrule.exercises import SubmissionError, check_engine, load_class
    from chainrule.exercises.submission import parse_target

    try:
        path, name = parse_target(args.target)
    except ValueError as exc:
        raise CommandError(str(exc), BAD_INPUT) from None
    if not path.is_file():
        raise CommandError(f"{str(path)!r} does not exist or is not a file", BAD_INPUT)
    label = f"{path.name}:{name}"
    try:
        cls = load_class(path, name, timeout=args.timeout)
    except SubmissionError as exc:
        if args.json:
            _say(json.dumps({"engine": label, "ok": False, "error": str(exc)}))
        raise CommandError(str(exc), FAILED) from None
    report = check_engine(cls, timeout=args.timeout, name=label)
    _say(json.dumps(report.to_dict(), indent=1) if args.json else str(report))
    return 0 if report.ok else FAILED


# -- argument parsing ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``chainrule graph: error: ...``) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if self.prog.endswith(" graph") and "EXPR" in message:
            # argparse reads a leading '-' as an option, so `graph -x` loses its EXPR
            message += (" (an expression that starts with '-' reads as an option: write it "
                        "in parentheses, '(-x)', or after --)")
        self.exit(BAD_INPUT, f"{self.prog}: error: {_one_line(message)}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _widths(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected layer widths like 16,16, got {text!r}") from None
    if not widths or any(w < 1 or w > 1024 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be 1..1024, got {text!r}")
    return widths


MAX_SEED = 2**32 - 1


def _seed(text: str) -> int:
    """A seed for numpy and Python's random: an integer from 0 to 2**32 - 1."""
    problem = f"expected an integer from 0 to {MAX_SEED}, got {text!r}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(problem)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``chainrule`` command (demo, graph, train, check)."""
    parser = _Parser(prog="chainrule", description="chainrule: scalar autodiff you can "
                     "read, and pictures of backprop.")
    from importlib.metadata import PackageNotFoundError, version
    try:
        ver = version("chainrule")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        ver = "unknown"
    parser.add_argument("--version", action="version", version=f"chainrule {ver}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    demo = commands.add_parser(
        "demo", help="train on moons and write the gate picture, step-through and plots",
        description="Train MLP(2, [16, 16, 1]) on the moons data set with a progress bar, "
        "print its accuracy, and write into a folder: the (x + y) z gate picture "
        "(gate.svg, gate.png), its backward step-through (gate_steps.html), the loss and "
        "decision-boundary plots (loss.png, decision_boundary.png), the trained network "
        "(network.svg) and the model (model.json).")
    demo.add_argument("-o", "--output", default="chainrule-demo", metavar="DIR",
                      help="output folder (default: ./chainrule-demo)")
    demo.add_argument("--epochs", type=_positive_int, default=40, help="default: 40")
    demo.add_argument("--samples", type=_positive_int, default=200,
                      help="number of moons points (default: 200)")
    demo.add_argument("--seed", type=_seed, default=0, help="0 to 2**32-1 (default: 0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)

    graph = commands.add_parser(
        "graph", help="draw an arithmetic expression's graph with values and gradients",
        description="Draw the computation graph of EXPR at the point given by --at, with "
        "each value (green) and gradient (red). EXPR may use numbers, variables, "
        "+ - * / **, unary minus, parentheses and exp log sqrt tanh sigmoid relu abs sin "
        "cos softplus swish leaky_relu elu clamp. It is parsed safely, never run as code.",
        epilog="example: chainrule graph '(x + y) * z' --at x=-2,y=5,z=-4 -o gate.svg")
    graph.add_argument("expression", metavar="EXPR", help="for example '(x + y) * z'")
    graph.add_argument("--at", default="", metavar="x=-2,y=5",
                       help="values of the variables, comma separated")
    graph.add_argument("-o", "--output", metavar="FILE",
                       help="picture to write; the format comes from the extension: "
                       ".svg .png .pdf or .dot (the DOT text, needs no Graphviz)")
    graph.add_argument("--steps", metavar="FILE.html",
                       help="also write the backward step-through as one HTML file")
    graph.add_argument("--text", action="store_true", help="print the graph as a text tree")
    graph.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR",
                       help="layout direction (default: LR, inputs on the left)")
    graph.add_argument("--no-grad", action="store_true", help="hide the gradients")
    graph.add_argument("--edge-labels", action="store_true",
                       help="label edges with local derivatives and contributions")
    graph.add_argument("--max-nodes", type=_positive_int, default=500,
                       help="refuse larger graphs (default: 500)")
    graph.add_argument("--timeout", type=_positive_float, default=30.0,
                       help="seconds Graphviz may take (default: 30)")
    graph.set_defaults(run=_graph)

    train = commands.add_parser(
        "train", help="train an MLP on a 2-D data set and write plots and the model",
        description="Train an MLP classifier on a TensorFlow-Playground data set and write "
        "loss.png, decision_boundary.png, network.svg, model.json and standardizer.json "
        "into a folder.",
        epilog="example: chainrule train --dataset spiral --hidden 16,16 --activation relu "
        "--optimizer adam --lr 0.03 --epochs 80 --batch-size 20 -o spiral")
    train.add_argument("--dataset", choices=_DATASETS, default="moons", help="default: moons")
    train.add_argument("--samples", type=_positive_int, default=200, help="default: 200")
    train.add_argument("--noise", type=_nonnegative_float, default=None,
                       help="noise of the data set (default: the data set's own)")
    train.add_argument("--hidden", type=_widths, default=[16, 16], metavar="16,16",
                       help="hidden layer widths (default: 16,16)")
    train.add_argument("--activation", default="tanh",
                       choices=("relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus",
                                "swish", "linear"), help="default: tanh")
    train.add_argument("--optimizer", choices=_OPTIMIZERS, default="adam",
                       help="default: adam")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: 0.01 for adam/rmsprop, 0.1 otherwise)")
    train.add_argument("--epochs", type=_positive_int, default=50, help="default: 50")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="samples per step (default: fit's own, 32)")
    train.add_argument("--seed", type=_seed, default=0, help="0 to 2**32-1 (default: 0)")
    train.add_argument("-o", "--output", default="chainrule-train", metavar="DIR",
                       help="output folder (default: ./chainrule-train)")
    train.add_argument("--no-standardize", action="store_true",
                       help="feed the raw coordinates (default: rescale to mean 0, std 1)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    check = commands.add_parser(
        "check", help="grade a student's own Value class (imports, so runs, FILE.py)",
        description="Check a micrograd-style Value class op by op against chainrule: "
        "forward values, local derivatives, reflected ops (2 - x), accumulation (x + x), "
        "backward's seed and order. Prints which op is wrong, how, and on which smallest "
        "expression; exits 0 when every check passes, 1 when not, 2 for a bad argument. "
        "WARNING: this imports FILE.py, which runs the code in it (all but its "
        "`if __name__ == '__main__':` block) with your permissions: check only files you "
        "would run. It is the only chainrule command that runs user code.",
        epilog="example: for f in submissions/*.py; do chainrule check \"$f:Value\"; done")
    check.add_argument("target", metavar="FILE.py:NAME",
                       help="the student's file and the class in it (NAME defaults to Value)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--timeout", type=_positive_float, default=5.0,
                       help="seconds for importing the file, and again for the checks "
                       "(default: 5)")
    check.set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"chainrule {args.command}"
    try:
        return args.run(args)
    except CommandError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line instead of a traceback, as promised
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"{prog}: error: {type(exc).__name__}: {_one_line(str(exc))} "
              "(set CHAINRULE_DEBUG=1 for the traceback)", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
