"""35 archives and GetBatch (docs/design.md §16, docs/protocol.md §1.13): GET ?archpath= and
?archregx=, listing with LsArchDir, GET /v1/ml/moss in every output format (checked with Python's
tarfile / zipfile / lz4), request order, missing entries with and without coer, the multipart
answer, unsafe member names, and the archive job."""

import email.parser
import email.policy
import io
import json
import re
import socket
import tarfile
import time
import urllib.parse
import zipfile

import lz4.frame
import pytest
import requests

import locustest as lt

P = {"provider": "ais"}
N_OBJ = 24
ARCH_MEMBERS = {"a/1.jpg": b"one" * 10, "a/1.json": b'{"k":1}', "a/2.jpg": b"two" * 7,
                "b/3.txt": b"three"}


def make_tar(members, gz=False, extra=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as t:
        for name, data in list(members.items()) + list((extra or {}).items()):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def make_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def obj_data(i):
    return (f"object {i} ".encode() * (i + 1))[: 100 + 37 * i]


@pytest.fixture(scope="module")
def env(_shared):
    cluster = _shared.get()
    s = lt.Http()
    s.headers.update(cluster.headers())
    bck = lt.rand_name("arch-")
    r = s.post(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    for i in range(N_OBJ):
        r = s.put(lt.obj_url(cluster.url, bck, f"o/{i:03d}"), params=P, data=obj_data(i))
        assert r.status_code == 200, r.text
    shards = {
        "s.tar": make_tar(ARCH_MEMBERS),
        "s.tgz": make_tar(ARCH_MEMBERS, gz=True),
        "s.tar.gz": make_tar(ARCH_MEMBERS, gz=True),
        "s.zip": make_zip(ARCH_MEMBERS),
        "s.tar.lz4": lz4.frame.compress(make_tar(ARCH_MEMBERS)),
        # member names that must never become paths, next to a normal one
        "evil.tar": make_tar({"ok.txt": b"fine"},
                             extra={"../../etc/passwd": b"x", "/abs": b"y", "a/../../z": b"z"}),
        "plain.tar": b"this is not an archive at all" * 10,
    }
    for name, data in shards.items():
        r = s.put(lt.obj_url(cluster.url, bck, name), params=P, data=data)
        assert r.status_code == 200, r.text
    yield cluster, s, bck
    s.delete(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("destroy-bck"))
    s.close()


def batch(env, body, bucket=True, stream=True):
    cluster, s, bck = env
    body = dict(body)
    body.setdefault("strm", stream)
    url = f"{cluster.url}/v1/ml/moss" + (f"/{bck}" if bucket else "")
    return s.get(url, params=P if bucket else None, data=json.dumps(body),
                 headers={"Content-Type": "application/json"})


def read_archive(data, fmt):
    """[(name, bytes)] in archive order."""
    if fmt == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [(i.filename, z.read(i)) for i in z.infolist()]
    if fmt == ".tar.lz4":
        data = lz4.frame.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


def test_archpath_every_format(env):
    cluster, s, bck = env
    for shard in ("s.tar", "s.tgz", "s.tar.gz", "s.zip", "s.tar.lz4"):
        for name, data in ARCH_MEMBERS.items():
            r = s.get(lt.obj_url(cluster.url, bck, shard), params={**P, "archpath": name})
            assert r.status_code == 200, (shard, name, r.text[:300])
            assert r.content == data, (shard, name)
        r = s.get(lt.obj_url(cluster.url, bck, shard), params={**P, "archpath": "a/none.jpg"})
        lt.assert_error(r, 404, "not found")


def test_archpath_errors(env):
    cluster, s, bck = env
    r = s.get(lt.obj_url(cluster.url, bck, "plain.tar"), params={**P, "archpath": "x"})
    lt.assert_error(r, 400, "not an archive")
    r = s.get(lt.obj_url(cluster.url, bck, "o/000"), params={**P, "archpath": "x"})
    lt.assert_error(r, 400)
    r = s.get(lt.obj_url(cluster.url, bck, "nope.tar"), params={**P, "archpath": "x"})
    lt.assert_error(r, 404)
    r = s.get(lt.obj_url(cluster.url, bck, "s.tar"), params={**P, "archpath": "../s.tar"})
    lt.assert_error(r, 400)
    r = s.get(lt.obj_url(cluster.url, bck, "s.tar"), params={**P, "archregx": "(", "archmode": "regexp"})
    lt.assert_error(r, 400, "regular expression")
    r = s.get(lt.obj_url(cluster.url, bck, "s.tar"), params={**P, "archregx": "a", "archmode": "glob"})
    lt.assert_error(r, 400, "matching mode")


@pytest.mark.parametrize("mode,regx,want", [
    ("regexp", r"\.jpg$", ["a/1.jpg", "a/2.jpg"]),
    ("prefix", "a/", ["a/1.jpg", "a/1.json", "a/2.jpg"]),
    ("suffix", ".json", ["a/1.json"]),
    ("substr", "3", ["b/3.txt"]),
    ("wdskey", "a/1", ["a/1.jpg", "a/1.json"]),
])
def test_archregx(env, mode, regx, want):
    cluster, s, bck = env
    for shard in ("s.zip", "s.tgz"):
        r = s.get(lt.obj_url(cluster.url, bck, shard), params={**P, "archregx": regx, "archmode": mode})
        assert r.status_code == 200, r.text[:300]
        got = read_archive(r.content, ".tar")
        assert [n for n, _ in got] == want
        assert all(ARCH_MEMBERS[n] == d for n, d in got)


def test_unsafe_member_names(env):
    cluster, s, bck = env
    r = s.get(lt.obj_url(cluster.url, bck, "evil.tar"), params={**P, "archregx": "", "archmode": "prefix"})
    assert r.status_code == 200, r.text[:300]
    assert [n for n, _ in read_archive(r.content, ".tar")] == ["ok.txt"]
    for bad in ("../../etc/passwd", "/abs", "a/../../z"):
        r = s.get(lt.obj_url(cluster.url, bck, "evil.tar"), params={**P, "archpath": bad})
        assert r.status_code in (400, 404), (bad, r.status_code)


def test_list_arch_dir(env):
    cluster, s, bck = env
    r = s.get(lt.bck_url(cluster.url, bck), params=P,
              json=lt.actmsg("list", lt.lsomsg(prefix="s.", flags="8")))
    assert r.status_code == 200, r.text
    ents = {e["name"]: e for e in r.json()["entries"]}
    for shard in ("s.tar", "s.tgz", "s.zip", "s.tar.lz4"):
        assert ents[shard]["flags"] & 512, ents[shard]  # EntryIsArchive
        for name, data in ARCH_MEMBERS.items():
            e = ents[f"{shard}/{name}"]
            assert int(e["size"]) == len(data)
            assert e["flags"] & 128  # EntryInArch
    r = s.get(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("list", lt.lsomsg(prefix="s.")))
    assert all("/" not in e["name"] for e in r.json()["entries"])
    r = s.get(lt.bck_url(cluster.url, bck), params=P,
              json=lt.actmsg("list", lt.lsomsg(prefix="evil", flags="8")))
    assert sorted(e["name"] for e in r.json()["entries"]) == ["evil.tar", "evil.tar/ok.txt"]


@pytest.mark.parametrize("fmt", [".tar", ".tgz", ".zip", ".tar.lz4"])
def test_batch_formats_and_order(env, fmt):
    cluster, s, bck = env
    order = [7, 3, 19, 0, 23, 11, 5, 5, 16]
    ins = [{"objname": f"o/{i:03d}"} for i in order]
    ins.append({"objname": "s.zip", "archpath": "a/1.json"})
    ins.append({"objname": "s.tar.lz4", "archpath": "b/3.txt"})
    r = batch(env, {"in": ins, "mime": fmt})
    assert r.status_code == 200, r.text[:300]
    got = read_archive(r.content, fmt)
    want = [(f"{bck}/o/{i:03d}", obj_data(i)) for i in order]
    want += [(f"{bck}/s.zip/a/1.json", ARCH_MEMBERS["a/1.json"]),
             (f"{bck}/s.tar.lz4/b/3.txt", ARCH_MEMBERS["b/3.txt"])]
    assert got == want


def test_batch_only_obj_name_ranges_and_bucket_in_entry(env):
    cluster, s, bck = env
    ins = [{"objname": "o/010", "bucket": bck, "start": 5, "length": 10},
           {"objname": "o/012", "bucket": bck, "start": 100, "length": -1},
           {"objname": "s.tgz", "bucket": bck, "archpath": "a/1.jpg", "start": 3, "length": 6}]
    r = batch(env, {"in": ins, "onob": True}, bucket=False)
    assert r.status_code == 200, r.text[:300]
    got = read_archive(r.content, ".tar")
    assert got == [("o/010", obj_data(10)[5:15]), ("o/012", obj_data(12)[100:]),
                   ("s.tgz/a/1.jpg", ARCH_MEMBERS["a/1.jpg"][3:9])]


def test_batch_missing(env):
    cluster, s, bck = env
    ins = [{"objname": "o/001"}, {"objname": "o/missing"}, {"objname": "s.tar", "archpath": "zz"},
           {"objname": "o/002"}]
    r = batch(env, {"in": ins})
    lt.assert_error(r, 404, "o/missing")
    r = batch(env, {"in": ins, "coer": True})
    assert r.status_code == 200, r.text[:300]
    got = read_archive(r.content, ".tar")
    assert got == [(f"{bck}/o/001", obj_data(1)), (f"__404__/{bck}/o/missing", b""),
                   (f"__404__/{bck}/s.tar/zz", b""), (f"{bck}/o/002", obj_data(2))]
    # Past the first 64 entries the streamed answer has started: a missing entry there can only
    # cut the transfer (the client sees a failed transfer, never a short archive).
    ins = [{"objname": f"o/{i % N_OBJ:03d}"} for i in range(70)] + [{"objname": "o/missing"}]
    with pytest.raises(requests.exceptions.RequestException):
        r = batch(env, {"in": ins})
        pytest.fail(f"a complete answer: {r.status_code}, {len(r.content)} bytes")


def parse_multipart(resp):
    ct = resp.headers["Content-Type"]
    assert ct.startswith("multipart/mixed; boundary="), ct
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ct.encode() + b"\r\n\r\n" + resp.content)
    parts = list(msg.iter_parts())
    assert [p.get_param("name", header="content-disposition") for p in parts] == ["metadata", "archive"]
    return json.loads(parts[0].get_payload(decode=True)), parts[1].get_payload(decode=True)


def test_batch_multipart(env):
    cluster, s, bck = env
    ins = [{"objname": "o/004", "opaque": "aGk="}, {"objname": "o/gone"},
           {"objname": "s.zip", "archpath": "a/2.jpg"}]
    r = batch(env, {"in": ins, "coer": True, "mime": ".tgz"}, stream=False)
    assert r.status_code == 200, r.text[:300]
    meta, data = parse_multipart(r)
    assert meta["uuid"]
    out = meta["out"]
    assert [o["objname"] for o in out] == ["o/004", "o/gone", "s.zip"]
    assert out[0]["size"] == len(obj_data(4)) and out[0]["opaque"] == "aGk=" and "err_msg" not in out[0]
    assert out[1]["size"] == 0 and "does not exist" in out[1]["err_msg"]
    assert out[2]["archpath"] == "a/2.jpg" and out[2]["size"] == len(ARCH_MEMBERS["a/2.jpg"])
    assert [n for n, _ in read_archive(data, ".tgz")] == [
        f"{bck}/o/004", f"__404__/{bck}/o/gone", f"{bck}/s.zip/a/2.jpg"]
    r = batch(env, {"in": ins}, stream=False)
    lt.assert_error(r, 404, "o/gone")


def test_batch_bad_requests(env):
    cluster, s, bck = env
    for body in ({"in": []}, {"in": [{"objname": "../x"}]}, {"in": [{"objname": "a", "start": -1}]},
                 {"in": [{"objname": "a"}], "mime": ".rar"}, {"in": "x"},
                 {"in": [{"objname": "s.tar", "archpath": "../../etc/passwd"}]}):
        r = batch(env, body)
        lt.assert_error(r, 400)
    r = s.get(f"{cluster.url}/v1/ml/moss/{bck}", data=b"{not json")
    lt.assert_error(r, 400)
    r = batch(env, {"in": [{"objname": "a"}]}, bucket=False)
    lt.assert_error(r, 400, "bucket")
    r = s.get(f"{cluster.url}/v1/ml/moss/nosuchbucket", data=json.dumps({"in": [{"objname": "a"}]}))
    lt.assert_error(r, 404)


def test_archive_job(env):
    cluster, s, bck = env
    names = [f"o/{i:03d}" for i in (1, 2, 3)]
    for fmt, arch in ((".tar", "made.tar"), (".zip", "made.zip"), (".tgz", "made.tgz")):
        msg = {"objnames": names, "archname": arch, "mime": fmt, "isbn": True}
        r = s.put(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("archive", msg))
        assert r.status_code == 200, r.text[:300]
        deadline = time.monotonic() + 20
        while True:
            g = s.get(lt.obj_url(cluster.url, bck, arch), params=P)
            if g.status_code == 200:
                break
            assert time.monotonic() < deadline, g.text
            time.sleep(0.1)
        got = read_archive(g.content, fmt)
        assert got == [(f"{bck}/{n}", obj_data(int(n[2:]))) for n in names]
    msg = {"template": "o/{005..006}", "archname": "t.tar"}
    r = s.put(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("archive", msg))
    assert r.status_code == 200, r.text[:300]
    deadline = time.monotonic() + 20
    while (g := s.get(lt.obj_url(cluster.url, bck, "t.tar"), params=P)).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert read_archive(g.content, ".tar") == [("o/005", obj_data(5)), ("o/006", obj_data(6))]
    r = s.put(lt.bck_url(cluster.url, bck), params=P,
              json=lt.actmsg("archive", {"objnames": names, "archname": "../x.tar"}))
    lt.assert_error(r, 400)
    r = s.put(lt.bck_url(cluster.url, bck), params=P,
              json=lt.actmsg("archive", {"objnames": names, "archname": "x.rar"}))
    lt.assert_error(r, 400)


def test_cli_batch_archive_ls(env, tmp_path):
    import os
    import subprocess
    cluster, s, bck = env
    if not lt.LOCUS_CLI.exists() or cluster.token:
        pytest.skip("needs the locus CLI and a cluster without auth")
    envv = dict(os.environ, LOCUS_ENDPOINT=cluster.url)
    envv.pop("AIS_ENDPOINT", None)

    def run(*args, check=True):
        p = subprocess.run([str(lt.LOCUS_CLI), *args], env=envv, capture_output=True, timeout=60)
        assert not check or p.returncode == 0, (args, p.stdout, p.stderr)
        return p

    (tmp_path / "list").write_text("o/002\ns.zip\ta/1.json\n")
    out = tmp_path / "b.zip"
    run("batch", "get", bck, "o/001", "s.tgz:b/3.txt", "-f", str(tmp_path / "list"), "-o", str(out))
    assert read_archive(out.read_bytes(), ".zip") == [
        (f"{bck}/o/001", obj_data(1)), (f"{bck}/s.tgz/b/3.txt", ARCH_MEMBERS["b/3.txt"]),
        (f"{bck}/o/002", obj_data(2)), (f"{bck}/s.zip/a/1.json", ARCH_MEMBERS["a/1.json"])]
    p = run("batch", "get", bck, "o/nope", "-o", str(tmp_path / "x.tar"), check=False)
    assert p.returncode != 0 and b"o/nope" in p.stderr and not (tmp_path / "x.tar").exists()
    run("batch", "get", bck, "o/nope", "o/003", "--cont-on-err", "--only-obj-name", "-o",
        str(tmp_path / "y.tar.lz4"))
    assert read_archive((tmp_path / "y.tar.lz4").read_bytes(), ".tar.lz4") == [
        ("__404__/o/nope", b""), ("o/003", obj_data(3))]
    p = run("archive", f"{bck}/cli.tar", "o/007", "o/008", "--wait")
    g = s.get(lt.obj_url(cluster.url, bck, "cli.tar"), params=P)
    assert read_archive(g.content, ".tar") == [("o/007", obj_data(7)), ("o/008", obj_data(8))]
    p = run("ls", f"{bck}/s.tar", "--archive", "--name-only")
    want = ["s.tar", "s.tar.gz", "s.tar.lz4"]
    want += [f"{sh}/{m}" for sh in want for m in ARCH_MEMBERS]
    assert p.stdout.decode().split() == sorted(want)  # bytewise, as every listing


def test_batch_big_entries(env):
    """Entries bigger than an owner's send block (256 KiB), and one bigger than the ring the
    assembling target reads an owner's stream into (1 MiB in all), stream through in order."""
    cluster, s, bck = env
    big = {f"big/{i}": bytes([i + 1]) * (300 * 1024 + i) for i in range(4)}
    big["big/4"] = bytes(range(256)) * (6 * 1024 + 1)  # 1.5 MiB
    for name, data in big.items():
        assert s.put(lt.obj_url(cluster.url, bck, name), params=P, data=data).status_code == 200
    ins = [{"objname": n} for n in big] + [{"objname": "big/2", "start": 1000, "length": 5000},
                                           {"objname": "o/001"}]
    for stream in (True, False):
        r = batch(env, {"in": ins, "onob": True}, stream=stream)
        assert r.status_code == 200, r.text[:300]
        data = r.content if stream else parse_multipart(r)[1]
        got = read_archive(data, ".tar")
        assert got == list(big.items()) + [("big/2", big["big/2"][1000:6000]), ("o/001", obj_data(1))]


def _frames(data):
    """[(status, bytes)] of a streamed GET /v1/internal/moss answer."""
    out = []
    while data:
        line, _, data = data.partition(b"\n")
        st, n = line.split(b" ")
        out.append((int(st), data[: int(n)]))
        data = data[int(n):]
    return out


def test_internal_moss_is_signed_and_checked(env):
    """GET /v1/internal/moss (the owners' side of GetBatch): refused without the cluster's
    signature, 400 for an unsafe name, else one frame per entry, in order, as a stream."""
    cluster, s, bck = env
    if not cluster.cluster_secret:
        pytest.skip("needs a cluster secret")
    secret = cluster.cluster_secret.read_bytes().strip()
    names = ["o/003", "o/nope", "o/005"]
    owner = lt.hrw_target(cluster.smap(), bck, names[0])
    node = next(n for n in cluster.targets if n.id == owner["daemon_id"])
    url = node.url + "/v1/internal/moss"

    def ask(ins, signed=True):
        body = json.dumps({"in": ins}).encode()
        hdrs = {"Content-Type": "application/json"}
        if signed:
            hdrs.update(lt.intra_headers(secret, "GET", url, body, cluster.primary.id))
        return s.get(url, data=body, headers=hdrs)

    ins = [{"bucket": bck, "objname": n} for n in names]
    lt.assert_4xx(ask(ins, signed=False))
    lt.assert_error(ask([{"bucket": bck, "objname": "../x"}]), 400)
    r = ask(ins + [{"bucket": bck, "objname": "o/003", "start": 10, "length": 20}])
    assert r.status_code == 200, r.text[:300]
    got = _frames(r.content)
    assert got[0] == (200, obj_data(3))
    assert got[3] == (200, obj_data(3)[10:30])
    # o/nope is missing; o/005 is here only if this target owns it too
    assert got[1][0] == 404 and b"o/nope" in got[1][1]
    assert got[2] == (200, obj_data(5)) or got[2][0] == 404


def _raw_get(url, body, hdrs):
    """A GET with a body over a plain socket: (head, the rest until the connection's end, or
    the Content-Length of an answer that is not a 101)."""
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=20) as sock:
        lines = [f"GET {u.path} HTTP/1.1", f"Host: {u.netloc}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 101"):
            while chunk := sock.recv(65536):
                rest += chunk
        else:
            n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(rest) < n:
                rest += sock.recv(65536)
        return head, rest


def test_internal_moss_upgraded(env):
    """What the assembling target asks of an http:// owner: GET /v1/internal/moss upgraded to
    "locus-moss", answered 101 and then the frames over the connection itself (the file bytes by
    sendfile) until the owner closes it. Unsigned, or a bad body: the refusal, never a 101."""
    cluster, s, bck = env
    if not cluster.cluster_secret:
        pytest.skip("needs a cluster secret")
    secret = cluster.cluster_secret.read_bytes().strip()
    big = bytes(range(256)) * 1200  # bigger than a socket's first buffers
    assert s.put(lt.obj_url(cluster.url, bck, "up/big"), params=P, data=big).status_code == 200
    owner = lt.hrw_target(cluster.smap(), bck, "up/big")
    node = next(n for n in cluster.targets if n.id == owner["daemon_id"])
    url = node.url + "/v1/internal/moss"
    up = {"Content-Type": "application/json", "Connection": "Upgrade", "Upgrade": "locus-moss"}

    def ask(ins, signed=True):
        body = json.dumps({"in": ins}).encode()
        hdrs = dict(up)
        if signed:
            hdrs.update(lt.intra_headers(secret, "GET", url, body, cluster.primary.id))
        return _raw_get(url, body, hdrs)

    ins = [{"bucket": bck, "objname": n} for n in ("up/big", "o/nope", "up/big")]
    ins.append({"bucket": bck, "objname": "up/big", "start": 1000, "length": 70000})
    head, rest = ask(ins)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert re.search(rb"(?im)^upgrade: *locus-moss\r?$", head), head
    got = _frames(rest)
    assert [st for st, _ in got] == [200, 404, 200, 200]
    assert got[0][1] == big and got[2][1] == big and got[3][1] == big[1000:71000]
    assert b"o/nope" in got[1][1]
    for signed, ins in ((False, ins), (True, [{"bucket": bck, "objname": "../x"}])):
        head, rest = ask(ins, signed)
        status = int(head.split()[1])
        assert 400 <= status < 500 and status != 101, head
