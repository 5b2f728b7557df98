"""Integration tests: real processes over HTTP."""
