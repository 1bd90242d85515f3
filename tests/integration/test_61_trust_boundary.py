"""61 trust boundary: the defects of the trust-boundary work, each reproduced as it was reported.

Names that arrive by template, by list or in a target-side job message never reach outside the
store; bytes that are not UTF-8 (or a message cut mid-character) never crash a node; templates are
counted, capped and streamed; responses carry no secrets; a request with two Content-Length headers
is refused. After every case each daemon still serves and the canaries outside the store are
untouched (the `_daemon_guard` fixture also fails a test in which any node died)."""

import json
import os
import time
import urllib.parse

import pytest

import locustest as lt
from etl import etlutil as eu
from test_60_bad_input import P, bucket, check_4xx, raw, still_serving  # noqa: F401 (fixture)


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def outside(tmp_path):
    """Canary files outside every mountpath; checked intact (and their directory kept)."""
    d = tmp_path / "x"
    d.mkdir()
    files = {d / f"canary{i}": f"outside-{i}".encode() for i in range(1, 4)}
    for p, data in files.items():
        p.write_bytes(data)
    yield d
    for p, data in files.items():
        assert p.exists() and p.read_bytes() == data, f"{p} was touched"


# ---- defect 1: names from templates, lists and job messages


def test_template_cannot_reach_outside(cluster, http, bucket, outside):
    up = "../" * 24 + str(outside).lstrip("/")
    for value in ({"template": up + "/canary{1..3}"},
                  {"template": "d{1..1}/../../../../" + up + "/canary1"},
                  {"objnames": [up + "/canary1", "ok/../" + up + "/canary2"]}):
        r = http.delete(lt.bck_url(cluster.url, bucket), params=P,
                        json=lt.actmsg("delete-listrange", value))
        lt.assert_4xx(r)
    still_serving(cluster, http, bucket)


def test_template_cannot_reach_another_bucket(cluster, http, bucket):
    other = lt.rand_name("other-")
    assert http.post(lt.bck_url(cluster.url, other), params=P,
                     json=lt.actmsg("create-bck")).status_code == 200
    try:
        for i in range(8):
            assert http.put(lt.obj_url(cluster.url, other, f"secret{i}"), params=P,
                            data=b"s").status_code == 200
            assert http.put(lt.obj_url(cluster.url, bucket, f"d{i}/x"), params=P,
                            data=b"x").status_code == 200
        r = http.delete(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg(
            "delete-listrange", {"template": "d{0..7}/../../../" + other + "/%ob/secret{0..7}"}))
        lt.assert_4xx(r, "invalid object names")
        for i in range(8):
            assert http.get(lt.obj_url(cluster.url, other, f"secret{i}"), params=P).content == b"s"
    finally:
        http.delete(lt.bck_url(cluster.url, other), params=P, json=lt.actmsg("destroy-bck"))


def _as_node(cluster, node, method, path, body=b""):
    """Headers that make a request to `node` intra-cluster (signed with the cluster secret as
    the primary): these tests play a node that sends bad input, not an outsider."""
    secret = getattr(cluster, "cluster_secret", None)
    if not secret:
        return {}
    return lt.intra_headers(secret.read_bytes().strip(), method, node.url + path, body,
                            cluster.primary.id)


def _job_on_target(cluster, t, msg, src, kind="delete-listrange"):
    body = json.dumps({"id": lt.rand_name("j", 10), "kind": kind, "src": src, "dst": "",
                       "msg": msg}).encode()
    return raw(t, "POST", "/v1/xactions", body,
               headers=_as_node(cluster, t, "POST", "/v1/xactions", body))


def test_target_job_message_is_checked(cluster, http, bucket, outside):
    """A job start sent straight to a target (as the proxy would) with names that escape, and
    with a source bucket that is a path: refused, or each bad name counted as an error."""
    up = "../" * 24 + str(outside).lstrip("/")
    for t in cluster.targets:
        st, _, body = _job_on_target(cluster, t, {"objnames": [up + "/canary1", "canary"]}, bucket)
        assert st in (200, 400), (st, body)
        if st == 200:  # accepted: the bad name is an error, the good one deleted
            jid = body.decode().strip()
            deadline = time.monotonic() + lt.tmo(20)
            while time.monotonic() < deadline:
                q = f"/v1/xactions?id={jid}&errors=1"
                snap = http.get(t.url + q, headers=_as_node(cluster, t, "GET", q)).json()
                if snap.get("end_time", "0001") not in ("", "0001-01-01T00:00:00Z"):
                    break
                time.sleep(0.05)
        for src in ("..", "../..", "a/../..", "." * 3, ""):
            st, _, body = _job_on_target(cluster, t, {"template": "canary{1..3}"}, src)
            check_4xx(st, body, f"job with src {src!r}")
        st, _, body = _job_on_target(cluster, t, {"template": "x{0..99999999999}"}, bucket)
        check_4xx(st, body, "job with a huge template")
    for p in outside.iterdir():
        assert p.read_bytes().startswith(b"outside-")
    for n in cluster.nodes:
        assert http.get(n.url + "/v1/health").status_code == 200


def test_copy_destination_names_are_checked(cluster, http, bucket):
    """copy-bck makes destination names from prepend + name (+ ext mapping): both checked."""
    dst = lt.rand_name("dst-")
    for value in ({"prepend": "../../"}, {"prepend": "/abs"}, {"prepend": "a/../"},
                  {"ext": {"txt": "../../x"}}, {"ext": {"txt": 5}}):
        r = http.post(lt.bck_url(cluster.url, bucket), json=lt.actmsg("copy-bck", value),
                      params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"})
        lt.assert_4xx(r)
    names = [b["name"] for b in http.get(cluster.url + "/v1/buckets", params=P).json()]
    assert dst not in names
    # The one-object copy names its destination in object_to (a uname): same rule.
    for to in ("ais/@%23/" + bucket + "/../../x", "ais/@%23/" + bucket + "/a/../../../x",
               "ais/@%23/" + bucket + "/%2Fabs"):
        st, _, body = raw(cluster.primary, "PUT",
                          f"/v1/objects/{bucket}/canary?provider=ais&object_to={to}")
        check_4xx(st, body, f"object_to={to}")
    still_serving(cluster, http, bucket)


# ---- defect 2: bytes that are not UTF-8, and messages cut mid-character

NOT_UTF8 = ["/v1/objects/%FF", "/v1/buckets/%FF", "/v1/buckets?provider=%FF",
            "/v1/objects/{b}/%FF%FE", "/v1/objects/{b}/u%FFx?provider=ais",
            "/v1/objects/{b}/ok?provider=%C3", "/v1/daemon?what=%E2%82"]
EURO = urllib.parse.quote("€")


@pytest.mark.parametrize("path", NOT_UTF8 + [
    "/v1/objects/{b}/" + EURO * 700, "/v1/daemon?what=" + EURO * 1000,
    "/v1/objects/{b}/" + EURO * 300 + "/x?provider=ais"], ids=lambda s: s[:28])
def test_no_crash_on_bytes(cluster, http, bucket, path):
    path = path.replace("{b}", bucket)
    for node in [cluster.primary] + cluster.targets:
        for method in ("GET", "HEAD", "PUT", "DELETE"):
            st, _, body = raw(node, method, path, b"v" if method == "PUT" else b"")
            assert 400 <= st < 500, f"{node} {method} {path[:60]}: {st} {body[:200]!r}"
            if body:
                json.loads(body)  # a JSON error whatever the bytes were
    still_serving(cluster, http, bucket)


def test_put_of_non_utf8_name_is_refused_and_list_works(cluster, http, bucket):
    for node in [cluster.primary] + cluster.targets:
        st, _, body = raw(node, "PUT", f"/v1/objects/{bucket}/u%FFx?provider=ais", b"x")
        check_4xx(st, body, "PUT u%FFx")
        assert "UTF-8" in json.loads(body)["message"]
    r = http.get(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200, r.text
    assert [e["name"] for e in r.json()["entries"]] == ["canary"]


def test_non_utf8_file_on_disk_does_not_break_listing(cluster, http, bucket):
    """A file put on a mountpath by hand with a name that is not UTF-8 is skipped by listings."""
    if cluster.external:
        pytest.skip("needs the mountpaths")
    t = cluster.targets[0]
    ob = t.mountpaths[0] / "@ais" / bucket / "%ob"
    ob.mkdir(parents=True, exist_ok=True)
    stray = os.path.join(os.fsencode(ob), b"bad\xffname")
    with open(stray, "wb") as f:
        f.write(b"stray")
    try:
        r = http.get(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg("list", lt.lsomsg()))
        assert r.status_code == 200, r.text
        assert [e["name"] for e in r.json()["entries"]] == ["canary"]
    finally:
        os.unlink(stray)


def test_etl_error_body_and_stderr_not_utf8(cluster, http, etls, bucket):
    """An ETL server's error body and its last stderr lines go into error replies and into the
    ETL's failure reason: bytes that are not UTF-8 there must not crash the target."""
    assert http.put(lt.obj_url(cluster.url, bucket, "FAIL-1"), params=P, data=b"x").status_code == 200
    name = eu.etl_name("bytes")
    etls.init_ok(eu.py_spec(name, mode="fail", env={"FAIL_ON": "FAIL", "FAIL_BODY_HEX": "fffe80e282"}))
    r = eu.get_obj(http, cluster.url, bucket, "FAIL-1", etl_name=name)
    assert r.status_code >= 400
    json.loads(r.content)
    name2 = eu.etl_name("stderr")
    etls.init_ok(eu.py_spec(name2, mode="exit", env={"FAIL_ON": "FAIL", "FAIL_BODY_HEX": "c0af" * 50}))
    r = eu.get_obj(http, cluster.url, bucket, "FAIL-1", etl_name=name2)
    assert r.status_code >= 400
    json.loads(r.content)
    time.sleep(0.5)
    for n in [cluster.primary] + cluster.targets:
        path = "/v1/etl/" + name2
        r = http.get(n.url + path, headers=_as_node(cluster, n, "GET", path))
        assert r.status_code in (200, 404), r.text
        json.loads(r.content)
    still_serving(cluster, http, bucket)


# ---- defect 3: templates are counted, capped and streamed


def test_huge_template_is_refused_at_once(cluster, http, bucket):
    for tmpl in ("x{0..999999999999}", "x{0..10000000}", "{0..9223372036854775807}",
                 "{1..4294967296}{1..4294967296}"):
        t0 = time.monotonic()
        r = http.delete(lt.bck_url(cluster.url, bucket), params=P,
                        json=lt.actmsg("delete-listrange", {"template": tmpl}), timeout=lt.tmo(10))
        lt.assert_4xx(r, "the limit is 10000000")
        assert time.monotonic() - t0 < lt.tmo(5)
    still_serving(cluster, http, bucket)


def test_template_step_at_the_top_of_long(cluster, http, bucket):
    big = 4611686018427387904
    for v in (0, big):
        assert http.put(lt.obj_url(cluster.url, bucket, f"n{v}"), params=P, data=b"x").status_code == 200
    r = http.delete(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg(
        "delete-listrange", {"template": f"n{{0..9223372036854775807..{big}}}"}))
    assert r.status_code == 200, r.text
    eu.wait_job(http, cluster.url, r.text.strip())
    for v in (0, big):
        assert http.head(lt.obj_url(cluster.url, bucket, f"n{v}"), params=P,
                         allow_redirects=True).status_code == 404
    still_serving(cluster, http, bucket)


@pytest.mark.slow  # ~15 s (a million names on every target): `make test-all`
def test_large_template_streams(cluster, http, bucket):
    """A million names: the targets expand them as they go, so their memory does not grow with
    the range (it grew ~56 MiB per million when every name was held at once)."""
    if cluster.external or lt.ASAN:
        pytest.skip("reads the targets' memory (a sanitizer's quarantine keeps freed memory)")
    before = {t.id: lt.vm_hwm_kib(t.proc.pid) for t in cluster.targets}
    r = http.delete(lt.bck_url(cluster.url, bucket), params=P, json=lt.actmsg(
        "delete-listrange", {"template": "absent-{0000000..0999999}"}))
    assert r.status_code == 200, r.text
    eu.wait_job(http, cluster.url, r.text.strip(), timeout=120)
    for t in cluster.targets:
        grew = lt.vm_hwm_kib(t.proc.pid) - before[t.id]
        assert grew < 24 * 1024, f"{t}: peak RSS grew {grew} KiB for a million names"
    still_serving(cluster, http, bucket)


# ---- defect 5 (the parts outside cluster auth): secrets in responses, Content-Length


def test_no_secrets_in_responses(cluster, http, etls):
    name = eu.etl_name("secret")
    spec = eu.builtin_spec(name, "echo", env={"DB_PASSWORD": "hunter2-do-not-show"})
    etls.init_ok(spec)
    texts = [eu.view(http, cluster.url, name).text, http.get(cluster.url + "/v1/etl").text]
    for n in cluster.nodes:
        texts.append(http.get(n.url + "/v1/daemon", params={"what": "etlmd"}).text)
    for t in texts:
        assert "hunter2" not in t, t[:500]
        assert '"secret"' not in t, t[:500]
    view = eu.view_ok(http, cluster.url, name)
    assert view["init_msg"]["runtime"]["env"][0] == {"name": "DB_PASSWORD", "value": "<redacted>"}
    # The ETL itself still got the value (it runs: an inline GET works).
    assert eu.stage_of(http, cluster.url, name) == "Running"


@pytest.mark.parametrize("headers", [
    b"Content-Length: 3\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: -5\r\n", b"Content-Length: 5x\r\n",
], ids=["two-lengths", "length-and-chunked", "negative", "junk"])
def test_ambiguous_body_length(cluster, http, bucket, headers):
    import socket
    name = lt.rand_name("cl-")
    for node in [cluster.primary] + cluster.targets:
        s = socket.create_connection(("127.0.0.1", node.port), timeout=lt.tmo(5))
        try:
            s.sendall(f"PUT /v1/objects/{bucket}/{name}?provider=ais HTTP/1.1\r\nHost: x\r\n".encode()
                      + headers + b"\r\nabcde")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
        assert status == 0 or 400 <= status < 500, f"{node}: {data[:200]!r}"
    assert http.head(lt.obj_url(cluster.url, bucket, name), params=P,
                     allow_redirects=True).status_code == 404
    still_serving(cluster, http, bucket)


# ---- limits: headers and control bodies


def test_header_and_body_limits(cluster, http, bucket):
    """A header block larger than a connection's memory, thousands of headers, and a control
    body over the limit: refused (or the connection closed), and every node keeps serving."""
    import socket
    big = b"X-Big: " + b"a" * (256 * 1024) + b"\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20000))
    for node in [cluster.primary] + cluster.targets:
        for extra in (big, many):
            s = socket.create_connection(("127.0.0.1", node.port), timeout=lt.tmo(10))
            try:
                s.sendall(f"GET /v1/objects/{bucket}/canary?provider=ais HTTP/1.1\r\nHost: x\r\n"
                          .encode() + extra + b"\r\n")
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                data = b""
            finally:
                s.close()
            assert data == b"" or data.split(b" ", 2)[1][:1] == b"4", data[:200]
    # A JSON control body over the 64 MiB limit: 413, nothing created.
    fresh = lt.rand_name("big-")
    body = b'{"action":"create-bck","value":"' + b"x" * (65 << 20) + b'"}'
    r = http.post(lt.bck_url(cluster.url, fresh), params=P, data=body,
                  headers={"Content-Type": "application/json"}, timeout=lt.tmo(60))
    assert r.status_code == 413, r.text[:300]
    assert http.head(lt.bck_url(cluster.url, fresh), params=P).status_code == 404
    still_serving(cluster, http, bucket)
