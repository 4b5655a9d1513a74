"""The package installs under one namespace, and the README's first example holds."""

import importlib.metadata

from chainrule.engine import Value


def test_version_comes_from_metadata():
    assert importlib.metadata.version("chainrule")


def test_gate_example_from_readme():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    f = q * z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad, q.grad) == (-12.0, -4.0, -4.0, 3.0, -4.0)
