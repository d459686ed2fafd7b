"""The failure the grader's machinery reports about itself, below every step so any layer may raise or catch it.

The sandbox backends and the engine gateway raise `SandboxError` when they cannot do their work (no engine,
an image that will not build, a venv pip cannot install): not the candidate's fault. It lives here, not in
`grader.sandbox.base`, so the gateways (`grader.engine`) need nothing from the sandbox package.
"""

from __future__ import annotations


class SandboxError(Exception):
    """The sandbox itself could not do its work (no engine, image build failed, ...): not the candidate's fault."""
