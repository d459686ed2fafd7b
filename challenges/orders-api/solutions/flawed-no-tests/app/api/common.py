"""Request helpers shared by the blueprints: JSON bodies, query parameters, responses."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from flask import Response, jsonify, request
from werkzeug.routing import IntegerConverter

from app.errors import BadRequest, ValidationFailed
from app.schemas import MAX_ID, ModelT, parse_body
from app.timeutil import parse_timestamp

P = ParamSpec("P")
R = TypeVar("R")


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: a positive integer that fits a 64-bit BIGINT (else the path is a 404)."""

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def read_json() -> Any:
    """The request body parsed as JSON whatever its Content-Type; BadRequest (400) when it is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("request body must be JSON")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("request body is not valid JSON") from None


def json_body(model: type[ModelT]) -> Callable[[Callable[Concatenate[ModelT, P], R]], Callable[P, R]]:
    """Decorator: validate the JSON body as `model` and pass it to the view as its first argument."""

    def decorator(view: Callable[Concatenate[ModelT, P], R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return view(parse_body(model, read_json()), *args, **kwargs)

        return wrapper

    return decorator


def created(body: dict[str, Any], location: str, status: int = 201) -> Response:
    """A creation answer (201 unless told otherwise) with the resource and its `Location`."""
    response = jsonify(body)
    response.status_code = status
    response.headers["Location"] = location
    return response


def query_timestamp(args: Mapping[str, str], name: str) -> datetime | None:
    """An optional ISO 8601 query parameter as naive UTC; ValidationFailed (422) when it does not parse."""
    raw = args.get(name)
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 timestamp", details={"field": name}) from None


def query_positive_int(args: Mapping[str, str], name: str) -> int | None:
    """An optional positive integer query parameter; ValidationFailed (422) otherwise."""
    raw = args.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise ValidationFailed(f"{name} must be a positive integer", details={"field": name})
    return int(raw)
