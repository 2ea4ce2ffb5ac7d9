"""Markdown tables from ``python -m tools.bench.oracle --json`` files (the tables of docs/benchmarks.md).

    python -m tools.bench.oracle_tables docs/results/oracle_identity_0.5.json docs/results/oracle_identity_0.json

One table per file and setting/rho/identity: a row per method, the exact and the mismatched denoiser side by side
(``exact / mismatched``) when the file has both, and whether the row meets the identity targets:

- exact denoiser: far-lag correlation (lags 100-200) at least ``FAR_MIN``, variance within ``VAR_GAP`` of native,
  lag-1 within ``LAG1_GAP`` of native, at most ``COST_X`` times the calls per frame of FIFO with lookahead
  (``fifo_lookahead``, the same file); a failed target is named;
- mismatched denoiser: variance and lag-1 no further from native than FIFO with lookahead's on the same denoiser;
- without identity (``W = 0``): the variance gap to native and whether it is within ``FIFO_VAR_GAP``.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Optional

from ..testing import oracle

FAR_MIN, VAR_GAP, LAG1_GAP, COST_X = 0.40, 0.08, 0.03, 2.0
FIFO_VAR_GAP = 0.05  # without identity: FIFO's own default should keep its variance within this of native
REFERENCE = "fifo_lookahead"

LABELS = {
    "native": "native window (discretisation reference)",
    "chunks": "independent chunks",
    "fifo": "FIFO, no lookahead",
    "fifo_lookahead": "FIFO with lookahead (starter's queue, LTX-Video template)",
    "fifo_lookahead_p2": "FIFO Queue Init defaults: lookahead, 2 partitions (Wan FIFO templates)",
    "dce_miga": "starter chain: FIFO + Self-Reflection + Long-Range Guidance",
    "miga": "MIGA template chain (zigzag + unified + reflection + guidance)",
    "tta": "MIGA zigzag + unified",
    "tta_history": "MIGA zigzag + unified, history guidance",
}


def label(method: str, setting: str = "small") -> str:
    """A reader's name for a method (``cont_k5_a3_s24`` -> continuation, chunk 5, 3 anchors every 24). The shipped
    chains named in ``LABELS`` are the small setting's; at a template's window (``setting`` "wan21", ...) FIFO with
    lookahead is FIFO Queue Init's defaults, not the starter's queue."""
    cfg = oracle.continuation_config(method)  # the oracle's own reading of the name
    if cfg is not None:
        a = cfg.anchors
        text = f"continuation, chunk {cfg.chunk}, " + (f"{a} anchor{'s' if a != 1 else ''} every {cfg.anchor_every}"
                                                       if a else "no anchors")
        text += (f", {cfg.in_flight} in flight" if cfg.in_flight > 1 else "") + (
            ", dpmpp_2m" if oracle.step_rule(method) == "dpmpp_2m" else "")
        text += (", shared level" if cfg.shared_level else "") + (", tracked" if cfg.tracked else "") + (
            f", denoise {cfg.denoise:g}" if cfg.denoise < 1 else "")
        ladder = re.search(r"(?:_w(\d+))?_p(\d+)$", method)
        if ladder:
            text += (f", window {ladder[1]}" if ladder[1] else "") + f", {ladder[2]} partitions"
        if method == oracle.continuation_name(oracle.NODE_DEFAULTS):
            text += " (Chunked Continuation defaults)"
        elif method == oracle.continuation_name(oracle.ContinuationConfig()):
            text += " (Chunked Continuation defaults until 2026-12-04)"
    else:
        p = re.fullmatch(r"(fifo|fifo_lookahead)_p(\d+)", method)
        w = re.fullmatch(r"(fifo|fifo_lookahead)_w(\d+)_p(\d+)", method)
        if w:
            text = (f"FIFO{' with lookahead' if w[1] == 'fifo_lookahead' else ''}, window {w[2]} x {w[3]} "
                    f"partition{'s' if w[3] != '1' else ''}")
        elif p and method not in LABELS:
            text = f"FIFO{' with lookahead' if p[1] == 'fifo_lookahead' else ''}, {p[2]} partition" + (
                "s" if p[2] != "1" else "")
        elif setting != "small" and method == REFERENCE:
            text = "FIFO with lookahead (FIFO Queue Init defaults here)"
        else:
            text = LABELS.get(method, method)
    # fifo_lookahead_p3 is fifo_lookahead at the small setting's 3 partitions
    same = re.sub(rf"_p{oracle.SMALL.partitions}$", "", method) if method.startswith("fifo") else method
    return f"**{text}**" if method in oracle.SHIPPED or same in oracle.SHIPPED else text


def _num(v: Optional[float], signed: bool = False) -> str:
    return "-" if v is None else f"{v:+.3f}" if signed else f"{v:.3f}"


def exact_misses(row: dict, ref_cost: Optional[float]) -> list[str]:
    """The identity targets ``row`` (exact denoiser) misses: ``far``, ``var``, ``lag-1``, ``cost``."""
    miss = []
    if row["far"] is None or row["far"] < FAR_MIN:
        miss.append("far")
    if row["var"] < row["var_native"] - VAR_GAP:
        miss.append("var")
    if abs(row["lag1"] - row["lag1_native"]) > LAG1_GAP:
        miss.append("lag-1")
    if ref_cost is not None and row["calls_per_frame"] > COST_X * ref_cost:
        miss.append("cost")
    return miss


def mismatched_misses(row: dict, ref: Optional[dict]) -> list[str]:
    """``var`` / ``lag-1`` when ``row`` (mismatched denoiser) is further from native than ``ref`` (FIFO with
    lookahead on the same denoiser)."""
    if ref is None:
        return ["no reference"]
    miss = []
    if abs(row["var"] - row["var_native"]) > abs(ref["var"] - ref["var_native"]):
        miss.append("var")
    if abs(row["lag1"] - row["lag1_native"]) > abs(ref["lag1"] - ref["lag1_native"]):
        miss.append("lag-1")
    return miss


def _verdict(miss: list[str]) -> str:
    return "met" if not miss else "misses " + ", ".join(miss)


def table(rows: list[dict], only: Optional[list[str]] = None) -> str:
    """One markdown table for rows of one setting, rho and identity (``only``: these methods, in this order)."""
    by = {(r["method"], r["denoiser"]): r for r in rows}
    dens = [d for d in oracle.DENOISERS if any(r["denoiser"] == d for r in rows)]
    methods = [m for m in only or dict.fromkeys(r["method"] for r in rows) if any((m, d) in by for d in dens)]
    ref_cost = by[(REFERENCE, "exact")]["calls_per_frame"] if (REFERENCE, "exact") in by else None
    r0 = rows[0]
    if r0["identity"] == 0:
        return plain_table(rows, by, methods, dens, ref_cost)
    both = " / ".join(dens)
    head = (f"| W = {r0['identity']:g}, rho {r0['rho']:g}, {r0['frames']} frames, {r0['seeds']} seeds | calls/frame | "
            f"x FIFO+lookahead | var ({both}) | native var | lag-1 ({both}) | native lag-1 | far ({both}) |")
    out = [head]
    cols = 8
    if "exact" in dens:
        out[0] += " targets, exact |"
        cols += 1
    if "mismatched" in dens:
        out[0] += " targets, mismatched |"
        cols += 1
    out.append("|---" * cols + "|")
    truth = f"| truth | - | - | 1 | - | {r0['lag1_truth']:.3f} | - | {r0['far_truth']:.3f} |" + " - |" * (cols - 8)
    out.append(truth)
    for m in methods:
        got = [by[(m, d)] for d in dens if (m, d) in by]
        a = got[0]
        cost = a["calls_per_frame"]
        row = f"| {label(m, a.get('setting', 'small'))} | {cost:.2f} | "
        row += (f"{cost / ref_cost:.2f}" if ref_cost else "-") + " | "
        row += " / ".join(_num(g["var"]) for g in got) + f" | {a['var_native']:.3f} | "
        row += " / ".join(_num(g["lag1"]) for g in got) + f" | {a['lag1_native']:.3f} | "
        row += " / ".join(_num(g["far"], True) for g in got) + " |"
        if "exact" in dens:
            row += (" - |" if m == "native" or (m, "exact") not in by else
                    f" {_verdict(exact_misses(by[(m, 'exact')], ref_cost))} |")
        if "mismatched" in dens:
            row += (" - |" if m in ("native", REFERENCE) or (m, "mismatched") not in by else
                    f" {_verdict(mismatched_misses(by[(m, 'mismatched')], by.get((REFERENCE, 'mismatched'))))} |")
        out.append(row)
    return "\n".join(out)


def plain_table(rows: list[dict], by: dict, methods: list[str], dens: list[str], ref_cost: Optional[float]) -> str:
    """Without identity: variance and lag-1 against native (on each method's own ladder), the variance gap, and
    whether the variance is within ``FIFO_VAR_GAP`` of native."""
    r0, both = rows[0], " / ".join(dens)
    out = [f"| W = 0, rho {r0['rho']:g}, {r0['frames']} frames, {r0['seeds']} seeds | calls/frame | x FIFO+lookahead | "
           f"var ({both}) | native var | var - native ({both}) | lag-1 ({both}) | native lag-1 | var within "
           f"{FIFO_VAR_GAP} of native (exact) |", "|---" * 9 + "|",
           f"| truth | - | - | 1 | - | - | {r0['lag1_truth']:.3f} | - | - |"]
    for m in methods:
        got = [by[(m, d)] for d in dens if (m, d) in by]
        a, cost = got[0], got[0]["calls_per_frame"]
        ex = by.get((m, "exact"))
        ok = "-" if m == "native" or ex is None else "yes" if ex["var"] >= ex["var_native"] - FIFO_VAR_GAP else "no"
        name = label(m, a.get("setting", "small"))
        out.append(f"| {name} | {cost:.2f} | " + (f"{cost / ref_cost:.2f}" if ref_cost else "-") + " | "
                   + " / ".join(_num(g["var"]) for g in got) + f" | {a['var_native']:.3f} | "
                   + " / ".join(_num(g["var"] - g["var_native"], True) for g in got) + " | "
                   + " / ".join(_num(g["lag1"]) for g in got) + f" | {a['lag1_native']:.3f} | {ok} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="JSON files written by python -m tools.bench.oracle --json")
    ap.add_argument("--merge", action="store_true", help="one table from all the files (e.g. candidates run apart "
                    "from their FIFO reference)")
    ap.add_argument("--methods", default=None, help="comma-separated: only these rows, in this order (the FIFO "
                    "reference still sets the cost ratio)")
    args = ap.parse_args()
    batches = []
    for f in args.files:
        with open(f) as fh:
            batches.append((f, json.load(fh)))
    if args.merge:
        batches = [(" + ".join(f for f, _ in batches), [r for _, rows in batches for r in rows])]
    for f, rows in batches:
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            groups.setdefault((r["setting"], r["rho"], r["identity"]), []).append(r)
        for key, group in groups.items():
            print(f"<!-- {f}: setting {key[0]}, rho {key[1]}, identity {key[2]} -->\n"
                  f"{table(group, args.methods.split(',') if args.methods else None)}\n")


if __name__ == "__main__":
    main()
