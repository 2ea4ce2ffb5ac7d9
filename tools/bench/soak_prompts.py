"""Soak: many sequential short prompts, malformed and valid mixed, against ONE real server.

    nice -n 10 "$IV_PYTHON" -m tools.bench.soak_prompts [--prompts 1000] [--valid-every 8]

Cycles through every case of ``malformed_cases.CASES`` (rejected at validation, or failing at execution naming the
node) with a valid tiny FIFO run every ``--valid-every`` prompts, and checks:

- every prompt is answered as its case says, and every valid one succeeds with a finite latent;
- no prompt is stuck: each finishes within ``--timeout`` seconds (default 1800: generous, as a tiny run on a
  shared, loaded machine can be slow; slow is reported, not failed), and the queue is empty at the end;
- the server process's resident memory at the end is within ``--tolerance`` (5%) of what it was after the first
  ``--baseline`` (100) prompts (a leak per prompt would show as steady growth; the first prompts load the models).

Prints a memory table and a verdict; exits 1 if any check fails. A benchmark, not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..ci import find_host
from ..testing import malformed_cases as mc
from ..testing import tiny_models
from ..testing.comfy_server import read_latent, start_server
from ..testing.host import prepare_host


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` (``VmRSS`` in ``/proc``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run_valid(server, k: int, timeout: float) -> str | None:
    prompt = mc.base_prompt()
    prompt["6"]["inputs"]["seed"] = k  # a new seed: ComfyUI's cache would skip an identical prompt
    prompt["7"]["inputs"]["filename_prefix"] = f"soak/valid_{k}"
    status, body = server.post_prompt_raw(prompt)
    if status != 200:
        return f"valid prompt {k} rejected: {body}"
    entry = server.wait_history(body["prompt_id"], timeout=timeout)
    if entry["status"].get("status_str") != "success":
        return f"valid prompt {k} failed: {entry['status']}"
    path = server.saved_files(entry, "latents")[0]
    latent = read_latent(path)
    path.unlink()  # keep the disk flat too
    return None if math.isfinite(float(latent.abs().sum())) else f"valid prompt {k} returned non-finite values"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--valid-every", type=int, default=8)
    ap.add_argument("--baseline", type=int, default=100)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds a prompt may take before it counts as stuck")
    args = ap.parse_args()

    host, reason = find_host.find_host()
    if host is None:
        print(f"no ComfyUI host: {reason}")
        return 1
    prepare_host(host)
    # one torch thread in the server: on a machine shared with other jobs, more threads than cores spin and a tiny
    # run slows down a hundredfold; the soak is about memory and liveness, not speed
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    models = Path(tempfile.mkdtemp(prefix="iv-soak-models-"))
    tiny_models.write_all(models, seed=0)
    counts = {"validation": 0, "execution": 0, "valid": 0}
    problems: list[str] = []
    marks: list[tuple[int, float, float]] = []
    stuck = 0
    try:
        with start_server(host, model_folders={"diffusion_models": [models]}) as server:
            pid = server.process.pid
            t0 = time.monotonic()
            marks.append((0, rss_mib(pid), 0.0))
            case_index = 0
            slowest = 0.0
            for k in range(1, args.prompts + 1):
                started = time.monotonic()
                try:
                    if k % args.valid_every == 0:
                        problem = run_valid(server, k, args.timeout)
                        counts["valid"] += 1
                    else:
                        case = mc.CASES[case_index % len(mc.CASES)]
                        case_index += 1
                        problem = mc.check_outcome(server, case, timeout=args.timeout)
                        counts[case.kind] += 1
                except Exception as e:  # a prompt that never finished, or a server that stopped answering
                    problem = f"prompt {k}: {type(e).__name__}: {str(e)[:500]}"
                    stuck += "did not finish" in str(e)
                slowest = max(slowest, time.monotonic() - started)
                if problem:
                    problems.append(problem)
                if k == args.baseline or k % 100 == 0 or k == args.prompts:
                    marks.append((k, rss_mib(pid), time.monotonic() - t0))
                    print(f"{k:5d} prompts  RSS {marks[-1][1]:8.1f} MiB  {marks[-1][2]:7.1f} s  "
                          f"problems {len(problems)}", flush=True)
            queue = server.get("/queue")
            pending = len(queue.get("queue_running", [])) + len(queue.get("queue_pending", []))
            alive = server.process.poll() is None
    finally:
        shutil.rmtree(models, ignore_errors=True)

    base = next(rss for k, rss, _ in marks if k == args.baseline)
    end = marks[-1][1]
    ratio = end / base
    print("\nprompts  RSS MiB   vs after first %d" % args.baseline)
    for k, rss, _ in marks:
        print(f"{k:7d}  {rss:8.1f}   {rss / base:6.3f}")
    print(f"\n{args.prompts} prompts in {marks[-1][2]:.0f} s: {counts['validation']} rejected at validation, "
          f"{counts['execution']} failed at execution naming the node, {counts['valid']} valid runs")
    print(f"memory at the end / after {args.baseline} prompts: {ratio:.3f} (limit {1 + args.tolerance:.2f})")
    print(f"stuck prompts: {stuck}; left in the queue: {pending}; server alive: {alive}; slowest prompt "
          f"{slowest:.1f} s")
    for p in problems[:20]:
        print("PROBLEM:", p)
    ok = not problems and stuck == 0 and pending == 0 and alive and abs(ratio - 1) <= args.tolerance
    print("SOAK PASSED" if ok else "SOAK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
