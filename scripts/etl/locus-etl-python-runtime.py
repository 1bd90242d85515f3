#!/usr/bin/env python3
"""locus-etl-python-runtime.py - Locus's stand-in for AIStore's `aistorage/runtime_python:<ver>`
container image (NVIDIA/ais-etl runtime/python/bootstrap.py; docs/protocol.md §1.9).

AIStore's Python SDK deploys an ETL straight from code with `Etl.init_class`: the server class is
serialized into the env variable ETL_CLASS_PAYLOAD as base64(cloudpickle.dumps(cls)) and the
ETL's image is `aistorage/runtime_python:<python major.minor>`. A Locus target maps that image to
this script (node config: `etl_python`, default `python3`, runs
`<dir of locusd>/locus-etl-python-runtime.py`) with the daemon's environment plus the spec's env,
AIS_TARGET_URL, DIRECT_PUT, ARG_TYPE and PORT.

What it does:
  1. base64-decode and cloudpickle-load ETL_CLASS_PAYLOAD (a class, or an already built object),
  2. instantiate the class (no arguments; AIStore's ETLServer reads AIS_TARGET_URL itself),
  3. serve it on 127.0.0.1:$PORT:
       - `.app` is an ASGI application (FastAPI, Starlette)  -> uvicorn,
       - `.app` is a WSGI application (Flask)                -> a threaded WSGI server (werkzeug,
                                                                or wsgiref + ThreadingMixIn),
       - the object has `start()` (HTTPMultiThreadedServer)  -> set `.host`/`.port`, call it,
       - the object has only `transform(data, path, etl_args)` -> a small built-in hpush server.
     `.app` is tried before `start()` because AIStore's FastAPIServer and FlaskServer have both,
     and bootstrap.py serves their `.app` (uvicorn / gunicorn); HTTPMultiThreadedServer has no
     `.app`.

Every failure (no payload, bad base64, a class that cannot be loaded, a module that is not
installed, a constructor that raises, no way to serve the object) is one clear line on stderr
(the target's per-ETL log, shown in the ETL's Aborted reason) and exit status 1.

PACKAGES / OS_PACKAGES (pip / apk packages bootstrap.py installs) are NOT installed here: a Locus
node runs the class on its own Python, so whatever the class imports must already be installed
for that interpreter. The target checks that they are (dpkg-query, importlib.metadata) before it
starts this launcher, and fails the init naming the missing ones; a note is printed when they are
set.
"""

import base64
import binascii
import inspect
import logging
import os
import signal
import sys
import traceback

PROG = "locus-etl-python-runtime"
HOST = "127.0.0.1"  # the target talks to its ETL server over loopback


def log(msg):
    sys.stderr.write(f"{PROG}: {msg}\n")
    sys.stderr.flush()


def fail(msg, code=1):
    log("error: " + msg)
    sys.exit(code)


def interpreter():
    v = sys.version_info
    return f"{sys.executable} (Python {v.major}.{v.minor}.{v.micro})"


def load_payload():
    payload = os.environ.get("ETL_CLASS_PAYLOAD", "")
    if not payload.strip():
        fail("ETL_CLASS_PAYLOAD is not set: the aistorage/runtime_python image runs a Python class "
             "deployed with the SDK's Etl.init_class (env ETL_CLASS_PAYLOAD = "
             "base64(cloudpickle.dumps(cls)))")
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        fail(f"ETL_CLASS_PAYLOAD is not valid base64: {e}")
    try:
        import cloudpickle  # noqa: F401  (also registers the reducers pickle.loads needs)
    except ImportError:
        fail(f"the Python module 'cloudpickle' is not installed for {interpreter()}; install it "
             "on every target node (Debian: apt-get install python3-cloudpickle), the same "
             "version as on the client")
    try:
        return cloudpickle.loads(raw)
    except ModuleNotFoundError as e:
        fail(f"cannot load the ETL class: module '{e.name}' is not installed for {interpreter()} "
             f"({e}); install it on every target node, or pickle the class by value "
             "(cloudpickle.register_pickle_by_value)")
    except ImportError as e:
        fail(f"cannot load the ETL class: {e} (interpreter {interpreter()})")
    except Exception as e:  # pickle.UnpicklingError, AttributeError, EOFError, TypeError, ...
        fail(f"cannot load the ETL class from ETL_CLASS_PAYLOAD: {type(e).__name__}: {e} "
             f"(client and node need the same Python and cloudpickle versions; node: "
             f"{interpreter()}, cloudpickle {getattr(cloudpickle, '__version__', '?')})")


def instantiate(obj):
    if not inspect.isclass(obj):
        return obj  # already an instance
    try:
        return obj()
    except Exception:
        traceback.print_exc()
        fail(f"cannot instantiate ETL class {obj.__qualname__}")


def is_asgi(app):
    call = getattr(type(app), "__call__", None)
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call)


def serve_asgi(app, port):
    try:
        import uvicorn
    except ImportError:
        fail(f"the ETL class serves an ASGI app (FastAPI) but 'uvicorn' is not installed for "
             f"{interpreter()} (Debian: apt-get install python3-uvicorn)")
    log(f"serving ASGI app {type(app).__module__}.{type(app).__name__} with uvicorn on "
        f"{HOST}:{port}")
    uvicorn.run(app, host=HOST, port=port, log_level="info", access_log=False)


def serve_wsgi(app, port):
    try:
        from werkzeug.serving import make_server
    except ImportError:
        make_server = None
    if make_server is not None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per object
        log(f"serving WSGI app {type(app).__module__}.{type(app).__name__} with werkzeug "
            f"(threaded) on {HOST}:{port}")
        srv = make_server(HOST, port, app, threaded=True)
        srv.daemon_threads = True
        srv.serve_forever()
        return
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server as wsgiref_server

    class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, fmt, *args):
            pass

    log(f"serving WSGI app {type(app).__name__} with wsgiref (threaded) on {HOST}:{port}")
    wsgiref_server(HOST, port, app, server_class=ThreadingWSGIServer,
                   handler_class=QuietHandler).serve_forever()


def serve_transform(obj, port):
    """Fallback for a bare class with transform(data, path, etl_args): health + hpush."""
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def reply(self, status, body, ctype="application/octet-stream"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/health":
                self.reply(200, b"Running", "text/plain")
            else:
                self.reply(405, b"hpull is not supported by this server", "text/plain")

        def do_PUT(self):
            url = urllib.parse.urlsplit(self.path)
            args = urllib.parse.parse_qs(url.query).get("etl_args", [""])[0]
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n else b""
            try:
                out = obj.transform(data, urllib.parse.unquote(url.path).lstrip("/"), args)
            except Exception as e:
                self.reply(500, f"Processing error: {type(e).__name__}: {e}".encode(), "text/plain")
                return
            if isinstance(out, str):
                out = out.encode()
            self.reply(200, bytes(out))

    log(f"serving {type(obj).__name__}.transform with the built-in hpush server on {HOST}:{port}")
    srv = ThreadingHTTPServer((HOST, port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


def main():
    try:
        port = int(os.environ.get("PORT", ""))
    except ValueError:
        fail(f"PORT must be set to the port to listen on (got {os.environ.get('PORT')!r})")
    if not os.environ.get("AIS_TARGET_URL"):
        log("warning: AIS_TARGET_URL is not set")
    for var in ("PACKAGES", "OS_PACKAGES"):
        if os.environ.get(var):
            log(f"note: {var}={os.environ[var]} is not installed by Locus; the class runs on "
                f"{interpreter()} and must find what it imports there")

    # SIGTERM (the target stopping the ETL) ends the process cleanly; uvicorn installs its own.
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(0))
    obj = load_payload()
    name = getattr(obj, "__qualname__", type(obj).__qualname__)
    srv = instantiate(obj)
    app = getattr(srv, "app", None)
    if app is not None and callable(app):
        if is_asgi(app):
            serve_asgi(app, port)
        else:
            serve_wsgi(app, port)
    elif callable(getattr(srv, "start", None)):
        srv.host = HOST
        srv.port = port
        log(f"starting {name}.start() on {HOST}:{port}")
        srv.start()
    elif callable(getattr(srv, "transform", None)):
        serve_transform(srv, port)
    else:
        fail(f"ETL class {name} has no `.app` (FastAPI/Flask), no `start()` and no `transform()`: "
             "nothing to serve")
    # start() and serve_forever() return only on shutdown
    return 0


if __name__ == "__main__":
    sys.exit(main())
