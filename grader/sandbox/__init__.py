"""Sandbox backends: `docker` (the isolation boundary) and `local` (a convenience, not a boundary)."""
