"""Small facts about requests and responses: endpoint names, error texts, redaction."""

from __future__ import annotations

from typing import Any

import httpx

_LABELS = (
    ("/sections/", "section_features"),
    ("/features", "features"),
    ("/user_stories", "user_stories"),
    ("/test_environments", "test_environments"),
    ("/exploratory_tests", "exploratory_tests"),
)


def request_endpoint(path: str, params: dict[str, Any] | None) -> str:
    """The path with its query, as error messages and logs name a request."""
    return path if not params else f"{path}?{httpx.QueryParams(params)}"


def endpoint_label(path: str) -> str:
    """A stable name per endpoint for request counts (ids stripped)."""
    if path.startswith("/products"):
        for marker, label in _LABELS:
            if marker in path:
                return label
        return "products" if path.rstrip("/") == "/products" else "product"
    if path.startswith("/exploratory_tests/"):
        return "exploratory_test"
    if path.startswith("/bugs"):
        return "bugs" if path.rstrip("/") == "/bugs" else "bug"
    return path.strip("/").split("/")[0] or "root"


def error_text(response: httpx.Response) -> str:
    """The API's `{"error": ...}` message, or the reason phrase."""
    try:
        body = response.json()
        if isinstance(body, dict) and "error" in body:
            return str(body["error"])[:200]
    except ValueError:
        pass
    return response.reason_phrase


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced."""
    return text.replace(secret, "***") if secret else text


def response_host(url: str) -> str:
    """`host:port` of `url`, as connection errors name the server."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.host}:{port}"
