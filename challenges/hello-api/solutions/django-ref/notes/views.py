"""JSON views for the notes service. Every answer, errors included, is a JSON document.

The API uses no cookies or sessions, so its views are exempt from CSRF checks.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import MAX_TITLE, Note


class InvalidNote(Exception):
    """An invalid request body: 400 when it is not valid JSON or not an object, 422 when a field is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def method_not_allowed(allowed: list[str]) -> JsonResponse:
    response = error(405, "method not allowed")
    response["Allow"] = ", ".join(allowed)
    return response


def parse_note(raw: bytes) -> dict[str, str]:
    try:
        payload: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidNote(400, "request body must be valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidNote(400, "request body must be a JSON object")
    title = payload.get("title")
    body = payload.get("body", "")
    if not isinstance(title, str):
        raise InvalidNote(422, "'title' is required and must be a string")
    if not 1 <= len(title) <= MAX_TITLE:
        raise InvalidNote(422, f"'title' must be 1 to {MAX_TITLE} characters long")
    if not isinstance(body, str):
        raise InvalidNote(422, "'body' must be a string")
    return {"title": title, "body": body}


@csrf_exempt
def health(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(["GET"])
    return JsonResponse({"status": "ok"})


@csrf_exempt
def notes_collection(request: HttpRequest) -> JsonResponse:
    if request.method in ("GET", "HEAD"):
        return JsonResponse([note.to_dict() for note in Note.objects.order_by("id")], safe=False)
    if request.method == "POST":
        try:
            fields = parse_note(request.body)
        except InvalidNote as exc:
            return error(exc.status, exc.message)
        note = Note.objects.create(**fields)
        response = JsonResponse(note.to_dict(), status=201)
        response["Location"] = f"/notes/{note.id}"
        return response
    return method_not_allowed(["GET", "POST"])


@csrf_exempt
def note_detail(request: HttpRequest, note_id: int) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(["GET"])
    note = Note.objects.filter(id=note_id).first()
    if note is None:
        return error(404, f"note {note_id} not found")
    return JsonResponse(note.to_dict())


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(400, "bad request")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(404, "not found")


def server_error(request: HttpRequest) -> JsonResponse:
    return error(500, "internal server error")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error(403, "CSRF verification failed")
