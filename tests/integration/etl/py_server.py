#!/usr/bin/env python3
"""A transformer server in Python (standard library only), speaking AIStore's ETL protocol.

It proves the target <-> ETL protocol is language-agnostic. Modes (env MODE):
  upper   - upper-cases the object (default)
  reverse - reverses the bytes
  fail    - answers 500 for objects whose name contains FAIL_ON (env), upper-cases the rest
  sleep   - sleeps SLEEP seconds (env), then echoes
  append  - appends SUFFIX (env) to the object
  exit    - exits the process (status 3) when an object whose name contains FAIL_ON arrives
FAIL_BODY_HEX (env) is the body of fail's 500 and is written to stderr before exit's exit, as
raw bytes (hex-encoded so that a test can send bytes that are not UTF-8).
etl_args, when given, is appended to the output after a '|'.
It serves hpush (PUT, body or ?etl_fqn=), hpull (GET: reads ?etl_fqn= or fetches the object from
AIS_TARGET_URL) and direct put along a pipeline as AIStore's Python servers do (Ais-Node-Url
"u1,u2,...": PUT the result to u1 with Ais-Node-Url "u2,...", then answer 204, or 200 with the
bytes when u1, the next stage, answered with them).
STARTUP_DELAY (seconds, env) delays listening, so a test can watch the Initializing stage.
Command-line arguments are ignored (tests tag the command line with the ETL name).
"""
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
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
            return
        # hpull: the object comes from the FQN or from the target (AIS_TARGET_URL + path)
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if "etl_fqn" not in q:
            src = os.environ["AIS_TARGET_URL"] + url.path
            try:
                with urllib.request.urlopen(src, timeout=30) as r:
                    data = r.read()
            except urllib.error.HTTPError as e:
                self._reply(e.code, e.read())
                return
            except OSError as e:
                self._reply(502, f"cannot fetch {src}: {e}".encode())
                return
        else:
            data = None
        self._transform(url, q, data)

    def do_PUT(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n) if n else b""
        self._transform(url, q, None if "etl_fqn" in q else data)

    def _transform(self, url, q, data):
        name = urllib.parse.unquote(url.path)
        args = q.get("etl_args", [None])[0]
        if data is None:  # FQN mode: query-decoded, then path-unescaped once more
            fqn = urllib.parse.unquote(q["etl_fqn"][0])
            try:
                with open(fqn, "rb") as f:
                    data = f.read()
            except OSError as e:
                self._reply(404, f"cannot read {fqn}: {e}".encode())
                return
        raw = os.environ.get("FAIL_BODY_HEX")
        if MODE == "exit" and FAIL_ON in name:
            if raw:
                sys.stderr.buffer.write(bytes.fromhex(raw))
                sys.stderr.flush()
            os._exit(3)
        if MODE == "fail" and FAIL_ON in name:
            self._reply(500, bytes.fromhex(raw) if raw else f"cannot transform {name}".encode())
            return
        if MODE == "sleep":
            time.sleep(float(os.environ.get("SLEEP", "5")))
            out = data
        elif MODE == "reverse":
            out = data[::-1]
        elif MODE == "append":
            out = data + os.environ.get("SUFFIX", "").encode()
        else:
            out = data.upper()
        if args is not None:
            out += b"|" + args.encode()
        node_url = self.headers.get("Ais-Node-Url")
        if node_url and os.environ.get("NO_DIRECT_PUT") == "1":
            node_url = None  # a server that cannot deliver: it answers 200 with the bytes
        if node_url:
            # AIStore's Python servers: the first URL is the next stage (no path: same object
            # path there) or the destination target; the rest travels on in Ais-Node-Url.
            first, _, rest = node_url.strip().partition(",")
            res = self._direct_put(first.strip(), rest.strip(), url, out)
            if res is not None:
                status, body = res
                if status == 200 and body:  # the next stage answered with the result
                    self._reply(200, body)
                    return
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self._reply(200, out)

    def _direct_put(self, daddr, rest, url, data):
        """docs/protocol.md §5: host from daddr, path = AIS_TARGET_URL's path + daddr's path (or
        the request's own path for a next pipeline stage). (status, body), or None on failure."""
        base = urllib.parse.urlsplit(os.environ["AIS_TARGET_URL"])
        d = urllib.parse.urlsplit(daddr)
        path = base.path + d.path if d.path not in ("", "/") else url.path
        query = d.query if d.path not in ("", "/") else url.query
        dst = urllib.parse.urlunsplit((base.scheme, d.netloc, path, query, ""))
        req = urllib.request.Request(dst, data=data, method="PUT")
        if rest:
            req.add_header("Ais-Node-Url", rest)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return (r.status, r.read()) if r.status in (200, 204) else None
        except OSError as e:
            sys.stderr.write(f"py_server: direct put to {dst} failed: {e}; returning the bytes\n")
            return None


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
