"""The server the CMD checks run as ``__command__``: ``python -m <this module> PORT``.

Standard library only, so it runs wherever the suite does. ``/health`` answers
``ok``; any other GET or POST answers JSON naming the method, the path, the
query and this process's pid (a check then knows the process to look for).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Upstream(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if parts.path == "/health":
            payload, kind = b"ok", "text/plain"
        else:
            answer = {
                "method": self.command,
                "path": parts.path,
                "query": parts.query,
                "body": body,
                "pid": os.getpid(),
            }
            payload, kind = json.dumps(answer).encode(), "application/json"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Upstream).serve_forever()
