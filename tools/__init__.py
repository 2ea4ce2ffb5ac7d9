"""Development tools of the pack; ComfyUI never imports them.

- ``tools/testing``: test support (real-server driver, tiny random-weight models and VAEs, the analytic oracle, shapes
  clips and metrics, the browser driver, malformed prompts, the test node pack), imported by ``tests/``;
- ``tools/bench``: benchmarks, each printing ratios measured side by side in one process;
- ``tools/authoring``: makers of shipped files (UI workflows, thumbnails, the trained shapes model);
- ``tools/ci``: what ``.ci/`` runs (host discovery, the main job).

Scripts run as modules from the repo root, e.g. ``python -m tools.bench.oracle``. Importing ``tools`` loads the pack
as ``infinite_video`` (``tools/pack.py``), so tools reach the pack's code as ``infinite_video.*`` and each other by
relative imports; inside the test suite the same files are ``infinite_video.tools.*``.
"""

from .pack import load_pack

load_pack()
