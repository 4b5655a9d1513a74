"""Safe arithmetic expressions for ``chainrule graph``: parsed, never evaluated as code.

The text is parsed with Python's ``ast`` and then *walked* over a whitelist: numbers,
variable names given a value, ``+ - * / **``, unary ``+``/``-``, parentheses and the
functions of :func:`functions` (the rule table's). Each allowed node becomes engine ops, so the
result is a ``Value`` graph with every gradient available. Nothing is ever passed to
``eval`` or ``compile``; attributes, subscripts, other calls, lambdas, comprehensions,
strings and every other construct are refused with an :class:`ExpressionError` that
says what was found. Limits keep the work small, each with its own message: at most
:data:`MAX_LENGTH` characters, :data:`MAX_NODES` operations and operands (the size),
:data:`MAX_DEPTH` levels of nesting (the depth), and constant exponents of magnitude at
most :data:`MAX_EXPONENT`. A flat chain of ``+``/``-`` or of ``*``/``/`` is one level,
however long (``x + x + ... + x`` is large, not deep); parentheses that change the
order, function calls, unary signs and ``**`` each add a level.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping

from chainrule.engine import RULES, Value
from chainrule.engine.checks import is_real

MAX_LENGTH = 1000
MAX_NODES = 400
"""Operations and operands (numbers, names, calls) an expression may have."""
MAX_DEPTH = 50
"""Levels of nesting an expression may have (a flat chain of + or * is one level)."""
MAX_EXPONENT = 1024.0
MAX_VARIABLES = 50


class ExpressionError(ValueError):
    """An expression or a ``--at`` assignment that is not allowed or not valid."""


def functions() -> dict[str, tuple[Callable[..., Value], int]]:
    """The functions an expression may call, from the rule table: every one-input op with
    a name (``exp``, ``leaky_relu``...; those with arguments take them as constants:
    ``leaky_relu(x, 0.1)``, ``clamp(x, 0, 1)``), ``abs`` and the composition ``swish``.
    Each maps to (the function of a Value and its constants, how many constants at most).

    Example:
        >>> functions()["clamp"][1], "exp" in functions()
        (2, True)
    """
    table = {rule.name: (getattr(Value, rule.method), len(rule.arguments))
             for rule in RULES.values() if rule.arity == 1 and not rule.method.startswith("__")}
    table["abs"] = (abs, 0)  # the __abs__ operator, written abs(x)
    table["swish"] = (Value.swish, 0)
    return table


_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
# Operators that chain left to right at one precedence: a + b - c is ((a + b) - c).
_CHAINS = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}


def _chain(node: ast.AST) -> str | None:
    """The chain (sum or product) a binary operation belongs to, or None."""
    return _CHAINS.get(type(node.op)) if isinstance(node, ast.BinOp) else None
_HINTS = {
    ast.BitXor: "'^' is not a power here: use ** (x ** 2)",
    ast.Mod: "'%' is not supported",
    ast.FloorDiv: "'//' is not supported: use /",
    ast.MatMult: "'@' is not supported",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
def _allowed() -> str:
    return ("numbers, variables, + - * / **, unary minus, parentheses and the functions "
            + " ".join(functions()))


def _what(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access", ast.Subscript: "subscripts",
        ast.Lambda: "lambda", ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
        ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if-expressions",
        ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets",
        ast.JoinedStr: "f-strings", ast.NamedExpr: "assignments (:=)",
        ast.Starred: "starred arguments", ast.Await: "await",
        ast.Yield: "yield", ast.YieldFrom: "yield",
    }
    return names.get(type(node), type(node).__name__)


def parse_assignments(text: str) -> dict[str, float]:
    """``"x=-2,y=5,z=-4"`` as ``{"x": -2.0, "y": 5.0, "z": -4.0}``.

    Names must be identifiers (not function names), each given once; numbers must be
    finite. Raises :class:`ExpressionError` naming the bad part.

    Example:
        >>> parse_assignments("x=-2, y=5,z=-4")
        {'x': -2.0, 'y': 5.0, 'z': -4.0}
    """
    if not isinstance(text, str):
        raise ExpressionError(f"--at needs text like x=-2,y=5, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"--at is too long ({len(text)} characters, limit {MAX_LENGTH})")
    values: dict[str, float] = {}
    if not text.strip():
        return values
    for part in text.split(","):
        name, sep, number = part.partition("=")
        name, number = name.strip(), number.strip()
        if not sep or not name or not number:
            raise ExpressionError(f"--at: expected name=number, got {part.strip()!r}")
        if not _NAME.match(name):
            raise ExpressionError(f"--at: {name!r} is not a valid variable name")
        if name in functions():
            raise ExpressionError(f"--at: {name!r} is a function name, not a variable")
        if name in values:
            raise ExpressionError(f"--at: {name!r} is given twice")
        try:
            value = float(number)
        except ValueError:
            raise ExpressionError(f"--at: {number!r} (for {name}) is not a number") from None
        if not math.isfinite(value):
            raise ExpressionError(f"--at: {name}={number} is not a finite number")
        values[name] = value
        if len(values) > MAX_VARIABLES:
            raise ExpressionError(f"--at: more than {MAX_VARIABLES} variables")
    return values


def _parse(text: str) -> ast.expr:
    if not isinstance(text, str):
        raise ExpressionError(f"the expression must be text, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long ({len(text)} characters, "
                              f"limit {MAX_LENGTH})")
    if "\x00" in text:
        raise ExpressionError("the expression contains a NUL character")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ExpressionError(f"not a valid expression: {str(exc) or type(exc).__name__}"
                              ) from None
    # Size and depth first, iteratively, so the builder below may recurse safely: it
    # recurses once per level of depth, and walks flat chains in a loop.
    count = deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):  # operator and context markers are not parts
            count += 1
            deepest = max(deepest, depth)
        chain = _chain(node)
        for child in ast.iter_child_nodes(node):
            # the left operand of a + b - c continues the chain of a sum: same level
            flat = chain is not None and child is node.left and _chain(child) == chain
            stack.append((child, depth if flat else depth + 1))
    if count > MAX_NODES:
        raise ExpressionError(f"the expression is too large ({count} operations and "
                              f"operands, limit {MAX_NODES})")
    if deepest > MAX_DEPTH:
        raise ExpressionError(f"the expression is nested too deeply ({deepest} levels, limit "
                              f"{MAX_DEPTH}); a flat chain of + or * is one level, each "
                              "parenthesis, call, sign or ** adds one")
    return tree.body


def _constant(node: ast.AST) -> float | None:
    """The number of a literal (``2``, ``-0.5``, ``+3``), or None if it is not one."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if isinstance(node, ast.Constant):
        value = node.value
        if not is_real(value):
            return None
        try:
            number = float(value)
        except OverflowError:
            raise ExpressionError("a number in the expression is too large for a float"
                                  ) from None
        if not math.isfinite(number):
            raise ExpressionError(f"the number {ast.unparse(node)} is not finite")
        return sign * number
    return None


def _label(node: ast.AST, limit: int = 28) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Builder:
    def __init__(self, variables: Mapping[str, float]) -> None:
        self.variables = variables
        self.leaves: dict[str, Value] = {}

    def build(self, node: ast.AST) -> Value:
        out = self._build(node)
        if not out.label and not out.is_leaf:
            out.label = _label(node)
        return out

    def _operand(self, node: ast.AST) -> Value | float:
        c = _constant(node)
        return c if c is not None else self.build(node)

    def _build(self, node: ast.AST) -> Value:
        c = _constant(node)
        if c is not None:
            return Value(c)
        if isinstance(node, ast.Constant):
            raise ExpressionError(f"{type(node.value).__name__} constants are not allowed "
                                  f"({ast.unparse(node)}); use {_allowed()}")
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            raise ExpressionError(f"the operator {ast.unparse(node)[:1]!r} is not allowed; "
                                  f"use {_allowed()}")
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ExpressionError(f"{_what(node)} not allowed; use {_allowed()}")

    def _name(self, name: str) -> Value:
        if name in functions():
            raise ExpressionError(f"{name} is a function: call it, as {name}(x)")
        if name not in self.variables:
            raise ExpressionError(f"unknown name {name!r}: give it a value with --at "
                                  f"{name}=...")
        leaf = self.leaves.get(name)
        if leaf is None:
            leaf = self.leaves[name] = Value(self.variables[name], label=name)
        return leaf

    def _binop(self, node: ast.BinOp) -> Value:
        chain = _chain(node)
        if chain is None:
            self._check_operator(node)  # before anything is built: the first problem wins
            return self._apply(node, self._operand(node.left), node.right)
        # a + b - c + ...: down the left operands in a loop (a 200-term sum would
        # otherwise recurse 200 deep), then fold from the left, labelling each step.
        spine = []
        left: ast.AST = node
        while _chain(left) == chain:
            spine.append(left)
            left = left.left
        acc = self._operand(left)
        for step in reversed(spine):
            acc = self._apply(step, acc, step.right)
            if step is not node and not acc.label and not acc.is_leaf:
                acc.label = _label(step)
        return acc

    @staticmethod
    def _check_operator(node: ast.BinOp) -> None:
        op = type(node.op)
        if op not in _OPS:
            hint = _HINTS.get(op, f"the operator {type(node.op).__name__} is not allowed")
            raise ExpressionError(f"{hint}; use {_allowed()}")

    def _apply(self, node: ast.BinOp, left: Value | float, right_node: ast.AST) -> Value:
        """``left`` (already built) combined by ``node``'s operator with ``right_node``."""
        op = type(node.op)
        self._check_operator(node)
        if op is ast.Pow:
            exponent = _constant(node.right)
            if exponent is not None and abs(exponent) > MAX_EXPONENT:
                raise ExpressionError(f"the exponent {exponent:g} is too large "
                                      f"(limit {MAX_EXPONENT:g})")
        right = self._operand(right_node)
        if op is ast.Pow and isinstance(right, Value) and abs(right.data) > MAX_EXPONENT:
            # 9 ** 9 ** 9: the exponent is computed, not written; same limit
            raise ExpressionError(f"the exponent {ast.unparse(node.right)} = {right.data:g} "
                                  f"is too large (limit {MAX_EXPONENT:g})")
        if not isinstance(left, Value) and not isinstance(right, Value):
            left = Value(left)  # both constants: still one op in the picture
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op is ast.Div:
            return left / right
        return left ** right

    def _call(self, node: ast.Call) -> Value:
        func, table = node.func, functions()
        if not isinstance(func, ast.Name):
            raise ExpressionError(f"{_what(func)} not allowed; call a function by name: "
                                  + " ".join(table))
        if func.id not in table:
            raise ExpressionError(f"unknown function {func.id!r}; allowed: " + " ".join(table))
        fn, n_const = table[func.id]
        if node.keywords:
            raise ExpressionError(f"{func.id}() takes no keyword arguments")
        args = node.args
        if any(isinstance(a, ast.Starred) for a in args):
            raise ExpressionError("starred arguments not allowed")
        if not args or len(args) > 1 + n_const:
            names = ", ".join(RULES[func.id].arguments) if n_const else ""
            want = (f"one argument and up to {n_const} constant{'s' * (n_const > 1)} "
                    f"({names})" if n_const else "one argument")
            raise ExpressionError(f"{func.id}() takes {want}, got {len(args)}")
        consts = []
        for a in args[1:]:
            c = _constant(a)
            if c is None:
                raise ExpressionError(f"{func.id}(): {ast.unparse(a)!r} must be a number")
            consts.append(c)
        x = self.build(args[0])
        try:
            return fn(x, *consts)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"{func.id}(): {exc}") from None


def build_expression(text: str, variables: Mapping[str, float] | None = None
                     ) -> tuple[Value, dict[str, Value]]:
    """The ``Value`` graph of an arithmetic expression, and its variables' leaves by name.

    Interior nodes are labelled with their sub-expression (``x + y``), variables with
    their names. Nothing is evaluated as Python code.

    Example:
        >>> f, leaves = build_expression("(x + y) * z", {"x": -2, "y": 5, "z": -4})
        >>> f.backward()
        >>> f.data, leaves["x"].grad, leaves["z"].grad
        (-12.0, -4.0, 3.0)
    """
    tree = _parse(text)
    builder = _Builder(dict(variables or {}))
    root = builder.build(tree)
    if root.is_leaf and root.label == "":
        root.label = _label(tree)
    return root, builder.leaves
