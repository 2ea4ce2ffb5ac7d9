import time, sys
from pathlib import Path
from ..testing.host import boot_host
boot_host()
import torch
torch.set_num_threads(1)
import infinite_video.samplers.fifo as F
from . import speed
from .speed import load_midsize, native_seconds, queue_run, WINDOW, PARTITIONS
model = load_midsize(Path.home()/".cache/infinite-video/bench")
native_seconds(model, WINDOW, 2)
orig = F.read_span
for sp in (8, 16):
    speed.SPATIAL = sp
    tot = {"native": 0.0, "trim": 0.0, "whole": 0.0}
    for r in range(2):
        for k in ("native", "trim", "whole", "native"):
            F.read_span = orig if k == "trim" else (lambda live, s, e, c=0: (s, e))
            c0 = time.process_time()
            if k == "native": native_seconds(model, WINDOW, 27)
            else: queue_run(model, WINDOW, PARTITIONS, False, "auto clip", 32)
            tot[k] += time.process_time() - c0
    nat = tot["native"] / 4 / 9
    print(sp, {k: round(v / (4 if k == "native" else 2) / (9 if k == "native" else 32) / nat, 3) for k, v in tot.items()}, "native s/frame", round(nat, 3), flush=True)
