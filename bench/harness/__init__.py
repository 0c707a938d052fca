"""Support modules for bench/run.py (stdlib only)."""
