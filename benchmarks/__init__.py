"""Benchmarks: `python benchmarks/run.py --items N --out FILE.json` (see run.py)."""
