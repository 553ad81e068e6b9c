"""An RFC 3161 timestamp authority for the tests, on 127.0.0.1: `openssl ts -reply` behind a small HTTP server,
with the TSA certificate and key the test made (tests/servers.py: `make_tsa`).

Usage: tsa_server.py DIRECTORY PORT — DIRECTORY holds tsa.cnf (OpenSSL's [tsa] section), tsa.key, tsa.pem, serial.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    directory: Path

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.reply(200 if self.path == "/health" else 404, b"ok", "text/plain")

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with tempfile.TemporaryDirectory() as scratch:
            request, response = Path(scratch) / "request.tsq", Path(scratch) / "response.tsr"
            request.write_bytes(query)
            done = subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.directory / "tsa.cnf"),
                    "-queryfile",
                    str(request),
                    "-out",
                    str(response),
                ],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0 or not response.exists():
                return self.reply(500, done.stderr, "text/plain")
            self.reply(200, response.read_bytes(), "application/timestamp-reply")


def main() -> None:
    Handler.directory = Path(sys.argv[1])
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()


if __name__ == "__main__":
    main()
