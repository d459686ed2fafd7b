"""Impostor of the grader's hidden-test check module."""

REPORT_NAME = "hidden.json"
