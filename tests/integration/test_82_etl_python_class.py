"""82 Python ETL classes: AIStore's SDK `Etl.init_class` flow (docs/protocol.md §1.6, §1.9;
docs/protocol.md §9.1). The init message is built exactly as the SDK builds it - image
`aistorage/runtime_python:<major.minor>`, env ETL_CLASS_PAYLOAD = base64(cloudpickle.dumps(cls)),
hpush://, support_direct_put true - and each target runs the class through
build/bin/locus-etl-python-runtime.py on the interpreter of the node config's `etl_python`
(locustest.py sets it to this test's interpreter: payloads need the same Python and cloudpickle).

Three server classes written here, one per style the launcher serves:
  FastAPIServerUpper  - `.app` is a FastAPI app (ASGI -> uvicorn), PUT /{path:path}, GET /health
  FlaskServerReverse  - `.app` is a Flask app (WSGI -> threaded werkzeug server)
  HTTPServerTagged    - `start()` serves http.server on self.host:self.port (like the SDK's
                        HTTPMultiThreadedServer)
This module is registered with cloudpickle.register_pickle_by_value, so the classes travel by
value (the nodes cannot import this test module). The launcher's own failures (no payload, bad
base64, a class whose module is missing, nothing to serve) are checked by running it directly,
and one of them through a cluster init (the 4xx carries the launcher's message).
"""

import base64
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

import locustest as lt
from etl import etlutil as eu

cloudpickle = pytest.importorskip("cloudpickle", reason="python3-cloudpickle is not installed")

LAUNCHER = lt.BIN_DIR / "locus-etl-python-runtime.py"
RUNTIME_IMAGE = f"aistorage/runtime_python:{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def buckets(cluster, http):
    yield from eu.buckets_fixture(cluster, http)



# ------------------------------------------------------------------------------------------------
# server classes (AIStore ETLServer style: __init__ reads AIS_TARGET_URL; transform(data, path,
# etl_args)). Each output names its server, the path it was given and the args.


class FastAPIServerUpper:
    def __init__(self):
        from fastapi import FastAPI, Request
        from fastapi.responses import Response

        self.host_target = os.environ["AIS_TARGET_URL"]
        self.app = FastAPI()

        @self.app.get("/health")
        async def health():
            return Response(content=b"Running", media_type="text/plain")

        @self.app.put("/{path:path}")
        async def put(path: str, request: Request):
            data = await request.body()
            args = request.query_params.get("etl_args", "")
            return Response(content=self.transform(data, path, args),
                            media_type="application/octet-stream")

    def transform(self, data, path, etl_args):
        return b"fastapi|" + path.encode() + b"|" + etl_args.encode() + b"|" + data.upper()


class FlaskServerReverse:
    def __init__(self):
        from flask import Flask, Response, request

        self.host_target = os.environ["AIS_TARGET_URL"]
        self.app = Flask("locus_flask_etl", root_path=os.getcwd())

        def health():
            return Response(b"Running", mimetype="text/plain")

        def put(path):
            out = self.transform(request.get_data(), path, request.args.get("etl_args", ""))
            return Response(out, mimetype="application/octet-stream")

        self.app.add_url_rule("/health", "health", health, methods=["GET"])
        self.app.add_url_rule("/<path:path>", "put", put, methods=["PUT"])

    def transform(self, data, path, etl_args):
        return b"flask|" + path.encode() + b"|" + etl_args.encode() + b"|" + data[::-1]


class HTTPServerTagged:
    def __init__(self, host="0.0.0.0", port=8000):
        self.host, self.port = host, port
        self.host_target = os.environ["AIS_TARGET_URL"]

    def transform(self, data, path, etl_args):
        return b"http|" + path.encode() + b"|" + etl_args.encode() + b"|" + data.lower()

    def start(self):
        etl = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._reply(200 if self.path == "/health" else 404, b"Running")

            def do_PUT(self):
                url = urlsplit(self.path)
                args = parse_qs(url.query).get("etl_args", [""])[0]
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply(200, etl.transform(data, unquote(url.path), args))

        srv = ThreadingHTTPServer((self.host, self.port), Handler)
        srv.daemon_threads = True
        srv.serve_forever()


def expect_fastapi(bck, obj, args, data):
    return b"fastapi|" + f"{bck}/{obj}".encode() + b"|" + args.encode() + b"|" + data.upper()


def expect_flask(bck, obj, args, data):
    return b"flask|" + f"{bck}/{obj}".encode() + b"|" + args.encode() + b"|" + data[::-1]


def expect_http(bck, obj, args, data):
    return b"http|" + f"/{bck}/{obj}".encode() + b"|" + args.encode() + b"|" + data.lower()


CLASSES = {
    "fastapi": (FastAPIServerUpper, expect_fastapi, "fastapi"),
    "flask": (FlaskServerReverse, expect_flask, "flask"),
    "http": (HTTPServerTagged, expect_http, None),
}


@pytest.fixture(scope="module", autouse=True)
def _by_value():
    """The nodes cannot import this module: pickle its classes by value (docs/etl.md)."""
    mod = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(mod)
    yield
    cloudpickle.unregister_pickle_by_value(mod)


def serialize_class(cls):
    return base64.b64encode(cloudpickle.dumps(cls)).decode("utf-8")


def init_class_msg(name, cls, **env):
    """What `Etl(name).init_class()(cls)` sends (SDK etl.py init_class -> init -> ETLSpecMsg)."""
    env_vars = [{"name": "ETL_CLASS_PAYLOAD", "value": serialize_class(cls)}]
    env_vars += [{"name": k, "value": v} for k, v in env.items()]
    return {
        "name": name,
        "communication": "hpush://",
        "init_timeout": "5m",
        "obj_timeout": "45s",
        "support_direct_put": True,
        "runtime": {"image": RUNTIME_IMAGE, "env": env_vars},
    }


def need(module):
    pytest.importorskip(module, reason=f"python3-{module} is not installed")


# ------------------------------------------------------------------------------------------------
# through the cluster


@pytest.mark.parametrize("style", list(CLASSES))
def test_init_class_inline(cluster, http, etls, buckets, style):
    cls, expect, module = CLASSES[style]
    if module:
        need(module)
    assert LAUNCHER.exists(), f"{LAUNCHER} missing: the build must copy scripts/etl/ into bin/"
    base = cluster.url
    name = etls.track(eu.etl_name(style))
    msg = init_class_msg(name, cls)
    t0 = time.monotonic()
    etls.init_ok(msg, timeout=120)
    started = time.monotonic() - t0
    v = eu.view_ok(http, base, name)["init_msg"]
    assert v["runtime"]["image"] == RUNTIME_IMAGE and "command" not in v["runtime"], v["runtime"]
    assert v["runtime"]["env"][0]["name"] == "ETL_CLASS_PAYLOAD"
    eu.assert_servers(cluster, name)

    bck = buckets()
    objs = {"plain.txt": b"Hello Mixed Case", "dir/sub/x y.bin": bytes(range(256)) * 40,
            "empty": b"", "big": b"AbC" * 400_000}
    for n, d in objs.items():
        eu.put(http, base, bck, n, d)
    for n, d in objs.items():
        for args in ("", '{"k":1}'):
            params = {"etl_name": name}
            if args:
                params["etl_args"] = args
            r = eu.get_obj(http, base, bck, n, **params)
            assert r.status_code == 200, (style, n, r.status_code, r.text[:500])
            assert r.content == expect(bck, n, args, d), (style, n, r.content[:120])
    # and offline, through the same server
    dst = buckets(create=False)
    jid = eu.job_id_of(eu.etl_bck(http, base, bck, dst, name))
    st = eu.wait_job(http, base, jid)
    assert not st.get("err"), st
    for n, d in objs.items():
        r = eu.get_obj(http, base, dst, n)
        assert r.status_code == 200, (style, n, r.status_code, r.text[:300])
        assert r.content == expect(bck, n, "", d), (style, n, r.content[:120])
    print(f"{style}: init {started:.1f}s")


def test_init_class_bad_payload_fails_init_with_message(cluster, http, etls):
    name = etls.track(eu.etl_name("badpkl"))
    msg = init_class_msg(name, HTTPServerTagged)
    msg["init_timeout"] = "30s"
    msg["runtime"]["env"][0]["value"] = base64.b64encode(b"cnosuch_module_xyz\nServer\n.").decode()
    t0 = time.monotonic()
    r = etls.init(msg)
    assert time.monotonic() - t0 < lt.tmo(20), "init must fail as soon as the launcher exits"
    body = lt.assert_4xx(r)
    assert "nosuch_module_xyz" in body["message"], body
    assert eu.view(http, cluster.url, name).status_code == 404  # a failed init leaves nothing


# ------------------------------------------------------------------------------------------------
# the launcher alone (no cluster): error paths and the start() style


def run_launcher(env, timeout=20):
    e = {k: v for k, v in os.environ.items() if k != "ETL_CLASS_PAYLOAD"}
    e.update(env)
    return subprocess.run([sys.executable, str(LAUNCHER)], env=e, capture_output=True,
                          timeout=lt.tmo(timeout), preexec_fn=lt._child_setup)


def launcher_env(**kw):
    return {"PORT": str(lt.free_ports(1)[0]),
            "AIS_TARGET_URL": "http://127.0.0.1:1/v1/etl/_object/x/y",
            **kw}


@pytest.mark.parametrize("payload,contains", [
    (None, "ETL_CLASS_PAYLOAD is not set"),
    ("", "ETL_CLASS_PAYLOAD is not set"),
    ("%%% not base64 %%%", "not valid base64"),
    (base64.b64encode(b"definitely not a pickle").decode(), "cannot load the ETL class"),
    (base64.b64encode(b"cnosuch_module_xyz\nServer\n.").decode(), "module 'nosuch_module_xyz'"),
], ids=["unset", "empty", "not-base64", "not-a-pickle", "missing-module"])
def test_launcher_errors(payload, contains):
    assert LAUNCHER.exists(), f"{LAUNCHER} missing"
    env = launcher_env()
    if payload is not None:
        env["ETL_CLASS_PAYLOAD"] = payload
    p = run_launcher(env)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 1, (p.returncode, err)
    assert contains in err, err
    assert "Traceback" not in err, f"a clear message, not a traceback:\n{err}"


def test_launcher_nothing_to_serve_and_bad_ctor():
    class Nothing:
        pass

    class Broken:
        def __init__(self):
            raise RuntimeError("ctor says no")

    p = run_launcher(launcher_env(ETL_CLASS_PAYLOAD=serialize_class(Nothing)))
    assert p.returncode == 1 and b"nothing to serve" in p.stderr, p.stderr
    p = run_launcher(launcher_env(ETL_CLASS_PAYLOAD=serialize_class(Broken)))
    assert p.returncode == 1, p.stderr
    assert b"ctor says no" in p.stderr and b"cannot instantiate" in p.stderr, p.stderr


class PlainWSGI:
    """A bare WSGI callable as `.app` (no framework)."""

    def __init__(self):
        def app(environ, start_response):
            if environ["REQUEST_METHOD"] == "GET":
                body = b"Running"
            else:
                n = int(environ.get("CONTENT_LENGTH") or 0)
                body = b"wsgi|" + environ["wsgi.input"].read(n).swapcase()
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]

        self.app = app


def serve_and_put(cls, extra_env=None):
    """Runs the launcher with cls, PUTs b"XyZ" to /b/o?etl_args=a, SIGTERMs it.
    Returns (response body, exit status, output)."""
    env = launcher_env(ETL_CLASS_PAYLOAD=serialize_class(cls), **(extra_env or {}))
    e = {**os.environ, **env}
    proc = subprocess.Popen([sys.executable, str(LAUNCHER)], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=lt._child_setup)
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + lt.tmo(10)
        while True:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "launcher never became healthy"
            time.sleep(0.05)
        r = requests.put(url + "/b/o", params={"etl_args": "a"}, data=b"XyZ", timeout=5)
        assert r.status_code == 200, r.content
    finally:
        proc.terminate()
        try:
            proc.wait(lt.tmo(5))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("launcher ignored SIGTERM")
    return r.content, proc.returncode, proc.stdout.read().decode(errors="replace")


def test_launcher_start_style_sets_port_and_stops_on_sigterm():
    body, rc, out = serve_and_put(HTTPServerTagged)
    assert body == b"http|/b/o|a|xyz", body
    assert rc == 0, f"SIGTERM must end the launcher cleanly, got {rc}:\n{out}"


def test_launcher_wsgi_without_werkzeug(tmp_path):
    """No werkzeug for that interpreter: the launcher falls back to wsgiref with threads."""
    block = tmp_path / "werkzeug"
    block.mkdir()
    (block / "__init__.py").write_text("raise ImportError('werkzeug blocked by the test')\n")
    body, rc, out = serve_and_put(PlainWSGI, {"PYTHONPATH": str(tmp_path)})
    assert body == b"wsgi|xYz", body
    assert "wsgiref" in out and rc == 0, out
