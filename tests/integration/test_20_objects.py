"""20 objects: PUT/GET/HEAD/DELETE through proxy redirects, HRW placement, headers of
docs/protocol.md §1.3, Range, content identity for 0 B..100 MiB, awkward object names."""

import hashlib
import http.client as httpclient
import os
import subprocess
import time
import urllib.parse

import pytest

import locustest as lt

P = {"provider": "ais"}


@pytest.fixture
def bucket(cluster, http):
    bck = lt.rand_name("obj-")
    r = http.post(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    yield bck
    http.delete(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("destroy-bck"))


def head(http, base, bck, obj):
    return http.head(lt.obj_url(base, bck, obj), params=P, allow_redirects=True)


def put(http, base, bck, obj, data):
    r = http.put(lt.obj_url(base, bck, obj), params=P, data=data)
    assert r.status_code == 200, f"PUT {bck}/{obj}: {r.status_code} {r.text[:300]}"
    return r


def check_location(cluster, r, bck, obj, sm):
    """A redirect to the HRW owner with the escaped path, the query and pid/utm."""
    loc = r.headers.get("Location")
    assert loc, f"{r.status_code} without Location"
    u = urllib.parse.urlsplit(loc)
    owner = lt.hrw_target(sm, bck, obj)
    assert f"{u.scheme}://{u.netloc}" == owner["public_net"]["direct_url"], \
        f"redirected to {u.netloc}, HRW owner is {owner['daemon_id']} {owner['public_net']['direct_url']}"
    assert u.path == f"/v1/objects/{bck}/{lt.qobj(obj)}", f"Location path {u.path!r}"
    q = urllib.parse.parse_qs(u.query)
    assert q.get("provider") == ["ais"], u.query
    assert q.get("pid") == [cluster.primary.id], u.query
    assert q.get("utm") and q["utm"][0], u.query
    return loc


@pytest.mark.parametrize("size", [12345, 3 * (1 << 20)], ids=["12KB", "3MiB"])
def test_put_redirect_then_target(cluster, http, bucket, size):
    sm = cluster.smap()
    obj, data = "redir/put.bin", os.urandom(size)
    r = http.put(lt.obj_url(cluster.url, bucket, obj), params=P, data=data, allow_redirects=False)
    assert r.status_code == 307, f"PUT via proxy: {r.status_code} (must be 307, never 301)"
    loc = check_location(cluster, r, bucket, obj, sm)
    # The proxy consumed the body it redirected (or closed the connection): the same keep-alive
    # session keeps working.
    for _ in range(3):
        assert http.get(cluster.url + "/v1/health").status_code == 200
        r = http.get(cluster.url + "/v1/daemon", params={"what": "smap"})
        assert r.status_code == 200 and r.json()["tmap"]
    r = http.put(loc, data=data)
    assert r.status_code == 200, r.text[:300]
    r = http.get(lt.obj_url(cluster.url, bucket, obj), params=P, allow_redirects=False)
    assert r.status_code in (301, 307)
    check_location(cluster, r, bucket, obj, sm)
    assert http.get(lt.obj_url(cluster.url, bucket, obj), params=P).content == data
    for meth in ("HEAD", "DELETE"):
        r = http.request(meth, lt.obj_url(cluster.url, bucket, obj), params=P, allow_redirects=False)
        assert r.status_code == 307, f"{meth}: {r.status_code}"
        check_location(cluster, r, bucket, obj, sm)


def test_head_headers_and_versions(cluster, http, bucket):
    obj = "hdr/obj.txt"
    data = b"hello locus\n" * 100
    t0 = time.time_ns()
    put(http, cluster.url, bucket, obj, data)
    r = head(http, cluster.url, bucket, obj)
    assert r.status_code == 200
    assert r.content == b""
    h = r.headers
    assert int(h["Content-Length"]) == len(data)
    assert h["Ais-Checksum-Type"] == "xxhash"
    assert h["Ais-Checksum-Value"] == lt.xxhash_cksum(data)
    assert h["Ais-Version"] == "1"
    atime = int(h["Ais-Atime"])
    assert abs(atime - t0) < 600 * 10**9, f"Ais-Atime {atime} is not unix ns near {t0}"
    assert "Ais-Custom-Md" not in h, "no custom metadata: header must be omitted"
    assert h["Ais-Name"] == obj
    assert h["Ais-Bucket-Name"] == bucket
    assert h["Ais-Bucket-Provider"] == "ais"
    assert h["Ais-Present"] == "true"
    owner = lt.hrw_target(cluster.smap(), bucket, obj)["daemon_id"]
    assert h["Ais-Location"].startswith(f"t[{owner}]:"), h["Ais-Location"]
    # Version bumps per PUT, content and checksum follow the last PUT.
    for v, payload in ((2, b"second"), (3, b"")):
        put(http, cluster.url, bucket, obj, payload)
        h = head(http, cluster.url, bucket, obj).headers
        assert h["Ais-Version"] == str(v)
        assert int(h["Content-Length"]) == len(payload)
        assert h["Ais-Checksum-Value"] == lt.xxhash_cksum(payload)
        assert http.get(lt.obj_url(cluster.url, bucket, obj), params=P).content == payload


def test_get_headers(cluster, http, bucket):
    data = os.urandom(1000)
    put(http, cluster.url, bucket, "g", data)
    r = http.get(lt.obj_url(cluster.url, bucket, "g"), params=P)
    assert r.status_code == 200 and r.content == data
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["Ais-Checksum-Type"] == "xxhash"
    assert r.headers["Ais-Checksum-Value"] == lt.xxhash_cksum(data)
    assert r.headers["Ais-Version"] == "1"
    assert int(r.headers["Ais-Atime"]) > 0


def test_range_get(cluster, http, bucket):
    data = os.urandom(10000)
    put(http, cluster.url, bucket, "r", data)
    url = lt.obj_url(cluster.url, bucket, "r")
    for rng, lo, hi in (("bytes=10-19", 10, 19), ("bytes=0-0", 0, 0), ("bytes=9990-", 9990, 9999),
                        ("bytes=-5", 9995, 9999), ("bytes=5000-20000", 5000, 9999)):
        r = http.get(url, params=P, headers={"Range": rng})
        assert r.status_code == 206, f"{rng}: {r.status_code}"
        assert r.content == data[lo:hi + 1], rng
        assert int(r.headers["Content-Length"]) == hi - lo + 1
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{len(data)}", rng
    r = http.get(url, params=P, headers={"Range": "bytes=20000-"})
    assert r.status_code == 416, f"unsatisfiable range: {r.status_code}"
    # Resume-after-break style (SDK sequential iterator): Range bytes=<off>- on a streamed GET.
    r = http.get(url, params=P, headers={"Range": "bytes=4096-"}, stream=True)
    assert r.status_code == 206
    assert b"".join(r.iter_content(1024)) == data[4096:]


def test_delete(cluster, http, bucket):
    put(http, cluster.url, bucket, "del/me", b"x")
    r = http.delete(lt.obj_url(cluster.url, bucket, "del/me"), params=P)
    assert r.status_code == 200
    lt.assert_error(http.get(lt.obj_url(cluster.url, bucket, "del/me"), params=P), 404,
                    lt.object_missing_msg(bucket, "del/me"))
    r = head(http, cluster.url, bucket, "del/me")
    assert r.status_code == 404 and r.content == b""
    lt.assert_error(http.delete(lt.obj_url(cluster.url, bucket, "del/me"), params=P), 404,
                    lt.object_missing_msg(bucket, "del/me"))
    # PUT after DELETE starts over at version 1.
    put(http, cluster.url, bucket, "del/me", b"y")
    assert head(http, cluster.url, bucket, "del/me").headers["Ais-Version"] == "1"


def test_missing_object_404(cluster, http, bucket):
    r = http.get(lt.obj_url(cluster.url, bucket, "nope/x"), params=P)
    body = lt.assert_error(r, 404, lt.object_missing_msg(bucket, "nope/x"))
    # SDK: 404 + "ais://bck/" => ErrObjNotFound (the object, not the bucket).
    assert f"ais://{bucket}/" in body["message"]
    r = head(http, cluster.url, bucket, "nope/x")
    assert r.status_code == 404 and r.content == b""


def _sha_stream(resp, chunk=1 << 20):
    h, n = hashlib.sha256(), 0
    for c in resp.iter_content(chunk):
        h.update(c)
        n += len(c)
    return h.hexdigest(), n


@pytest.mark.parametrize("size", [0, 1, 1 << 20], ids=["0B", "1B", "1MiB"])
def test_content_identity(cluster, http, bucket, size):
    data = os.urandom(size)
    put(http, cluster.url, bucket, f"size-{size}", data)
    r = http.get(lt.obj_url(cluster.url, bucket, f"size-{size}"), params=P)
    assert r.status_code == 200
    assert len(r.content) == size and r.content == data
    assert int(head(http, cluster.url, bucket, f"size-{size}").headers["Content-Length"]) == size


def test_content_identity_100mib(cluster, http, bucket, tmp_path):
    """100 MiB streamed from a file (like the SDK's put_file) and back, compared by sha256; the
    owner target's peak RSS shows it never held the object in memory."""
    size = 100 * lt.MiB
    src = tmp_path / "big.bin"
    h = hashlib.sha256()
    with open(src, "wb") as f:
        block = os.urandom(lt.MiB)
        for i in range(100):
            chunk = block[i:] + block[:i]  # distinct MiBs, cheap
            h.update(chunk)
            f.write(chunk)
    want = h.hexdigest()
    try:
        with open(src, "rb") as f:
            r = http.put(lt.obj_url(cluster.url, bucket, "big"), params=P, data=f, timeout=lt.tmo(300))
        assert r.status_code == 200, r.text[:300]
    finally:
        src.unlink()
    r = http.get(lt.obj_url(cluster.url, bucket, "big"), params=P, stream=True, timeout=lt.tmo(300))
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == size
    assert _sha_stream(r) == (want, size)
    h = head(http, cluster.url, bucket, "big").headers
    assert int(h["Content-Length"]) == size
    if not cluster.external and not lt.ASAN and not lt.WRAPPER:
        owner = cluster.node(lt.hrw_target(cluster.smap(), bucket, "big")["daemon_id"])
        for n in (owner, cluster.primary):
            hwm = lt.vm_hwm_kib(n.proc.pid)
            assert hwm < 80 * 1024, f"{n} peak RSS {hwm} KiB after a 100 MiB PUT+GET: not streaming?"


# SDK test_object_name_encoding + the list (%, %25, spaces, unicode, ?, #, =, (, leading
# . and -, nested /).
NAMES = ["%", "%25", "%3D", "a\\(b", "a(b", "audio/raw/file.wav", "file_#@!$%^&*()_+.mp3",
         "track?name=lofi&v=1", "my audio file .m4a", "你好世界", "dir/ünïcödé/файл", "-x.ogg",
         ".audio_hidden.wav", "track=id=1234.mp3", "a/b/c/d/e/f/g.txt", "sp ace/ trail", "plus+sign",
         "semi;colon", "tilde~", "quote'\"", "back`tick", "100%/%zz"]


def test_object_names(cluster, http, bucket):
    sm = cluster.smap()
    contents = {}
    for i, name in enumerate(NAMES):
        contents[name] = f"{i}:{name}".encode()
        put(http, cluster.url, bucket, name, contents[name])
    for name, data in contents.items():
        r = http.get(lt.obj_url(cluster.url, bucket, name), params=P)
        assert r.status_code == 200 and r.content == data, f"GET {name!r}: {r.status_code}"
        # Direct from the HRW owner, as get_reader(direct=True) does.
        owner = lt.hrw_target(sm, bucket, name)
        r = http.get(lt.obj_url(owner["public_net"]["direct_url"], bucket, name), params=P)
        assert r.status_code == 200 and r.content == data, \
            f"direct GET {name!r} from HRW owner {owner['daemon_id']}: {r.status_code}"
        h = head(http, cluster.url, bucket, name)
        assert h.status_code == 200, name
        assert h.headers["Ais-Name"].encode("latin-1").decode("utf-8") == name
    r = http.get(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200
    assert sorted(e["name"] for e in r.json()["entries"]) == sorted(NAMES)
    for name in NAMES:
        assert http.delete(lt.obj_url(cluster.url, bucket, name), params=P).status_code == 200, name
        lt.assert_error(http.get(lt.obj_url(cluster.url, bucket, name), params=P), 404)


def test_placement_on_disk(cluster, http, bucket):
    """FQN <mpath>/@ais/<bck>/%ob/<obj> on the HRW target and its HRW mountpath, nowhere else."""
    cluster.require_local()
    sm = cluster.smap()
    names = [f"place/{i}" for i in range(30)] + ["你好/世界", "a b%c"]
    for n in names:
        put(http, cluster.url, bucket, n, n.encode())
    owners = set()
    for n in names:
        owner = cluster.node(lt.hrw_target(sm, bucket, n)["daemon_id"])
        owners.add(owner.id)
        mp = lt.hrw_mountpath([str(m) for m in owner.mountpaths], bucket, n)
        f = lt.fqn(mp, bucket, n)
        assert f.is_file(), f"{n!r}: not at {f}; files of {owner}: {lt.object_files(owner, bucket)[:5]}"
        assert f.read_bytes() == n.encode()
    assert len(owners) > 1, "30 objects all on one target: HRW is not spreading"
    total = sum(len(lt.object_files(t, bucket)) for t in cluster.targets)
    assert total == len(names), f"{total} object files for {len(names)} objects"
    assert not [w for t in cluster.targets for w in lt.work_files(t, bucket)], "work files left over"


def test_concurrent_puts_same_object(cluster, bucket):
    """8 concurrent PUTs of one name: the result is exactly one of the payloads (atomic rename),
    its checksum matches, and the version counts every PUT."""
    import concurrent.futures
    payloads = [bytes([65 + i]) * (256 * 1024 + i) for i in range(8)]

    def one(data):
        with lt.Http() as s:
            return s.put(lt.obj_url(cluster.url, bucket, "same"), params=P, data=data).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        assert list(ex.map(one, payloads)) == [200] * 8
    with lt.Http() as s:
        r = s.get(lt.obj_url(cluster.url, bucket, "same"), params=P)
        assert r.content in payloads, "object is a mix of concurrent PUTs"
        assert r.headers["Ais-Checksum-Value"] == lt.xxhash_cksum(r.content)
        assert r.headers["Ais-Version"] == "8", f"8 PUTs, version {r.headers['Ais-Version']}"


def test_get_during_overwrite_never_torn(cluster, bucket):
    """Readers see the old or the new object, never a partial or mixed one."""
    import threading
    size = 2 * lt.MiB
    old, new = b"o" * size, b"n" * size
    with lt.Http() as s:
        put(s, cluster.url, bucket, "flip", old)
    stop, bad, reads = threading.Event(), [], [0]

    def reader():
        with lt.Http() as s:
            while not stop.is_set():
                r = s.get(lt.obj_url(cluster.url, bucket, "flip"), params=P)
                reads[0] += 1
                if r.status_code != 200 or r.content not in (old, new):
                    bad.append((r.status_code, len(r.content), r.content[:1], r.content[-1:]))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        with lt.Http() as s:
            for i in range(10):
                put(s, cluster.url, bucket, "flip", new if i % 2 == 0 else old)
    finally:
        stop.set()
        for t in threads:
            t.join(lt.tmo(60))
    assert not bad, f"torn reads: {bad[:5]} of {reads[0]}"
    assert reads[0] > 0


def test_many_concurrent_puts_and_gets(cluster, bucket):
    import concurrent.futures
    datas = {f"cc/{i}": os.urandom(1000 + 997 * i) for i in range(64)}

    def roundtrip(item):
        name, data = item
        with lt.Http() as s:
            put(s, cluster.url, bucket, name, data)
            r = s.get(lt.obj_url(cluster.url, bucket, name), params=P)
            return r.status_code == 200 and r.content == data

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert all(ex.map(roundtrip, datas.items()))


# PUT through the proxy on kept connections (docs/protocol.md §1.10): a body up to 1 MiB is
# drained before the 307 whether or not the client waits for 100 Continue; with Expect a bigger
# body is answered before it is sent, and that connection closes.
DRAIN_MAX = 1 << 20


def _time_wait(port):
    """TCP connections to or from `port` in TIME_WAIT: every connection closed in the last minute
    leaves one (on the side that closed first), so the growth counts closed connections."""
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            p = line.split()
            local, remote = int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16)
            if p[3] == "06" and port in (local, remote):
                n += 1
    return n


def test_put_via_proxy_reuses_connections(cluster, bucket):
    """requests (no Expect): N small PUTs open one connection to the proxy and one per target;
    a body over the drain limit is drained too and the connection is still kept."""
    datas = {f"ka/{i}": os.urandom(4096 + i) for i in range(60)}
    datas["ka/big"] = os.urandom(DRAIN_MAX + 12345)
    with lt.Http() as s:
        for name, data in datas.items():
            put(s, cluster.url, bucket, name, data)
        proxy_port = int(urllib.parse.urlsplit(cluster.url).port)
        pools = s.adapters["http://"].poolmanager.pools
        opened = {k.key_port: pools[k].num_connections for k in pools.keys()}
        assert opened.get(proxy_port) == 1, f"connections opened per port: {opened}"
        assert sum(opened.values()) <= 1 + len(cluster.smap()["tmap"]), opened
        for name, data in datas.items():
            r = s.get(lt.obj_url(cluster.url, bucket, name), params=P)
            assert r.status_code == 200 and r.content == data, name


@pytest.mark.skipif(lt.USE_DAEMON != "" or not lt.LOCUS_CLI.exists(),
                    reason="needs the locus CLI and the cluster's sockets on this host")
def test_put_via_proxy_expect_continue_keeps_connection(cluster, http, bucket, tmp_path):
    """liblocus (`locus put`): 40 small files with 2 uploaders must not close a connection per
    object (before the proxy drained bodies behind Expect: 100-continue: one per PUT); a file over
    the drain limit (sent behind Expect, answered before its body) still arrives intact."""
    files = {f"f{i:02d}": os.urandom(4096 + i) for i in range(40)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    port = int(urllib.parse.urlsplit(cluster.url).port)
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url)
    env.pop("AIS_ENDPOINT", None)
    before = _time_wait(port)
    p = subprocess.run([str(lt.LOCUS_CLI), "put", str(tmp_path), f"{bucket}/ex", "--jobs", "2",
                        "-q"], env=env, capture_output=True, timeout=lt.tmo(60))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    closed = _time_wait(port) - before
    assert closed <= 6, f"{closed} proxy connections closed for {len(files)} PUTs"
    big = tmp_path / "big"
    files["big"] = os.urandom(DRAIN_MAX + 1)
    big.write_bytes(files["big"])
    p = subprocess.run([str(lt.LOCUS_CLI), "put", str(big), f"{bucket}/ex/big", "-q"], env=env,
                       capture_output=True, timeout=lt.tmo(60))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    for name, data in files.items():
        r = http.get(lt.obj_url(cluster.url, bucket, f"ex/{name}"), params=P)
        assert r.status_code == 200 and r.content == data, name


class _Relay:
    """A TCP relay in front of the proxy that keeps every byte each way, per connection: what
    liblocus sends on the proxy leg (the redirected leg goes to the target, not through here)."""

    def __init__(self, port):
        import socket
        import threading
        self.up = port
        self.conns = []  # [client->proxy bytes, proxy->client bytes]
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self._threading, self._socket = threading, socket
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = self._socket.create_connection(("127.0.0.1", self.up))
            rec = [bytearray(), bytearray()]
            self.conns.append(rec)
            for src, dst, buf in ((c, u, rec[0]), (u, c, rec[1])):
                self._threading.Thread(target=self._pump, args=(src, dst, buf), daemon=True).start()

    @staticmethod
    def _pump(src, dst, buf):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                buf += b
                dst.sendall(b)
        except OSError:
            pass
        for s in (dst, src):
            try:
                s.shutdown(2)
            except OSError:
                pass

    def counts(self):
        """(Expect: 100-continue requests, 100 Continue answers) seen so far."""
        sent = b"".join(bytes(r[0]) for r in self.conns).lower()
        got = b"".join(bytes(r[1]) for r in self.conns)
        return sent.count(b"\r\nexpect: 100-continue\r\n"), got.count(b"HTTP/1.1 100 ")

    def close(self):
        self.lsock.close()


@pytest.mark.skipif(lt.USE_DAEMON != "" or not lt.LOCUS_CLI.exists(),
                    reason="needs the locus CLI and the cluster's sockets on this host")
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_put_via_proxy_expect_only_for_big_bodies(cluster, http, bucket, tmp_path, how):
    """liblocus (`locus put`) sends a body up to the proxy's drain limit on the first leg without
    `Expect: 100-continue` (no 100 Continue round trip: docs/design.md §13.5) and a bigger one
    behind it, so the 307 comes back before that body is sent. Every object reads back intact."""
    relay = _Relay(int(urllib.parse.urlsplit(cluster.url).port))
    env = dict(os.environ, LOCUS_ENDPOINT=f"http://127.0.0.1:{relay.port}")
    env.pop("AIS_ENDPOINT", None)
    try:
        for size in (0, 4096, DRAIN_MAX, DRAIN_MAX + 1, 8 * DRAIN_MAX):
            data, name = os.urandom(size), f"exp/{how}-{size}"
            before = relay.counts()
            if how == "file":
                (tmp_path / "f").write_bytes(data)
                args, stdin = [str(tmp_path / "f"), f"{bucket}/{name}"], None
            else:
                args, stdin = ["-", f"{bucket}/{name}"], data
            p = subprocess.run([str(lt.LOCUS_CLI), "put", *args, "-q"], env=env, input=stdin,
                               capture_output=True, timeout=lt.tmo(60))
            assert p.returncode == 0, p.stderr.decode(errors="replace")
            expects, continues = (a - b for a, b in zip(relay.counts(), before))
            big = size > DRAIN_MAX
            assert expects == (1 if big else 0), f"{size} B: {expects} Expect: 100-continue"
            assert continues == 0, f"{size} B: {continues} 100 Continue answers"
            r = http.get(lt.obj_url(cluster.url, bucket, name), params=P)
            assert r.status_code == 200 and r.content == data, f"{size} B read back"
    finally:
        relay.close()


# GET bodies up to this size are read into memory and sent with their headers in one write;
# bigger ones use sendfile (TARGET_SMALL_GET_MAX in src/target/target.h).
SMALL_GET_MAX = 64 * 1024
GET_SIZES = [0, 1, 4096, SMALL_GET_MAX, SMALL_GET_MAX + 1, 1 << 20]


def _direct_get(conn, bck, obj, method="GET", headers=None):
    """One request on a kept http.client connection to the owning target: (status, headers in
    wire order without Date, body)."""
    conn.request(method, f"/v1/objects/{bck}/{lt.qobj(obj)}?provider=ais",
                 headers={**lt.suite_headers(), **(headers or {})})
    r = conn.getresponse()
    body = r.read()
    hdrs = [(k, v) for k, v in r.getheaders() if k.lower() != "date"]
    return r.status, hdrs, body


# HEAD's object properties that a GET does not repeat (AIStore's GET sends the attributes only)
PROPS_ONLY = {"Ais-Name", "Ais-Bucket-Name", "Ais-Bucket-Provider", "Ais-Location",
              "Ais-Mirror-Copies", "Ais-Mirror-Paths", "Ais-Present"}


def test_get_small_and_large_paths_agree(cluster, http, bucket):
    """Both sides of SMALL_GET_MAX: the same headers in the same order (values as the object
    says), the same bytes, HEAD matching GET, all on one kept connection."""
    sm = cluster.smap()
    objs = {}
    for size in GET_SIZES:
        obj = f"paths/{size}"
        objs[size] = (obj, os.urandom(size))
        put(http, cluster.url, bucket, obj, objs[size][1])
    names = None
    conns = {}
    for size in GET_SIZES * 2:  # twice: alternate small and big bodies on kept connections
        obj, data = objs[size]
        u = urllib.parse.urlsplit(lt.hrw_target(sm, bucket, obj)["public_net"]["direct_url"])
        conn = conns.setdefault(u.netloc, httpclient.HTTPConnection(u.hostname, u.port, timeout=30))
        st, hdrs, body = _direct_get(conn, bucket, obj)
        assert st == 200 and body == data, f"{size}: {st}, {len(body)} bytes"
        h = dict(hdrs)
        assert len(h) == len(hdrs), f"{size}: repeated header in {hdrs}"
        assert h["Content-Length"] == str(size) and h["Ais-Size"] == str(size)
        assert h["Ais-Checksum-Value"] == lt.xxhash_cksum(data)
        assert h["Content-Type"] == "application/octet-stream"
        assert h["Accept-Ranges"] == "bytes"
        assert not PROPS_ONLY & set(h), f"{size}: a GET answers attributes, not props: {h}"
        if names is None:
            names = [k for k, _ in hdrs]
        assert [k for k, _ in hdrs] == names, f"{size}: header order differs from 0 B's"
        st, hhdrs, hbody = _direct_get(conn, bucket, obj, "HEAD")
        hh = dict(hhdrs)
        assert st == 200 and hbody == b"", f"HEAD {size}: {st} {hbody[:100]}"
        # HEAD: the GET's headers with the same values, and the object's properties
        assert [kv for kv in hhdrs if kv[0] not in PROPS_ONLY] == hdrs, f"HEAD {size}: {hhdrs}"
        assert set(hh) - set(h) == PROPS_ONLY, f"HEAD {size}: {hhdrs}"
        assert hh["Ais-Name"] == obj and hh["Ais-Present"] == "true"
    for c in conns.values():
        c.close()


@pytest.mark.parametrize("size", [4096, SMALL_GET_MAX + 1, 1 << 20], ids=["4KiB", "64KiB+1", "1MiB"])
def test_range_get_both_paths(cluster, http, bucket, size):
    """Ranges whose length falls on either side of SMALL_GET_MAX, suffix ranges and 416."""
    data = os.urandom(size)
    put(http, cluster.url, bucket, "rng", data)
    url = lt.obj_url(cluster.url, bucket, "rng")
    T = SMALL_GET_MAX
    cases = [("bytes=0-0", 0, 0), (f"bytes={size - 1}-", size - 1, size - 1),
             ("bytes=-1", size - 1, size - 1), (f"bytes=-{size + 5}", 0, size - 1),
             (f"bytes=100-{size + 100}", 100, size - 1), ("bytes=0-", 0, size - 1),
             (f"bytes=-{min(size, T)}", size - min(size, T), size - 1),
             (f"bytes=1-{min(size - 1, T)}", 1, min(size - 1, T))]
    if size > T + 1:
        cases += [(f"bytes=7-{7 + T}", 7, 7 + T), (f"bytes=-{T + 1}", size - T - 1, size - 1),
                  (f"bytes={size - T}-", size - T, size - 1)]
    for rng, lo, hi in cases:
        r = http.get(url, params=P, headers={"Range": rng})
        assert r.status_code == 206, f"{rng}: {r.status_code}"
        assert r.content == data[lo:hi + 1], rng
        assert r.headers["Content-Length"] == str(hi - lo + 1), rng
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{size}", rng
        assert r.headers["Ais-Size"] == str(size), rng
    for rng in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0", "bytes=5-2"):
        r = http.get(url, params=P, headers={"Range": rng})
        assert r.status_code == 416, f"{rng}: {r.status_code}"
        assert r.headers["Content-Range"] == f"bytes */{size}", rng
        assert r.content == b"", rng


def test_range_get_empty_object_416(cluster, http, bucket):
    put(http, cluster.url, bucket, "empty", b"")
    for rng in ("bytes=0-", "bytes=-1", "bytes=0-0"):
        r = http.get(lt.obj_url(cluster.url, bucket, "empty"), params=P, headers={"Range": rng})
        assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */0", rng
