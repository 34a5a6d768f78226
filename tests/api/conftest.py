"""API test helpers: a client that authenticates with a real personal token (the `api_as`
fixture in tests/conftest.py hands one out per user), and the one error format."""

import json

from django.test import Client

from clm.core.models import ApiToken


class ApiClient:
    """Sends JSON to /api/v1 with `Authorization: Bearer <token>` and decodes the answer."""

    def __init__(self, user, token: str | None = None, language: str | None = None):
        self.user = user
        self.language = language  # sent as Accept-Language (without one, the API answers in English)
        self.token = token if token is not None else ApiToken.issue(user, "tests")[1]
        self.client = Client()

    def request(
        self, method: str, path: str, body=None, *, raw: bytes | str | None = None, headers=None, **query
    ):
        url = "/api/v1" + path
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if self.language:
            headers.setdefault("Accept-Language", self.language)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"content_type": "application/json", "headers": headers}
        if method == "get":
            response = self.client.get(url, query, headers=headers)
        else:
            response = getattr(self.client, method)(url, data, **kwargs)
        try:
            response.json_body = json.loads(response.content) if response.content else None
        except ValueError:
            response.json_body = None
        return response

    def get(self, path, **query):
        return self.request("get", path, **query)

    def post(self, path, body=None, **kw):
        return self.request("post", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("patch", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("delete", path, **kw)


def assert_error(response, status: int, code: str | None = None):
    """The one error format: {"error": {"code", "message", "details": [{"loc", "message"}]}}, with
    "details_omitted" when there were more than the details listed."""
    assert response.status_code == status, response.content
    body = response.json_body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) - {"details_omitted"} == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    for detail in error["details"]:
        assert set(detail) == {"loc", "message"}, detail
        assert isinstance(detail["loc"], list)
    if code:
        assert error["code"] == code, error
    return error


