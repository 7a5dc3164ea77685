"""Hostile requests over a real socket, written byte for byte where httpx would normalise them.

The service (``services/hostile.py``) sits behind TrustedHost (``example.com``,
``*.example.com``) with ``timeout=2``, ``max_concurrency=4``, ``max_body_size=1024``
and mounts FastAPI ``/v1``, Quart ``/q``, Starlette ``/s``, bare ASGI ``/bare``
and an "admin" Starlette app at ``/admin``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.reliability import rawhttp
from tests.reliability.services.hostile import ADMIN_SECRET, MAX_BODY_SIZE, MAX_CONCURRENCY
from tests.reliability.support import (
    OutputMark,
    assert_no_traceback,
    assert_serving,
    beyond_info,
    wait_for,
)
from tests.serving import ServedProcess, serving

ALLOWED = "example.com"
TOO_LARGE = {"error": f"Request body is larger than the limit of {MAX_BODY_SIZE} bytes"}


@pytest.fixture(scope="module")
def server() -> Iterator[ServedProcess]:
    with serving("tests.reliability.services.hostile:Hostile", probe_host=ALLOWED) as served:
        yield served
        assert_serving(served, host=ALLOWED)  # whatever the module sent, the server lives


def events(server: ServedProcess) -> list[str]:
    answer = httpx.post(f"{server.url}/events", headers={"host": ALLOWED}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: list[str] = answer.json()
    return result


# --- Host header outside the allow-list -----------------------------------------------------

ROUTE_KINDS = {
    "api": ("POST", "/echo"),
    "api-405": ("GET", "/echo"),
    "livez": ("GET", "/livez"),
    "readyz": ("GET", "/readyz"),
    "metrics": ("GET", "/metrics"),
    "docs": ("GET", "/docs"),
    "docs.json": ("GET", "/docs.json"),
    "fastapi": ("GET", "/v1/hello"),
    "fastapi-miss": ("GET", "/v1/missing"),
    "quart": ("GET", "/q/hello"),
    "starlette": ("GET", "/s/hello"),
    "bare": ("GET", "/bare/anything"),
    "admin": ("GET", "/admin/"),
    "404": ("GET", "/nowhere"),
}
FOREIGN_HOSTS = [
    "evil.com",
    "localhost",
    "127.0.0.1",
    "example.com.evil.com",
    "evil.com@example.com",
]


@pytest.mark.parametrize(("method", "target"), ROUTE_KINDS.values(), ids=ROUTE_KINDS.keys())
def test_a_foreign_host_gets_400_on_every_route_kind(
    server: ServedProcess, method: str, target: str
) -> None:
    for host in FOREIGN_HOSTS:
        answer = rawhttp.request(server.url, method, target, host=host)
        assert (answer.status, answer.text) == (400, "Invalid host header"), host
    # The same request with an allowed host is served by the route (the check can fail).
    for host in (ALLOWED, "api.example.com", "example.com:3000"):
        answer = rawhttp.request(server.url, method, target, host=host)
        assert answer.text != "Invalid host header", host


def test_a_refused_host_never_reaches_the_handler(server: ServedProcess) -> None:
    def body(tag: str) -> bytes:
        return json.dumps({"seconds": 0, "tag": tag}).encode()

    refused = rawhttp.request(server.url, "POST", "/sleep", host="evil.com", body=body("foreign"))
    allowed = rawhttp.request(server.url, "POST", "/sleep", host=ALLOWED, body=body("allowed"))
    assert refused.status == 400
    assert (allowed.status, allowed.text) == (200, "slept")
    seen = events(server)
    assert "allowed started" in seen
    assert not any(event.startswith("foreign") for event in seen)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /livez HTTP/1.1\r\n",  # no Host at all
        b"GET /livez HTTP/1.1\r\nHost: evil.com\r\nHost: example.com\r\n",
        b"GET /livez HTTP/1.1\r\nHost: example.com\r\nHost: evil.com\r\n",
    ],
    ids=["missing", "foreign-then-allowed", "allowed-then-foreign"],
)
def test_a_missing_or_repeated_host_header_is_a_400(server: ServedProcess, head: bytes) -> None:
    answer = rawhttp.send(server.url, head + b"Connection: close\r\n\r\n")
    assert answer.status == 400


# --- oversized headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [[("X-Big", "a" * 1_000_000)], [(f"X-Many-{i}", "b" * 200) for i in range(5000)]],
    ids=["one-1MB-header", "5000-headers"],
)
def test_oversized_headers_are_refused_and_the_server_keeps_serving(
    server: ServedProcess, headers: list[tuple[str, str]]
) -> None:
    data = b""
    with rawhttp.connect(server.url) as sock:
        try:
            sock.sendall(rawhttp.request_bytes("GET", "/livez", headers=headers))
            data = rawhttp.read_all(sock)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed on us mid-write: the 400 can be lost with the reset, a refusal still
    if data:
        answer = rawhttp.parse_response(data)
        assert answer.status in (400, 431)
        assert_no_traceback(answer.text, "the response body")
    assert_serving(server, host=ALLOWED)


# --- bodies past max_body_size, bodies cut short ----------------------------------------------


@pytest.mark.parametrize("target", ["/echo", "/v1/upload"])
def test_a_declared_body_over_the_limit_gets_413_without_being_sent(
    server: ServedProcess, target: str
) -> None:
    # The headers promise a gigabyte and nothing follows: the answer must not wait for it.
    head = rawhttp.request_bytes("POST", target, headers=[("Content-Length", str(10**9))])
    answer = rawhttp.send(server.url, head)
    assert answer.status == 413
    assert json.loads(answer.body) == TOO_LARGE


@pytest.mark.parametrize("target", ["/echo", "/v1/upload"])
def test_a_chunked_body_over_the_limit_gets_413_and_is_read_no_further(
    server: ServedProcess, target: str
) -> None:
    head = rawhttp.request_bytes("POST", target, headers=[("Transfer-Encoding", "chunked")])
    with rawhttp.connect(server.url) as sock:
        # 1200 bytes in two chunks, then the stream stays open: no last chunk ever comes.
        sock.sendall(head + rawhttp.chunked(b"a" * 600, b"b" * 600).removesuffix(b"0\r\n\r\n"))
        answer = rawhttp.read_response(sock)
    # A 504 would mean the server kept waiting for the rest until the timeout.
    assert answer.status == 413
    assert json.loads(answer.body) == TOO_LARGE


@pytest.mark.parametrize("target", ["/echo", "/v1/upload"])
def test_a_chunked_body_within_the_limit_is_served(server: ServedProcess, target: str) -> None:
    parts = (b'{"text": "', b"x" * 500, b'"}')
    answer = rawhttp.request(
        server.url,
        "POST",
        target,
        headers=[("Transfer-Encoding", "chunked")],
        body=rawhttp.chunked(*parts),
        content_length=False,
    )
    assert answer.status == 200
    assert answer.body in (b"x" * 500, str(sum(map(len, parts))).encode())


def test_a_body_that_stops_half_way_and_closes_gets_no_answer_and_no_error(
    server: ServedProcess,
) -> None:
    mark = OutputMark(server)
    with rawhttp.connect(server.url) as sock:
        sock.sendall(
            b"POST /sleep HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\n\r\n"
            b'{"seconds": 0, "tag": "half'
        )
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1000) == b""  # closed without an answer: nobody is left to answer
    assert_serving(server, host=ALLOWED)
    assert not any(event.startswith("half") for event in events(server))
    assert beyond_info(mark.settled()) == []


def test_a_body_that_stalls_half_way_gets_504_at_the_timeout(server: ServedProcess) -> None:
    with rawhttp.connect(server.url) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\n"
            b'Connection: close\r\n\r\n{"text": "'
        )
        answer = rawhttp.read_response(sock)
    assert answer.status == 504
    assert json.loads(answer.body) == {"error": "Not able to process the request in 2 seconds"}


# --- a client that disconnects while its handler runs -------------------------------------------


@pytest.mark.parametrize("api", ["sleep", "sleep_sync", "stream"])
def test_a_client_that_disconnects_frees_its_slot_and_logs_no_error(
    server: ServedProcess, api: str
) -> None:
    tag = f"gone-{api}"
    mark = OutputMark(server)
    body = json.dumps({"seconds": 1, "tag": tag}).encode()
    with rawhttp.connect(server.url) as sock:
        sock.sendall(rawhttp.request_bytes("POST", f"/{api}", body=body))
        wait_for(lambda: f"{tag} started" in events(server), within=10, what=f"{tag} started")
        if api == "stream":
            assert b"tick" in sock.recv(4096)  # the stream is flowing when the client leaves
    # The handler is cancelled (an endless stream is closed), or runs to its end with its
    # result dropped.
    ended = wait_for(
        lambda: {f"{tag} finished", f"{tag} cancelled", f"{tag} closed"} & set(events(server)),
        within=10,
        what=f"the handler of {tag} ended",
    )
    assert len(ended) == 1
    # Every slot is free again: max_concurrency requests at once are all admitted.
    with ThreadPoolExecutor(MAX_CONCURRENCY) as pool:
        answers = list(
            pool.map(
                lambda i: httpx.post(
                    f"{server.url}/sleep",
                    json={"seconds": 0.5, "tag": f"after-{api}-{i}"},
                    headers={"host": ALLOWED},
                    timeout=10,
                ),
                range(MAX_CONCURRENCY),
            )
        )
    assert [answer.status_code for answer in answers] == [200] * MAX_CONCURRENCY
    assert beyond_info(mark.settled()) == []


# --- path tricks under mount prefixes ---------------------------------------------------------

NOT_FOUND = (404, "Not Found")  # tiffin's own: outside every route
FASTAPI_NOT_FOUND = (404, '{"detail":"Not Found"}')  # the FastAPI app at /v1 answers its miss


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/v1/../admin", FASTAPI_NOT_FOUND),
        ("/v1/../admin/panel", FASTAPI_NOT_FOUND),
        ("/v1/%2e%2e/admin", FASTAPI_NOT_FOUND),
        ("/v1%2F..%2Fadmin", FASTAPI_NOT_FOUND),
        ("/v1/./hello", FASTAPI_NOT_FOUND),
        ("/s/../admin", NOT_FOUND),  # Starlette's own miss is the same text
        ("/echo/../admin", NOT_FOUND),
        ("/../admin", NOT_FOUND),
        ("/%2e%2e/admin", NOT_FOUND),
        ("/./admin", NOT_FOUND),
        ("//v1/hello", NOT_FOUND),
        ("//admin", NOT_FOUND),
        ("/v10", NOT_FOUND),
        ("/v10/hello", NOT_FOUND),
        ("/adminx", NOT_FOUND),
        ("http://evil.com/admin/", NOT_FOUND),
        # The ASGI path is percent-decoded: an encoded slash routes as a slash would.
        ("/v1%2Fhello", (200, '"fastapi hello"')),
        ("/v1/hello?next=/../admin", (200, '"fastapi hello"')),
    ],
)
def test_a_path_trick_never_escapes_its_mount(
    server: ServedProcess, target: str, expected: tuple[int, str]
) -> None:
    answer = rawhttp.request(server.url, "GET", target)
    assert (answer.status, answer.text) == expected
    assert ADMIN_SECRET not in answer.text


@pytest.mark.parametrize("target", ["/q/../admin", "/q/%2e%2e/admin"])
def test_a_path_trick_under_quart_gets_quarts_404(server: ServedProcess, target: str) -> None:
    answer = rawhttp.request(server.url, "GET", target)
    assert answer.status == 404
    assert "<title>404 Not Found</title>" in answer.text


def test_a_path_trick_under_a_bare_app_is_answered_by_that_app(server: ServedProcess) -> None:
    answer = rawhttp.request(server.url, "GET", "/bare/../admin")
    assert (answer.status, answer.text) == (200, "bare hello")


def test_the_admin_app_is_reachable_at_its_own_prefix(server: ServedProcess) -> None:
    # The control for the path tricks above: the secret page is there to be found.
    answer = rawhttp.request(server.url, "GET", "/admin/panel")
    assert (answer.status, answer.text) == (200, ADMIN_SECRET)
