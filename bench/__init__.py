"""Benchmarks, run on demand: `python3 dev.py bench` (see bench/__main__.py)."""
