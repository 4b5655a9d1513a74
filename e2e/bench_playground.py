"""How fast the playground trains: steps per second on moons, 2-[8,8]-1, batch 10.

Run: ``.venv/bin/python e2e/bench_playground.py`` (a benchmark, not a test: it prints).

Measures (medians of a few repetitions; the machine is shared, so numbers are noisy):
1. training alone with the tape (``Trainer.step``), as the app does it;
2. the same steps on the scalar engine (one graph per sample), for comparison;
3. the same with an L2 penalty, and with Adam;
4. drawing one frame (every heatmap, links, output, loss curve, inspector);
5. the play loop itself (asyncio task: steps, draw, yield) at 5 and 100 steps per frame,
   i.e. what a user sees, without the browser.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from chainrule.nn import binary_cross_entropy_with_logits
from chainrule.viz.playground import Playground, Settings, Trainer

MOONS = {"dataset": "moons", "hidden": (8, 8), "batch_size": 10, "learning_rate": 0.1}


def rate(fn, steps: int, repeats: int = 5) -> float:
    """Median steps per second of ``fn(steps)`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(steps)
        times.append(time.perf_counter() - t0)
    return steps / statistics.median(times)


def scalar_steps(trainer: Trainer):
    """Training steps through the scalar engine: one graph per sample, then backward."""
    def run(steps: int) -> None:
        order, pos = trainer._order, 0
        for _ in range(steps):
            idx = order[pos:pos + 10]
            pos = (pos + 10) % (len(order) - 10)
            trainer.model.zero_grad()
            outs = [trainer.model(row.tolist()) for row in trainer.F_train[idx]]
            binary_cross_entropy_with_logits(outs, trainer.y_train[idx].tolist()).backward()
            trainer.optimizer.step()
    return run


def play_rate(speed: int, seconds: float = 3.0) -> tuple[float, float]:
    """(steps per second, frames per second) of the play loop."""
    app = Playground(**MOONS)
    app.speed = speed

    async def session() -> None:
        task = app.play()
        await asyncio.sleep(seconds)
        app.pause()
        await task

    t0 = time.perf_counter()
    asyncio.run(session())
    elapsed = time.perf_counter() - t0
    return app.trainer.steps / elapsed, app.frames / elapsed


def main() -> int:
    print(f"python {sys.version.split()[0]}; moons, 2-[8,8]-1 tanh, batch 10, 250 training points")
    t = Trainer(Settings(**MOONS))
    print(f"tape, SGD                 {rate(t.step, 500):8.0f} steps/s")
    print(f"scalar engine, SGD        {rate(scalar_steps(Trainer(Settings(**MOONS))), 50):8.0f} "
          "steps/s")
    t = Trainer(Settings(**MOONS, regularization="l2", regularization_rate=0.001))
    print(f"tape, SGD + L2 penalty    {rate(t.step, 500):8.0f} steps/s")
    t = Trainer(Settings(**MOONS, optimizer="adam"))
    print(f"tape, Adam                {rate(t.step, 500):8.0f} steps/s")
    app = Playground(**MOONS)
    frame = statistics.median(_timed(app.redraw) for _ in range(20))
    print(f"one frame drawn in        {frame * 1000:8.1f} ms")
    for speed in (5, 100):
        steps, fps = play_rate(speed)
        print(f"play, {speed:3d} steps/frame    {steps:8.0f} steps/s at {fps:.1f} frames/s")
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
