"""Secret headers and tracebacks never reach a response body or the INFO log.

Every request below carries an ``Authorization`` and a ``Cookie`` header: requests
that succeed, and requests that fail in every layer (user middleware, API, sync
API, each mounted framework before and after its response started, timeout, 404,
405, 400, and requests uvicorn itself refuses). Then every response (status line,
headers, body) and everything the server printed are searched for the secrets.
"""

from __future__ import annotations

from tests.reliability import rawhttp
from tests.reliability.support import OutputMark, assert_no_traceback, wait_for
from tests.serving import ServedProcess
from tiffin.config_groups import DEFAULT_ACCESS_LOG_SKIP

TOKEN = "tfn-secret-token-6c1f2e"
COOKIE_VALUE = "tfn-secret-cookie-9b7d4a"
SECRETS = (TOKEN, COOKIE_VALUE)
SECRET_HEADERS = [("Authorization", f"Bearer {TOKEN}"), ("Cookie", f"session={COOKIE_VALUE}")]

REQUESTS = [
    # succeeding
    ("POST", "/fine", b'{"text": "ok"}'),
    ("GET", "/f/fine", b""),
    ("GET", "/livez", b""),
    ("GET", "/metrics", b""),
    ("GET", "/docs.json", b""),
    # failing before the response started
    ("GET", "/boom/middleware-early", b""),
    ("POST", "/boom", b""),
    ("POST", "/boom_sync", b""),
    ("GET", "/f/early", b""),
    ("GET", "/q/early", b""),
    ("GET", "/s/early", b""),
    ("GET", "/bare/early", b""),
    # failing after it started
    ("POST", "/boom/middleware-late", b""),
    ("GET", "/f/late", b""),
    ("GET", "/bare/late", b""),
    # answered with an error by tiffin or the mounted app
    ("POST", "/hang", b""),
    ("POST", "/fine", b'{"text": 1}'),
    ("POST", "/fine", b"{not json"),
    ("GET", "/fine", b""),
    ("GET", "/nowhere", b""),
    ("GET", "/f/nowhere", b""),
]

# Requests uvicorn refuses (400) with the secret headers in them.
HEAD = b"GET /livez HTTP/1.1\r\nHost: x\r\n"
MALFORMED = [
    HEAD + b"Authorization: Bearer " + TOKEN.encode() + b"\x00\r\n\r\n",  # a NUL in a value
    HEAD + b"Cookie session=" + COOKIE_VALUE.encode() + b"\r\n\r\n",  # no colon
    HEAD + b"Authorization: Bearer " + TOKEN.encode() + b"\r\n x\r\n\r\n",  # obsolete folding
]


def test_no_secret_header_or_traceback_in_any_body_or_log_line(
    faults_server: ServedProcess,
) -> None:
    mark = OutputMark(faults_server)
    answers: list[bytes] = []
    for method, path, body in REQUESTS:
        answers.append(
            rawhttp.exchange(
                faults_server.url,
                rawhttp.request_bytes(method, path, host="x", headers=SECRET_HEADERS, body=body),
            )
        )
    for data in MALFORMED:
        answers.append(rawhttp.exchange(faults_server.url, data))

    statuses = [rawhttp.parse_response(data).status for data in answers]
    assert sorted(set(statuses)) == [200, 400, 404, 405, 500, 504]  # every kind was exercised
    for (method, path, _), data in zip(REQUESTS, answers, strict=False):
        for secret in SECRETS:
            assert secret.encode() not in data, f"{method} {path} answered with a secret"
        assert_no_traceback(data.decode(errors="replace"), f"the answer to {method} {path}")
    for data in answers[len(REQUESTS) :]:
        assert not any(secret.encode() in data for secret in SECRETS)

    # Every planted fault was logged (the log was written), and no secret is in it.
    wait_for(
        lambda: mark.text().count("Traceback (most recent call last)") >= 10,
        within=10,
        what="the tracebacks of the failing requests",
    )
    output = mark.settled()
    for secret in (*SECRETS, "Bearer", "session="):
        assert secret not in output
    info_lines = [line for line in output.splitlines() if line.startswith("INFO:")]
    # One access line per request, but for the probes and /metrics: BentoML's default
    # logging.access.skip_paths leaves those out.
    logged = [path for _, path, _ in REQUESTS if path not in DEFAULT_ACCESS_LOG_SKIP]
    assert len(info_lines) >= len(logged)
    assert not any(f'"GET {path} ' in "\n".join(info_lines) for path in DEFAULT_ACCESS_LOG_SKIP)
    assert_no_traceback("\n".join(info_lines), "an INFO line")
