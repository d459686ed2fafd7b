"""Validity: the grader measured on real public RealWorld projects (see docs/validity.md and runner.py)."""
