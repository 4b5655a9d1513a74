"""Graph structure: fan-out, backward twice, deep graphs, determinism, cycles, memory.

BAD_INPUTS 9, 11, 27-35. The semantics under test (DESIGN.md): backward is iterative
and deterministic; leaves accumulate (+=) so a second call doubles them, interior
nodes are recomputed so they never double; every node's .grad is readable after.
"""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import textwrap

import pytest
from chainrule.engine import Value, backward_order, grad, no_grad

# -- fan-out and reuse (BAD_INPUTS 28; micrograd #2, tinygrad's (x+x)*x) ----------------------


def test_a_plus_a_counts_both_uses():
    a = Value(3.0)
    b = a + a
    b.backward()
    assert (b.data, a.grad) == (6.0, 2.0)


def test_x_times_x_is_2x():
    x = Value(-3.0)
    (x * x).backward()
    assert x.grad == -6.0


def test_x_plus_x_times_x():
    """(x + x) * x = 2x^2, derivative 4x; the fan-out regression test of tinygrad."""
    x = Value(1.5)
    y = (x + x) * x
    y.backward()
    assert (y.data, x.grad) == (4.5, 6.0)


def test_diamond_b_is_a_plus_a_c_is_b_plus_b():
    a = Value(1.0, label="a")
    b = a + a
    c = b + b
    c.backward()
    assert (c.data, a.grad, b.grad, c.grad) == (4.0, 4.0, 2.0, 1.0)


def test_shared_interior_node_feeds_two_paths():
    x = Value(2.0)
    s = x * 3.0  # used twice below
    y = s * s + s.tanh()
    y.backward()
    # dy/ds = 2s + (1 - tanh(s)^2), ds/dx = 3
    t = s.tanh().data
    assert s.grad == pytest.approx(2 * 6.0 + (1 - t * t), rel=1e-15)
    assert x.grad == pytest.approx(3 * s.grad, rel=1e-15)


def test_a_node_is_processed_after_every_node_it_feeds():
    """c = a + a*a reaches a before a*a; backward must still finish a*a first
    (it visits newest first), or a would pass on only part of its gradient."""
    x = Value(2.0)
    a = x * 3.0
    c = a + a * a
    c.backward()
    assert (a.grad, x.grad) == (13.0, 39.0)  # dc/da = 1 + 2a
    assert backward_order(c) == [c, c.parents[1], a]


def test_sum_of_the_same_value_several_times():
    x = Value(2.0)
    Value.sum([x, x, x]).backward()
    assert x.grad == 3.0


def test_two_distinct_nodes_with_equal_data_both_get_gradients():
    """``==`` is identity, so equal numbers are still two nodes (BAD_INPUTS 9)."""
    a, b = Value(2.0), Value(2.0)
    assert a != b and len({a, b}) == 2
    (a * b).backward()
    assert (a.grad, b.grad) == (2.0, 2.0)


def test_comparisons_look_at_data_and_equality_is_identity():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a and a < 1.5 and b >= 2
    assert a == a and a != Value(1.0)
    assert {a: "x"}[a] == "x"


# -- backward twice (BAD_INPUTS 30, micrograd #53) ---------------------------------------------


def test_backward_twice_doubles_leaves_but_not_interior_nodes():
    """micrograd #53: a = 3, b = 2, c = a + b, d = 1, e = c * d, then e.backward() twice.
    micrograd gives a = b = 3, c = 2 after the second call; here leaves accumulate to
    exactly twice their gradient and interior nodes are recomputed."""
    a, b, d = Value(3.0, label="a"), Value(2.0, label="b"), Value(1.0, label="d")
    c = a + b
    e = c * d
    e.backward()
    assert (a.grad, b.grad, c.grad, d.grad, e.grad) == (1.0, 1.0, 1.0, 5.0, 1.0)
    e.backward()
    assert (a.grad, b.grad, c.grad, d.grad, e.grad) == (2.0, 2.0, 1.0, 10.0, 1.0)


def test_backward_marks_the_nodes_each_walk_reaches():
    """Each walk marks the nodes it reaches with a mark of its own: an interior gradient
    left at 0.0 by an earlier call must not look reached, and gradients start from +0.0."""
    x = Value(2.0)
    h = x * 3.0
    y = h * h + h  # dy/dh = 2h + 1 = 13
    y.backward()
    h.grad = 0.0
    y.backward()
    assert (h.grad, x.grad) == (13.0, 78.0)
    r = Value(1.0).relu()
    (r * Value(-0.0)).backward()  # r's only contribution is -0.0; 0.0 + -0.0 is +0.0
    assert math.copysign(1.0, r.grad) == 1.0


def test_zero_grad_resets_everything_reachable():
    a, b = Value(3.0), Value(2.0)
    c = (a + b) * b
    c.backward()
    c.zero_grad()
    assert (a.grad, b.grad, c.grad) == (0.0, 0.0, 0.0)
    c.backward()
    assert (a.grad, b.grad) == (2.0, 7.0)


def test_backward_seed_scales_everything():
    x = Value(2.0)
    y = x * x
    y.backward(grad=0.5)
    assert (y.grad, x.grad) == (0.5, 2.0)


def test_backward_from_an_interior_node():
    x = Value(2.0)
    h = x * 3.0
    y = h * h
    h.backward()
    assert x.grad == 3.0 and y.grad == 0.0  # y is downstream: not part of this pass


def test_backward_on_a_leaf_sets_its_grad_to_one():
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0
    x.backward()
    assert x.grad == 2.0  # a leaf accumulates


def test_backward_on_a_no_grad_result_raises():
    x = Value(4.0)
    with no_grad():
        y = x * 2.0
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()
    assert x.grad == 0.0


def test_every_node_grad_is_readable_after_backward():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    f = q * z
    f.backward()
    assert (f.grad, q.grad, x.grad, y.grad, z.grad) == (1.0, -4.0, -4.0, -4.0, 3.0)


# -- detach, constants, unreachable leaves (BAD_INPUTS 35) -------------------------------------


def test_detach_blocks_flow():
    x = Value(3.0, label="x")
    y = x * x
    c = y.detach()
    assert c.is_leaf and c.data == 9.0 and c.label == y.label
    z = c * x  # only the direct use of x carries a gradient
    z.backward()
    assert x.grad == 9.0 and y.grad == 0.0 and c.grad == 3.0


def test_unreachable_leaves_keep_grad_zero():
    x, unused = Value(1.0), Value(2.0)
    other = unused * 3.0
    (x * 2.0).backward()
    assert unused.grad == 0.0 and other.grad == 0.0


def test_constant_operands_do_not_leak_into_inputs():
    x = Value(2.0)
    y = 3.0 * x + 1.0
    y.backward()
    assert x.grad == 3.0
    assert all(p.is_leaf for p in y.parents[0].parents)


# -- deep graphs (BAD_INPUTS 27) ---------------------------------------------------------------


def test_million_node_chain_has_no_recursion_anywhere():
    """1,000,000 nodes: backward, repr, zero_grad and freeing never recurse.

    A chain of negations: y = -(-(...-x)), an even number of times, so y = x and
    every node's gradient is exactly +-1.
    """
    x = Value(0.75, label="x")
    y = x
    for _ in range(1_000_000):
        y = -y
    assert y.data == 0.75
    order = backward_order(y)
    assert len(order) == 1_000_000 and order[0] is y
    y.backward()
    assert x.grad == 1.0
    middle = order[500_000]  # 500,000 negations above it: its gradient is (-1)**500000
    assert middle.grad == 1.0 and order[1].grad == -1.0
    assert repr(y) == "Value(data=0.75, grad=1.0, op='neg')"
    y.zero_grad()
    assert x.grad == 0.0 and middle.grad == 0.0
    del order, middle
    del y  # freeing a million-deep chain must not overflow the C stack


def test_builtin_sum_of_twenty_thousand_terms():
    """builtin sum() makes a 20,000-deep chain of additions (micrograd's RecursionError)."""
    xs = [Value(float(i)) for i in range(20_000)]
    total = sum(xs)
    total.backward()
    assert total.data == sum(range(20_000))
    assert all(x.grad == 1.0 for x in xs)


def test_value_sum_is_one_node():
    xs = [Value(float(i)) for i in range(20_000)]
    total = Value.sum(xs)
    assert len(backward_order(total)) == 1 and len(total.parents) == 20_000
    total.backward()
    assert all(x.grad == 1.0 for x in xs)


def test_value_sum_takes_numbers_and_value_subclasses_among_values():
    """Items that are not exactly Values leave the fast path and are converted there."""

    class Named(Value):
        __slots__ = ()

    a, b = Value(1.0), Named(2.0)
    total = Value.sum([a, 3, b, 0.5])
    assert total.data == 6.5 and total.parents[1].data == 3.0
    total.backward()
    assert (a.grad, b.grad) == (1.0, 1.0)
    assert Value.sum((b,)).parents == (b,)


# -- determinism (BAD_INPUTS 33) -------------------------------------------------------------------

DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import random
    from chainrule.engine import Value

    rng = random.Random(7)
    xs = [Value(rng.uniform(-1, 1)) for _ in range(40)]
    hidden = []
    for j in range(30):
        terms = [xs[(i * 7 + j) % 40] * rng.uniform(-1, 1) for i in range(12)]
        hidden.append(Value.sum(terms).tanh())
    out = sum(h * h for h in hidden) + Value.max(hidden[:5]) + hidden[0] * hidden[1]
    out.backward()
    print(" ".join(x.grad.hex() for x in xs))
    """
)


def _run_determinism_graph() -> str:
    namespace: dict = {}
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(DETERMINISM_SCRIPT, "<determinism>", "exec"), namespace)
    return buffer.getvalue().strip()


def test_gradients_are_bit_identical_across_runs():
    first, second = _run_determinism_graph(), _run_determinism_graph()
    assert first == second


def test_gradients_are_bit_identical_across_processes_and_hash_seeds():
    """Parents are kept in order, never in a set: a different hash seed (and different
    object ids) in a fresh process gives the very same bits."""
    outputs = set()
    for seed in ("0", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT],
            capture_output=True, text=True, check=True, timeout=60,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        outputs.add(result.stdout.strip())
    assert outputs == {_run_determinism_graph()}


def test_backward_order_puts_every_node_before_its_inputs():
    x, y = Value(1.0), Value(2.0)
    a = x * y
    b = a + x
    c = b * a
    order = backward_order(c)
    assert order[0] is c and set(order) == {a, b, c}
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent in node.parents:
            if parent in position:
                assert position[parent] > position[node]
    assert backward_order(x) == []


# -- tampered graphs (BAD_INPUTS 29) -----------------------------------------------------------


def test_a_cycle_made_by_editing_parents_is_detected():
    """Public ops cannot make a cycle; editing the private parent slot can."""
    a = Value(1.0, label="a")
    b = a * 2.0
    b.label = "b"
    c = b + 1.0
    c.label = "c"
    b._a = c  # b now depends on c, which depends on b
    with pytest.raises(ValueError, match="cycle"):
        c.backward()
    with pytest.raises(ValueError, match="cycle"):
        grad(c, [a])
    with pytest.raises(ValueError, match="cycle"):
        backward_order(c)


def test_a_node_that_is_its_own_input_is_a_cycle():
    a = Value(1.0)
    b = a * a
    b._b = b
    with pytest.raises(ValueError, match="cycle"):
        b.backward()


def test_zero_grad_refuses_a_tampered_cycle_like_backward():
    a = Value(1.0)
    b = a + 1.0
    c = b * 2.0
    b._a = c
    with pytest.raises(ValueError, match="cycle in the graph"):  # (and never loops)
        c.zero_grad()


# -- saved values (BAD_INPUTS 11) ------------------------------------------------------------------


def test_backward_uses_the_local_derivatives_saved_at_forward_time():
    """Documented choice: changing .data after the forward pass does not change the
    graph's gradients (the local derivative 2x was saved when x * x ran)."""
    x = Value(3.0)
    y = x * x
    x.data = 100.0
    y.backward()
    assert x.grad == 6.0
    assert y.local_grads == (3.0, 3.0)


# -- memory without the cyclic garbage collector (BAD_INPUTS 34) -----------------------------------


def _live_values() -> int:
    return sum(1 for obj in gc.get_objects() if type(obj) is Value)


def test_graph_memory_is_freed_by_reference_counting_alone():
    """Nodes hold their parents and plain floats, no closures: a dropped graph is freed
    at once, with the cyclic collector switched off."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = _live_values()
        xs = [Value(float(i)) for i in range(200)]
        out = Value.sum([(x * x).tanh() + x.exp() / 3.0 for x in xs])
        out.backward()
        (g,) = grad(out, [xs[0]], create_graph=True)
        grad(g, [xs[0]])
        assert _live_values() > before + 1000
        del xs, out, g
        assert _live_values() == before
        assert gc.collect() == 0  # nothing was waiting for the cyclic collector
    finally:
        if was_enabled:
            gc.enable()


def test_truth_value_is_the_numbers_like_a_float_or_a_torch_scalar():
    assert not Value(0.0) and not Value(-0.0)
    assert Value(1e-300) and Value(-2.0) and Value(math.nan)
    loss = Value(3.0) - 3.0
    assert not loss  # `if loss:` reads the number, not the object


def test_nodes_pickle_and_deepcopy_with_their_rules_found_by_name():
    import copy
    import pickle

    x = Value(2.0, label="x")
    y = (x * 3).tanh() + x.leaky_relu(0.1)
    y.backward()
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        assert clone.rule is y.rule and clone.parents[0].rule is y.parents[0].rule
        assert (clone.data, clone.grad, clone.op) == (y.data, y.grad, "add")
        clone.backward()
        (cx,) = [n for n in _leaves(clone) if n.label == "x"]
        assert cx.grad == x.grad * 2  # the copy's leaf accumulated a second time
    with pytest.raises(ValueError, match="no rule named 'nope'"):
        from chainrule.engine.rules import _rule_named

        _rule_named("nope")


def _leaves(root):
    seen, stack, out = {root}, [root], []
    while stack:
        node = stack.pop()
        if node.is_leaf:
            out.append(node)
        for p in node.parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return out


def test_a_cycle_through_an_n_ary_sum_is_refused():
    a = Value(1.0)
    s = Value.sum([a, a * 2.0])
    t = s * 3.0
    s._a = (a, t)  # the sum now reads its own consumer
    with pytest.raises(ValueError, match="cycle in the graph"):
        t.backward()
