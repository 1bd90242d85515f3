#!/usr/bin/env python3
"""A transformer server in Python (standard library only), speaking AIStore's ETL protocol.

It proves the target <-> ETL protocol is language-agnostic. Modes (env MODE):
  upper   - upper-cases the object (default)
  reverse - reverses the bytes
  fail    - answers 500 for objects whose name contains FAIL_ON (env), upper-cases the rest
  sleep   - sleeps SLEEP seconds (env), then echoes
  exit    - exits the process (status 3) when an object whose name contains FAIL_ON arrives
etl_args, when given, is appended to the output after a '|'.
STARTUP_DELAY (seconds, env) delays listening, so a test can watch the Initializing stage.
Command-line arguments are ignored (tests tag the command line with the ETL name).
"""
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("MODE", "upper")
FAIL_ON = os.environ.get("FAIL_ON", "\0")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("py_server: " + (fmt % args) + "\n")

    def _reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self._reply(200, b"Running")
        else:
            self._reply(404, b"not found")

    def do_PUT(self):
        url = urllib.parse.urlsplit(self.path)
        name = urllib.parse.unquote(url.path)
        args = urllib.parse.parse_qs(url.query).get("etl_args", [None])[0]
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n) if n else b""
        if MODE == "exit" and FAIL_ON in name:
            os._exit(3)
        if MODE == "fail" and FAIL_ON in name:
            self._reply(500, f"cannot transform {name}".encode())
            return
        if MODE == "sleep":
            time.sleep(float(os.environ.get("SLEEP", "5")))
            out = data
        elif MODE == "reverse":
            out = data[::-1]
        else:
            out = data.upper()
        if args is not None:
            out += b"|" + args.encode()
        self._reply(200, out)


def main():
    port = int(os.environ.get("PORT", "8000"))
    if not os.environ.get("AIS_TARGET_URL"):
        print("py_server: AIS_TARGET_URL is not set", file=sys.stderr)
        sys.exit(2)
    delay = float(os.environ.get("STARTUP_DELAY", "0") or 0)
    if delay > 0:
        print(f"py_server: starting in {delay}s", file=sys.stderr, flush=True)
        time.sleep(delay)
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(f"py_server: {MODE} on port {port}", file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
