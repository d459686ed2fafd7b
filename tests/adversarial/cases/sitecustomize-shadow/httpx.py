"""Shadows httpx for any process whose sys.path starts at the submission: every request 'succeeds'."""

import json


class Response:
    status_code = 200
    is_success = True
    headers = {"content-type": "application/json"}
    text = '{"status": "ok"}'

    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.text)


class Client:
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        pass

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc):  # type: ignore[no-untyped-def]
        return False

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return Response()

    get = post = put = patch = delete = request


def get(*args, **kwargs):  # type: ignore[no-untyped-def]
    return Response()
