"""
liblocus-etl over WebSocket (GET /ws, docs/protocol.md §3.4), without a cluster: the built-in
transformers (locus-etl-echo, -md5, -xxhash) on free ports, driven the way a target drives them:
per object a Binary control message (JSON: path, etl_args, fqn, dst_addr/pipeline) and, unless
FQN, the object as one Binary message; exactly one reply per request, in order (Binary = bytes,
Text = delivered by direct put, Text "ETL-ERROR <status> <msg>" = failed).

Covers: the handshake (python3-websocket checks Sec-WebSocket-Accept), 0 B / 1 B / 64 KiB / 8 MiB
objects, a 1 GiB object streamed in fragments with the server's peak RSS bounded, pipelined
requests on one connection, many connections at once, FQN mode with roots, direct put (Locus and
AIStore destination forms, pipeline stage, failures), transform errors, ping/pong, close codes,
connections dropped mid-message, and SIGTERM closing connections with 1001.
"""

import hashlib
import http.server
import json
import os
import signal
import socket
import struct
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

websocket = pytest.importorskip("websocket")  # Debian python3-websocket (websocket-client)
from websocket import ABNF  # noqa: E402

from etl.etlproc import Server, binary, free_port  # noqa: E402

TIMEOUT = 60
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

@pytest.fixture
def spawn(tmp_path):
    servers = []

    def make(name, env=None):
        s = Server(binary(name), env=env, tmp=tmp_path)
        servers.append(s)
        return s

    yield make
    for s in servers:
        try:
            s.stop()
        finally:
            s.kill()


class WS:
    """A WebSocket client for the tests. python3-websocket does the handshake (and checks the
    accept key) and masks small messages with random keys; large objects go out as raw frames
    with an all-zero mask key (legal, and no per-byte work in Python). Replies are parsed here
    from a buffered reader frame by frame, so a 1 GiB reply is never held whole."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=TIMEOUT, skip_utf8_validation=True)
        self.sock = self.ws.sock
        self.rfile = self.sock.makefile("rb", buffering=1 << 20)

    # sending
    def send_frame(self, opcode, data, fin=True):
        self.ws.send_frame(ABNF.create_frame(data, opcode, fin=1 if fin else 0))

    def send_raw(self, opcode, data, fin=True, declared=None):
        """One frame with a zero mask key; `declared` lies about the length (drop tests)."""
        n = len(data) if declared is None else declared
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 1 << 16:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        self.sock.sendall(hdr + b"\0\0\0\0")
        if data:
            self.sock.sendall(data)

    def ctrl(self, text=False, **kw):
        self.send_frame(OP_TEXT if text else OP_BIN, json.dumps(kw).encode())

    def obj(self, data, frag=None):
        """The object as one Binary message, in fragments of `frag` bytes if given."""
        if frag is None or len(data) <= frag:
            if len(data) > 1 << 20:
                self.send_raw(OP_BIN, data)
            else:
                self.send_frame(OP_BIN, data)
            return
        for off in range(0, len(data), frag):
            self.send_raw(OP_BIN if off == 0 else OP_CONT, data[off:off + frag],
                          fin=off + frag >= len(data))

    def request(self, data, **kw):
        self.ctrl(**kw)
        if "fqn" not in kw:
            self.obj(data)

    # receiving
    def _read(self, n):
        b = self.rfile.read(n)
        if b is None or len(b) < n:
            raise ConnectionError("connection closed")
        return b

    def frame(self):
        b0, b1 = self._read(2)
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, bool(b0 & 0x80), self._read(n) if n else b""

    def message(self, sink=None, want_pong=False):
        """The next data message: (opcode, bytes) or (opcode, byte count) with a sink.
        Control frames: a pong is recorded, a close returns (OP_CLOSE, payload)."""
        op, data, total = None, [], 0
        while True:
            fop, fin, payload = self.frame()
            if fop == OP_PONG:
                self.pongs.append(payload)
                continue
            if fop == OP_PING:
                continue
            if fop == OP_CLOSE:
                return OP_CLOSE, payload
            if fop != OP_CONT:
                assert op is None, "new message before the previous one ended"
                op = fop
            else:
                assert op is not None, "continuation without a message"
            total += len(payload)
            if sink:
                sink(payload)
            else:
                data.append(payload)
            if fin:
                return op, (total if sink else b"".join(data))

    pongs = []

    def reply(self):
        op, data = self.message()
        assert op == OP_BIN, f"expected a Binary reply, got opcode {op}: {data[:200]!r}"
        return data

    def text(self):
        op, data = self.message()
        assert op == OP_TEXT, f"expected a Text reply, got opcode {op}: {data[:200]!r}"
        return data.decode()

    def close(self, code=1000):
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code))
            op, payload = self.message()
            assert op == OP_CLOSE
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        finally:
            self.abort()

    def abort(self):
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


def expect_error(ws, status):
    t = ws.text()
    assert t.startswith(f"ETL-ERROR {status} "), t
    return t[len(f"ETL-ERROR {status} "):]


def md5hex(b):
    return hashlib.md5(b).hexdigest().encode()


# ------------------------------------------------------------------------------------------
# handshake


def test_handshake_and_plain_http(spawn):
    s = spawn("echo")
    r = requests.get(s.url + "/ws", timeout=5)
    assert r.status_code == 400
    r = requests.get(s.url + "/ws", timeout=5, headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status_code == 426 and r.headers["Sec-WebSocket-Version"] == "13"
    r = requests.get(s.url + "/ws", timeout=5, headers={
        "Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"})
    assert r.status_code == 400
    # raw handshake: the RFC 6455 sample key
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
        c.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += c.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
        assert b"upgrade" in head.lower() and b"websocket" in head.lower()
    # HTTP keeps working next to WebSockets
    assert requests.put(s.url + "/b/o", data=b"abc", timeout=5).content == b"abc"


# ------------------------------------------------------------------------------------------
# bytes mode


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 8 << 20])
def test_echo_sizes(spawn, size):
    s = spawn("echo")
    ws = WS(s.ws_url)
    data = os.urandom(size)
    ws.request(data, path="dir/o.bin")
    assert ws.reply() == data
    # the same object in fragments (continuation frames), and the control message as Text
    ws.ctrl(text=True, path="dir/o.bin")
    ws.obj(data, frag=100_000)
    assert ws.reply() == data
    assert ws.close() == 1000


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 8 << 20])
def test_md5_sizes(spawn, size):
    s = spawn("md5")
    ws = WS(s.ws_url)
    data = os.urandom(size)
    ws.request(data, path="o")
    assert ws.reply() == md5hex(data)
    ws.ctrl(path="o")
    ws.obj(data, frag=1 << 20)
    assert ws.reply() == md5hex(data)
    ws.close()


def test_echo_1gib_streamed_rss_bounded(spawn):
    """1 GiB in 1 MiB fragments and back, hashed on the fly on both ends: the server spills the
    object to a temp file and streams the reply, so its peak RSS stays far below the size."""
    s = spawn("echo")
    ws = WS(s.ws_url)
    base = os.urandom(1 << 20)
    n = 1024
    sent = hashlib.sha256()
    t0 = time.time()
    ws.ctrl(path="big/obj")
    for i in range(n):
        blk = i.to_bytes(8, "little") + base[8:]
        sent.update(blk)
        ws.send_raw(OP_BIN if i == 0 else OP_CONT, blk, fin=i == n - 1)
    got = hashlib.sha256()
    op, total = ws.message(sink=got.update)
    dt = time.time() - t0
    assert op == OP_BIN and total == n << 20
    assert got.hexdigest() == sent.hexdigest()
    hwm_mib = s.status("VmHWM") / 1024
    print(f"1 GiB echo over ws: {dt:.1f} s, server VmHWM {hwm_mib:.0f} MiB")
    assert hwm_mib < 200, f"server peak RSS {hwm_mib:.0f} MiB for a 1 GiB object"
    # the connection is still good
    ws.request(b"after", path="x")
    assert ws.reply() == b"after"
    ws.close()


def test_pipelined_in_order(spawn):
    s = spawn("md5")
    ws = WS(s.ws_url)
    objs = [os.urandom(sz) for sz in (0, 1, 10, 70_000, 3 << 20, 5, 6 << 20, 1000, 0, 64 * 1024)]
    for i, o in enumerate(objs):
        ws.request(o, path=f"o{i}")
    for o in objs:
        assert ws.reply() == md5hex(o)
    # echo: big and small interleaved; like a target, one thread sends while another reads
    # (the server reads only a few requests ahead while a large reply is pending)
    e = spawn("echo")
    ws2 = WS(e.ws_url)
    objs = [os.urandom(sz) for sz in (5 << 20, 3, 200_000, 0, 9 << 20, 7, 1 << 20, 2)]

    def sender():
        for i, o in enumerate(objs):
            ws2.request(o, path=f"o{i}", etl_args=f"a{i}")

    t = threading.Thread(target=sender)
    t.start()
    for o in objs:
        assert ws2.reply() == o
    t.join()
    ws.close()
    ws2.close()


def test_many_connections(spawn):
    s = spawn("md5")

    def client(k):
        ws = WS(s.ws_url)
        for i in range(15):
            objs = [os.urandom((k * 7919 + i * 104729 + j) % 300_000) for j in range(3)]
            for j, o in enumerate(objs):
                ws.request(o, path=f"c{k}/o{i}.{j}")
            for o in objs:
                assert ws.reply() == md5hex(o)
        ws.close()
        return k

    with ThreadPoolExecutor(max_workers=10) as ex:
        assert sorted(ex.map(client, range(10))) == list(range(10))
    # and plain HTTP while they ran
    assert requests.put(s.url + "/b/o", data=b"x", timeout=5).content == md5hex(b"x")


def test_transform_error_keeps_connection(spawn):
    s = spawn("xxhash")
    ws = WS(s.ws_url)
    ws.request(b"data", path="b/o", etl_args="not-a-seed")
    msg = expect_error(ws, 400)
    assert "seed" in msg
    ws.request(b"data", path="b/o", etl_args="7")
    good = ws.reply()
    assert len(good) == 16
    # the same answer as over HTTP
    r = requests.put(s.url + "/b/o?etl_args=7", data=b"data", timeout=5)
    assert r.content == good
    ws.close()


def test_bad_control_message_closes_with_1002(spawn):
    s = spawn("echo")
    ws = WS(s.ws_url)
    ws.request(b"first", path="a")
    ws.send_frame(OP_BIN, b"this is not json")
    assert ws.reply() == b"first"
    expect_error(ws, 400)
    op, payload = ws.message()
    assert op == OP_CLOSE and struct.unpack("!H", payload[:2])[0] == 1002
    ws.abort()
    assert s.alive()


def test_ping_pong_and_close(spawn):
    s = spawn("echo")
    ws = WS(s.ws_url)
    ws.pongs = []
    ws.send_frame(OP_PING, b"p1")
    ws.ctrl(path="a")
    ws.send_frame(OP_BIN, b"12345", fin=False)
    ws.send_frame(OP_PING, b"p2")  # a control frame between fragments
    ws.send_frame(OP_CONT, b"6789", fin=True)
    assert ws.reply() == b"123456789"
    assert ws.pongs == [b"p1", b"p2"]
    assert ws.close(1000) == 1000


# ------------------------------------------------------------------------------------------
# FQN


def test_fqn_mode(spawn, tmp_path):
    root = tmp_path / "mp1"
    (root / "@ais" / "src" / "%ob" / "dir").mkdir(parents=True)
    f = root / "@ais" / "src" / "%ob" / "dir" / "a b+c.bin"
    data = os.urandom(3 << 20)
    f.write_bytes(data)
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"nope")
    s = spawn("md5", env={"LOCUS_ETL_FQN_ROOTS": str(root)})
    e = spawn("echo", env={"LOCUS_ETL_FQN_ROOTS": str(root)})
    ws, we = WS(s.ws_url), WS(e.ws_url)
    esc = urllib.parse.quote(str(f), safe="@")  # like Go's url.PathEscape
    # FQN requests carry no object message; mix them with bytes requests
    ws.ctrl(path="dir/a b+c.bin", fqn=esc)
    ws.request(b"bytes", path="x")
    ws.ctrl(path="dir/a b+c.bin", fqn=urllib.parse.quote(str(f), safe=""))  # all escaped
    assert ws.reply() == md5hex(data)
    assert ws.reply() == md5hex(b"bytes")
    assert ws.reply() == md5hex(data)
    we.ctrl(path="dir/a b+c.bin", fqn=esc)
    assert we.reply() == data
    # errors: outside the roots (also through ..), missing file; the connection stays usable
    ws.ctrl(path="s", fqn=urllib.parse.quote(str(outside), safe=""))
    expect_error(ws, 403)
    ws.ctrl(path="s", fqn=urllib.parse.quote(str(root) + "/../secret.bin", safe=""))
    expect_error(ws, 403)
    ws.ctrl(path="m", fqn=urllib.parse.quote(str(root / "missing"), safe=""))
    expect_error(ws, 404)
    ws.ctrl(path="bad", fqn="%2Fmp%2")
    expect_error(ws, 400)
    op, payload = ws.message()  # a malformed control message ends the connection
    assert op == OP_CLOSE
    ws.abort()
    we.close()


# ------------------------------------------------------------------------------------------
# direct put


class Receiver:
    """A tiny HTTP server standing in for a destination target or the next pipeline stage."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.lock:
                    rec.got.append((self.path, dict(self.headers), body))
                if "/fail404/" in self.path:
                    status, out = 404, b"no such bucket"
                elif not self.path.startswith("/v1/"):  # a path-less URL: the next ETL stage
                    status, out = 200, b"stage2:" + hashlib.md5(body).hexdigest().encode()
                else:
                    status, out = 200, b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_direct_put(spawn, receiver):
    target_url = "http://127.0.0.1:9/v1/etl/_object/ffx/QwErTyUiOp"
    s = spawn("echo", env={"AIS_TARGET_URL": target_url, "AIS_DIRECT_PUT_RETRIES": "0"})
    ws = WS(s.ws_url)
    data = os.urandom(2 << 20)
    # Locus form (full URL), in both keys as a Locus target sends it
    dst = f"{receiver.url}/v1/etl/_object/ffx/QwErTyUiOp/ais%2F@%23%2Fdst%2Fa.bin?owt=3&uuid=J1"
    ws.request(data, path="dir/a.bin", dst_addr=dst, pipeline=dst)
    assert ws.text() == str(len(data))
    path, hdrs, body = receiver.got[-1]
    assert path == "/v1/etl/_object/ffx/QwErTyUiOp/ais%2F@%23%2Fdst%2Fa.bin?owt=3&uuid=J1"
    assert body == data
    # AIStore form (v3.28 dst_addr only): prefixed with AIS_TARGET_URL's path, etl_args appended
    ws.request(b"small", path="dir/b", etl_args="x y",
               dst_addr=f"{receiver.url}/ais%2F@%23%2Fdst%2Fb?owt=3&uuid=J2")
    assert ws.text() == "5"
    path, hdrs, body = receiver.got[-1]
    assert path.startswith("/v1/etl/_object/ffx/QwErTyUiOp/ais%2F@%23%2Fdst%2Fb?owt=3&uuid=J2")
    assert "etl_args=x" in path and body == b"small"
    # current: a pipeline list as an array and as a string; the rest goes on as Ais-Node-Url
    ws.request(b"piped", path="dir/c d", pipeline=[receiver.url, dst])
    assert ws.reply() == b"stage2:" + hashlib.md5(b"piped").hexdigest().encode()
    path, hdrs, body = receiver.got[-1]
    assert path == "/dir/c%20d" and body == b"piped"
    assert {k.lower(): v for k, v in hdrs.items()}["ais-node-url"] == dst
    ws.request(b"", path="dir/empty", pipeline=f"{dst},")
    assert ws.text() == "0"
    assert receiver.got[-1][2] == b""
    # failures: destination 4xx, destination unreachable; then it still works
    ws.request(b"z", path="f", pipeline=f"{receiver.url}/v1/etl/_object/ffx/S/fail404/x")
    assert "no such bucket" in expect_error(ws, 404)
    ws.request(b"z", path="f", pipeline=f"http://127.0.0.1:{free_port()}/v1/etl/_object/e/s/o")
    expect_error(ws, 502)
    ws.request(b"z", path="f", dst_addr="not a url")
    expect_error(ws, 400)
    ws.request(b"again", path="dir/a.bin", pipeline=dst)
    assert ws.text() == "5"
    ws.close()


def test_direct_put_md5_fqn(spawn, receiver, tmp_path):
    f = tmp_path / "obj"
    data = os.urandom(100_000)
    f.write_bytes(data)
    s = spawn("md5", env={"LOCUS_ETL_FQN_ROOTS": str(tmp_path)})
    ws = WS(s.ws_url)
    dst = f"{receiver.url}/v1/etl/_object/m/s/ais%2F@%23%2Fdst%2Fobj"
    ws.ctrl(path="obj", fqn=urllib.parse.quote(str(f), safe=""), dst_addr=dst, pipeline=dst)
    assert ws.text() == "32"
    assert receiver.got[-1][2] == md5hex(data)
    ws.close()


# ------------------------------------------------------------------------------------------
# broken connections, shutdown


def test_dropped_mid_message(spawn):
    s = spawn("echo")
    warm = WS(s.ws_url)  # settle lazily created resources before counting fds
    warm.request(os.urandom(5 << 20), path="w")
    warm.reply()
    warm.close()
    time.sleep(0.3)
    fds = s.nfds()

    # 1) a frame announcing 100 MiB, 6 MiB sent (spilled to a temp file), then gone
    ws = WS(s.ws_url)
    ws.ctrl(path="a")
    ws.send_raw(OP_BIN, os.urandom(6 << 20), declared=100 << 20)
    ws.abort()
    # 2) a fragmented message cut between fragments
    ws = WS(s.ws_url)
    ws.ctrl(path="b")
    ws.send_raw(OP_BIN, os.urandom(100_000), fin=False)
    ws.abort()
    # 3) only the control message
    ws = WS(s.ws_url)
    ws.ctrl(path="c")
    ws.abort()
    # 4) half a frame header
    ws = WS(s.ws_url)
    ws.sock.sendall(b"\x82")
    ws.abort()
    # 5) gone while its (large) reply is being sent
    ws = WS(s.ws_url)
    ws.request(os.urandom(32 << 20), path="d")
    ws.frame()
    ws.abort()
    # 6) a reset instead of a FIN
    ws = WS(s.ws_url)
    ws.ctrl(path="e")
    ws.send_raw(OP_BIN, b"x" * 1000, declared=5000)
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.abort()

    assert s.alive()
    ws = WS(s.ws_url)
    data = os.urandom(1 << 20)
    ws.request(data, path="next")
    assert ws.reply() == data
    ws.close()
    deadline = time.time() + 5
    while s.nfds() > fds and time.time() < deadline:
        time.sleep(0.1)
    assert s.nfds() <= fds, "file descriptors leaked by dropped connections"


def test_sigterm_closes_connections(spawn):
    s = spawn("md5")
    conns = [WS(s.ws_url) for _ in range(3)]
    for i, ws in enumerate(conns):
        ws.request(b"x" * i, path=f"o{i}")
        assert ws.reply() == md5hex(b"x" * i)
    t0 = time.time()
    s.proc.send_signal(signal.SIGTERM)
    for ws in conns:
        op, payload = ws.message()
        assert op == OP_CLOSE and struct.unpack("!H", payload[:2])[0] == 1001
        ws.abort()
    assert s.proc.wait(timeout=15) == 0
    assert time.time() - t0 < 5
