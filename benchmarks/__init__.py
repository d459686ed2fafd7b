"""Benchmarks of the grader against the cost of its own tools: `python -m benchmarks.run` (not a test)."""
