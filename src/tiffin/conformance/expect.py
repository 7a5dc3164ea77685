"""Assertions for checks: on failure, say what was asked and what came back."""

from __future__ import annotations

from typing import Any

import httpx

from tiffin.conformance.registry import CheckFailed


def describe(response: httpx.Response) -> str:
    request = response.request
    body = response.text if len(response.text) <= 300 else response.text[:300] + "..."
    return f"{request.method} {request.url.raw_path.decode()} -> {response.status_code} {body!r}"


def status(response: httpx.Response, expected: int | tuple[int, ...]) -> None:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if response.status_code not in allowed:
        raise CheckFailed(f"expected status {' or '.join(map(str, allowed))}: {describe(response)}")


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CheckFailed(f"expected a JSON body: {describe(response)}") from None


def json_equal(response: httpx.Response, code: int, expected: Any) -> None:
    status(response, code)
    if json_body(response) != expected:
        raise CheckFailed(f"expected the JSON body {expected!r}: {describe(response)}")


def text_equal(response: httpx.Response, code: int, expected: str) -> None:
    status(response, code)
    if response.text != expected:
        raise CheckFailed(f"expected the body {expected!r}: {describe(response)}")


def header(response: httpx.Response, name: str, expected: str | None = None) -> str:
    value = response.headers.get(name)
    if value is None or (expected is not None and value != expected):
        wanted = f"{name}: {expected}" if expected is not None else f"a {name} header"
        raise CheckFailed(f"expected {wanted}, got {value!r}: {describe(response)}")
    return str(value)


def no_header(response: httpx.Response, name: str) -> None:
    if name in response.headers:
        raise CheckFailed(
            f"expected no {name} header, got {response.headers[name]!r}: {describe(response)}"
        )


def that(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")
