"""chainrule's benchmark suite: ``make bench`` or ``python -m bench [workload ...]``.

Workloads (the sizes in brackets are ``--quick``'s):

``chain``     a chain of ``depth`` = 10,000 [1,000] steps ``v = v * a + b`` (2 nodes each),
              built and backpropagated: the cost of a deep, narrow graph.
``wide``      ``sum(x_i * w_i)`` over 100,000 [10,000] pairs, built and backpropagated.
``ops``       forward and backward cost per node of ``+``, ``*``, ``relu`` and ``tanh``
              (a chain of 100,000 [10,000] nodes on the scalar engines; one op over that
              many elements on the array engines). micrograd 0.1.0 has no tanh.
``mlp_step``  one step of micrograd's demo: 100 moons points, ``MLP(2, [16, 16, 1])``
              with relu, hinge loss ``relu(1 - y * score)`` averaged plus ``1e-4 * sum(p*p)``,
              zero grads, backward, SGD with lr 0.01. Same weights and data on every engine;
              the first step's loss is compared across engines.
``scaling``   the mlp_step on ``MLP(2, [w, w, 1])`` for widths 16, 64 and 256 [16, 64] and
              10, 100 and 1,000 points: tape, numpy by hand and PyTorch only, in one table
              with the ratios (where the tape's matrix products take over from Python).
``demo``      micrograd's whole demo: 100 [10] such steps with its learning-rate schedule
              ``1.0 - 0.9 k / 100``; run once per engine.
``load_csv``  ``chainrule.nn.load_csv`` on a CSV of 1,000,000 [100,000] rows (four
              features with six decimals and a 0/1 label, about 41 bytes a row): rows
              per second and peak memory, against numpy's ``loadtxt``, which checks
              nothing and names no row or column in its errors.

Engines: chainrule's scalar path, chainrule's tape (``chainrule.engine.tape``), micrograd
0.1.0 with Python's garbage collector at its defaults and with ``gc.disable()`` during the
timed region (``gc.collect()`` runs outside it, between repetitions), numpy written by
hand (forward and backward), and PyTorch CPU float64 when installed.

Method: every engine runs in its own worker process (one engine's garbage must not slow
another). Repetitions alternate between the engines (A B C ... A B C ...); each
repetition runs enough iterations for about 0.3 s; the table shows the median over
repetitions of the time per iteration. Peak memory (chain, mlp_step, load_csv) is
measured in a fresh process per engine (one untimed run): the growth of the peak resident
set, and the peak of Python's traced allocations (``tracemalloc``; it does not see
PyTorch's tensors).
Workers run with one BLAS/OpenMP thread.
"""
