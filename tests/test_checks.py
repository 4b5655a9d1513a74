"""chainrule.engine.checks: the argument checks that nn, viz and exercises share.

One definition of "a number, not a bool" and of the usual option kinds (a count, an int
in a range, a fraction, a rate, a switch), each naming the argument and what was given.
"""

from __future__ import annotations

import ast
import fractions
import math
from pathlib import Path

import numpy as np
import pytest
from chainrule.engine.checks import (
    flag,
    fraction,
    int_in,
    integer,
    is_integer,
    is_real,
    number,
    positive_int,
)

ROOT = Path(__file__).resolve().parent.parent


def test_a_bool_is_never_a_number_but_numpy_numbers_and_fractions_are():
    for yes in (0, -3, 2.5, math.inf, np.float32(0.5), np.int64(7), fractions.Fraction(1, 3)):
        assert is_real(yes), yes
    for no in (True, False, np.True_, "2", None, 1j, [1.0]):
        assert not is_real(no), no
    assert [is_integer(x) for x in (3, np.int8(3), 3.0, True, "3")] == [
        True, True, False, False, False]


def test_numbers_come_back_converted():
    assert number(np.float32(0.5), "p") == 0.5 and type(number(1, "p")) is float
    assert fraction(fractions.Fraction(1, 4), "val") == 0.25
    assert positive_int(np.int64(32), "batch_size") == 32
    assert type(positive_int(np.int64(32), "batch_size")) is int
    assert int_in(17, "precision", 1, 17) == 17 and flag(False, "shuffle") is False
    assert number(math.inf, "max_norm", low=0.0, finite=False) == math.inf


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: number("0.1", "lr"), TypeError, "lr must be a real number, got str"),
    (lambda: number(True, "lr"), TypeError, "lr must be a real number, got bool"),
    (lambda: number(math.nan, "noise", low=0.0), ValueError,
     "noise must be finite and >= 0, got nan"),
    (lambda: number(-1, "noise", low=0.0), ValueError, "noise must be finite and >= 0, got -1"),
    (lambda: number(math.inf, "x"), ValueError, "x must be finite, got inf"),
    (lambda: number(0.0, "lr", low=0.0, low_open=True), ValueError,
     "lr must be finite and > 0, got 0.0"),
    (lambda: number(math.nan, "t", finite=False), ValueError,
     r"t must be a number \(not nan\), got nan"),
    (lambda: fraction(1, "val"), ValueError, r"val must be a fraction in \[0, 1\), got 1"),
    (lambda: fraction("a", "val"), ValueError, r"val must be a fraction in \[0, 1\), got 'a'"),
    (lambda: integer(2.0, "k"), TypeError, "k must be an int, got float 2.0"),
    (lambda: integer(1, "k", minimum=2), ValueError, "k must be >= 2, got 1"),
    (lambda: integer(np.int64(9), "k", maximum=5), ValueError, "k must be <= 5, got 9"),
    (lambda: positive_int(0, "epochs"), ValueError, "epochs must be a positive int, got 0"),
    (lambda: positive_int(2.5, "epochs"), ValueError, "epochs must be a positive int, got 2.5"),
    (lambda: positive_int(True, "epochs"), ValueError, "epochs must be a positive int, got True"),
    (lambda: int_in(0, "precision", 1, 17), ValueError,
     "precision must be an int from 1 to 17, got 0"),
    (lambda: flag(1, "shuffle"), TypeError, "shuffle must be True or False, got int 1"),
])
def test_refusals_name_the_argument_and_what_was_given(call, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        call()


def test_an_option_can_keep_its_documented_wording():
    # PyTorch's words for an optimizer, one message for a wrong type or value
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0.1$"):
        number(-0.1, "lr", low=0.0, low_open=True, message="Invalid learning rate: {value}",
               type_error=ValueError)
    # {got}: the type as well as the value when the type is wrong
    template = "{name} must be a positive int, got {got}"
    with pytest.raises(TypeError, match=r"^nin must be a positive int, got float 2.0$"):
        integer(2.0, "nin", minimum=1, message=template)
    with pytest.raises(ValueError, match=r"^nin must be a positive int, got 0$"):
        integer(0, "nin", minimum=1, message=template)
    # a wording for the wrong type only, the default for the wrong value
    with pytest.raises(TypeError, match=r"^alpha: not a number \(str\)$"):
        number("a", "alpha", type_message="{name}: not a number ({type})")
    with pytest.raises(ValueError, match=r"^alpha must be finite, got inf$"):
        number(math.inf, "alpha", type_message="{name}: not a number ({type})")


def _hand_written_number_checks(path: Path) -> list[int]:
    """Lines of ``path`` that test ``isinstance(x, bool)`` together with a number type:
    the check this module exists for, written again by hand."""
    numeric = {"numbers.Real", "numbers.Integral", "int", "float", "(int, float)",
               "(int, np.integer)", "(numbers.Real, np.floating)"}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.BoolOp):
            continue
        kinds = {ast.unparse(call.args[1]) for call in ast.walk(node)
                 if isinstance(call, ast.Call) and ast.unparse(call.func) == "isinstance"
                 and len(call.args) == 2}
        if kinds & {"bool", "(bool, np.bool_)"} and kinds & numeric:
            found.append(node.lineno)
    return found


def test_nn_viz_and_exercises_check_numbers_in_one_place():
    files = [p for d in ("nn", "viz", "exercises") for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 20
    offenders = {str(p.relative_to(ROOT)): lines for p in files
                 if (lines := _hand_written_number_checks(p))}
    assert offenders == {}
