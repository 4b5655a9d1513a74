"""A worker process: runs one engine's workloads on request.

``python -m bench.worker ENGINE`` reads one JSON request per line on stdin and answers
one JSON line on stdout. Requests:

``{"kind": "time", "workload": ..., "spec": {...}, "inner": k}``
    run ``k`` iterations (the runner is set up once per workload and spec, untimed);
    answer the mean seconds per iteration of each phase and the first iteration's result.
``{"kind": "memory", "workload": ..., "spec": {...}}``
    (sent to a fresh worker) run once for the growth of the peak resident set, then once
    more under ``tracemalloc`` for the peak of traced allocations.

For the engines ``*-nogc`` (micrograd's and chainrule's scalar paths) the collector is off
during the timed iterations, and a ``gc.collect()`` runs after each iteration, outside the
timed phases. Without it, micrograd's graphs (whose closures form reference cycles) would
pile up as garbage, and every later iteration would pay for fresh memory (page faults),
while chainrule's graphs are freed by reference counting as each iteration ends: the
collection between iterations gives both the same start.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import traceback
import tracemalloc
from typing import Any

from .workloads import MAKERS, Runner


def _status_mib(field: str) -> float | None:
    """A memory line of /proc/self/status (Linux), in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss() -> float:
    """Start a new peak-RSS window; return the RSS now (MiB).

    ``ru_maxrss`` cannot be reset and, on Linux, counts the parent's RSS at fork, so the
    peak is read from ``VmHWM``, which writing 5 to ``/proc/self/clear_refs`` resets.
    """
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        now = _status_mib("VmRSS")
        if now is not None:
            return now
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _peak_rss() -> float:
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time(runner: Runner, inner: int, gc_off: bool) -> dict[str, Any]:
    totals: dict[str, float] = {}
    result = None
    if gc_off:
        gc.collect()
        gc.disable()
    try:
        for i in range(inner):
            phases, value = runner()
            if i == 0:
                result = value
            for name, seconds in phases.items():
                totals[name] = totals.get(name, 0.0) + seconds
            if gc_off:
                gc.collect()  # untimed: free cyclic garbage as refcounting frees the rest
    finally:
        if gc_off:
            gc.enable()
            gc.collect()
    return {"phases": {k: v / inner for k, v in totals.items()}, "result": result}


def _memory(runner: Runner, gc_off: bool) -> dict[str, Any]:
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        before = _reset_peak_rss()
        runner()
        rss = _peak_rss() - before
        tracemalloc.start()
        runner()
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    finally:
        gc.enable()
    return {"rss_mib": rss, "traced_mib": traced}


def main() -> None:
    engine = sys.argv[1]
    # micrograd's topological sort recurses once per graph level (a depth-10,000 chain);
    # this process runs nothing else, so a high limit here is safe.
    sys.setrecursionlimit(1_000_000)
    gc_off = engine.endswith("-nogc")
    current: tuple[str, Runner | None] = ("", None)  # the runner of the case being measured
    for line in sys.stdin:
        request = json.loads(line)
        key = json.dumps([request["workload"], request["spec"]], sort_keys=True)
        try:
            if current[0] != key:
                # Only one case's data lives at a time: what an earlier case left (wide's
                # 200,000 leaves, say) would stay in the collector's oldest generation,
                # and every full collection of later cases would walk it again, so the
                # timings of the collector-on engines would depend on the order of cases.
                current = ("", None)
                gc.collect()
                current = (key, MAKERS[request["workload"]](engine, request["spec"]))
            runner = current[1]
            if request["kind"] == "memory":
                reply = _memory(runner, gc_off)
            else:
                reply = _time(runner, int(request["inner"]), gc_off)
        except NotImplementedError as exc:
            reply = {"skip": str(exc)}
        except Exception:  # report it to the harness; one workload failing is not fatal
            reply = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
