"""30 list objects: JSON and msgpack (docs/protocol.md §1.4-1.5), pagination, prefix, props,
10,000 objects."""

import concurrent.futures
import http.client as httpclient
import threading
import time

import msgpack
import pytest

import locustest as lt

P = {"provider": "ais"}
MSGPACK = {"Accept": "application/msgpack"}
TOP_KEYS = {"UUID", "ContinuationToken", "Entries", "Flags"}
ENTRY_KEYS = {"n", "cs", "a", "v", "t", "m", "s", "c", "f"}


@pytest.fixture
def bucket(cluster, http):
    bck = lt.rand_name("ls-")
    r = http.post(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    yield bck
    http.delete(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("destroy-bck"))


def put_many(cluster, bck, names, data_of=lambda n: n.encode(), workers=16, direct=False):
    """Concurrent PUTs through the proxy, or (direct=True) straight to each object's HRW owner,
    which halves the requests for the big listing test."""
    local = threading.local()
    smap = cluster.smap() if direct else None

    def one(name):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = lt.Http()
        base = lt.hrw_target(smap, bck, name)["public_net"]["direct_url"] if direct else cluster.url
        r = s.put(lt.obj_url(base, bck, name), params=P, data=data_of(name))
        assert r.status_code == 200, f"PUT {name}: {r.status_code} {r.text[:200]}"

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        for f in [ex.submit(one, n) for n in names]:
            f.result()


def put_many_fast(cluster, bck, names, data_of, workers=4):
    """Bulk upload for the 10k listing: plain http.client keep-alive connections straight to each
    object's HRW owner (requests costs ~1 ms of client CPU per call on this 2-core box)."""
    smap = cluster.smap()
    by_owner = {}
    for n in names:
        by_owner.setdefault(lt.hrw_target(smap, bck, n)["public_net"]["direct_url"], []).append(n)
    jobs = []
    for url, lst in by_owner.items():
        port = int(url.rsplit(":", 1)[1])
        for i in range(workers):
            jobs.append((port, lst[i::workers]))

    def run(port, lst):
        conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=lt.REQ_TIMEOUT)
        try:
            for n in lst:
                body = data_of(n)
                conn.request("PUT", f"/v1/objects/{bck}/{lt.qobj(n)}?provider=ais", body=body,
                             headers={"Content-Type": "application/octet-stream",
                                      **lt.suite_headers()})
                r = conn.getresponse()
                r.read()
                assert r.status == 200, f"PUT {n}: {r.status}"
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
        for f in [ex.submit(run, *j) for j in jobs]:
            f.result()


def list_page(http, base, bck, fmt="msgpack", **kw):
    """One page; returns (names, token, raw decoded body, entries)."""
    headers = MSGPACK if fmt == "msgpack" else {}
    r = http.get(lt.bck_url(base, bck), params=P, json=lt.actmsg("list", lt.lsomsg(**kw)),
                 headers=headers)
    assert r.status_code == 200, f"list: {r.status_code} {r.text[:300]}"
    if fmt == "msgpack":
        assert r.headers.get("Content-Type") == "application/msgpack", \
            f"Content-Type must be exactly application/msgpack, got {r.headers.get('Content-Type')!r}"
        body = msgpack.unpackb(r.content, raw=False)
        assert isinstance(body, dict) and set(body) == TOP_KEYS, f"msgpack LsoRes keys: {body!r:.300}"
        assert isinstance(body["Entries"], list), "Entries must be an array ([] when empty), not nil"
        assert isinstance(body["UUID"], str) and isinstance(body["ContinuationToken"], str)
        assert isinstance(body["Flags"], int)
        for e in body["Entries"]:
            assert isinstance(e, dict) and set(e) <= ENTRY_KEYS, f"entry keys {e!r}"
            assert isinstance(e["n"], str), f"name must be a msgpack str: {e!r}"
        return [e["n"] for e in body["Entries"]], body["ContinuationToken"], body, body["Entries"]
    body = r.json()
    for k in ("uuid", "continuation_token", "entries", "flags"):
        assert k in body, f"JSON LsoRes lacks {k}: {body!r:.300}"
    assert isinstance(body["entries"], list)
    return [e["name"] for e in body["entries"]], body["continuation_token"], body, body["entries"]


def list_all(http, base, bck, fmt="msgpack", pagesize=0, prefix="", max_pages=100000):
    names, pages, token, uuid = [], [], "", ""
    for _ in range(max_pages):
        got, token, body, _ = list_page(http, base, bck, fmt, pagesize=pagesize, prefix=prefix,
                                        token=token, uuid=uuid)
        uuid = body.get("UUID", body.get("uuid", ""))
        pages.append(len(got))
        names += got
        if token == "":
            return names, pages
    pytest.fail(f"listing did not end after {max_pages} pages")


def test_msgpack_layout(cluster, http, bucket):
    data = {f"m/{i:02d}": bytes([i]) * (i * 10) for i in range(10)}
    put_many(cluster, bucket, list(data), data_of=lambda n: data[n])
    t0 = time.time()
    names, token, body, entries = list_page(http, cluster.url, bucket)
    assert names == sorted(data), names
    assert token == ""
    for e in entries:
        content = data[e["n"]]
        assert e.get("s", 0) == len(content), e
        assert e["cs"] == lt.xxhash_cksum(content), e  # default props: name,size,checksum,atime
        assert isinstance(e["a"], str) and e["a"], e
        f = e.get("f", 0)
        assert f & 0x1F == 0, f"entry not ok: {e}"
        assert f & 64, f"present object must carry EntryIsCached (64): {e}"
    assert time.time() - t0 < 30


def test_json_layout(cluster, http, bucket):
    data = {f"j/{i}": b"x" * i for i in range(5)}
    put_many(cluster, bucket, list(data), data_of=lambda n: data[n])
    r = http.get(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["continuation_token"] == ""
    assert [e["name"] for e in body["entries"]] == sorted(data)
    for e in body["entries"]:
        assert int(e.get("size", 0)) == len(data[e["name"]])  # Go: "size,string"


def test_empty_bucket_entries_array(cluster, http, bucket):
    names, token, body, _ = list_page(http, cluster.url, bucket)
    assert names == [] and token == "" and body["Entries"] == []
    names, token, body, _ = list_page(http, cluster.url, bucket, fmt="json")
    assert body["entries"] == [] and token == ""


def test_props(cluster, http, bucket):
    put_many(cluster, bucket, ["p1", "p2"])
    assert http.put(lt.obj_url(cluster.url, bucket, "p2"), params=P, data=b"v2").status_code == 200
    _, _, _, entries = list_page(http, cluster.url, bucket, props="name,size,version")
    vers = {e["n"]: e.get("v") for e in entries}
    assert vers == {"p1": "1", "p2": "2"}, entries
    assert all("cs" not in e for e in entries), f"checksum not asked for: {entries}"
    _, _, _, entries = list_page(http, cluster.url, bucket, props="name")
    assert [e["n"] for e in entries] == ["p1", "p2"]
    for e in entries:
        assert not ({"s", "cs", "a", "v"} & set(e)), f"props=name: only the name, got {e}"
    sm = cluster.smap()
    _, _, _, entries = list_page(http, cluster.url, bucket, props="name,location")
    for e in entries:
        owner = lt.hrw_target(sm, bucket, e["n"])["daemon_id"]
        assert e.get("t", "").startswith(f"t[{owner}]"), e
    r = http.get(lt.bck_url(cluster.url, bucket), params=P, headers=MSGPACK,
                 json=lt.actmsg("list", lt.lsomsg(props="name,bogus")))
    lt.assert_error(r, 400)


def test_pagination_page7(cluster, http, bucket):
    names = [f"pg/{i:03d}" for i in range(25)]
    put_many(cluster, bucket, names)
    got, token, body, _ = list_page(http, cluster.url, bucket, pagesize=7)
    assert len(got) == 7 and got == names[:7]
    assert token != ""
    all_names, pages = list_all(http, cluster.url, bucket, pagesize=7)
    assert all_names == names, "pages concatenated must be all names, sorted, no duplicates"
    assert pages[:4] == [7, 7, 7, 4] and all(p == 0 for p in pages[4:]), pages
    json_names, _ = list_all(http, cluster.url, bucket, fmt="json", pagesize=7)
    assert json_names == names
    # SDK: page 20 with 10 objects -> 10.
    got, token, _, _ = list_page(http, cluster.url, bucket, pagesize=20, prefix="pg/00")
    assert got == names[:10] and token == ""


def test_prefix(cluster, http, bucket):
    names = [f"a/{i}" for i in range(9)] + [f"ab/{i}" for i in range(4)] + [f"b/{i}" for i in range(6)]
    put_many(cluster, bucket, names)
    got, _ = list_all(http, cluster.url, bucket, prefix="a/")
    assert got == sorted(n for n in names if n.startswith("a/"))
    got, _ = list_all(http, cluster.url, bucket, prefix="a")
    assert got == sorted(n for n in names if n.startswith("a"))
    got, pages = list_all(http, cluster.url, bucket, prefix="b/", pagesize=4)
    assert got == sorted(n for n in names if n.startswith("b/")) and pages[:2] == [4, 2]
    got, token, body, _ = list_page(http, cluster.url, bucket, prefix="zzz")
    assert got == [] and token == "" and body["Entries"] == []


def test_list_10000_objects(cluster, http, bucket):
    names = [f"many/{i:05d}" for i in range(10000)]
    t0 = time.monotonic()
    put_many_fast(cluster, bucket, names, data_of=lambda n: n[-5:].encode())
    t_put = time.monotonic() - t0
    # Page size 0 = server maximum (10000).
    got, token, _, entries = list_page(http, cluster.url, bucket)
    assert len(got) == 10000 and got == names
    assert all(e.get("s") == 5 for e in entries)
    if token:  # a full page may be followed by one empty last page
        more, token, _, _ = list_page(http, cluster.url, bucket, token=token)
        assert more == [] and token == ""
    # In pages of 1000, and of an odd size.
    got, pages = list_all(http, cluster.url, bucket, pagesize=1000)
    assert got == names and pages[:10] == [1000] * 10
    got, pages = list_all(http, cluster.url, bucket, fmt="json", pagesize=3333)
    assert got == names and pages[:4] == [3333, 3333, 3333, 1]
    # A page size over the maximum is capped at 10000.
    got, _, _, _ = list_page(http, cluster.url, bucket, pagesize=20000, prefix="many/")
    assert len(got) == 10000
    print(f"10k PUT {t_put:.1f}s, total {time.monotonic() - t0:.1f}s")
