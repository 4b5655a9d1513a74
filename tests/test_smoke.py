"""The package installs under one namespace, and the README's first example holds."""

import importlib.metadata
import re
import subprocess
import sys

from chainrule.engine import Value


def test_the_version_is_the_distributions_and_the_command_line_says_it():
    version = importlib.metadata.version("chainrule")
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|(a|b|rc)\d+)?", version), version
    assert importlib.metadata.metadata("chainrule")["Name"] == "chainrule"
    done = subprocess.run([sys.executable, "-m", "chainrule.viz.cli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"chainrule {version}\n"), done.stderr


def test_gate_example_from_readme():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    f = q * z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad, q.grad) == (-12.0, -4.0, -4.0, 3.0, -4.0)
