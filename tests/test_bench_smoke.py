"""The benchmark harness runs, and every engine computes the same numbers (no timings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

bench = pytest.importorskip("bench.workloads", reason="bench/ is importable from the repo root")
from bench.harness import Case, Row, make_cases, mlp_spec, scaling_table, table, targets  # noqa: E402
from bench.workloads import ENGINES, MAKERS, available  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = [e for e in ENGINES if available(e) is None]

TINY = {
    "chain": {"depth": 30},
    "wide": {"n": 50},
    "ops": {"op": "mul", "n": 20},
}
PHASES = {"chain": {"total"}, "wide": {"total"}, "ops": {"forward", "backward"}}


@pytest.mark.parametrize("workload", sorted(TINY))
def test_every_engine_computes_the_same_result(workload):
    results = {}
    for engine in RUNNABLE:
        phases, result = MAKERS[workload](engine, TINY[workload])()
        # the phases the tables report, each a measured (positive, finite) duration
        assert set(phases) == PHASES[workload], (engine, phases)
        assert all(0.0 < seconds < 60.0 for seconds in phases.values()), (engine, phases)
        results[engine] = result
    assert len(results) >= 3  # chainrule, tape and numpy at least
    # ops is a chain of nodes on the scalar engines, one op over an array on the others
    groups = ([("chainrule", "micrograd", "micrograd-nogc"), ("tape", "numpy", "torch")]
              if workload == "ops" else [ENGINES])
    for group in groups:
        present = [e for e in group if e in results]
        for engine in present:
            assert results[engine] == pytest.approx(results[present[0]], rel=1e-9), engine


def test_micrograd_has_no_tanh_and_says_so():
    if "micrograd" not in RUNNABLE:
        pytest.skip("micrograd 0.1.0 is not installed (pip install micrograd==0.1.0)")
    with pytest.raises(NotImplementedError, match="no tanh"):
        MAKERS["ops"]("micrograd", {"op": "tanh", "n": 5})


def test_mlp_step_and_demo_agree_across_engines():
    spec = mlp_spec(quick=True, n=12, sizes=(2, 4, 3, 1))
    spec["steps"] = 3
    first_loss, final = {}, {}
    for engine in RUNNABLE:
        _, first_loss[engine] = MAKERS["mlp_step"](engine, spec)()
        _, final[engine] = MAKERS["demo"](engine, spec)()
    ref = first_loss["chainrule"]
    assert ref > 0.0
    for engine in RUNNABLE:
        assert first_loss[engine] == pytest.approx(ref, rel=1e-12), engine
        assert final[engine][0] == pytest.approx(final["chainrule"][0], rel=1e-9), engine
        assert 0.0 <= final[engine][1] <= 1.0


def test_table_and_targets_format_a_case():
    case = Case("mlp_step", "mlp_step: test", {})
    case.rows = {
        "micrograd": Row("micrograd", {"total": 1.0}, result=0.5),
        "micrograd-nogc": Row("micrograd-nogc", {"total": 0.1}, result=0.5),
        "chainrule": Row("chainrule", {"total": 0.02}, result=0.5),
        "tape": Row("tape", {"total": 0.0005}, result=0.5),
        "numpy": Row("numpy", {"total": 0.0001}, result=0.5),
        "torch": Row("torch", note="not installed (torch)"),
    }
    text = table(case)
    assert "| chainrule scalar (gc on) | 20 ms | 50x / 5x | 200x |" in text
    assert "| PyTorch CPU float64 | not installed (torch) |" in text
    lines = targets([case])
    assert "- scalar mlp_step vs micrograd, gc on: 50x (target >= 10x): met" in lines
    assert "- tape mlp_step time / numpy time (issue 17): 5x (target <= 3x): NOT met" in lines
    assert "- tape mlp_step time / PyTorch time (issue 17: below 1): not measured" in lines


def test_ops_table_and_targets_compare_like_with_like():
    case = Case("ops", "ops: test", {"op": "mul", "n": 10})
    case.rows = {
        "micrograd": Row("micrograd", {"forward": 1e-4, "backward": 1e-5}),
        "micrograd-nogc": Row("micrograd-nogc", {"forward": 1e-5, "backward": 6e-6}),
        "chainrule": Row("chainrule", {"forward": 6e-6, "backward": 2e-6}),
        "chainrule-nogc": Row("chainrule-nogc", {"forward": 4e-6, "backward": 2e-6}),
    }
    text = table(case)
    assert "| chainrule scalar (gc on) | 600 ns | 200 ns | 16.7x, 5x | 1.67x, 3x |" in text
    lines = targets([case])
    assert ("- scalar mul forward per node vs micrograd, both gc off (raw op cost): 2.5x "
            "(target >= 2x): met") in lines
    assert ("- scalar mul forward per node vs micrograd, both gc on: 16.7x (target >= 2x): "
            "met") in lines
    assert ("- info, not like with like: scalar mul per node, chainrule gc on vs micrograd "
            "gc off: forward 1.67x, backward 3x") in lines
    assert not any("NOT met" in line for line in lines)


def test_command_line_runs_a_quick_workload():
    engines = ",".join(e for e in ("chainrule", "tape", "numpy") if e in RUNNABLE)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "chain", "--quick", "--reps", "1", "--target", "0.001",
         "--no-memory", "--engines", engines],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "### chain: v = v*a + b, depth 1,000" in done.stdout
    assert "Results agree across engines" in done.stdout
    # one row per engine: a median with its unit, a positive ratio to numpy (numpy's own
    # is 1x), and the same result everywhere
    rows = {}
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] not in ("engine", "---"):
            rows[cells[0]] = cells
    names = {"chainrule": "chainrule scalar (gc on)", "tape": "chainrule tape",
             "numpy": "numpy by hand"}
    assert set(rows) == {names[e] for e in engines.split(",")}, done.stdout
    for name, (_, median, _, vs_numpy, result) in rows.items():
        assert re.fullmatch(r"[0-9.,]+ (ns|us|ms|s)", median) and float(
            median.split()[0].replace(",", "")) > 0, (name, median)
        assert re.fullmatch(r"[0-9.,]+x", vs_numpy) and float(
            vs_numpy[:-1].replace(",", "")) > 0, (name, vs_numpy)
        assert result == rows[names["chainrule"]][4]
    assert rows["numpy by hand"][3] == "1x"


def test_command_line_rejects_unknown_engines_and_workloads():
    for args in (["--engines", "jax"], ["nonsense"]):
        done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "error:" in done.stderr


def test_load_csv_workload_reads_the_same_numbers_as_numpy(tmp_path):
    from bench.workloads import CSV_ENGINES, write_csv

    path = tmp_path / "rows.csv"
    size = write_csv(str(path), 250)
    assert 38 * 250 < size < 44 * 250  # about 40 bytes a row, like the report's file
    spec = {"path": str(path), "rows": 250, "bytes": size}
    sums = [MAKERS["load_csv"](engine, spec)()[1] for engine in CSV_ENGINES]
    assert sums[0] == sums[1] and sums[0] > 0
    with pytest.raises(NotImplementedError, match="no CSV reader"):
        MAKERS["load_csv"]("micrograd", spec)
    case = Case("load_csv", "load_csv: test", spec)
    case.rows = {"chainrule": Row("chainrule", {"total": 0.5}, result=sums[0], rss_mib=2.0,
                                  traced_mib=1.5),
                 "numpy": Row("numpy", {"total": 0.25}, result=sums[1])}
    text = table(case)
    assert (f"| chainrule load_csv | 500 ms | 500 | {size / 0.5 / 1e6:.1f} | 2.0 MiB | 1.5 MiB "
            in text)
    assert "| numpy loadtxt (no checks) | 250 ms | 1,000 |" in text


def test_command_line_runs_the_load_csv_workload():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "load_csv", "--quick", "--reps", "1", "--no-memory",
         "--engines", "chainrule,numpy"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "### load_csv: 100,000 rows x 5 columns" in done.stdout
    assert "| chainrule load_csv |" in done.stdout
    assert "Results agree across engines" in done.stdout


def test_scaling_cases_print_as_one_table_with_ratios_and_a_target():
    cases = make_cases(["scaling"], quick=False)
    assert [(c.spec["widths"], len(c.spec["y"])) for c in cases] == [
        ([w, w], n) for w in (16, 64, 256) for n in (10, 100, 1_000)]
    assert len(cases[-1].spec["layers"][1]["W"]) == 256  # [256, 256]: the real sizes
    for case in cases:
        case.rows = {"tape": Row("tape", {"total": 3e-3}, result=0.5),
                     "numpy": Row("numpy", {"total": 2e-3}, result=0.5),
                     "torch": Row("torch", note="not installed (torch)")}
    text = scaling_table(cases)
    assert "| [256, 256] | 1,000 | 3 ms | 2 ms | not installed (torch) | 1.5x | - | agree " \
        "across engines |" in text
    assert text.count("\n| [") == 9
    assert ("- tape step on [256, 256] x 1,000 points / numpy time (issue 17): 1.5x "
            "(target <= 1.5x): met") in targets(cases)


def test_the_scaling_step_agrees_across_engines():
    spec = mlp_spec(quick=True, n=10, sizes=(2, 8, 8, 1))
    losses = [MAKERS["scaling"](engine, spec)()[1] for engine in RUNNABLE
              if engine in ("tape", "numpy", "torch")]
    assert len(losses) >= 2
    assert losses == pytest.approx([losses[0]] * len(losses), rel=1e-12)
