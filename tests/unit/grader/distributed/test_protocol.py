"""The task message: what a worker accepts, and the key that makes a grading happen once in effect."""

from __future__ import annotations

import pytest

from grader.distributed.protocol import (
    GradingTask,
    ProtocolError,
    TaskReply,
    celery_settings,
    visibility_timeout,
)
from grader.models import Limits


def task(**changes: object) -> GradingTask:
    fields: dict[str, object] = {"name": "alice", "filename": "alice.zip", "source_kind": "file",
                                 "submission": "sha256:" + "a" * 64, "challenge": "sha256:" + "b" * 64,
                                 "challenge_id": "hello-api"}
    fields.update(changes)
    return GradingTask(**fields)  # type: ignore[arg-type]


def test_a_message_round_trips_and_keys_what_it_grades() -> None:
    original = task()
    assert GradingTask.from_json(original.to_json()) == original
    assert task().key() == original.key()
    assert task(force=True).key() == original.key()  # --force regrades the same grading, not another one
    assert task(submission="sha256:" + "c" * 64).key() != original.key()
    assert task(root="backend").key() != original.key()


@pytest.mark.parametrize("message", [
    "not a dict",
    {**task().to_json(), "version": 99},
    {**task().to_json(), "command": "rm -rf /"},
    {**task().to_json(), "filename": "../../etc"},
    {**task().to_json(), "name": ""},
    {**task().to_json(), "source_kind": "pickle"},
])
def test_anything_but_a_well_formed_task_is_refused(message: object) -> None:
    with pytest.raises(ProtocolError, match="refused"):
        GradingTask.from_json(message)


def test_a_reply_without_its_result_is_refused() -> None:
    with pytest.raises(ProtocolError):
        TaskReply.from_json({"name": "alice", "status": "graded", "worker": "w"})


def test_both_sides_speak_json_only_and_hold_one_late_acknowledged_task_per_slot() -> None:
    settings = celery_settings("redis://localhost:6379/0", 1200, "grader")
    assert settings["accept_content"] == ["json"] == settings["result_accept_content"]
    assert settings["task_serializer"] == "json" == settings["result_serializer"]
    assert settings["task_acks_late"] and settings["task_reject_on_worker_lost"]
    assert settings["worker_prefetch_multiplier"] == 1
    assert settings["broker_transport_options"] == {"visibility_timeout": 1200}


def test_the_visibility_timeout_outlasts_the_slowest_grading_the_limits_allow() -> None:
    quick, slow = Limits(startup_timeout_s=10, test_timeout_s=20), Limits(startup_timeout_s=60, test_timeout_s=600)
    assert visibility_timeout([quick, slow]) > 2 * (60 + 600)
    assert visibility_timeout([quick]) < visibility_timeout([slow])
