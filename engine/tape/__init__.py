"""The tape: record the scalar graph of one sample once, replay it over a batch with numpy.

A scalar engine spends its time in Python: one object and a handful of interpreted
operations per node, and ``MLP(2, [16, 16, 1])`` on 100 points is ~37,000 nodes. The tape
records the graph of *one* sample (``fn`` applied to fresh input Values), then replays
the same graph for a whole batch at once: every node becomes a row of a
``(nodes, batch)`` array, and nodes that do the same op at the same depth of the graph
are computed by one numpy call over their gathered rows.

Example:
    >>> from chainrule.engine import Value
    >>> from chainrule.engine.tape import Tape
    >>> w, b = Value(2.0, label="w"), Value(1.0, label="b")
    >>> tape = Tape.record(lambda xs: (w * xs[0] + b).tanh(), [0.0], [w, b])
    >>> out = tape.forward([[0.0], [0.5]])         # (batch, outputs)
    >>> dx = tape.backward()                         # (batch, inputs); adds into w.grad
    >>> out.round(6).ravel().tolist(), round(w.grad, 6)
    ([0.761594, 0.964028], 0.035325)

Same numbers as the scalar path
-------------------------------
The derivative of every op comes from its row in :data:`chainrule.engine.RULES`: the
tape calls the same ``rule.local(xp, out, *inputs, arg)`` as the scalar path, with a
numpy backend ``xp``. Forward kernels follow the float kernels' IEEE semantics (``log(0)
= -inf``, ``1/0 = inf``, a negative base to a non-integer power is ``nan``). A non-finite
forward result from finite inputs gives one ``RuntimeWarning`` naming the op (one per op
per ``forward`` call, with the number of samples affected); inside ``detect_anomaly()``
the first non-finite value in forward or backward raises ``FloatingPointError`` naming
the op, the nodes involved and the sample. Results equal a loop of scalar backward
calls up to rounding: ``Value.sum`` rounds once (``math.fsum``) where the tape adds in
its own order (numpy's, or BLAS's in a matrix product), and contributions reach a node
in another order, so sums can differ by up to ``(n - 1) * 2**-53 * sum(|terms|)`` (the
README's "Numbers at the edges"); nan and inf positions are identical. A local
derivative of exactly 0 passes nothing back, as on the scalar path.

What is recorded, and what is not
---------------------------------
* **Inputs** are fresh leaf Values made from ``example``; **parameters** are the Values
  in ``params``: each ``forward`` reads their *current* ``.data``, and ``backward`` adds
  the batch sum of their gradients into ``.grad`` (as scalar backward of the summed
  loss would). Every other leaf the graph reaches is a **constant** with the number it
  had at record time. So a parameter missing from ``params`` is silently frozen.
* Every node that depends on an input or a parameter is computed per sample, also one
  that depends on parameters only (a weight penalty ``sum(p*p)``), so the gradient is
  exactly a sum of per-sample gradients, as a loop of scalar backward calls would give
  (``d * (g1 + g2)`` is not ``d * g1 + d * g2`` when ``d`` is infinite). Nodes that
  depend on neither are folded into constants.
* **Python control flow is frozen at record time.** ``fn`` runs once, on ``example``;
  the tape replays the ops that run made. ``if x.data > 0:`` (or ``if x > 0``, which
  compares ``.data``), loops whose length depends on values, ``float(v)``, ``round``,
  and anything else computed from numbers instead of Values take the branch the
  example took, for every sample. Ops that branch *inside* a rule (``relu``, ``abs``,
  ``clamp``, ``max``, ``leaky_relu``, ``elu``) are fine: the branch is an element-wise
  ``where`` in the replay. Write data-dependent choices with those ops.
* **Randomness is frozen too**: dropout drawn with ``random`` in ``fn`` keeps the mask
  of the recording for every sample and step; a traced dropout would need a random op
  in the rule table. Record without dropout (evaluation mode).
* n-ary ops (``Value.sum``, ``Value.max``) of any arity are fine; nodes of different
  arities simply run in different groups.
* A tape is not thread-safe: ``forward`` keeps the values that ``backward`` uses, in
  arrays preallocated per batch size (the last two sizes; :meth:`Tape.release` frees them).

How the replay is fast
----------------------
At record time nodes are sorted by depth (longest path from an input or parameter)
and grouped by (depth, op, arity, op argument, which operands are per-sample); each
group's operand rows and output rows are fixed index arrays. ``forward`` is then one
gather and one numpy kernel per group; ``backward`` visits the groups in reverse,
calls the rule's ``local`` once per group, and adds the contributions into the parents'
gradient rows: a slice or a fancy-index ``+=`` when the targets are distinct, a reshape
and ``sum`` when they repeat in a regular pattern (a hidden unit feeding every neuron of
the next layer), ``np.add.reduceat`` over a precomputed sorted order otherwise
(``np.add.at`` is about 6 times slower). Kernels write into arrays preallocated per batch
size: a fresh 200 kB temporary per op costs a round of page faults, which took half the
time. The hinge loss of ``MLP(2, [16, 16, 1])`` is 372 nodes per sample in 11 groups.

Layers as matrix products
-------------------------
A neuron is, in the scalar graph, a ``Value.sum`` of weight-times-input products and a
bias; the neurons of a layer share their inputs. Recording finds that pattern (every
product used only by its sum, distinct weights and inputs in a neuron, at most one
bias) and replays each layer as ``W @ X + b``, its activation (any one-input op that
follows each sum and nothing else) in the same pass, and backward as ``W.T @ G`` and
``G @ X.T``: micrograd's demo step goes from 372 nodes in 11 groups to 3 layers and 3
element-wise groups, and from about 550 to 170 microseconds. The weights are read straight from
the parameter store when a model lists them neuron by neuron (weights, then bias), as
``chainrule.nn`` does. Everything else keeps the per-op replay, and ``fuse=False``
keeps it everywhere (``repr`` shows ``layers=N`` when layers were found). The fused
replay runs when every number is finite and anomaly mode is off; otherwise the per-op
plan runs for that call, so warnings, anomaly errors and structural zeros are the same
with and without fusion. ``tests/test_tape_fusion.py`` checks fused against per-op and
scalar on random networks with twists that look like a layer and are not one.

Each group costs a few microseconds of Python, so the tape suits wide graphs replayed
over many samples; a deep chain (one node per level) replays slower than the scalar path.
Per step, each parameter also costs a few Python attribute accesses (its ``.data`` read,
its ``.grad`` added), which dominate for large models on small batches: see
``make bench``'s scaling table.
"""

from .replay import Tape, TraceError

__all__ = ["Tape", "TraceError"]
