"""Test support, importable as ``tools.testing`` (scripts) and ``infinite_video.tools.testing`` (the test suite).

- ``host``: find ComfyUI and import it in-process on CPU;
- ``comfy_server``: a real headless server on 127.0.0.1 (start, post prompts, read results);
- ``tiny_models`` / ``tiny_vaes``: random-weight real ComfyUI model and VAE classes, built on the fly;
- ``call_counter``: count (and watch) the model calls of a ModelPatcher through a keyed wrapper;
- ``oracle``: the analytic AR(1) video whose exact denoiser is known in closed form;
- ``shapes``: the procedural clips of the shapes model and the consistency metrics;
- ``browser``: headless Chromium over the DevTools protocol; ``malformed_cases``: bad prompts for the real server;
- ``iv_test_nodes``: a test-only node pack the server fixtures load beside this one.

Nothing here imports ComfyUI at module level.
"""
