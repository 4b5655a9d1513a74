"""Random expression graphs over every row of ``RULES``, and the paths they are run on.

A *program* is a few inputs and a list of steps; each step applies one op of the rule
table to earlier nodes and constants, so a program can be run again on any backend:
``Value``s (the engine), the tape (``Tape.record`` of the same program) and PyTorch
float64 tensors. The differential tests (``test_differential.py``) run random programs
at random points, edge values included, and check that every path gives the same
numbers. This module holds no tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chainrule.engine import RULES, Value
from hypothesis import strategies as st

INF, NAN = math.inf, math.nan


@dataclass(frozen=True)
class Step:
    """``op`` (a RULES name) applied to ``operands``: ``("n", i)`` is node i (the inputs
    are nodes 0..n_inputs-1), ``("c", x)`` the constant x. ``param`` is the op's argument
    (alpha, the clamp bounds, the constant exponent or base)."""

    op: str
    operands: tuple[tuple[str, Any], ...]
    param: Any = None


@dataclass(frozen=True)
class Program:
    """A random graph: its output is the last step's node."""

    n_inputs: int
    steps: tuple[Step, ...]

    def __str__(self) -> str:
        lines = [f"inputs x0..x{self.n_inputs - 1}"]
        for k, step in enumerate(self.steps):
            args = ", ".join(f"n{v}" if kind == "n" else repr(v) for kind, v in step.operands)
            param = "" if step.param is None else f" [{step.param!r}]"
            lines.append(f"n{self.n_inputs + k} = {step.op}({args}){param}")
        return "\n".join(lines)


# -- running a program ---------------------------------------------------------------------


def _value_ops() -> dict[str, Callable[..., Any]]:
    return {
        "add": lambda a, b, p: a + b,
        "sub": lambda a, b, p: a - b,
        "mul": lambda a, b, p: a * b,
        "div": lambda a, b, p: a / b,
        "pow": lambda a, b, p: a ** b,
        "powc": lambda a, p: a ** p,
        "rpow": lambda a, p: p ** a,
        "neg": lambda a, p: -a,
        "abs": lambda a, p: abs(a),
        "leaky_relu": lambda a, p: a.leaky_relu(p),
        "elu": lambda a, p: a.elu(p),
        "clamp": lambda a, p: a.clamp(*p),
        "sum": lambda xs, p: Value.sum(xs),
        "max": lambda xs, p: Value.max(xs),
        **{name: (lambda a, p, name=name: getattr(a, name)())
           for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus", "sin",
                        "cos")},
    }


VALUE_OPS = _value_ops()


def torch_ops(torch: Any) -> dict[str, Callable[..., Any]]:
    """Each op in PyTorch float64, with chainrule's documented conventions where they are
    chosen to differ (README, "Numbers at the edges"): each such line names its case."""
    f = torch.nn.functional

    def tensor(x: Any) -> Any:
        return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64)

    def c99_pow(a: Any, b: Any) -> Any:
        # Named case "pow": a negative base (-inf included) to a non-integer power is nan,
        # and (-0.0) ** 0.5 is +0.0 (C's pow); torch takes sqrt for 0.5 and C's pow
        # elsewhere. The correction is added as a constant, so torch's own derivative
        # formulas stay in place.
        a, b = tensor(a), tensor(b)
        out = torch.pow(a, b)
        fraction = torch.floor(b) != b
        fix = torch.where(fraction & (a < 0), NAN, 0.0).detach()
        return torch.where(fraction & (out == 0), out + 0.0, out) + fix

    def softplus(a: Any, p: Any) -> Any:
        # As exact as chainrule's: torch's softplus switches to x above 20, and
        # logaddexp's second derivative overflows far below 0. Each branch gets a safe
        # input (the "double where" pattern), so the other's derivative stays finite.
        positive = a > 0
        high = torch.logaddexp(torch.where(positive, a, 0.0), torch.zeros_like(a))
        return torch.where(positive, high, f.softplus(torch.where(positive, 0.0, a)))

    return {
        "add": lambda a, b, p: a + b,
        "sub": lambda a, b, p: a - b,
        "mul": lambda a, b, p: a * b,
        "div": lambda a, b, p: a / b,
        "pow": lambda a, b, p: c99_pow(a, b),
        "powc": lambda a, p: c99_pow(a, p),
        "rpow": lambda a, p: c99_pow(p, a),
        "neg": lambda a, p: -a,
        "abs": lambda a, p: a.abs(),
        "exp": lambda a, p: a.exp(),
        "log": lambda a, p: a.log(),
        "sqrt": lambda a, p: a.sqrt(),
        "tanh": lambda a, p: a.tanh(),
        "sigmoid": lambda a, p: a.sigmoid(),
        "relu": lambda a, p: a.relu(),
        "leaky_relu": lambda a, p: f.leaky_relu(a, p),
        "elu": lambda a, p: f.elu(a, p),
        "softplus": softplus,
        "sin": lambda a, p: a.sin(),
        "cos": lambda a, p: a.cos(),
        "clamp": lambda a, p: a.clamp(*p),
        "sum": lambda xs, p: torch.stack([tensor(x) for x in xs]).sum(),
        "max": lambda xs, p: torch.stack([tensor(x) for x in xs]).amax(),
    }


def run(program: Program, inputs: Sequence[Any], ops: dict[str, Callable[..., Any]]) -> list[Any]:
    """Every node of ``program`` (inputs first) computed with ``ops`` from ``inputs``."""
    nodes = list(inputs)
    for step in program.steps:
        args = [nodes[v] if kind == "n" else v for kind, v in step.operands]
        if RULES[step.op].arity == 0:
            nodes.append(ops[step.op](args, step.param))
        else:
            nodes.append(ops[step.op](*args, step.param))
    return nodes


# -- drawing random programs -------------------------------------------------------------------

# Kinks, zeros of both signs, saturation, overflow and underflow of exp, and the non-finite.
EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, 1e-8, 30.0, -30.0, 710.0,
         -750.0, INF, -INF, NAN)
# Ordinary numbers keep |x| >= 1e-3: near 1e-300, 1/x^2 overflows inside a derivative
# formula, and two engines that order a formula differently then differ (nan against a
# number) for reasons that are not the op's. The edges above cover 0 and the tiny 1e-8.
moderate = st.floats(-4.0, 4.0).filter(lambda x: abs(x) >= 1e-3)
numbers = st.one_of(st.sampled_from(EDGES), moderate)
finite_numbers = st.one_of(st.sampled_from([x for x in EDGES if math.isfinite(x)]), moderate)
CONSTANTS = (1.0, 2.0, 0.5, 0.0, -0.0, -1.0, -3.0, 0.25, 1.75, -2.5, INF)
EXPONENTS = (0.0, 0.5, -0.5, 1.0 / 3.0, 1.5, 2.0, 3.0, -1.0, -2.0)
BASES = (0.0, 0.5, 1.0, 2.0, math.e, -2.0, 10.0)
ALPHAS = (0.0, 0.01, 0.1, 1.0, 1.5)
BOUNDS = ((-1.0, 1.0), (0.0, 0.0), (0.0, INF), (-INF, 0.5), (-2.0, -1.0), (1.0, 3.0))
NAMES = tuple(sorted(RULES))


def decode(genes: Sequence[int], ops: Sequence[str] = NAMES) -> Program:
    """The program a list of small integers describes (how hypothesis draws programs:
    one list is drawn fast and shrinks well, towards few steps, the first op names and
    the newest operands). Fan-out and reuse, constants on either side, Value exponents,
    n-ary sums and maxima of 1 to 4 operands."""
    it = iter(genes)

    def gene(n: int) -> int:
        return next(it, 0) % n

    n_inputs = 1 + gene(3)
    steps = []
    for k in range(1 + gene(8)):
        newest = n_inputs + k - 1

        def node(newest: int = newest) -> tuple[str, int]:
            # The newest node most of the time (depth), any earlier one otherwise (reuse).
            pick = gene(3 * (newest + 1))
            return ("n", newest if pick <= newest + 1 else pick % (newest + 1))

        def constant() -> tuple[str, float]:
            return ("c", CONSTANTS[gene(len(CONSTANTS))])

        op = ops[gene(len(ops))]
        arity = RULES[op].arity
        param = None
        if op == "pow":
            operands = (node(), node())
        elif arity == 2:
            pair = [node(), node()]
            side = gene(8)
            if side < 2:  # a constant on one side
                pair[side] = constant()
            operands = tuple(pair)
        elif arity == 0:
            operands = tuple(constant() if gene(5) == 0 else node()
                             for _ in range(1 + gene(4)))
            if all(kind == "c" for kind, _ in operands):
                operands = (node(), *operands[1:])
        else:
            operands = (node(),)
            table = {"powc": EXPONENTS, "rpow": BASES, "leaky_relu": ALPHAS,
                     "elu": ALPHAS[2:], "clamp": BOUNDS}.get(op)
            param = None if table is None else table[gene(len(table))]
        steps.append(Step(op, operands, param))
    return Program(n_inputs, tuple(steps))


def programs(genes: int = 48, ops: Sequence[str] = NAMES) -> st.SearchStrategy[Program]:
    """Random programs over ``ops`` (see :func:`decode`)."""
    # Enough genes for the longest program (8 steps of up to 6 genes), so they seldom
    # run out (a missing gene reads as 0, the first op name).
    return st.lists(st.integers(0, 255), min_size=genes, max_size=genes).map(
        lambda g: decode(g, ops))


def points(n: int, finite: bool = False) -> st.SearchStrategy[list[float]]:
    return st.lists(finite_numbers if finite else numbers, min_size=n, max_size=n)


# -- comparing numbers ---------------------------------------------------------------------------


def same(a: float, b: float) -> bool:
    """Bit for bit as numbers: equal (+0 equals -0), or both nan."""
    return a == b or (a != a and b != b)


TINY = 2.0 ** -1022  # the smallest normal float: below it there is no relative precision


def close(a: float, b: float, scale: float, rtol: float) -> bool:
    """Equal within ``rtol`` relative to ``max(|a|, |b|, scale)`` (subnormal numbers count
    as zero); nan and infinities must match exactly."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return same(a, b)
    return abs(a - b) <= max(rtol * max(abs(a), abs(b), scale), TINY)


def magnitudes(order: list[Value], output: Value) -> tuple[dict[Value, float], dict[Value, float]]:
    """How large a rounding error can grow, per node, on the way forward and back.

    Forward, ``M(node) = max(|value|, sum_i |d_i| M(input_i))``: the absolute condition of
    the node's value in its inputs and its own rounding (for a sum that cancels, the sum
    of the terms' sizes, not the small result). Backward, ``G(node) = sum over uses of
    (|d| + 1) G(use)``: the size of the terms a gradient is summed from, plus one unit
    per edge for a local derivative computed with an absolute error (``1 - t*t`` near
    saturation). A comparison allows ``rtol`` times these. ``order`` is inputs first.
    """
    forward: dict[Value, float] = {}
    for node in order:
        through = 0.0
        for parent, d in zip(node.parents, node.local_grads):
            if d:
                through += abs(d) * forward[parent]
        size = max(abs(node.data), through)
        forward[node] = size if size == size else INF
    backward: dict[Value, float] = {output: 1.0}
    for node in reversed(order):
        g = backward.get(node, 0.0)
        for parent, d in zip(node.parents, node.local_grads):
            backward[parent] = backward.get(parent, 0.0) + (abs(d) + 1.0) * g
    return forward, backward


def torch_like_backward(output: Value, leaves: Sequence[Value]) -> list[float]:
    """First derivatives the way PyTorch's backward formulas take them: a zero local
    derivative masks (passes nothing) for relu, clamp, ``x ** 0`` and the base of
    ``a ** b`` at ``b = 0``, as PyTorch's ``where``-based formulas do; every other op
    multiplies (``0 * inf = nan``), amax and abs included (measured op by op). What
    chainrule would give without its structural zeros elsewhere: used to tell that a
    disagreement with PyTorch is that named case."""
    grads: dict[Value, float] = {output: 1.0}
    order = [n for n in _forward_order(output) if n.parents]
    for node in reversed(order):
        g = grads.get(node, 0.0)
        for i, (parent, d) in enumerate(zip(node.parents, node.local_grads)):
            masks = node.op in ("relu", "clamp") or (node.op == "powc" and node.arg == 0.0) or (
                node.op == "pow" and i == 0 and node.parents[1].data == 0.0)
            if not (masks and d == 0.0):
                grads[parent] = grads.get(parent, 0.0) + d * g
    return [grads.get(x, 0.0) for x in leaves]


def _forward_order(output: Value) -> list[Value]:
    from chainrule.viz.graph import topological_nodes

    return topological_nodes(output)


# -- random networks (the tape's fusion of layers) ---------------------------------------------

ACTIVATIONS = (None, "tanh", "relu", "sigmoid", "leaky_relu", "elu", "softplus", "exp", "abs",
               "neg", "sin", "clamp", "powc", "log", "sqrt")
# Parameters of a network program are its first nodes, in the order a model lists them
# (each neuron's weights, then its bias); inputs follow. Unused parameters stay 0.
N_PARAMS = 48


@dataclass(frozen=True)
class Network:
    """A program whose first ``N_PARAMS`` inputs are parameters: layers of neurons
    (``Value.sum`` of weight-times-input products and a bias, then an activation) with
    random twists that a fusion of layers into matrix products must respect."""

    program: Program
    n_x: int
    twists: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.program}\n(p0..p{N_PARAMS - 1} are x0..x{N_PARAMS - 1}; twists: " \
               f"{', '.join(self.twists) or 'none'})"


def decode_network(genes: Sequence[int]) -> Network:
    """The network a list of small integers describes: 1 to 3 layers of 1 to 4 neurons
    on 1 to 3 inputs, mostly plain, with twists drawn now and then: a weight or a bias
    shared by neurons, an input twice in one neuron, a product or a sum used again
    elsewhere, a product of two inputs or with a constant, a constant or an input as
    the bias, two biases, operands swapped, parameters out of order, an L2 penalty
    (``sum(p * p)``) of products of two parameters."""
    it = iter(genes)

    def gene(n: int) -> int:
        return next(it, 0) % n

    def twist(n: int, k: int) -> int:
        """One of k twists (0..k-1) with chance k/n each time, else -1; small genes (how
        hypothesis shrinks) are plain networks."""
        return gene(n) - (n - k)

    n_x = 1 + gene(3)
    steps: list[Step] = []
    twists: list[str] = []
    counter = iter(range(N_PARAMS))

    def param() -> tuple[str, int]:
        return ("n", next(counter, N_PARAMS - 1))

    def emit(op: str, operands: Sequence[tuple[str, Any]], arg: Any = None) -> tuple[str, int]:
        steps.append(Step(op, tuple(operands), arg))
        return ("n", N_PARAMS + n_x + len(steps) - 1)

    prev = [("n", N_PARAMS + i) for i in range(n_x)]
    extras: list[tuple[str, int]] = []
    for _ in range(1 + gene(3)):
        act = ACTIVATIONS[gene(len(ACTIVATIONS))]
        arg = {"leaky_relu": 0.1, "elu": 1.0, "clamp": (-1.0, 2.0), "powc": 2.0}.get(act)
        shared_weights = twist(8, 1) == 0
        first: list[tuple[str, int]] = []
        outs: list[tuple[str, Any]] = []
        last_bias: tuple[str, Any] | None = None
        for j in range(1 + gene(4)):
            bias_first = twist(10, 1) == 0  # the bias before the weights in the store
            bias = param() if bias_first else None
            terms = []
            for i, x in enumerate(prev):
                w = first[i] if shared_weights and j else param()
                if not j:
                    first.append(w)
                kind = twist(24, 5)
                if kind == 0:
                    twists.append("x*w")
                    terms.append(emit("mul", (x, w)))
                elif kind == 1:
                    twists.append("x*x")
                    terms.append(emit("mul", (x, x)))
                elif kind == 2:
                    twists.append("w*constant")
                    terms.append(emit("mul", (w, ("c", 0.5))))
                else:
                    terms.append(emit("mul", (w, x)))
                if kind == 3:
                    twists.append("product reused")
                    extras.append(terms[-1])
                if kind == 4:
                    twists.append("input twice")
                    terms.append(emit("mul", (param(), x)))
            kind = twist(12, 5)
            if kind == 0:
                twists.append("no bias")
            elif kind == 1:
                twists.append("two biases")
                terms += [param(), param()]
            elif kind == 2:
                twists.append("constant bias")
                terms.append(("c", 0.25))
            elif kind == 3:
                twists.append("input as bias")
                terms.append(prev[0])
            elif kind == 4 and last_bias is not None:
                twists.append("shared bias")
                terms.append(last_bias)
            else:
                terms.append(bias if bias_first else param())
            last_bias = terms[-1]
            if shared_weights and j:
                twists.append("shared weights")
            node = emit("sum", terms)
            if twist(10, 1) == 0:
                twists.append("sum reused")
                extras.append(node)
            if act is not None:
                node = emit(act, (node,), arg)
                if twist(10, 1) == 0:
                    twists.append("activation reused")
                    extras.append(node)
            outs.append(node)
        prev = outs
    if twist(4, 1) == 0:
        twists.append("penalty")
        ps = [("n", i) for i in range(1 + gene(6))]
        extras.append(emit("sum", [emit("mul", (p, p)) for p in ps]))
    emit("sum", prev + extras)
    return Network(Program(N_PARAMS + n_x, tuple(steps)), n_x, tuple(dict.fromkeys(twists)))


def networks(genes: int = 160) -> st.SearchStrategy[Network]:
    """Random networks (see :func:`decode_network`)."""
    return st.binary(min_size=genes, max_size=genes).map(decode_network)
