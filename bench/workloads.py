"""The workloads, written once per engine with the same math.

Each ``make_<workload>(engine, spec)`` returns a *runner*: a function of no arguments that
does one iteration and returns ``(phases, result)``, where ``phases`` maps a phase name
(``"total"``, or ``"forward"``/``"backward"``) to seconds and ``result`` is a number the
harness compares across engines (a loss, or a sum of gradients). Setup (making leaves,
models, data, recording a tape) happens outside the runner and is not timed.

Engines are imported lazily, so a micrograd worker never imports chainrule or torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

Runner = Callable[[], tuple[dict[str, float], Any]]
clock = time.perf_counter

ENGINES = ("micrograd", "micrograd-nogc", "chainrule", "chainrule-nogc", "tape", "numpy", "torch")
LABELS = {
    "micrograd": "micrograd 0.1.0 (gc on)",
    "micrograd-nogc": "micrograd 0.1.0 (gc off)",
    "chainrule": "chainrule scalar (gc on)",
    "chainrule-nogc": "chainrule scalar (gc off)",
    "tape": "chainrule tape",
    "numpy": "numpy by hand",
    "torch": "PyTorch CPU float64",
}
OPS = ("add", "mul", "relu", "tanh")
A, B = 0.999, 0.001  # the chain's v = v * A + B: stays near 1, never overflows


def moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's make_moons layout with labels -1/+1 (as in micrograd's demo)."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0, t1 = np.linspace(0.0, np.pi, n0), np.linspace(0.0, np.pi, n - n0)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),  # noqa: N806
                        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])])
    X = X + rng.normal(0.0, noise, X.shape)  # noqa: N806
    y = np.concatenate([-np.ones(n0), np.ones(n - n0)])
    order = rng.permutation(n)
    return X[order], y[order]


def _micrograd() -> Any:
    # micrograd's topological sort recurses once per graph level: the worker process
    # raises the recursion limit (never the caller's process, whose C stack may then
    # overflow on some unrelated deep recursion).
    import micrograd.engine

    return micrograd.engine.Value


# -- chain: v = v * a + b, depth times ------------------------------------------------------


def make_chain(engine: str, spec: dict) -> Runner:
    depth = spec["depth"]
    if engine in ("chainrule", "micrograd"):
        V = _value_class(engine)  # noqa: N806
        a, b = V(A), V(B)

        def run() -> tuple[dict[str, float], float]:
            t = clock()
            x = V(0.5)
            v = x
            for _ in range(depth):
                v = v * a + b
            v.backward()
            return {"total": clock() - t}, x.grad

        return run
    if engine == "tape":
        from chainrule.engine.tape import Tape

        def chain_fn(xs: list) -> Any:
            v = xs[0]
            for _ in range(depth):
                v = v * A + B
            return v

        tape = Tape.record(chain_fn, [0.5], [])
        x1 = np.array([[0.5]])

        def run() -> tuple[dict[str, float], float]:
            t = clock()
            tape.forward(x1)
            dx = tape.backward()
            return {"total": clock() - t}, float(dx[0, 0])

        return run
    if engine == "numpy":  # by hand: one sample is plain floats, forward then backward

        def run() -> tuple[dict[str, float], float]:
            t = clock()
            v = 0.5
            for _ in range(depth):
                v = v * A + B
            g = 1.0
            for _ in range(depth):
                g = g * A  # d(v a + b)/dv = a
            return {"total": clock() - t}, g

        return run
    torch = _torch()

    def run() -> tuple[dict[str, float], float]:
        t = clock()
        x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        v = x
        for _ in range(depth):
            v = v * A + B
        v.backward()
        return {"total": clock() - t}, float(x.grad)

    return run


# -- wide: sum of n products ------------------------------------------------------------------


def make_wide(engine: str, spec: dict) -> Runner:
    n = spec["n"]
    rng = np.random.default_rng(0)
    xs_data, ws_data = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    if engine in ("chainrule", "micrograd"):
        V = _value_class(engine)  # noqa: N806
        xs = [V(float(v)) for v in xs_data]
        ws = [V(float(v)) for v in ws_data]
        if engine == "chainrule":
            total = V.sum  # one n-ary node: chainrule's idiom
        else:
            def total(terms: Any) -> Any:
                return sum(terms)  # micrograd has no n-ary sum: n - 1 additions

        def run() -> tuple[dict[str, float], float]:
            for w in ws:
                w.grad = 0.0
            t = clock()
            out = total([x * w for x, w in zip(xs, ws)])
            out.backward()
            elapsed = clock() - t
            return {"total": elapsed}, sum(w.grad for w in ws)

        return run
    if engine == "tape":
        from chainrule.engine import Value
        from chainrule.engine.tape import Tape

        ws = [Value(float(v)) for v in ws_data]
        tape = Tape.record(lambda v: Value.sum([x * w for x, w in zip(v, ws)]), xs_data, ws)
        batch = xs_data[None, :]

        def run() -> tuple[dict[str, float], float]:
            for w in ws:
                w.grad = 0.0
            t = clock()
            tape.forward(batch)
            tape.backward()
            elapsed = clock() - t
            return {"total": elapsed}, sum(w.grad for w in ws)

        return run
    if engine == "numpy":

        def run() -> tuple[dict[str, float], float]:
            t = clock()
            _ = float(xs_data @ ws_data)
            grad_w, _grad_x = xs_data.copy(), ws_data.copy()  # d/dw = x, d/dx = w
            return {"total": clock() - t}, float(grad_w.sum())

        return run
    torch = _torch()
    x = torch.tensor(xs_data, requires_grad=True)
    w = torch.tensor(ws_data, requires_grad=True)

    def run() -> tuple[dict[str, float], float]:
        x.grad = w.grad = None
        t = clock()
        (x * w).sum().backward()
        return {"total": clock() - t}, float(w.grad.sum())

    return run


# -- ops: cost per node of +, *, relu, tanh ----------------------------------------------------


def make_ops(engine: str, spec: dict) -> Runner:
    op, n = spec["op"], spec["n"]
    if engine in ("chainrule", "micrograd"):
        V = _value_class(engine)  # noqa: N806
        if op == "tanh" and not hasattr(V, "tanh"):
            raise NotImplementedError("micrograd 0.1.0 has no tanh")
        c = V(1.0 if op == "add" else 1.0000001)
        step = {
            "add": lambda v: v + c,
            "mul": lambda v: v * c,
            "relu": lambda v: v.relu(),
            "tanh": lambda v: v.tanh(),
        }[op]

        def run() -> tuple[dict[str, float], float]:
            x = V(0.5)
            v = x
            t0 = clock()
            for _ in range(n):
                v = step(v)
            t1 = clock()
            v.backward()
            t2 = clock()
            return {"forward": t1 - t0, "backward": t2 - t1}, x.grad

        return run
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 1.0, n), rng.uniform(0.1, 1.0, n)
    if engine == "tape":
        from chainrule.engine.tape import Tape

        fn = {
            "add": lambda v: v[0] + v[1],
            "mul": lambda v: v[0] * v[1],
            "relu": lambda v: v[0].relu(),
            "tanh": lambda v: v[0].tanh(),
        }[op]
        tape = Tape.record(fn, [0.5, 0.5], [])
        batch = np.column_stack([a, b])

        def run() -> tuple[dict[str, float], float]:
            t0 = clock()
            tape.forward(batch)
            t1 = clock()
            dx = tape.backward()
            t2 = clock()
            return {"forward": t1 - t0, "backward": t2 - t1}, float(dx[:, 0].sum())

        return run
    if engine == "numpy":
        g = np.ones(n)

        def run() -> tuple[dict[str, float], float]:
            t0 = clock()
            if op == "add":
                out = a + b
            elif op == "mul":
                out = a * b
            elif op == "relu":
                out = np.maximum(a, 0.0)
            else:
                out = np.tanh(a)
            t1 = clock()
            if op == "add":
                ga, _gb = g.copy(), g.copy()
            elif op == "mul":
                ga, _gb = g * b, g * a
            elif op == "relu":
                ga = g * (a > 0.0)
            else:
                ga = g * (1.0 - out * out)
            t2 = clock()
            return {"forward": t1 - t0, "backward": t2 - t1}, float(ga.sum())

        return run
    torch = _torch()
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ones = torch.ones(n, dtype=torch.float64)

    def run() -> tuple[dict[str, float], float]:
        ta.grad = tb.grad = None
        t0 = clock()
        if op == "add":
            out = ta + tb
        elif op == "mul":
            out = ta * tb
        elif op == "relu":
            out = torch.relu(ta)
        else:
            out = torch.tanh(ta)
        t1 = clock()
        out.backward(ones)
        t2 = clock()
        return {"forward": t1 - t0, "backward": t2 - t1}, float(ta.grad.sum())

    return run


# -- mlp_step and demo: micrograd's demo --------------------------------------------------------


def make_mlp_step(engine: str, spec: dict) -> Runner:
    step = _trainer(engine, spec)

    def run() -> tuple[dict[str, float], float]:
        t = clock()
        loss, _acc = step(spec["lr"])
        return {"total": clock() - t}, loss

    return run


def make_demo(engine: str, spec: dict) -> Runner:
    steps = spec["steps"]

    def run() -> tuple[dict[str, float], float]:
        step = _trainer(engine, spec)  # fresh weights for every run
        t = clock()
        for k in range(steps):
            loss, acc = step(1.0 - 0.9 * k / 100)  # micrograd's schedule
        return {"total": clock() - t}, [loss, acc]

    return run


def _trainer(engine: str, spec: dict) -> Callable[[float], tuple[float, float]]:
    """A function ``step(lr) -> (loss, accuracy)`` doing one full-batch SGD step."""
    X = np.array(spec["X"])  # noqa: N806
    y = np.array(spec["y"])
    layers = spec["layers"]  # [{"W": nout x nin, "b": nout}, ...]
    alpha = spec["alpha"]
    n = len(y)
    if engine in ("micrograd", "micrograd-nogc"):
        return _micrograd_trainer(X, y, layers, alpha)
    if engine in ("chainrule", "tape"):
        return _chainrule_trainer(engine, X, y, layers, alpha, spec)
    if engine == "numpy":
        weights = [np.array(layer["W"]) for layer in layers]
        biases = [np.array(layer["b"]) for layer in layers]
        yc = y[:, None]
        last = len(weights) - 1

        def step(lr: float) -> tuple[float, float]:
            # forward: relu hidden layers, linear output
            h, hs, zs = X, [X], []
            for i, (w, b) in enumerate(zip(weights, biases)):
                z = h @ w.T + b
                h = np.maximum(z, 0.0) if i < last else z
                zs.append(z)
                hs.append(h)
            margin = 1.0 - yc * h
            reg = alpha * sum(float((w * w).sum() + (b * b).sum())
                              for w, b in zip(weights, biases))
            loss = float(np.maximum(margin, 0.0).mean()) + reg
            acc = float(((h[:, 0] > 0) == (y > 0)).mean())
            # backward by hand, updating each layer once its input gradient is known
            dz = -yc * ((margin > 0.0) / n)
            for i in range(last, -1, -1):
                w, b = weights[i], biases[i]
                dw, db = dz.T @ hs[i], dz.sum(axis=0)
                if i > 0:
                    dz = (dz @ w) * (zs[i - 1] > 0.0)
                w -= lr * (dw + 2.0 * alpha * w)
                b -= lr * (db + 2.0 * alpha * b)
            return loss, acc

        return step
    torch = _torch()
    tX = torch.tensor(X)  # noqa: N806
    ty = torch.tensor(y)[:, None]
    params = []
    for layer in layers:
        params.append(torch.tensor(layer["W"], dtype=torch.float64, requires_grad=True))
        params.append(torch.tensor(layer["b"], dtype=torch.float64, requires_grad=True))

    def step(lr: float) -> tuple[float, float]:
        h = tX
        for i in range(0, len(params), 2):
            h = h @ params[i].T + params[i + 1]
            if i + 2 < len(params):
                h = torch.relu(h)
        loss = torch.relu(1.0 - ty * h).mean() + alpha * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        acc = float(((h[:, 0] > 0) == (ty[:, 0] > 0)).double().mean())
        return float(loss.detach()), acc

    return step


def _micrograd_trainer(X: np.ndarray, y: np.ndarray, layers: list,  # noqa: N803
                       alpha: float) -> Callable[[float], tuple[float, float]]:
    _micrograd()
    from micrograd.nn import MLP

    sizes = [len(layers[0]["W"][0])] + [len(layer["W"]) for layer in layers]
    model = MLP(sizes[0], sizes[1:])
    for layer, weights in zip(model.layers, layers):
        for neuron, w_row, b in zip(layer.neurons, weights["W"], weights["b"]):
            for wi, v in zip(neuron.w, w_row):
                wi.data = float(v)
            neuron.b.data = float(b)
    Value = _micrograd()  # noqa: N806
    rows = [[float(v) for v in row] for row in X]
    targets = [float(t) for t in y]

    def step(lr: float) -> tuple[float, float]:
        # micrograd's demo, with y as Python floats
        inputs = [list(map(Value, row)) for row in rows]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(targets, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        acc = sum((yi > 0) == (si.data > 0) for yi, si in zip(targets, scores)) / len(targets)
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return total.data, acc

    return step


def _chainrule_trainer(engine: str, X: np.ndarray, y: np.ndarray,  # noqa: N803
                       layers: list, alpha: float,
                       spec: dict) -> Callable[[float], tuple[float, float]]:
    from chainrule.engine import Value
    from chainrule.nn import MLP

    sizes = [len(layers[0]["W"][0])] + [len(layer["W"]) for layer in layers]
    model = MLP(sizes[0], sizes[1:], seed=spec["seed"])
    params = model.parameters()
    flat = [float(v) for layer in layers for w_row, b in zip(layer["W"], layer["b"])
            for v in (*w_row, b)]  # chainrule's order: each neuron's weights, then its bias
    if len(flat) != len(params):
        raise RuntimeError(f"chainrule MLP has {len(params)} parameters, expected {len(flat)}")
    for p, v in zip(params, flat):
        p.data = v
    rows = [[float(v) for v in row] for row in X]
    targets = [float(t) for t in y]
    n = len(targets)

    if engine == "chainrule":

        def step(lr: float) -> tuple[float, float]:
            scores = [model(row) for row in rows]
            losses = [(1 - t * s).relu() for t, s in zip(targets, scores)]
            total = (Value.sum(losses) * (1.0 / n)
                     + alpha * Value.sum([p * p for p in params]))
            acc = sum((t > 0) == (s.data > 0) for t, s in zip(targets, scores)) / n
            for p in params:
                p.grad = 0.0
            total.backward()
            for p in params:
                p.data -= lr * p.grad
            return total.data, acc

        return step

    from chainrule.engine.tape import Tape

    data = np.column_stack([X, y])
    # One tape, two outputs: a point's hinge loss and the L2 penalty. The penalty depends on
    # the parameters only, so every point gets the same number, and seeding each point's
    # copy with 1/n counts it once.
    tape = Tape.record(lambda v: [(1 - v[2] * model(v[:2])).relu(),
                                  alpha * Value.sum([p * p for p in params])], data[0], params)
    seed = np.full((n, 2), 1.0 / n)

    def step(lr: float) -> tuple[float, float]:
        out = tape.forward(data)
        total = float(out[:, 0].mean()) + float(out[0, 1])
        tape.backward(seed, accumulate=False)  # sets each .grad: no zeroing pass first
        for p in params:
            p.data -= lr * p.grad
        # relu(1 - y s) < 1 exactly when y s > 0, i.e. a correct sign (ties count as wrong)
        acc = float((out[:, 0] < 1.0).mean())
        return total, acc

    return step


# -- load_csv: reading a large numeric CSV file -------------------------------------------------

CSV_ENGINES = ("chainrule", "numpy")


def write_csv(path: str, rows: int, seed: int = 0) -> int:
    """A CSV like the hostile-input report's: a header, four features with six decimals
    and a 0/1 label (about 41 bytes a row). Returns its size in bytes."""
    import os

    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write("x1,x2,x3,x4,y\n")
        for start in range(0, rows, 100_000):  # in pieces: the writer's memory stays small
            n = min(100_000, rows - start)
            data = np.column_stack([rng.uniform(-1, 1, (n, 4)), rng.integers(0, 2, n)])
            np.savetxt(f, data, fmt=["%.6f"] * 4 + ["%d"], delimiter=",")
    return os.path.getsize(path)


def make_load_csv(engine: str, spec: dict) -> Runner:
    """``load_csv(path)`` against numpy's ``loadtxt`` (no checks, no row and column in its
    errors) on the same file; the result is the sum of every number read."""
    path = spec["path"]
    if engine == "chainrule":
        from chainrule.nn import load_csv

        def read() -> float:
            X, y = load_csv(path)  # noqa: N806
            return float(X.sum() + y.sum())
    elif engine == "numpy":

        def read() -> float:
            return float(np.loadtxt(path, delimiter=",", skiprows=1).sum())
    else:
        raise NotImplementedError(f"{engine} has no CSV reader")

    def run() -> tuple[dict[str, float], float]:
        t = clock()
        total = read()
        return {"total": clock() - t}, total

    return run


# -- helpers ------------------------------------------------------------------------------------


def _value_class(engine: str) -> Any:
    if engine == "chainrule":
        from chainrule.engine import Value

        return Value
    return _micrograd()


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)
    return torch


def _any_gc(maker: Callable[[str, dict], Runner]) -> Callable[[str, dict], Runner]:
    """``engine-nogc`` runs ``engine``'s code; the worker switches the collector off."""
    return lambda engine, spec: maker(engine.removesuffix("-nogc"), spec)


MAKERS: dict[str, Callable[[str, dict], Runner]] = {
    "chain": _any_gc(make_chain),
    "wide": _any_gc(make_wide),
    "ops": _any_gc(make_ops),
    "mlp_step": _any_gc(make_mlp_step),
    "scaling": make_mlp_step,  # the same step on wider networks and other batch sizes
    "demo": _any_gc(make_demo),
    "load_csv": make_load_csv,
}


def available(engine: str) -> str | None:
    """None if the engine can run here, else the reason it cannot."""
    engine = engine.removesuffix("-nogc")
    try:
        if engine.startswith("micrograd"):
            _micrograd()
        elif engine == "torch":
            import torch  # noqa: F401
        elif engine in ("chainrule", "tape"):
            import chainrule.engine  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc.name})"
    return None

