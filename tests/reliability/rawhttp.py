"""HTTP/1.1 over a plain socket, for requests an HTTP client would refuse or normalise.

httpx resolves ``/v1/../admin``, always sends one well-formed Host header and
never leaves a body half-sent; these helpers write exactly the bytes given and
read the answer until the server closes the connection.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

READ_TIMEOUT = 15.0  # a hang guard: a server that never answers fails the test, it does not hang it


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def connect(url: str, timeout: float = READ_TIMEOUT) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def request_bytes(
    method: str,
    target: str,
    *,
    host: str | None = "example.com",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_length: bool = True,
) -> bytes:
    """A request with ``Connection: close``; ``target`` and ``host`` are sent verbatim."""
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines.extend(f"{name}: {value}" for name, value in headers or [])
    if content_length and body:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def send(url: str, data: bytes, *, timeout: float = READ_TIMEOUT) -> RawResponse:
    """Write ``data``, read until the server closes, parse the one response."""
    return parse_response(exchange(url, data, timeout=timeout))


def exchange(url: str, data: bytes, *, timeout: float = READ_TIMEOUT) -> bytes:
    """Write ``data`` and return every byte the server sent until it closed."""
    with connect(url, timeout) as sock:
        sock.sendall(data)
        return read_all(sock)


def request(
    url: str,
    method: str,
    target: str,
    *,
    host: str | None = "example.com",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_length: bool = True,
) -> RawResponse:
    """One request as :func:`request_bytes` writes it, and its response."""
    data = request_bytes(
        method, target, host=host, headers=headers, body=body, content_length=content_length
    )
    return send(url, data)


def read_response(sock: socket.socket) -> RawResponse:
    """Everything until EOF (or a reset after the response), parsed as one response."""
    return parse_response(read_all(sock))


def read_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break  # the server answered early and closed with our body unread
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def parse_response(data: bytes) -> RawResponse:
    head, separator, rest = data.partition(b"\r\n\r\n")
    assert separator, f"no complete response head in {data[:200]!r}"
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    _version, status, *reason = status_line.split(" ", 2)
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    response = RawResponse(int(status), reason[0] if reason else "", headers)
    if (response.header("transfer-encoding") or "").lower() == "chunked":
        response.body = dechunk(rest)
    elif response.header("content-length") is not None:
        response.body = rest[: int(response.header("content-length") or 0)]
    else:
        response.body = rest
    return response


def dechunk(data: bytes) -> bytes:
    body = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += data[:size]
        data = data[size + 2 :]
    return bytes(body)


def chunked(*parts: bytes) -> bytes:
    """A chunked request body made of ``parts``, with its terminating chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
