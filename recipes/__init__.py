"""Runnable recipes: `python -m recipes.<name> --help`, or `zoo run <name> [ARGS...]`."""
