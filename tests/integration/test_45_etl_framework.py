"""
liblocus-etl end to end, without a cluster: the built-in transformer binaries (locus-etl-md5,
-echo, -hello, -xxhash) and the example transformer of docs/etl-framework.md (compiled here
against the build tree) are started on free ports and driven over HTTP the way a target does
(docs/protocol.md §3-§7): /health, hpush with the body, hpush with etl_fqn (current, double
encoded) and with the v3.28 escaped-FQN path, FQN roots, hpull from AIS_TARGET_URL, etl_args,
direct put to a local receiver (204, retries, pipeline reply, failures), streaming output,
transform errors, 413, concurrency on kept-alive connections and SIGTERM shutdown.
"""

import hashlib
import http.client
import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

try:
    import xxhash
except ImportError:  # pragma: no cover
    xxhash = None

from etl.etlproc import BIN, REPO, Server, binary, free_port  # noqa: F401

TIMEOUT = 20


@pytest.fixture
def spawn(tmp_path):
    servers = []

    def make(name_or_path, env=None, args=()):
        exe = name_or_path if isinstance(name_or_path, Path) else binary(name_or_path)
        s = Server(exe, env=env, args=args, tmp=tmp_path, stop_timeout=15)
        servers.append(s)
        return s

    yield make
    errors = []
    for s in servers:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            s.kill()
    assert not errors, errors


# ------------------------------------------------------------------------------------------------
# A tiny HTTP peer: plays the destination target of a direct put, or the source target of hpull.

class Peer:
    """ThreadingHTTPServer in this process. `script` maps a request to (status, body); every
    request is recorded as (method, raw path, headers, body)."""

    def __init__(self, script):
        peer = self
        self.requests = []
        self.script = script
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with peer.lock:
                    peer.requests.append((self.command, self.path, dict(self.headers), body))
                    status, out = peer.script(self.command, self.path, body, len(peer.requests))
                if status == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if out:
                    self.wfile.write(out)

            do_GET = do_PUT = do_POST = _any

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.srv.daemon_threads = True
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def peer():
    peers = []

    def make(script):
        p = Peer(script)
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.close()


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def fqn_query(path):
    """etl_fqn as a current AIStore target sends it: PathEscape, then url.Values.Encode()."""
    once = urllib.parse.quote(str(path), safe="@")  # Go PathEscape keeps '@'
    return "etl_fqn=" + urllib.parse.quote_plus(once)


# ------------------------------------------------------------------------------------------------
# Built-ins over hpush

def test_health_all_builtins(spawn):
    for name in ("md5", "echo", "hello", "xxhash"):
        s = spawn(name)
        r = requests.get(s.url + "/health", timeout=TIMEOUT)
        assert r.status_code == 200 and r.text == "Running"


def test_md5_body(spawn):
    s = spawn("md5")
    with requests.Session() as h:  # one kept-alive connection for all of them
        for data in (b"", b"hello", os.urandom(5 << 20)):
            r = h.put(s.url + "/bck/dir/obj.bin", data=data, timeout=TIMEOUT)
            assert r.status_code == 200, r.text
            assert r.text == md5hex(data)
        r = h.put(s.url + "/bck/o?etl_args=ignored", data=b"x", timeout=TIMEOUT)
        assert r.text == md5hex(b"x")


def test_builtins_body_and_args(spawn):
    data = os.urandom(3 << 20) + b"tail"
    e = spawn("echo")
    r = requests.put(e.url + "/b/o", data=data, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == data
    h = spawn("hello")
    r = requests.put(h.url + "/b/o", data=data, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == b"Hello World!"


@pytest.mark.skipif(xxhash is None, reason="python3-xxhash not installed")
def test_xxhash_seed(spawn):
    data = b"some object bytes" * 1000
    s = spawn("xxhash")
    r = requests.put(s.url + "/b/o", data=data, timeout=TIMEOUT)
    assert r.text == xxhash.xxh64(data, seed=0).hexdigest()
    r = requests.put(s.url + "/b/o?etl_args=12345", data=data, timeout=TIMEOUT)
    assert r.text == xxhash.xxh64(data, seed=12345).hexdigest()
    assert len(r.text) == 16
    r = requests.put(s.url + "/b/o?etl_args=notanumber", data=data, timeout=TIMEOUT)
    assert r.status_code == 400 and "invalid seed" in r.text
    s2 = spawn("xxhash", env={"SEED_DEFAULT": "777"})
    r = requests.put(s2.url + "/b/o", data=data, timeout=TIMEOUT)
    assert r.text == xxhash.xxh64(data, seed=777).hexdigest()
    r = requests.put(s2.url + "/b/o?etl_args=1", data=b"", timeout=TIMEOUT)
    assert r.text == xxhash.xxh64(b"", seed=1).hexdigest()


def test_body_too_large(spawn):
    s = spawn("md5", env={"LOCUS_ETL_MAX_OBJECT_SIZE": "1000"})
    r = requests.put(s.url + "/b/o", data=b"x" * 1000, timeout=TIMEOUT)
    assert r.status_code == 200
    r = requests.put(s.url + "/b/o", data=b"x" * 1001, timeout=TIMEOUT)
    assert r.status_code == 413


# ------------------------------------------------------------------------------------------------
# FQN

def test_fqn_current_form(spawn, tmp_path):
    mp = tmp_path / "mp1" / "@ais" / "src" / "%ob" / "dir"
    mp.mkdir(parents=True)
    f = mp / "a b+c.flac"
    data = os.urandom(1 << 20)
    f.write_bytes(data)
    (mp / "empty").write_bytes(b"")
    s = spawn("md5")
    r = requests.put(f"{s.url}/src/dir/a%20b%2Bc.flac?{fqn_query(f)}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.text == md5hex(data)
    r = requests.put(f"{s.url}/src/dir/empty?{fqn_query(mp / 'empty')}", timeout=TIMEOUT)
    assert r.text == md5hex(b"")
    # hpull with etl_fqn reads the file too (no AIS_TARGET_URL needed)
    r = requests.get(f"{s.url}/ais%2F@%23%2Fsrc%2Fdir%2Fx?{fqn_query(f)}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == md5hex(data)
    r = requests.put(f"{s.url}/src/nope?{fqn_query(mp / 'nope')}", timeout=TIMEOUT)
    assert r.status_code == 404
    # echo hands the mapped file back
    e = spawn("echo")
    r = requests.put(f"{e.url}/src/dir/a?{fqn_query(f)}", timeout=TIMEOUT)
    assert r.content == data


def test_fqn_v328_path_form(spawn, tmp_path):
    f = tmp_path / "mp" / "@ais" / "b" / "%ob" / "o"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"v3.28 bytes")
    s = spawn("md5", env={"ARG_TYPE": "fqn"})
    path = urllib.parse.quote(str(f), safe="@")  # url.PathEscape(FQN) as the URL path
    r = requests.put(f"{s.url}/{path}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.text == md5hex(b"v3.28 bytes")
    # with ARG_TYPE=fqn a plain bck/obj path still means "bytes in the body"
    r = requests.put(f"{s.url}/b/o", data=b"body", timeout=TIMEOUT)
    assert r.text == md5hex(b"body")


def test_fqn_roots(spawn, tmp_path):
    root = tmp_path / "mp1"
    inside = root / "@ais" / "b" / "%ob" / "o"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"inside")
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    (root / "@ais" / "b" / "%ob" / "link").symlink_to(outside)
    s = spawn("md5", env={"LOCUS_ETL_FQN_ROOTS": f"{tmp_path}/nonexistent:{root}"})
    r = requests.put(f"{s.url}/b/o?{fqn_query(inside)}", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == md5hex(b"inside")
    r = requests.put(f"{s.url}/b/o?{fqn_query(outside)}", timeout=TIMEOUT)
    assert r.status_code == 403, r.text
    r = requests.put(f"{s.url}/b/o?{fqn_query(str(root) + '/../secret')}", timeout=TIMEOUT)
    assert r.status_code == 403, r.text
    r = requests.put(f"{s.url}/b/o?{fqn_query(inside.parent / 'link')}", timeout=TIMEOUT)
    assert r.status_code == 403, r.text
    r = requests.put(f"{s.url}/b/o?{fqn_query('/etc/passwd')}", timeout=TIMEOUT)
    assert r.status_code == 403


# ------------------------------------------------------------------------------------------------
# hpull

def test_hpull_fetches_from_target(spawn, peer):
    objects = {"/v1/etl/_object/md5-etl/QwErTyUiOp/ais%2F@%23%2Fsrc%2Fdir%2Fa.flac": b"pulled!"}

    def script(method, path, body, n):
        if path in objects:
            return 200, objects[path]
        return 404, b"object does not exist"

    t = peer(script)
    s = spawn("md5", env={"AIS_TARGET_URL": t.url + "/v1/etl/_object/md5-etl/QwErTyUiOp"})
    r = requests.get(f"{s.url}/ais%2F@%23%2Fsrc%2Fdir%2Fa.flac", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.text == md5hex(b"pulled!")
    assert t.requests[-1][0] == "GET"
    assert t.requests[-1][1] == "/v1/etl/_object/md5-etl/QwErTyUiOp/ais%2F@%23%2Fsrc%2Fdir%2Fa.flac"
    r = requests.get(f"{s.url}/ais%2F@%23%2Fsrc%2Fmissing", timeout=TIMEOUT)
    assert r.status_code == 404 and "does not exist" in r.text
    # no AIS_TARGET_URL: a clear error, not a crash
    s2 = spawn("md5")
    r = requests.get(f"{s2.url}/ais%2F@%23%2Fsrc%2Fx", timeout=TIMEOUT)
    assert r.status_code == 500 and "AIS_TARGET_URL" in r.text


def test_hpull_target_down(spawn):
    s = spawn("md5", env={"AIS_TARGET_URL": f"http://127.0.0.1:{free_port()}/v1/etl/_object/e/s"})
    r = requests.get(f"{s.url}/ais%2F@%23%2Fb%2Fo", timeout=TIMEOUT)
    assert r.status_code == 502


# ------------------------------------------------------------------------------------------------
# Direct put

DST = "/v1/etl/_object/md5-etl/QwErTyUiOp/ais%2F@%23%2Fdst%2Fdir%2Fa.wav"


def test_direct_put_204(spawn, peer):
    d = peer(lambda m, p, b, n: (200, b""))
    s = spawn("md5")
    data = os.urandom(100000)
    # Locus form: a full URL of the destination endpoint
    r = requests.put(f"{s.url}/src/dir/a.flac", data=data, timeout=TIMEOUT,
                     headers={"Ais-Node-Url": f"{d.url}{DST}?owt=3&uuid=Hk3dL0aXq"})
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers["Ais-Direct-Put-Length"] == "32"
    method, path, hdrs, body = d.requests[-1]
    assert method == "PUT" and path == f"{DST}?owt=3&uuid=Hk3dL0aXq"
    assert body == md5hex(data).encode()
    # AIStore form: dst target + escaped uname, prefix taken from AIS_TARGET_URL; comma list
    s2 = spawn("echo", env={"AIS_TARGET_URL": "http://10.9.9.9:1/v1/etl/_object/md5-etl/QwErTyUiOp"})
    r = requests.put(f"{s2.url}/src/dir/a.flac?etl_args=k", data=data, timeout=TIMEOUT,
                     headers={"Ais-Node-Url": f"{d.url}/ais%2F@%23%2Fdst%2Fdir%2Fa.wav?owt=3, http://x:1"})
    assert r.status_code == 204, r.text
    method, path, hdrs, body = d.requests[-1]
    assert path == f"{DST}?owt=3&etl_args=k"
    assert body == data
    assert hdrs.get("Ais-Node-Url") == "http://x:1"


def test_direct_put_retries(spawn, peer):
    d = peer(lambda m, p, b, n: (503, b"busy") if n <= 2 else (200, b""))
    s = spawn("hello")
    r = requests.put(f"{s.url}/b/o", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": d.url + DST})
    assert r.status_code == 204, r.text
    assert len(d.requests) == 3
    assert all(req[3] == b"Hello World!" for req in d.requests)
    # connection dropped mid-request is transient too
    d2 = peer(lambda m, p, b, n: ("drop", b"") if n == 1 else (200, b""))
    r = requests.put(f"{s.url}/b/o", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": d2.url + DST})
    assert r.status_code == 204, r.text
    assert len(d2.requests) == 2


def test_direct_put_failures(spawn, peer):
    s = spawn("md5", env={"AIS_DIRECT_PUT_RETRIES": "1"})
    always500 = peer(lambda m, p, b, n: (500, b"disk on fire"))
    r = requests.put(f"{s.url}/b/o", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": always500.url + DST})
    assert r.status_code == 500 and "disk on fire" in r.text
    assert len(always500.requests) == 2  # first try + 1 retry
    bad_secret = peer(lambda m, p, b, n: (403, b"invalid secret"))
    r = requests.put(f"{s.url}/b/o", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": bad_secret.url + DST})
    assert r.status_code == 403 and "invalid secret" in r.text
    assert len(bad_secret.requests) == 1  # 4xx is not retried
    gone = f"http://127.0.0.1:{free_port()}"
    r = requests.put(f"{s.url}/b/o", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": gone + DST})
    assert r.status_code == 502
    # nothing listens there: the next objects bound to it fail at once, without the retries
    r = requests.put(f"{s.url}/b/o2", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": gone + DST})
    assert r.status_code == 502 and f"{gone} refused a connection less than" in r.text, r.text
    r = requests.put(f"{s.url}/b/o", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": "not a url"})
    assert r.status_code == 400


def test_direct_put_pipeline_reply(spawn, peer):
    # The next stage (another ETL server: URL without a path) answers 200 with content.
    nxt = peer(lambda m, p, b, n: (200, b"stage2:" + b))
    s = spawn("hello")
    r = requests.put(f"{s.url}/b/dir/o?etl_args=z", data=b"abc", timeout=TIMEOUT,
                     headers={"Ais-Node-Url": nxt.url})
    assert r.status_code == 200 and r.content == b"stage2:Hello World!"
    assert nxt.requests[-1][1] == "/b/dir/o?etl_args=z"


# ------------------------------------------------------------------------------------------------
# The docs example: streaming writer, transform errors

def build_example(tmp_path):
    doc = (REPO / "docs" / "etl-framework.md").read_text()
    m = re.search(r"<!-- example: upper\.c -->\s*```c\n(.*?)```", doc, re.S)
    assert m, "docs/etl-framework.md lost its upper.c example"
    src = tmp_path / "upper.c"
    src.write_text(m.group(1))
    lib = BIN.parent / "lib"
    if not (lib / "liblocus_etl.a").exists() or shutil.which("cc") is None:
        pytest.skip("liblocus_etl.a or cc not available")
    pc = subprocess.run(["pkg-config", "--libs", "libmicrohttpd", "libcurl", "libcrypto",
                         "libxxhash", "jansson", "msgpack"], capture_output=True, text=True)
    if pc.returncode != 0:
        pytest.skip("pkg-config cannot find the libraries")
    exe = tmp_path / "locus-etl-upper"
    base = ["cc", "-std=c17", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-I", str(REPO / "include"),
            str(src), str(lib / "liblocus_etl.a"), str(lib / "liblocus_common.a"),
            *pc.stdout.split(), "-lwslay", "-lpthread", "-o", str(exe)]
    r = subprocess.run(base, capture_output=True, text=True)
    if r.returncode != 0:  # a sanitizer build tree needs the sanitizer runtimes
        r = subprocess.run(base + ["-fsanitize=address,undefined"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def test_example_streaming_and_errors(spawn, tmp_path):
    s = spawn(build_example(tmp_path))
    small = b"hello, world"
    r = requests.put(s.url + "/b/o", data=small, timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == small.upper()
    assert r.headers.get("Content-Length") == str(len(small))
    big = bytes(range(256)) * (40 << 10)  # 10 MiB: streamed (chunked) past ~1 MiB
    with requests.put(s.url + "/b/big", data=big, timeout=TIMEOUT, stream=True) as r:
        assert r.status_code == 200
        assert r.headers.get("Transfer-Encoding") == "chunked"
        got = b"".join(r.iter_content(1 << 16))
    assert got == big.upper()
    r = requests.put(s.url + "/b/o?etl_args=fail", data=small, timeout=TIMEOUT)
    assert r.status_code == 500 and r.text == "asked to fail on b/o"
    # a client that goes away mid-stream does not hurt the server
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.sendall(b"PUT /b/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        c.recv(100)
    r = requests.get(s.url + "/health", timeout=TIMEOUT)
    assert r.status_code == 200


# ------------------------------------------------------------------------------------------------
# Protocol odds and ends, concurrency, shutdown

def test_misc_routes(spawn):
    s = spawn("md5")
    r = requests.delete(s.url + "/b/o", timeout=TIMEOUT)
    assert r.status_code == 405
    r = requests.get(s.url + "/ws", timeout=TIMEOUT)  # no Upgrade headers
    assert r.status_code == 400
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=TIMEOUT)
    conn.request("PUT", "/b/%zz", body=b"x")  # requests would re-escape the bad '%'
    assert conn.getresponse().status == 400
    conn.close()
    # bare connect/close (the target's dial check) is tolerated
    socket.create_connection(("127.0.0.1", s.port)).close()
    assert requests.get(s.url + "/health", timeout=TIMEOUT).text == "Running"


def test_concurrent_keepalive(spawn):
    s = spawn("md5")
    blobs = [os.urandom(1000 + 997 * i) for i in range(64)]

    def work(chunk):
        with requests.Session() as h:
            return [h.put(f"{s.url}/b/o{i}", data=b, timeout=TIMEOUT).text for i, b in chunk]

    items = list(enumerate(blobs))
    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(work, [items[i::8] for i in range(8)]))
    for k, res in enumerate(results):
        for (i, b), got in zip(items[k::8], res):
            assert got == md5hex(b)


def test_sigterm_graceful(spawn, tmp_path):
    s = spawn("echo", env={"LOCUS_ETL_SHUTDOWN_GRACE_MS": "3000"})
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=15) == 0
    assert "shutting down" in s.logs()
    s2 = spawn("md5")
    s2.proc.send_signal(signal.SIGINT)
    assert s2.proc.wait(timeout=15) == 0


def test_usage_errors():
    exe = binary("md5")
    r = subprocess.run([str(exe), "--port", "nope"], capture_output=True, timeout=10)
    assert r.returncode == 2
    r = subprocess.run([str(exe), "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"PORT" in r.stdout
