"""60 bad input: invalid bucket names, '..' and other bad object names, malformed JSON, unknown
actions and paths, broken HTTP. Always a 4xx with a JSON message (never 5xx), nothing escapes the
mountpaths, nothing is destroyed by mistake, and the daemons keep serving."""

import json
import socket
import urllib.parse

import pytest

import locustest as lt

P = {"provider": "ais"}


@pytest.fixture
def bucket(cluster, http):
    bck = lt.rand_name("bad-")
    r = http.post(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    r = http.put(lt.obj_url(cluster.url, bck, "canary"), params=P, data=b"canary")
    assert r.status_code == 200
    yield bck
    http.delete(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("destroy-bck"))


def still_serving(cluster, http, bck=None):
    for n in cluster.nodes:
        assert http.get(n.url + "/v1/health").status_code == 200, f"{n} stopped serving"
    if bck:
        r = http.get(lt.obj_url(cluster.url, bck, "canary"), params=P)
        assert r.status_code == 200 and r.content == b"canary"


def raw(node, method, path, body=b"", headers=None, follow=True):
    """One request with exact bytes in the path; a proxy redirect is followed once (the client
    must end up with a 4xx, whichever node decides)."""
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    st, rh, data = lt.raw_request("127.0.0.1", node.port, method, path, hdrs, body)
    loc = {k.lower(): v for k, v in rh.items()}.get("location")
    if follow and st in (301, 302, 307, 308) and loc:
        u = urllib.parse.urlsplit(loc)
        assert u.hostname == "127.0.0.1", loc
        st, rh, data = lt.raw_request("127.0.0.1", u.port, method,
                                      u.path + ("?" + u.query if u.query else ""), hdrs, body)
    return st, rh, data


def check_4xx(st, body, what):
    assert 400 <= st < 500, f"{what}: {st} {body[:300]!r}"
    if body:
        msg = json.loads(body)["message"]
        assert isinstance(msg, str) and msg, what


# Raw (already-escaped) object path parts. Each decodes to a name that must be refused.
BAD_OBJ_PATHS = [
    "..", "../x", "a/../../../etc/passwd", "a/..", "%2E%2E/x", "a/%2e%2e/%2e%2e/x", "..%2Fx",
    "a%2F..%2F..%2Fx", "./x", "a/./b", "a//b", "%2Fabs", "nul%00byte", "x" * 1100,
    ("seg" * 90) + "/x",  # a 270-byte path segment
]


@pytest.mark.parametrize("objpath", BAD_OBJ_PATHS, ids=lambda s: s[:24])
def test_bad_object_names(cluster, http, bucket, objpath):
    sm = cluster.smap()
    targets = [cluster.primary] + cluster.targets
    for node in targets:
        for method in ("PUT", "GET", "HEAD", "DELETE"):
            st, _, body = raw(node, method, f"/v1/objects/{bucket}/{objpath}?provider=ais",
                              body=b"evil" if method == "PUT" else b"")
            if method == "HEAD":
                assert 400 <= st < 500, f"{node} HEAD {objpath!r}: {st}"
            else:
                check_4xx(st, body, f"{node} {method} {objpath!r}")
    if not cluster.external:
        # Nothing written anywhere but the canary.
        files = [p for t in cluster.targets for p in lt.object_files(t, bucket)]
        assert [p.name for p in files] == ["canary"], files
        for t in cluster.targets:
            stray = [p for p in t.dir.rglob("*") if p.is_file() and p.read_bytes() == b"evil"]
            assert not stray, f"bad PUT wrote {stray}"
    still_serving(cluster, http, bucket)
    assert sm["version"] == cluster.smap()["version"]


def test_bad_names_via_requests(cluster, http, bucket):
    """Like the SDK sends them (requests may normalise dot segments; the answer stays 4xx or a
    different, harmless object)."""
    for name in ["a/../b", "..", "/lead", "a//b"]:
        r = http.put(lt.obj_url(cluster.url, bucket, name), params=P, data=b"evil")
        assert r.status_code < 500, f"{name!r}: {r.status_code}"
        if r.status_code >= 400:
            lt.error_json(r)
    still_serving(cluster, http, bucket)


INVALID_BUCKETS = ["..", ".x", "a..b", "a b", "a*b", "a$b", "a#b", "x" * 65, "ünï", "a%2Fb"]


@pytest.mark.parametrize("bck", INVALID_BUCKETS, ids=lambda s: s[:16])
def test_invalid_bucket_names_everywhere(cluster, http, bck):
    q = urllib.parse.quote(bck, safe="%")
    for method, path, body in (
            ("POST", f"/v1/buckets/{q}?provider=ais", lt.actmsg("create-bck")),
            ("DELETE", f"/v1/buckets/{q}?provider=ais", lt.actmsg("destroy-bck")),
            ("GET", f"/v1/buckets/{q}?provider=ais", lt.actmsg("list", lt.lsomsg())),
            ("PUT", f"/v1/objects/{q}/obj?provider=ais", None),
            ("GET", f"/v1/objects/{q}/obj?provider=ais", None)):
        data = json.dumps(body).encode() if body else b"data"
        st, _, resp = raw(cluster.primary, method, path, data)
        check_4xx(st, resp, f"{method} {path}")
    still_serving(cluster, http)


MALFORMED = [b"{", b'{"action":', b"not json", b"[]", b"null", b'{"action": 5}', b'{"value": {}}',
             b'{"action":"create-bck","value":', b"\xff\xfe\x00", b'{"action":"create-bck"}}}']


@pytest.mark.parametrize("body", MALFORMED, ids=lambda b: repr(b)[:20])
def test_malformed_json_bodies(cluster, http, bucket, body):
    base = cluster.primary
    fresh = lt.rand_name("mal-")
    st, _, resp = raw(base, "POST", f"/v1/buckets/{fresh}?provider=ais", body)
    check_4xx(st, resp, f"create with {body!r}")
    st, _, resp = raw(base, "DELETE", f"/v1/buckets/{bucket}?provider=ais", body)
    check_4xx(st, resp, f"destroy with {body!r}")
    st, _, resp = raw(base, "GET", f"/v1/cluster?what=status", body)
    check_4xx(st, resp, f"status with {body!r}")
    st, _, resp = raw(base, "POST", f"/v1/buckets/{bucket}?provider=ais&bck_to=ais/@%23/x-{fresh}/", body)
    check_4xx(st, resp, f"copy with {body!r}")
    names = [b["name"] for b in http.get(cluster.url + "/v1/buckets", params=P, json=lt.actmsg("list")).json()]
    assert fresh not in names and bucket in names, "malformed body created or destroyed a bucket"
    still_serving(cluster, http, bucket)


def test_wrong_value_types(cluster, http, bucket):
    bad = []
    for value in (5, "str", [1, 2], {"pagesize": "many"}, {"continuation_token": 7}, {"prefix": {}},
                  {"pagesize": -1}):
        r = http.get(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("list", value),
                     headers={"Accept": "application/msgpack"})
        if not 400 <= r.status_code < 500:
            bad.append(f"list value={value!r}: {r.status_code}")
    for value in ({"objnames": "notalist"}, {"objnames": [1, 2]}, {"template": 5}, {}, None,
                  {"template": "obj-{9..}"}):
        r = http.delete(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("delete-listrange", value))
        if not 400 <= r.status_code < 500:
            bad.append(f"delete-listrange value={value!r}: {r.status_code} {r.text[:80]}")
    r = http.get(cluster.url + "/v1/cluster", params={"what": "status"}, json={"ID": 5})
    if not 400 <= r.status_code < 500:
        bad.append(f"status ID=5: {r.status_code}")
    assert not bad, "wrong value types accepted: " + "; ".join(bad)
    still_serving(cluster, http, bucket)


def test_unknown_action(cluster, http, bucket):
    for method in ("POST", "DELETE", "GET", "PUT"):
        r = http.request(method, lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("frobnicate"))
        lt.assert_4xx(r)
    r = http.post(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("destroy-bck"))
    lt.assert_4xx(r)  # right action, wrong method: must not destroy
    assert http.head(lt.bck_url(cluster.url, bucket), params=P).status_code == 200
    still_serving(cluster, http, bucket)


def test_unknown_paths_and_queries(cluster, http, bucket):
    for n in (cluster.primary, cluster.targets[0]):
        for method, path in (("GET", "/v1/nonsense"), ("GET", "/nonsense"), ("GET", "/"),
                             ("GET", "/v1/daemon?what=bogus"), ("GET", "/v1/cluster?what=bogus"),
                             ("PATCH", f"/v1/buckets/{bucket}?provider=ais"),
                             ("GET", f"/v1/buckets/{bucket}?provider=gcp"),
                             ("GET", f"/v1/objects/{bucket}?provider=ais"),
                             ("GET", "/v2/health")):
            st, _, body = raw(n, method, path, b"")
            check_4xx(st, body, f"{n} {method} {path}")
    still_serving(cluster, http, bucket)


def _raw_socket(node, payload, read=True):
    """Sends payload; returns what came back up to the end of the response head ("" when the
    server closed or stayed silent for 2 s)."""
    s = socket.create_connection(("127.0.0.1", node.port), timeout=lt.tmo(2))
    try:
        s.sendall(payload)
        if not read:
            return b""
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
        return data
    finally:
        s.close()


def test_broken_http(cluster, http, bucket):
    for n in (cluster.primary, cluster.targets[0]):
        for payload in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"\x00\x01\x02\x03" * 100 + b"\r\n\r\n",
                        b"PUT /v1/objects/x/y HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                        b"PUT /v1/objects/x/y HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"):
            resp = _raw_socket(n, payload)
            if resp:
                status = resp.split(b"\r\n", 1)[0]
                assert status.startswith(b"HTTP/1.") and status[9:10] == b"4", f"{n}: {payload[:40]!r} -> {status!r}"
        # A 200 KB header: refusing it (4xx) or serving it are both fine, 5xx is not.
        resp = _raw_socket(n, b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 +
                           b"\r\n\r\n")
        if resp:
            status = resp.split(b"\r\n", 1)[0]
            assert status[9:10] in (b"2", b"4"), f"{n}: 200 KB header -> {status!r}"
        # Truncated body, then the client goes away.
        _raw_socket(n, f"PUT /v1/objects/{bucket}/trunc?provider=ais HTTP/1.1\r\nHost: x\r\n"
                       f"Content-Length: 100000\r\n\r\n".encode() + b"x" * 1000, read=False)
        # Many connections opened and dropped.
        socks = [socket.create_connection(("127.0.0.1", n.port)) for _ in range(50)]
        for s in socks:
            s.close()
    still_serving(cluster, http, bucket)
    r = http.get(lt.obj_url(cluster.url, bucket, "trunc"), params=P)
    lt.assert_error(r, 404)  # a truncated upload never becomes an object


def test_never_5xx_on_client_errors(cluster, http, bucket):
    """A sweep of odd but well-formed requests: none may answer 5xx."""
    reqs = [
        ("GET", lt.obj_url(cluster.url, bucket, "x"), {"Range": "bytes=abc"}),
        ("GET", lt.obj_url(cluster.url, bucket, "canary"), {"Range": "bytes=10-2"}),
        ("GET", lt.obj_url(cluster.url, bucket, "canary"), {"Range": "bytes=0-1,3-4"}),
        ("PUT", cluster.url + "/v1/buckets/" + bucket, {}),
        ("DELETE", cluster.url + "/v1/objects/" + bucket, {}),
        ("GET", cluster.url + "/v1/daemon", {}),
        ("GET", cluster.url + "/v1/cluster", {}),
        ("POST", cluster.url + "/v1/objects/" + bucket + "/x", {}),
    ]
    for method, url, hdrs in reqs:
        r = http.request(method, url, params=P, headers=hdrs, allow_redirects=True)
        assert r.status_code < 500, f"{method} {url} {hdrs}: {r.status_code} {r.text[:200]}"
    still_serving(cluster, http, bucket)
