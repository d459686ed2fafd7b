"""The environment step: resolve the submission's dependencies into wheels, then have the environments ready.

What to build, its key and why it was built or reused are `grader.environments`' decisions; the backend builds.
"""

from __future__ import annotations

import time

from grader.environments import (
    candidate_request,
    dependency_record,
    explain,
    prepare_environments,
    prepare_wheels,
    sandbox_target,
)
from grader.models import SandboxInfo
from grader.sandbox.base import Environment
from grader.steps.records import GradingRequest, Intake, Prepared, Resolved

LOCAL_WARNING = (
    "graded with the local backend: the app ran as a plain process on this machine, which is not an "
    "isolation boundary; use --sandbox docker for hiring decisions"
)


def resolve_dependencies(request: GradingRequest, intake: Intake) -> Resolved:
    """The submission's exact versions, their wheels fetched on the host (source archives built in a
    container); the sandbox installs them with no network. DependencyError when the grader cannot."""
    started = time.monotonic()
    challenge, sandbox = request.challenge, request.sandbox
    wanted = candidate_request(intake.declared, sandbox_target(challenge.python, sandbox.wheel_target))
    request.log(f"{request.name}: resolving {len(wanted.main) + len(wanted.test)} requirement(s)")
    wheels = prepare_wheels(wanted, sandbox.builder(challenge.limits), request.log)
    return Resolved(intake, wheels, dependency_record(intake.declared, wheels), round(time.monotonic() - started, 3))


def prepare_environment(request: GradingRequest, resolved: Resolved) -> Prepared:
    """The challenge's services, the runner and the candidate's environment, ready (built once per key)."""
    started = time.monotonic()
    challenge, sandbox = request.challenge, request.sandbox
    services = sandbox.describe_services(request.services)
    request.log(f"{request.name}: preparing the environment ({sandbox.name})")
    environments = prepare_environments(sandbox, challenge.python, resolved.wheels, request.log)
    request.log(f"{request.name}: {explain(environments.candidate, challenge.python)}")
    info = sandbox_info(request, environments.candidate, services)
    return Prepared(resolved, environments, info, time.monotonic() - started)


def sandbox_info(request: GradingRequest, environment: Environment, services: dict[str, str]) -> SandboxInfo:
    """What the result says about the sandbox: the backend, its boundary, the environment and the limits."""
    sandbox = request.sandbox
    return SandboxInfo(
        backend=sandbox.name,  # type: ignore[arg-type]
        isolated=sandbox.isolated,
        image=environment.image,
        image_id=environment.image_id,
        base_image=environment.base_image,
        environment_hash=environment.key,
        environment_reused=environment.reused,
        limits=request.challenge.limits,
        services=services,
        warnings=[] if sandbox.isolated else [LOCAL_WARNING],
    )
