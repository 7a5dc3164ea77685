"""Property-based tests of ``@api`` input over a real socket (hypothesis).

Whatever the body (any JSON document, any value for any parameter, any bytes
with any content type, deep nesting, huge strings and numbers, nothing at all),
every answer is one of:

- a 2xx, whose JSON (if JSON) is strict JSON, given exactly when pydantic
  accepts the body (the oracle: the API's own input model, run here);
- a 4xx JSON object whose ``error`` names the problem (for a 400: the body is
  not JSON, not an object, or which parameters are wrong);
- a 500 with the generic JSON body, only when user code raised (``/boom``
  with ``trigger == "boom"``), its traceback in the log and nowhere else;

never a traceback in a body, never a hang (every request has a deadline),
never a dead worker.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.reliability.services.inputs import BOOM, PARAMETERS, Inputs
from tests.reliability.support import (
    OutputMark,
    assert_no_traceback,
    assert_serving,
    wait_for,
)
from tests.serving import ServedProcess, serving

REQUEST_DEADLINE = 30.0
GENERIC_500 = {"error": "An unexpected error has occurred, please check the server log."}
PATHS = sorted(PARAMETERS)
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "image/png",
    "*/*",
    "not a media type",
]
PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,  # a shared, noisy machine: no per-example timing
    derandomize=True,  # CI sees the same examples every run; raise max_examples to explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Client:
    """POSTs to the served Inputs service, counting the 500s it got."""

    def __init__(self, server: ServedProcess) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=REQUEST_DEADLINE)
        self.errors = 0

    def post(self, path: str, body: bytes, content_type: str | None = None) -> httpx.Response:
        headers = {"content-type": content_type} if content_type is not None else {}
        response = self.http.post(path, content=body, headers=headers)
        self.errors += response.status_code == 500
        return response


@pytest.fixture(scope="module")
def server() -> Iterator[ServedProcess]:
    with serving("tests.reliability.services.inputs:Inputs") as served:
        yield served


@pytest.fixture
def client(server: ServedProcess) -> Iterator[Client]:
    """A client; afterwards the worker lives and logged a traceback for each 500, no other."""
    mark = OutputMark(server)
    client = Client(server)
    with client.http:
        yield client
    assert_serving(server)
    wait_for(
        lambda: mark.text().count("Traceback") >= client.errors,
        within=10,
        what=f"{client.errors} tracebacks logged",
    )
    output = mark.settled()
    assert output.count("Traceback (most recent call last)") == client.errors, output[-3000:]
    assert output.count("unhandled error in POST /boom") == client.errors, output[-3000:]


# --- the oracle and the checks ---------------------------------------------------------------


def strict_json(data: bytes) -> Any:
    """JSON as RFC 8259 has it: no NaN, no Infinity."""

    def reject(constant: str) -> Any:
        raise AssertionError(f"{constant} in a JSON response: not JSON")

    return json.loads(data, parse_constant=reject)


def accepted(path: str, body: bytes) -> pydantic.BaseModel | None:
    """What the API's input model makes of ``body`` (an empty body is ``{}``), or None."""
    try:
        return Inputs.apis[path].input_model.model_validate_json(body or b"{}")
    except pydantic.ValidationError:
        return None


def check(path: str, body: bytes, response: httpx.Response) -> None:
    assert_no_traceback(response.text, f"the answer to POST {path}")
    arguments = accepted(path, body)
    if arguments is not None and path == "/boom" and getattr(arguments, "trigger", "") == BOOM:
        assert (response.status_code, response.json()) == (500, GENERIC_500)
        return
    if arguments is not None:
        assert response.status_code == 200, response.text[:500]
        if response.headers["content-type"] == "application/json":
            strict_json(response.content)
        return
    assert response.status_code == 400, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    answer = strict_json(response.content)
    assert isinstance(answer, dict), answer
    assert isinstance(answer["detail"], list) and answer["detail"], answer
    names_the_problem(path, answer["error"])


def names_the_problem(path: str, error: Any) -> None:
    assert isinstance(error, str) and error
    # BentoML's start ("N validation error for <model>: "), then what to fix.
    bentoml_start = re.match(r"\d+ validation error for \w+: ", error)
    assert bentoml_start is not None, error
    error = error[bentoml_start.end() :]
    if error == "The request body is not valid JSON" or "expects a JSON object" in error:
        return
    named = re.fullmatch(r"Invalid input for API '\w+': check parameter\(s\) (.+)", error)
    assert named is not None, error
    assert set(named.group(1).split(", ")) <= PARAMETERS[path], error


def as_json(value: Any) -> Any:
    """``value`` as strict JSON gives it back: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    return value


# --- strategies ------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.floats()  # NaN and infinities included: json.dumps writes them, pydantic reads them
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
parameter_names = st.sampled_from(sorted(set().union(*PARAMETERS.values()) | {"extra"}))
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """Bytes that are almost JSON: truncated, with invalid UTF-8, or anything at all."""
    document = json.dumps(draw(st.dictionaries(parameter_names, json_values, max_size=4))).encode()
    kind = draw(st.sampled_from(["truncated", "bad-utf8", "spliced", "random"]))
    if kind == "truncated":
        return document[: draw(st.integers(0, len(document)))]
    if kind == "bad-utf8":
        bad = draw(st.sampled_from(INVALID_UTF8))
        text = draw(st.text(max_size=20)).encode()
        return b'{"text": "' + text + bad + b'", "value": "' + bad + b'"}'
    if kind == "spliced":
        at = draw(st.integers(0, len(document)))
        return document[:at] + draw(st.binary(min_size=1, max_size=8)) + document[at:]
    return draw(st.binary(max_size=300))


number_literals = st.from_regex(
    r"-?(0|[1-9][0-9]{0,400})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
)


# --- the properties ---------------------------------------------------------------------------


def test_any_json_document_as_the_whole_body(client: Client) -> None:
    @PROPERTY_SETTINGS
    @given(path=st.sampled_from(PATHS), value=json_values)
    def run(path: str, value: Any) -> None:
        body = json.dumps(value).encode()
        check(path, body, client.post(path, body, "application/json"))

    run()


def test_any_value_for_any_parameter(client: Client) -> None:
    @PROPERTY_SETTINGS
    @given(
        path=st.sampled_from(PATHS),
        document=st.dictionaries(parameter_names, json_values, max_size=6),
    )
    @example(path="/boom", document={"trigger": BOOM})
    @example(path="/typed", document={"count": 1e400})
    @example(path="/echo", document={"value": [math.nan, math.inf, -math.inf]})
    def run(path: str, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        response = client.post(path, body, "application/json")
        check(path, body, response)
        if path == "/echo" and response.status_code == 200:
            value = document.get("value")
            if isinstance(value, str):  # a str result is text/plain (CONTRACT section 7)
                assert response.text == value
            else:
                assert strict_json(response.content) == as_json(value)
        if path in ("/text", "/text_sync") and response.status_code == 200:
            assert response.text == document["text"]

    run()


def test_any_bytes_with_any_content_type(client: Client) -> None:
    @PROPERTY_SETTINGS
    @given(
        path=st.sampled_from(PATHS),
        body=hostile_bodies(),
        content_type=st.sampled_from(CONTENT_TYPES),
    )
    @example(path="/text", body=b'{"text": "\xff\xfe"}', content_type="application/json")
    @example(path="/text_sync", body=b"\xff\xfe", content_type=None)
    @example(path="/text", body=b"text=hello", content_type="application/x-www-form-urlencoded")
    @example(
        path="/text",
        body=b'--xyz\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi\r\n--xyz--\r\n',
        content_type="multipart/form-data; boundary=xyz",
    )
    @example(path="/echo", body=b'\xef\xbb\xbf{"value": 1}', content_type="application/json")
    def run(path: str, body: bytes, content_type: str | None) -> None:
        check(path, body, client.post(path, body, content_type))

    run()


def test_deep_nesting(client: Client) -> None:
    @PROPERTY_SETTINGS
    @given(
        path=st.sampled_from(["/echo", "/typed"]),
        depth=st.integers(1, 5000),
        bracket=st.sampled_from(["[]", '{"a":}']),
    )
    @example(path="/echo", depth=100_000, bracket="[]")
    @example(path="/echo", depth=100_000, bracket='{"a":}')
    def run(path: str, depth: int, bracket: str) -> None:
        opening, closing = bracket[:-1], bracket[-1]
        nested = opening * depth + "1" + closing * depth
        body = f'{{"value": {nested}, "items": {nested}}}'.encode()
        check(path, body, client.post(path, body, "application/json"))

    run()


def test_huge_numbers(client: Client) -> None:
    @PROPERTY_SETTINGS
    @given(
        path=st.sampled_from(["/echo", "/typed"]),
        name=st.sampled_from(["value", "count", "ratio", "items"]),
        literal=number_literals
        | st.sampled_from(["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity"])
        | st.integers(4000, 20000).map(lambda digits: "9" * digits),
    )
    def run(path: str, name: str, literal: str) -> None:
        value = f"[{literal}]" if name == "items" else literal
        body = f'{{"count": 1, "{name}": {value}}}'.encode()
        check(path, body, client.post(path, body, "application/json"))

    run()


@pytest.mark.parametrize("path", ["/text", "/text_sync", "/echo"])
@pytest.mark.parametrize("size", [1_000_000, 8_000_000])
def test_huge_strings(client: Client, path: str, size: int) -> None:
    text = "ü" * (size // 2)
    body = json.dumps({"text": text, "value": text}, ensure_ascii=False).encode()
    response = client.post(path, body, "application/json")
    check(path, body, response)
    assert response.status_code == 200
    assert response.text == text  # a str answers as text/plain, /echo's included


@pytest.mark.parametrize(
    ("path", "body", "expected_status"),
    [
        ("/echo", b"", 200),
        ("/echo", b"{}", 200),
        ("/boom", b"", 200),
        ("/text", b"", 400),  # text is required: the 400 names it
        ("/typed", b"", 400),
        ("/echo", b" ", 400),
        ("/echo", b"\r\n", 400),
    ],
)
def test_empty_bodies(client: Client, path: str, body: bytes, expected_status: int) -> None:
    for content_type in (None, "application/json"):
        response = client.post(path, body, content_type)
        check(path, body, response)
        assert response.status_code == expected_status
    if path == "/text":
        assert response.json()["error"].endswith(
            "_Input: Invalid input for API 'text': check parameter(s) text"
        )
