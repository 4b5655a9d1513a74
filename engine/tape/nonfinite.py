"""Non-finite numbers in a tape's replay: one warning per op, or anomaly mode's error."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..modes import QUIET, get_mode, user_stacklevel
from ..value import Value
from .plan import Block, Group


def nonfinite(values: np.ndarray) -> bool:
    """True when ``values`` holds an inf or a nan (one sum: inf and nan survive it; a sum
    that overflows counts too, which only sends the tape down its careful path)."""
    return values.size > 0 and not math.isfinite(values.sum())


def describe(node: Value, value: float | None = None) -> str:
    name = node.label or (node.op or "leaf")
    return f"{name}={node.data if value is None else value!r}"


def warn_nonfinite(groups: list[Group], rows: np.ndarray, saved: list, batch: int) -> None:
    """One RuntimeWarning per op that made inf/nan from finite operands."""
    if get_mode() & QUIET:
        return
    found: dict[str, tuple[float, np.ndarray]] = {}  # op -> (first value, samples hit)
    for group, parts in zip(groups, saved):
        out = rows[group.start:group.stop]
        bad = ~np.isfinite(out)
        if not bad.any():
            continue
        for x in group.operands(parts):
            bad &= np.isfinite(x)
        if bad.any():
            hit = bad.any(axis=0)
            value, before = found.get(group.rule.name, (float(out[bad][0]), hit))
            found[group.rule.name] = (value, before | hit)
    for name, (value, hit) in found.items():
        warnings.warn(
            f"chainrule: {name} produced {value!r} from finite inputs (tape replay: in "
            f"{int(hit.sum())} of {batch} samples, first {int(np.argmax(hit))})",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )

def check_forward(group: Group, parts: list, out: np.ndarray) -> None:
    """Anomaly mode: the first inf or nan a group computed raises FloatingPointError."""
    if not nonfinite(out):
        return
    i, *b = np.argwhere(~np.isfinite(out))[0]
    at = tuple(b)
    operands = [float(np.broadcast_to(x, out.shape)[(i, *at)])
                for x in group.operands(parts)]
    finite = all(math.isfinite(v) for v in operands)
    node = group.nodes[i]
    involved = ", ".join(describe(p, v) for p, v in zip(node.parents, operands))
    sample = f" in sample {b[0]}" if b else ""
    raise FloatingPointError(
        f"{group.rule.name} produced {float(out[(i, *at)])!r} from "
        f"{'finite' if finite else 'non-finite'} input ({involved}){sample} of the tape replay"
    )

def check_backward(group: Group, block: Block, c: np.ndarray, ds: list,
                    g: np.ndarray) -> None:
    if np.isfinite(c).all():
        return
    j, i, *b = np.argwhere(~np.isfinite(c))[0]
    at = (i, *b)
    d = float(np.broadcast_to(ds[j], g.shape)[at])
    node = group.nodes[i]
    p = block.positions[j]
    sample = f" in sample {b[0]}" if b else ""
    raise FloatingPointError(
        f"backward of {group.rule.name} ({describe(node)}) gave {float(c[(j, *at)])!r} "
        f"for its input {p} ({describe(node.parents[p])}){sample}: local derivative "
        f"{d!r} times upstream gradient {float(g[at])!r}"
    )
