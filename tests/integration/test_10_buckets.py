"""10 buckets: create, 409, invalid names, list, HEAD, destroy (with objects), 404 messages
(docs/protocol.md §1.2)."""

import json
import urllib.parse

import pytest

import locustest as lt


def create(http, base, bck):
    return http.post(lt.bck_url(base, bck), params={"provider": "ais"}, json=lt.actmsg("create-bck"))


def destroy(http, base, bck):
    return http.delete(lt.bck_url(base, bck), params={"provider": "ais"}, json=lt.actmsg("destroy-bck"))


def list_buckets(http, base):
    r = http.get(base + "/v1/buckets", params={"provider": "ais"}, json=lt.actmsg("list"))
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert isinstance(body, list), f"bucket list is not a JSON array: {r.text[:300]}"
    return body


def put(http, base, bck, obj, data):
    r = http.put(lt.obj_url(base, bck, obj), params={"provider": "ais"}, data=data)
    assert r.status_code == 200, f"PUT {bck}/{obj}: {r.status_code} {r.text[:300]}"


def test_create_list_head_destroy(cluster, http):
    bck = lt.rand_name("bk-")
    r = create(http, cluster.url, bck)
    assert r.status_code == 200, r.text
    entries = [b for b in list_buckets(http, cluster.url) if b.get("name") == bck]
    assert entries == [{"name": bck, "provider": "ais", "namespace": {"uuid": "", "name": ""}}]

    r = http.head(lt.bck_url(cluster.url, bck), params={"provider": "ais"})
    assert r.status_code == 200
    props = r.headers.get("Ais-Bucket-Props")
    assert props, f"HEAD bucket without Ais-Bucket-Props: {dict(r.headers)}"
    assert isinstance(json.loads(props), dict)

    r = destroy(http, cluster.url, bck)
    assert r.status_code == 200, r.text
    assert not [b for b in list_buckets(http, cluster.url) if b.get("name") == bck]
    r = http.head(lt.bck_url(cluster.url, bck), params={"provider": "ais"})
    assert r.status_code == 404 and r.content == b""


def test_create_twice_409(cluster, http):
    bck = lt.rand_name("bk-")
    assert create(http, cluster.url, bck).status_code == 200
    try:
        lt.assert_error(create(http, cluster.url, bck), 409, f'bucket "ais://{bck}" already exists')
    finally:
        destroy(http, cluster.url, bck)


def test_list_empty_is_array(cluster, http):
    for b in list_buckets(http, cluster.url):
        assert destroy(http, cluster.url, b["name"]).status_code == 200
    r = http.get(cluster.url + "/v1/buckets", params={"provider": "ais"}, json=lt.actmsg("list"))
    assert r.status_code == 200
    assert r.json() == [], f"empty bucket list must be [] (not null): {r.text!r}"


def test_bucket_visible_through_every_node(cluster, http):
    """BMD is pushed to every node: a target knows the bucket right after create (PUT directly)."""
    bck = lt.rand_name("bk-")
    assert create(http, cluster.url, bck).status_code == 200
    try:
        sm = cluster.smap()
        owner = lt.hrw_target(sm, bck, "x")
        r = http.put(lt.obj_url(owner["public_net"]["direct_url"], bck, "x"),
                     params={"provider": "ais"}, data=b"direct")
        assert r.status_code == 200, r.text[:300]
        assert http.get(lt.obj_url(cluster.url, bck, "x"), params={"provider": "ais"}).content == b"direct"
    finally:
        destroy(http, cluster.url, bck)


# Names from the SDK's test_create_bucket_invalid_name plus Go's rule ([A-Za-z0-9_.-], no leading
# '.', no '..', <= 64 chars).
INVALID = ["*", ".", " ", "bucket/badname", "bucket and name", "#badname", "$badname", "~badname",
           "..", "a..b", ".hidden", "x" * 65, "b@d", "b:d", "ünï"]


@pytest.mark.parametrize("name", INVALID, ids=lambda n: repr(n)[:20])
def test_create_invalid_name_400(cluster, http, name):
    # Exact bytes (percent-encoded, no normalisation by the client) ...
    path = "/v1/buckets/" + urllib.parse.quote(name, safe="")
    st, hdrs, body = lt.raw_request("127.0.0.1", cluster.primary.port, "POST", path + "?provider=ais",
                                    {"Content-Type": "application/json"},
                                    json.dumps(lt.actmsg("create-bck")).encode())
    assert 400 <= st < 500, f"{path}: {st} {body[:200]!r}"
    if st == 400:
        assert json.loads(body)["message"]
    # ... and the way the SDK sends it (requests quotes what it must).
    r = create(http, cluster.url, name)
    lt.assert_4xx(r)
    names = [b["name"] for b in list_buckets(http, cluster.url)]
    assert name not in names and urllib.parse.quote(name, safe="") not in names
    # delete(missing_ok=True) in the SDK: a 4xx
    lt.assert_4xx(destroy(http, cluster.url, name))


def test_valid_edge_names(cluster, http):
    for bck in ["a", "A-b_c.d", "x" * 64, "INVALID_BCK_NAME_BUT_VALID", "0"]:
        r = create(http, cluster.url, bck)
        assert r.status_code == 200, f"{bck!r}: {r.status_code} {r.text[:200]}"
        assert destroy(http, cluster.url, bck).status_code == 200


def test_empty_name_is_4xx_not_a_list(cluster, http):
    """bucket("") makes the path /v1/buckets/ : never a bucket list, never a created bucket."""
    before = list_buckets(http, cluster.url)
    r = http.post(cluster.url + "/v1/buckets/", params={"provider": "ais"}, json=lt.actmsg("create-bck"))
    lt.assert_4xx(r)
    r = http.delete(cluster.url + "/v1/buckets/", params={"provider": "ais"}, json=lt.actmsg("destroy-bck"))
    lt.assert_4xx(r)
    r = http.head(cluster.url + "/v1/buckets/", params={"provider": "ais"})
    assert 400 <= r.status_code < 500
    r = http.get(cluster.url + "/v1/buckets/", params={"provider": "ais"},
                 json=lt.actmsg("list", lt.lsomsg()), headers={"Accept": "application/msgpack"})
    lt.assert_4xx(r)
    assert list_buckets(http, cluster.url) == before


def test_missing_bucket_404_messages(cluster, http):
    bck = lt.rand_name("missing-")
    msg = lt.bucket_missing_msg(bck)
    lt.assert_error(destroy(http, cluster.url, bck), 404, msg)
    r = http.head(lt.bck_url(cluster.url, bck), params={"provider": "ais"})
    assert r.status_code == 404 and r.content == b""
    r = http.get(lt.bck_url(cluster.url, bck), params={"provider": "ais"},
                 json=lt.actmsg("list", lt.lsomsg()), headers={"Accept": "application/msgpack"})
    lt.assert_error(r, 404, msg)
    r = http.put(lt.obj_url(cluster.url, bck, "o"), params={"provider": "ais"}, data=b"x")
    lt.assert_error(r, 404, msg)
    r = http.get(lt.obj_url(cluster.url, bck, "o"), params={"provider": "ais"})
    lt.assert_error(r, 404, f'ais://{bck}')
    # Uppercase names are valid, just missing (SDK test_bucket_invalid_name).
    r = http.get(lt.bck_url(cluster.url, "INVALID_BCK_NAME"), params={"provider": "ais"},
                 json=lt.actmsg("list", lt.lsomsg()), headers={"Accept": "application/msgpack"})
    lt.assert_error(r, 404, 'ais://INVALID_BCK_NAME"')


def test_destroy_removes_objects(cluster, http):
    bck = lt.rand_name("bk-")
    assert create(http, cluster.url, bck).status_code == 200
    names = [f"d/{i}" for i in range(12)]
    for n in names:
        put(http, cluster.url, bck, n, n.encode() * 100)
    if not cluster.external:
        assert sum(len(lt.object_files(t, bck)) for t in cluster.targets) == len(names)
    assert destroy(http, cluster.url, bck).status_code == 200
    lt.assert_error(http.get(lt.obj_url(cluster.url, bck, names[0]), params={"provider": "ais"}), 404)
    if not cluster.external:
        left = [p for t in cluster.targets for p in lt.object_files(t, bck)]
        assert not left, f"object files left after destroy: {left[:5]}"
    # Re-created under the same name, the bucket is empty.
    assert create(http, cluster.url, bck).status_code == 200
    try:
        r = http.get(lt.bck_url(cluster.url, bck), params={"provider": "ais"}, json=lt.actmsg("list", lt.lsomsg()))
        assert r.status_code == 200
        assert r.json()["entries"] == []
        lt.assert_error(http.get(lt.obj_url(cluster.url, bck, names[0]), params={"provider": "ais"}), 404)
    finally:
        destroy(http, cluster.url, bck)


def test_bmd_persisted_on_every_node(cluster, http):
    """BMD is pushed to every node and persisted in its data dir (DEV-CONTRACT.md: bmd.json,
    smap.json), written atomically (no temp files left behind)."""
    import time
    cluster.require_local()
    bck = lt.rand_name("persist-")
    assert create(http, cluster.url, bck).status_code == 200
    try:
        deadline = time.monotonic() + lt.tmo(10)
        for n in cluster.nodes:
            bmd = n.dir / "bmd.json"
            while not bmd.exists() or bck not in bmd.read_text():
                assert time.monotonic() < deadline, f"{n}: {bck} not in {bmd}"
                time.sleep(0.1)
            json.loads(bmd.read_text())
            sm = json.loads((n.dir / "smap.json").read_text())
            assert n.id in json.dumps(sm)
    finally:
        destroy(http, cluster.url, bck)
