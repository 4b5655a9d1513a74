"""Run the workloads in one worker process per engine, alternating, and print the tables."""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .workloads import CSV_ENGINES, ENGINES, LABELS, OPS, available, moons, write_csv

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("chain", "wide", "ops", "mlp_step", "scaling", "demo", "load_csv")
MEMORY_WORKLOADS = ("chain", "mlp_step", "load_csv")  # wide under tracemalloc: minutes
SCALING_ENGINES = ("tape", "numpy", "torch")
ENGINES_OF = {"load_csv": CSV_ENGINES, "scaling": SCALING_ENGINES}  # workloads some engines run
SCALING_WIDTHS = ((16, 16), (64, 64), (256, 256))
SCALING_BATCHES = (10, 100, 1_000)
SEED = 1337


# -- talking to workers ------------------------------------------------------------------


class Worker:
    """One engine's worker process (``python -m bench.worker ENGINE``)."""

    def __init__(self, engine: str) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.engine = engine
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", engine], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )

    def ask(self, request: dict) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.engine} worker died (exit {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


# -- measurements -------------------------------------------------------------------------------


@dataclass
class Row:
    """One engine on one case: median seconds per iteration for each phase, and more."""

    engine: str
    phases: dict[str, float] = field(default_factory=dict)
    result: Any = None
    note: str = ""
    rss_mib: float | None = None
    traced_mib: float | None = None
    runs: int = 0


@dataclass
class Case:
    workload: str
    title: str
    spec: dict
    rows: dict[str, Row] = field(default_factory=dict)


def measure(case: Case, workers: dict[str, Worker], reps: int, target: float,
            calibrate: bool, log: Any) -> None:
    """Calibrate the inner count per engine, then alternate repetitions between engines."""
    inner: dict[str, int] = {}
    samples: dict[str, list[dict[str, float]]] = {}
    for engine, worker in workers.items():
        row = case.rows.setdefault(engine, Row(engine))
        if row.note:
            continue
        if not calibrate:
            inner[engine] = 1
            samples[engine] = []
            continue
        reply = worker.ask({"kind": "time", "workload": case.workload, "spec": case.spec,
                            "inner": 1})
        if "phases" not in reply:
            row.note = reply.get("skip") or "error: " + reply["error"].strip().splitlines()[-1]
            if "error" in reply:
                log(f"  {engine}: {reply['error']}")
            continue
        row.result = reply["result"]
        once = sum(reply["phases"].values())
        inner[engine] = max(1, min(100_000, round(target / max(once, 1e-9))))
        samples[engine] = []
    for rep in range(reps):
        for engine in inner:
            reply = workers[engine].ask({"kind": "time", "workload": case.workload,
                                         "spec": case.spec, "inner": inner[engine]})
            row = case.rows[engine]
            if "phases" not in reply:
                row.note = reply.get("skip") or "error: " + reply["error"].strip().splitlines()[-1]
                continue
            if row.result is None:
                row.result = reply["result"]
            samples[engine].append(reply["phases"])
        log(f"  {case.title}: repetition {rep + 1}/{reps} done")
    for engine, runs in samples.items():
        if runs:
            row = case.rows[engine]
            row.runs = len(runs)
            row.phases = {name: statistics.median(r[name] for r in runs) for name in runs[0]}


def measure_memory(case: Case, engines: list[str]) -> None:
    """Peak memory of one run, each engine in a fresh process."""
    for engine in engines:
        row = case.rows.get(engine)
        if row is None or row.note:
            continue
        worker = Worker(engine)
        try:
            reply = worker.ask({"kind": "memory", "workload": case.workload, "spec": case.spec})
        finally:
            worker.close()
        if "rss_mib" in reply:
            row.rss_mib, row.traced_mib = reply["rss_mib"], reply["traced_mib"]


# -- the cases ---------------------------------------------------------------------------------


def mlp_spec(quick: bool, n: int = 100, sizes: tuple[int, ...] = (2, 16, 16, 1)) -> dict:
    """Data and initial weights shared by every engine (weights from chainrule.nn.MLP)."""
    X, y = moons(n, noise=0.1, seed=0)  # noqa: N806
    from chainrule.nn import MLP

    model = MLP(sizes[0], list(sizes[1:]), seed=SEED)
    layers = []
    params = iter(p.data for p in model.parameters())  # each neuron's weights, then bias
    for nin, nout in itertools.pairwise(sizes):
        rows, biases = [], []
        for _ in range(nout):
            rows.append([next(params) for _ in range(nin)])
            biases.append(next(params))
        layers.append({"W": rows, "b": biases})
    return {"X": X.tolist(), "y": y.tolist(), "layers": layers, "alpha": 1e-4, "lr": 0.01,
            "seed": SEED, "steps": 10 if quick else 100}


def make_cases(names: list[str], quick: bool, scratch: Path | None = None) -> list[Case]:
    """The cases of ``names``; ``scratch`` is a folder for the files load_csv reads."""
    cases = []
    for name in names:
        if name == "chain":
            depth = 1_000 if quick else 10_000
            cases.append(Case("chain", f"chain: v = v*a + b, depth {depth:,} "
                                       f"({2 * depth:,} nodes), build + backward",
                              {"depth": depth}))
        elif name == "wide":
            n = 10_000 if quick else 100_000
            cases.append(Case("wide", f"wide: sum of {n:,} products, build + backward",
                              {"n": n}))
        elif name == "ops":
            n = 10_000 if quick else 100_000
            for op in OPS:
                cases.append(Case("ops", f"ops: {op} ({n:,} nodes or elements)",
                                  {"op": op, "n": n}))
        elif name == "mlp_step":
            cases.append(Case("mlp_step", "mlp_step: one SGD step of micrograd's demo "
                                          "(100 points, MLP(2,[16,16,1]), hinge + L2)",
                              mlp_spec(quick)))
        elif name == "scaling":
            for widths in SCALING_WIDTHS[:2] if quick else SCALING_WIDTHS:
                for n in SCALING_BATCHES:
                    spec = mlp_spec(quick, n=n, sizes=(2, *widths, 1))
                    spec["widths"] = list(widths)
                    cases.append(Case("scaling", f"scaling: mlp_step on MLP(2, {list(widths)} "
                                                 f"+ [1]), {n:,} points", spec))
        elif name == "demo":
            spec = mlp_spec(quick)
            cases.append(Case("demo", f"demo: micrograd's demo, {spec['steps']} steps, "
                                      "one run per engine", spec))
        elif name == "load_csv":
            rows = 100_000 if quick else 1_000_000
            path = Path(scratch or tempfile.gettempdir()) / f"rows_{rows}.csv"
            size = write_csv(str(path), rows)
            cases.append(Case("load_csv", f"load_csv: {rows:,} rows x 5 columns "
                                          f"({size / 1e6:.1f} MB), one file read",
                              {"path": str(path), "rows": rows, "bytes": size}))
    return cases


# -- printing ------------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return "-"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def fmt_result(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return f"loss {value[0]:.6g}, acc {value[1]:.2f}"
    return f"{value:.10g}"


def total(row: Row | None) -> float | None:
    if row is None or not row.phases:
        return None
    return sum(row.phases.values())


def table(case: Case) -> str:
    lines = [f"### {case.title}", ""]
    if case.workload == "load_csv":
        rows, size = case.spec["rows"], case.spec["bytes"]
        lines.append("| reader | median | rows per second | MB per second | peak RSS growth "
                     "| peak traced | sum of the numbers |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for engine, row in case.rows.items():
            label = {"chainrule": "chainrule load_csv", "numpy": "numpy loadtxt (no checks)"
                     }.get(engine, LABELS[engine])
            if row.note:
                lines.append(f"| {label} | {row.note} | | | | | |")
                continue
            t = total(row)
            memory = (f"{row.rss_mib:.1f} MiB | {row.traced_mib:.1f} MiB"
                      if row.rss_mib is not None else "- | -")
            lines.append(f"| {label} | {fmt_time(t)} | {rows / t:,.0f} | {size / t / 1e6:.1f} "
                         f"| {memory} | {fmt_result(row.result)} |")
        return "\n".join(lines)
    if case.workload == "ops":
        n = case.spec["n"]
        refs = [case.rows.get(e) for e in ("micrograd", "micrograd-nogc")]
        lines.append("| engine | forward / node | backward / node | speed-up vs micrograd gc on "
                     "(fwd, bwd) | vs micrograd gc off (fwd, bwd) |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        for engine, row in case.rows.items():
            if row.note:
                lines.append(f"| {LABELS[engine]} | {row.note} | | | |")
                continue
            fwd, bwd = row.phases.get("forward"), row.phases.get("backward")
            cells = []
            for ref in refs:
                cells.append("-" if ref is None or not ref.phases or not fwd or not bwd else
                             f"{fmt_ratio(ref.phases['forward'] / fwd)}, "
                             f"{fmt_ratio(ref.phases['backward'] / bwd)}")
            lines.append(f"| {LABELS[engine]} | {fmt_time(fwd / n)} | {fmt_time(bwd / n)} "
                         f"| {cells[0]} | {cells[1]} |")
        return "\n".join(lines)
    mg, mg_off, npy = (total(case.rows.get(e)) for e in ("micrograd", "micrograd-nogc", "numpy"))
    memory = any(r.rss_mib is not None for r in case.rows.values())
    head = "| engine | median | speed-up vs micrograd (gc on / off) | time vs numpy |"
    rule = "| --- | ---: | ---: | ---: |"
    if memory:
        head += " peak RSS growth | peak traced |"
        rule += " ---: | ---: |"
    lines += [head + " result |", rule + " --- |"]
    for engine, row in case.rows.items():
        if row.note:
            lines.append(f"| {LABELS[engine]} | {row.note} |" + " |" * (5 if memory else 3))
            continue
        t = total(row)
        speed = " / ".join(fmt_ratio(ref / t) if ref and t else "-" for ref in (mg, mg_off))
        line = (f"| {LABELS[engine]} | {fmt_time(t)} | {speed} | "
                f"{fmt_ratio(t / npy) if npy and t else '-'} |")
        if memory:
            line += (f" {row.rss_mib:.1f} MiB | {row.traced_mib:.1f} MiB |"
                     if row.rss_mib is not None else " - | - |")
        lines.append(line + f" {fmt_result(row.result)} |")
    return "\n".join(lines)


def scaling_table(cases: list[Case]) -> str:
    """The scaling cases in one table: time per step of each engine, and the ratios."""
    lines = ["### scaling: one mlp_step (hinge + L2, SGD) by width and batch size", "",
             "| hidden widths | points | tape | numpy by hand | PyTorch | tape / numpy "
             "| tape / PyTorch | results agree |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for case in cases:
        t = {e: total(case.rows.get(e)) for e in SCALING_ENGINES}
        ratio = [fmt_ratio(t["tape"] / t[e]) if t["tape"] and t[e] else "-"
                 for e in ("numpy", "torch")]
        cells = [fmt_time(t[e]) if t[e] else (case.rows[e].note if e in case.rows else "-")
                 for e in SCALING_ENGINES]
        note = agreement(case) or ""
        lines.append(f"| {case.spec['widths']} | {len(case.spec['y']):,} | {' | '.join(cells)} "
                     f"| {' | '.join(ratio)} | {note.split(' (')[0].removeprefix('Results ')} |")
    return "\n".join(lines)


def agreement(case: Case) -> str | None:
    """How closely the engines' first-iteration results agree (same math check)."""
    values = [r.result for r in case.rows.values() if isinstance(r.result, (int, float))]
    if case.workload not in ("mlp_step", "scaling", "wide", "chain", "load_csv") or len(
            values) < 2:
        return None
    ref = values[0]
    spread = max(abs(v - ref) for v in values) / max(abs(ref), 1e-300)
    verdict = "agree" if spread < 1e-9 else "DISAGREE"
    return f"Results {verdict} across engines (largest relative difference {spread:.1e})."


def targets(cases: list[Case]) -> list[str]:
    """Issues 5 and 17's targets, each with the measured ratio and whether it is met."""
    out = []

    def check(name: str, value: float | None, goal: float, higher: bool = True) -> None:
        if value is None:
            out.append(f"- {name}: not measured")
            return
        met = value >= goal if higher else value <= goal
        out.append(f"- {name}: {fmt_ratio(value)} (target {'>=' if higher else '<='} "
                   f"{fmt_ratio(goal)}): {'met' if met else 'NOT met'}")

    by = {c.workload: c for c in cases if c.workload != "ops"}
    step = by.get("mlp_step")
    if step:
        t = {e: total(step.rows.get(e)) for e in ENGINES}
        ratio = (lambda a, b: t[a] / t[b] if t.get(a) and t.get(b) else None)  # noqa: E731
        check("scalar mlp_step vs micrograd, gc on", ratio("micrograd", "chainrule"), 10)
        check("scalar mlp_step vs micrograd, gc off (chainrule's gc on)",
              ratio("micrograd-nogc", "chainrule"), 2)
        check("scalar mlp_step vs micrograd, both gc off (raw op cost)",
              ratio("micrograd-nogc", "chainrule-nogc"), 2)
        rows = step.rows
        if rows.get("chainrule") and rows.get("micrograd") and rows["chainrule"].traced_mib:
            mem = rows["micrograd"].traced_mib / rows["chainrule"].traced_mib
            check("scalar mlp_step peak traced memory, micrograd / chainrule", mem, 1)
        check("tape mlp_step vs micrograd, gc on", ratio("micrograd", "tape"), 1000)
        check("tape mlp_step time / numpy time (issue 17)", ratio("tape", "numpy"), 3,
              higher=False)
        check("tape mlp_step time / PyTorch time (issue 17: below 1)", ratio("tape", "torch"), 1,
              higher=False)
    for case in cases:
        if case.workload == "scaling" and case.spec["widths"] == [256, 256] and len(
                case.spec["y"]) == 1_000:
            t = {e: total(case.rows.get(e)) for e in SCALING_ENGINES}
            check("tape step on [256, 256] x 1,000 points / numpy time (issue 17)",
                  t["tape"] / t["numpy"] if t["tape"] and t["numpy"] else None, 1.5,
                  higher=False)
    # Per op, like with like: both collectors off (raw op cost) and both on (as users
    # run them). chainrule with its collector on against micrograd with its collector
    # off is printed as information only: while a graph grows, the collector's scans
    # cost chainrule ~200-250 ns per node (measured), as much as the op itself, and no
    # engine that makes a Python object per node escapes them.
    notes = []
    for case in cases:
        if case.workload != "ops":
            continue
        op = case.spec["op"]
        phases = {e: r.phases for e, r in case.rows.items() if r.phases}
        for ours, ref, how in (("chainrule-nogc", "micrograd-nogc", "both gc off (raw op cost)"),
                               ("chainrule", "micrograd", "both gc on")):
            if ours in phases and ref in phases:
                for phase in ("forward", "backward"):
                    check(f"scalar {op} {phase} per node vs micrograd, {how}",
                          phases[ref][phase] / phases[ours][phase], 2)
        if "chainrule" in phases and "micrograd-nogc" in phases:
            mixed = [fmt_ratio(phases["micrograd-nogc"][p] / phases["chainrule"][p])
                     for p in ("forward", "backward")]
            notes.append(f"- info, not like with like: scalar {op} per node, chainrule gc on vs "
                         f"micrograd gc off: forward {mixed[0]}, backward {mixed[1]}")
    out += notes
    demo = by.get("demo")
    if demo and demo.rows.get("tape"):
        out.append(f"- demo ({demo.spec['steps']} steps) with the tape: "
                   f"{fmt_time(total(demo.rows['tape']))} (target for fit: under 1 s)")
    return out


def header() -> str:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = run("git", "rev-parse", "--short", "HEAD") or "unknown"
    if run("git", "status", "--porcelain", "--", "engine", "nn", "bench"):
        commit += " (with uncommitted changes)"
    import numpy

    versions = [f"Python {platform.python_version()}", f"numpy {numpy.__version__}"]
    for module in ("micrograd", "torch"):
        try:
            from importlib.metadata import version

            versions.append(f"{module} {version(module)}")
        except Exception:
            versions.append(f"{module} not installed")
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"chainrule benchmarks, commit {commit}, {when}\n"
            f"{', '.join(versions)}; {cpu}, {os.cpu_count()} cores; one BLAS thread")


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("workloads", nargs="*", choices=[[], *WORKLOADS], metavar="WORKLOAD",
                        help=f"any of {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--reps", type=int, default=None,
                        help="repetitions per engine (default 5, --quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and short repetitions (about a minute in all)")
    parser.add_argument("--target", type=float, default=None,
                        help="seconds per repetition (default 0.3, --quick 0.05)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    names = args.workloads or list(WORKLOADS)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    reps = args.reps or (3 if args.quick else 5)
    if reps < 1:
        parser.error(f"--reps must be at least 1, got {reps}")
    target = args.target or (0.05 if args.quick else 0.3)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    print(header(), flush=True)
    missing = {e: available(e) for e in engines}
    runnable = [e for e in engines if missing[e] is None]
    scratch = Path(tempfile.mkdtemp(prefix="chainrule-bench-"))
    try:
        cases = make_cases(names, args.quick, scratch)
        for case in cases:
            mine = ENGINES_OF.get(case.workload, ENGINES)
            for engine in engines:
                if missing[engine] and engine in mine:
                    case.rows[engine] = Row(engine, note=missing[engine])
            log(f"{case.title} ...")
            demo = case.workload == "demo"
            # Fresh workers for every case: what one workload leaves in a process (the
            # ops' chains of 100,000 live nodes) slows the collector in the next, so a
            # table would depend on the workloads run before it. mlp_step after ops in
            # the same workers: chainrule gc on 72.5 ms, 16.6x micrograd; in fresh ones
            # 57.6 ms, 21.2x (gc off 44-46 ms either way; commit 07c0057).
            workers = {e: Worker(e) for e in runnable if e in mine}
            try:
                measure(case, workers, 1 if demo else reps, target, calibrate=not demo,
                        log=log)
            finally:
                for worker in workers.values():
                    worker.close()
            if case.workload in MEMORY_WORKLOADS and not args.no_memory:
                log(f"  {case.title}: memory, one fresh process per engine")
                measure_memory(case, [e for e in runnable if e in mine])
            if case.workload != "scaling":  # (those print as one table, after the last)
                print()
                print(table(case))
                note = agreement(case)
                if note:
                    print("\n" + note)
            elif case is [c for c in cases if c.workload == "scaling"][-1]:
                print()
                print(scaling_table([c for c in cases if c.workload == "scaling"]))
            sys.stdout.flush()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n### Targets (issues 5 and 17)\n")
    print("\n".join(targets(cases)) or "- (no target workloads run)")
    if args.json:
        args.json.write_text(json.dumps([
            {"workload": c.workload, "title": c.title,
             "rows": {e: r.__dict__ for e, r in c.rows.items()}} for c in cases], indent=1))
    return 0
