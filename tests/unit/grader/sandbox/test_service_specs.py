"""What the app and the runner are told about a grading's services (no engine needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from grader.models import Challenge
from grader.sandbox.docker_pod import app_environment_for
from grader.sandbox.services import (
    ServiceCredentials,
    ServiceRequest,
    app_variables,
    image_tag,
    runner_variables,
    start_command,
)

CREDENTIALS = ServiceCredentials(password="app-pw", admin_password="admin-pw")


def test_the_app_gets_the_usual_postgres_variables_and_never_the_superuser() -> None:
    variables = app_variables("postgres", CREDENTIALS)
    assert variables["DATABASE_URL"] == "postgresql://app:app-pw@127.0.0.1:5432/app"
    assert variables["PGUSER"] == variables["POSTGRES_USER"] == "app"
    assert variables["PGDATABASE"] == variables["POSTGRES_DB"] == "app"
    assert "admin-pw" not in " ".join(variables.values())


def test_the_runner_gets_the_superuser_on_the_apps_database() -> None:
    assert runner_variables("postgres", CREDENTIALS) == {
        "GRADER_DATABASE_URL": "postgresql://grader:admin-pw@127.0.0.1:5432/app"}
    assert runner_variables("redis", CREDENTIALS) == {"GRADER_REDIS_URL": "redis://:app-pw@127.0.0.1:6379/0"}


def test_the_service_url_replaces_the_sqlite_default_and_the_challenge_has_the_last_word() -> None:
    services = app_variables("postgres", CREDENTIALS) | app_variables("redis", CREDENTIALS)
    env = app_environment_for({"NOTES": "{data_dir}/x"}, 8000, services)
    assert env["DATABASE_URL"].startswith("postgresql://") and env["REDIS_URL"].startswith("redis://")
    assert env["NOTES"] == "/data/x"
    assert app_environment_for({"DATABASE_URL": "sqlite:////data/own.db"}, 8000, services)["DATABASE_URL"] == (
        "sqlite:////data/own.db")
    assert app_environment_for({}, 8000)["DATABASE_URL"] == "sqlite:////data/app.db"


def test_fresh_credentials_every_time_and_images_named_by_kind_and_version() -> None:
    assert ServiceCredentials.new() != ServiceCredentials.new()
    assert image_tag(ServiceRequest("postgres", "15")) == "grader-service-postgres:15"
    assert "initdb" in start_command("postgres")[-1] and "redis-server" in start_command("redis")[-1]


def test_a_challenge_declares_known_services_with_a_version() -> None:
    challenge = Challenge.model_validate({"id": "x", "title": "x", "services": {"postgres": {"version": "15"}}})
    assert challenge.services["postgres"].version == "15"
    with pytest.raises(ValidationError, match="postgres"):
        Challenge.model_validate({"id": "x", "title": "x", "services": {"mysql": {"version": "8"}}})
    with pytest.raises(ValidationError, match="version"):
        Challenge.model_validate({"id": "x", "title": "x", "services": {"redis": {"version": "latest"}}})
