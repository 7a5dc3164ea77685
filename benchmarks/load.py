"""Load over a real socket, from a process of its own: ``wrk`` when installed, else a Python client.

Both report the same thing (:class:`LoadResult`): requests, requests per
second, errors (socket errors and non-2xx answers) and latency percentiles in
milliseconds. ``wrk`` is C and leaves the server most of a CPU; the Python
client (``python load.py URL ...``, asyncio over raw keep-alive sockets) is the
fallback for machines without it and costs the server more of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 95, 97.5, 99, 99.5, 99.9)
MARKER = "BENCH_JSON "

WRK_SCRIPT = """
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body ~= nil and #body > 0 then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
  local parts = {}
  for _, p in ipairs({%(percentiles)s}) do
    table.insert(parts, string.format('"%%s": %%.3f', tostring(p), latency:percentile(p) / 1000))
  end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests": %%d, "seconds": %%.4f, "socket_errors": %%d, "non2xx": %%d, ' ..
    '"percentiles_ms": {%%s}}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout,
    e.status, table.concat(parts, ", ")))
end
"""


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    errors: int
    percentiles_ms: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return self.percentiles_ms["50"]

    @property
    def p99(self) -> float:
        return self.percentiles_ms["99"]

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "rps": self.rps}


def _pkey(p: float) -> str:
    return f"{p:g}"


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    path = wrk_path()
    if path is None:
        return "not installed"
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def run_load(
    url: str,
    *,
    method: str = "GET",
    body: str = "",
    connections: int = 32,
    seconds: float = 5,
    tool: str = "auto",
) -> LoadResult:
    """Load ``url`` for ``seconds`` from a separate process; ``tool`` is wrk, python or auto.

    wrk counts whole seconds: shorter runs last one second there.
    """
    if tool == "auto":
        tool = "wrk" if wrk_path() else "python"
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body}
    if tool == "wrk":
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(
                WRK_SCRIPT
                % {"percentiles": ", ".join(_pkey(p) for p in PERCENTILES), "marker": MARKER}
            )
        try:
            command = [
                wrk_path() or "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ]
            out = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=seconds + 30, check=False
            )
        finally:
            os.unlink(script.name)
    else:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            url,
            "--method",
            method,
            "--body",
            body,
            "--connections",
            str(connections),
            "--seconds",
            str(seconds),
        ]
        out = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=seconds + 30, check=False
        )
    for line in out.stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return LoadResult(
                tool=tool,
                requests=int(data["requests"]),
                seconds=float(data["seconds"]),
                errors=int(data["socket_errors"]) + int(data["non2xx"]),
                percentiles_ms={
                    _pkey(float(k)): float(v) for k, v in data["percentiles_ms"].items()
                },
            )
    raise RuntimeError(f"{tool} printed no result for {url}:\n{out.stdout}\n{out.stderr}")


# --- the Python load generator (run as a script) ---------------------------------------------


async def _connection(
    host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            headers = head.lower()
            if b"transfer-encoding: chunked" in headers:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                marker = headers.find(b"content-length:")
                length = (
                    int(headers[marker + 15 : headers.find(b"\r\n", marker)]) if marker >= 0 else 0
                )
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if not 200 <= status < 400:
                errors[0] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors[0] += 1
    finally:
        writer.close()


async def _python_load(args: argparse.Namespace) -> dict[str, object]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = args.body.encode()
    head = f"{args.method} {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    request = head.encode() + b"\r\n" + body
    latencies: list[float] = []
    errors = [0]
    began = time.perf_counter()
    until = began + args.seconds
    await asyncio.gather(
        *(
            _connection(host, port, request, until, latencies, errors)
            for _ in range(args.connections)
        )
    )
    seconds = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=1000, method="inclusive") if len(latencies) > 1 else []

    def percentile(p: float) -> float:
        if not cuts:
            return latencies[0] * 1000 if latencies else 0.0
        index = min(len(cuts) - 1, max(0, round(p * 10) - 1))
        return cuts[index] * 1000

    return {
        "requests": len(latencies),
        "seconds": seconds,
        "socket_errors": 0,
        "non2xx": errors[0],
        "percentiles_ms": {_pkey(p): percentile(p) for p in PERCENTILES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    print(MARKER + json.dumps(asyncio.run(_python_load(args))), flush=True)


if __name__ == "__main__":
    main()
