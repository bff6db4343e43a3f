"""Bundled sample data and a loopback Graph API server (demo, tests, benchmarks)."""
