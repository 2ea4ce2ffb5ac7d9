import cProfile, pstats, time, sys
from pathlib import Path
from ..testing.host import boot_host
boot_host()
import torch
torch.set_num_threads(1)
from .speed import load_midsize, native_seconds, queue_run, WINDOW, PARTITIONS
model = load_midsize(Path.home()/".cache/infinite-video/bench")
native_seconds(model, WINDOW, 2)
for r in range(2):
    n = native_seconds(model, WINDOW, 27)
    s, c = queue_run(model, WINDOW, PARTITIONS, False, "auto clip", 32)
    print(f"native per call {n/27*1000:.1f} ms; auto clip per call {s/c*1000:.1f} ms ({c} calls); ratio {s/32/(n/9):.3f}", flush=True)
if "prof" in sys.argv:
    pr = cProfile.Profile(); pr.enable()
    queue_run(model, WINDOW, PARTITIONS, False, "auto clip", 32)
    pr.disable(); pstats.Stats(pr).sort_stats("tottime").print_stats(25)
    pr = cProfile.Profile(); pr.enable()
    native_seconds(model, WINDOW, 27)
    pr.disable(); pstats.Stats(pr).sort_stats("tottime").print_stats(15)
