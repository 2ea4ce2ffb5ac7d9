"""Benchmarks: `python -m tools.bench.<name> --help`. Each measures side by side in one process and prints ratios."""
