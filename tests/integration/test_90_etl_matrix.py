"""90 the ETL matrix (issue 4): communication hpush|hpull|ws x FQN on/off x direct put on/off
(ws only with direct put) for the built-in echo and md5 transformers and the Python test server,
plus io:// with command-line tools. Every cell runs an inline GET of each object size (0 B, 1 B,
64 KiB, 8 MiB; hpull answers the client with a 307 to the ETL server) and a bucket-to-bucket job,
and checks every output against a local computation. With direct put, the source targets must
send no bytes themselves (the servers delivered); without it they must.
"""

import gzip
import hashlib
import os

import pytest

import locustest as lt
from etl import etlutil as eu

SIZES = [0, 1, 64 << 10, 8 << 20]
PER_SIZE = 3  # objects of each size, so every target has some


def expect(server, data, args=None):
    if server == "md5":
        return hashlib.md5(data).hexdigest().encode()
    if server == "py":
        out = data.upper()
        return out + b"|" + args.encode() if args is not None else out
    return data  # echo


_sources = {}  # cluster -> (bucket, objects): uploaded once per cluster, not per cell


@pytest.fixture
def source(cluster):
    if cluster not in _sources:
        http = lt.Http()
        bck = lt.rand_name("mx-")
        eu.create_bucket(http, cluster.url, bck)
        rnd = os.urandom(max(SIZES) + PER_SIZE)
        objs = {}
        for size in SIZES:
            for i in range(PER_SIZE):
                objs[f"m/s{size}/o{i}.bin"] = bytes(rnd[i:i + size]) if size else b""
        objs["m/text.txt"] = b"hello, matrix\n"
        eu.put_many(cluster.url, bck, objs, workers=8)
        _sources[cluster] = (bck, objs)
    return _sources[cluster]


@pytest.fixture(scope="module", autouse=True)
def _drop_sources():
    yield
    for c, (bck, _) in list(_sources.items()):
        try:
            eu.destroy_bucket(lt.Http(), c.url, bck)
        except Exception:
            pass
    _sources.clear()


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def buckets(cluster, http):
    yield from eu.buckets_fixture(cluster, http)


def spec_for(server, name, comm, fqn, dp, unix=False):
    if server == "py":
        spec = eu.py_spec(name, mode="upper")
    else:
        spec = eu.builtin_spec(name, server)
    spec["communication"] = comm + "://"
    spec["argument"] = "fqn" if fqn else ""
    spec["support_direct_put"] = dp
    if unix:
        spec["locus_unix_socket"] = True
    return spec


def out_bytes(snaps):
    return sum(int(s[0]["stats"]["out-bytes"]) for s in snaps.values())


def out_objs(snaps):
    return sum(int(s[0]["stats"]["out-objs"]) for s in snaps.values())


def run_cell(cluster, http, etls, buckets, source, server, comm, fqn, dp, unix=False):
    base = cluster.url
    src, objs = source
    name = eu.etl_name(f"{server}-{comm}")
    r = etls.init(spec_for(server, name, comm, fqn, dp, unix))
    if comm == "ws" and r.status_code == 400 and "not supported" in r.text:
        pytest.skip("ws:// is not available in this build")
    assert r.status_code == 200, f"init {name}: {r.status_code} {r.text[:800]}"
    # inline, one object of each size (the Python server also gets etl_args)
    for size in SIZES:
        obj = f"m/s{size}/o0.bin"
        params = {"etl_name": name}
        args = "k=v" if server == "py" else None
        if args:
            params["etl_args"] = args
        g = eu.get_obj(http, base, src, obj, timeout=lt.tmo(60), **params)
        assert g.status_code == 200, f"inline {obj}: {g.status_code} {g.text[:500]}"
        assert g.content == expect(server, objs[obj], args), f"inline {obj}: wrong bytes"
    # offline, every object
    dst = buckets(create=False)
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name))
    st = eu.wait_job(http, base, jid, timeout=120)
    assert st["err"] == "" and not st["aborted"], st
    got = eu.get_many(base, dst, list(objs))
    for obj, data in objs.items():
        status, body = got[obj]
        assert status == 200, f"{dst}/{obj}: {status}"
        assert body == expect(server, data), f"{dst}/{obj}: wrong bytes ({len(body)} B)"
    assert sorted(eu.list_names(http, base, dst)) == sorted(objs)
    snaps = eu.job_snaps(http, base, jid)
    if len(cluster.targets) > 1:
        assert out_objs(snaps) > 0, f"no object changed target: {snaps}"
        if dp:
            assert out_bytes(snaps) == 0, f"direct put: sources sent bytes themselves: {snaps}"
        else:
            assert out_bytes(snaps) > 0, f"no direct put: sources must send: {snaps}"


CELLS = [(comm, fqn, dp) for comm in ("hpush", "hpull") for fqn in (False, True)
         for dp in (False, True)] + [("ws", fqn, True) for fqn in (False, True)]


@pytest.mark.parametrize("server", ["echo", "md5", "py"])
@pytest.mark.parametrize("comm,fqn,dp", CELLS,
                         ids=[f"{c}-{'fqn' if f else 'bytes'}-{'dp' if d else 'nodp'}"
                              for c, f, d in CELLS])
def test_matrix(cluster, http, etls, buckets, source, server, comm, fqn, dp):
    if comm == "ws" and server == "py":
        pytest.skip("the Python test server speaks HTTP only")
    run_cell(cluster, http, etls, buckets, source, server, comm, fqn, dp)


UNIX_CELLS = [("hpush", False, False), ("hpush", True, True), ("ws", False, True),
              ("ws", True, True)]


@pytest.mark.parametrize("server", ["echo", "md5"])
@pytest.mark.parametrize("comm,fqn,dp", UNIX_CELLS,
                         ids=[f"{c}-{'fqn' if f else 'bytes'}-{'dp' if d else 'nodp'}"
                              for c, f, d in UNIX_CELLS])
def test_matrix_unix_socket(cluster, http, etls, buckets, source, server, comm, fqn, dp):
    """Beyond AIStore: target and server on one host talk over a Unix socket."""
    run_cell(cluster, http, etls, buckets, source, server, comm, fqn, dp, unix=True)
    socks = [p for t in cluster.targets for p in (t.dir / "etl").rglob("*.sock")]
    assert socks, "no Unix socket was created for the ETL servers"


def test_direct_put_fallback_to_bytes(cluster, http, etls, buckets, source):
    """A server that cannot deliver answers 200 with the bytes: the source target forwards them."""
    base = cluster.url
    src, objs = source
    name = eu.etl_name("nodp")
    spec = eu.py_spec(name, mode="upper", env={"NO_DIRECT_PUT": "1"})
    spec["support_direct_put"] = True
    etls.init_ok(spec)
    dst = buckets(create=False)
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name))
    st = eu.wait_job(http, base, jid, timeout=120)
    assert st["err"] == "" and not st["aborted"], st
    got = eu.get_many(base, dst, list(objs))
    for obj, data in objs.items():
        assert got[obj] == (200, data.upper()), f"{dst}/{obj}"
    assert out_bytes(eu.job_snaps(http, base, jid)) > 0, "the sources must have sent the bytes"


def test_unix_socket_with_hpull_rejected(cluster, http):
    spec = eu.py_spec(eu.etl_name("uds"))
    spec["communication"] = "hpull://"
    spec["locus_unix_socket"] = True
    lt.assert_error(eu.init(http, cluster.url, spec), 400, "hpull")


IO_TOOLS = {
    "tr": (["tr", "a-z", "A-Z"], lambda d: d.upper()),
    "gzip": (["gzip", "-c", "-1"], None),
    "sha256": (["sh", "-c", "sha256sum | cut -d' ' -f1"],
               lambda d: hashlib.sha256(d).hexdigest().encode() + b"\n"),
}


@pytest.mark.parametrize("tool", sorted(IO_TOOLS))
def test_io_command_line_tools(cluster, http, etls, buckets, source, tool):
    """io://: any command-line tool is a transformer (stdin = object, stdout = result)."""
    base = cluster.url
    src, objs = source
    cmd, fn = IO_TOOLS[tool]
    name = eu.etl_name(f"io-{tool}")
    etls.init_ok({"name": name, "communication": "io://", "obj_timeout": "60s",
                  "runtime": {"image": "none", "command": cmd}})
    dst = buckets(create=False)
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name))
    st = eu.wait_job(http, base, jid, timeout=120)
    assert st["err"] == "" and not st["aborted"], st
    got = eu.get_many(base, dst, list(objs))
    for obj, data in objs.items():
        status, body = got[obj]
        assert status == 200, f"{dst}/{obj}: {status}"
        if fn is None:
            assert gzip.decompress(body) == data, f"{obj}: gunzip mismatch"
        else:
            assert body == fn(data), f"{obj}: wrong bytes"


def test_io_args_failure_and_timeout(cluster, http, etls, source):
    base = cluster.url
    src, objs = source
    name = eu.etl_name("io-args")
    etls.init_ok({"name": name, "communication": "io://",
                  "runtime": {"image": "none", "command": ["sh", "-c", 'cat; printf "[%s]" "$ETL_ARGS"']}})
    g = eu.get_obj(http, base, src, "m/text.txt", etl_name=name, etl_args="a b")
    assert g.status_code == 200 and g.content == b"hello, matrix\n[a b]", g.content
    bad = eu.etl_name("io-bad")
    etls.init_ok({"name": bad, "communication": "io://",
                  "runtime": {"image": "none", "command": ["sh", "-c", "echo broken pipe dream >&2; exit 5"]}})
    g = eu.get_obj(http, base, src, "m/text.txt", etl_name=bad)
    assert g.status_code >= 400 and "status 5" in g.text and "broken pipe dream" in g.text, g.text
    slow = eu.etl_name("io-slow")
    etls.init_ok({"name": slow, "communication": "io://", "obj_timeout": "1s",
                  "runtime": {"image": "none", "command": ["sleep", "30"]}})
    g = eu.get_obj(http, base, src, "m/text.txt", etl_name=slow, timeout=lt.tmo(15))
    assert g.status_code >= 400 and "obj_timeout" in g.text, g.text
    r = eu.init(http, base, {"name": eu.etl_name("io-nocmd"), "communication": "io://",
                             "runtime": {"image": "aistorage/transformer_md5"}})
    lt.assert_error(r, 400, "runtime.command")


def test_secret_checks(cluster, http, etls, source):
    """The target's ETL object endpoint needs the ETL's secret (403 otherwise)."""
    base = cluster.url
    src, objs = source
    name = eu.etl_name("sec")
    etls.init_ok(eu.py_spec(name))
    smap = cluster.smap()
    turl = lt.hrw_target(smap, src, "m/text.txt")["public_net"]["direct_url"]
    path = "ais%2F@%23%2F" + src + "%2Fm%2Ftext.txt"
    r = http.get(f"{turl}/v1/etl/_object/{name}/WrongSecret/{path}")
    lt.assert_error(r, 403, "secret")
    r = http.put(f"{turl}/v1/etl/_object/{name}/WrongSecret/{path}", data=b"x")
    lt.assert_error(r, 403, "secret")
    r = http.get(f"{turl}/v1/etl/_object/no-such-etl/abc/{path}")
    lt.assert_error(r, 404)
