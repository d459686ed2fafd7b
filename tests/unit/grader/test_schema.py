"""The published JSON Schema of result.json matches the models."""

import json

from grader.models import GradeResult
from tests.conftest import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "grader" / "schema" / "result.schema.json"


def test_published_schema_is_current() -> None:
    published = json.loads(SCHEMA_PATH.read_text())
    assert published == GradeResult.model_json_schema(), "regenerate: grader schema > grader/schema/result.schema.json"
