"""Hypothesis profiles: "ci" (the default: fixed seeds, so a run is repeatable) and
"deep" (new seeds and many more examples, for a long local search):

    .venv/bin/python -m pytest tests/test_differential.py --hypothesis-profile=deep \
        --hypothesis-seed=12345 -o addopts=""
"""

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=_SLOW_OK)
settings.register_profile("deep", max_examples=50_000, deadline=None,
                          suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def swap_rule():
    """Replace a row of the rule table for one test (``swap_rule("tanh", local=...)``);
    the original row is registered again afterwards."""
    from chainrule.engine import RULES, register

    saved = {}

    def swap(name, **changes):
        saved.setdefault(name, RULES[name])
        return register(dataclasses.replace(RULES[name], **changes))

    yield swap
    for rule in saved.values():
        register(rule)


@pytest.fixture(scope="session")
def make_exercises():
    """``scripts/make_exercises.py`` as a module (it is a script, not part of the package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "make_exercises.py"
    spec = importlib.util.spec_from_file_location("make_exercises", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
