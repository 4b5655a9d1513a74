"""The ``chainrule`` command line."""

from __future__ import annotations

import argparse
import sys

from chainrule.engine import Value


def _demo(args: argparse.Namespace) -> int:
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    print("The (x + y) z gate, forward values and gradients:")
    for node in (x, y, z, q, f):
        print(f"  {node.label} = {node.data:g}   df/d{node.label} = {node.grad:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chainrule`` console script."""
    parser = argparse.ArgumentParser(prog="chainrule", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main demonstration")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
