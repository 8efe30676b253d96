"""Benchmarks behind ``realtime-desktop-bench``."""
