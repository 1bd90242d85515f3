"""
Issue 10, defect 5: intra-cluster endpoints were open to anyone. A forged POST <target>/v1/metasync
with an EtlMD of version + 100 made the target run the ETL's command; metasync replaced the
cluster map and took another cluster's uuid as newer. Now (docs/security.md, "Intra-cluster
trust") every node-to-node call is signed with the cluster secret, metasync is accepted only from
the primary of the node's own cluster, and another uuid is refused.
"""

import json
import time

import pytest
import requests

import locustest as lt


def secret_of(c):
    return c.cluster_secret.read_bytes().strip()


def get_md(c, node, what):
    r = requests.get(node.url + "/v1/daemon", params={"what": what}, headers=c.headers(),
                     timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def forged_body(c, target, canary, uuid=None, bump=100):
    """The target's own documents with an ETL that would run `touch canary`, every version + bump,
    and a cluster map that moves every target to an address of ours."""
    smap = get_md(c, target, "smap")
    etlmd = get_md(c, target, "etlmd")
    bmd = get_md(c, target, "bmd")
    for d in (smap, etlmd, bmd):
        d["version"] = str(int(d["version"]) + bump)
        if uuid:
            d["uuid"] = uuid
    for sn in smap["tmap"].values():
        for net in ("public_net", "intra_control_net", "intra_data_net"):
            sn[net]["direct_url"] = "http://127.0.0.1:9"
    etlmd.setdefault("etls", {})["evil-etl"] = {
        "init_msg": {"name": "evil-etl", "communication": "hpush://",
                     "runtime": {"image": "evil", "command": ["sh", "-c", f"touch {canary}"]}},
        "stage": "Initializing", "xid": "etl-aaaaaaaaaa", "secret": "abcdefghij", "reason": "",
        "comm": "hpush://", "obj_timeout_ns": 10e9, "init_timeout_ns": 45e9,
        "command": ["sh", "-c", f"touch {canary}"], "direct_put": False}
    return json.dumps({"smap": smap, "bmd": bmd, "etlmd": etlmd}).encode()


def post(url, body, headers):
    h = {"Content-Type": "application/json", "Authorization": None, **headers}
    return requests.post(url, data=body, headers=h, timeout=lt.REQ_TIMEOUT)


def versions(c, node):
    return {w: int(get_md(c, node, w)["version"]) for w in ("smap", "bmd", "etlmd")}


def test_forged_metasync_is_refused_and_nothing_runs(cluster_factory, tmp_path):
    c = cluster_factory(targets=2)
    t = c.targets[0]
    canary = tmp_path / "canary"
    before = versions(c, t)
    url = t.url + "/v1/metasync"
    body = forged_body(c, t, canary)
    good = secret_of(c)
    cases = [
        ("unsigned", {}, 401),
        ("unsigned, as the primary", {"Ais-Caller-Id": c.primary.id}, 401),
        ("wrong cluster secret", lt.intra_headers(b"not-the-secret", "POST", url, body,
                                                   c.primary.id), 401),
        ("replayed two minutes later", lt.intra_headers(good, "POST", url, body, c.primary.id,
                                                        date=int(time.time()) - 120), 401),
        ("another body than the one signed", lt.intra_headers(good, "POST", url, b"{}",
                                                               c.primary.id), 401),
        ("signed by a node that is not the primary", lt.intra_headers(good, "POST", url, body,
                                                                       c.targets[1].id), 403),
    ]
    for what, hdrs, want in cases:
        r = post(url, body, hdrs)
        assert r.status_code == want, f"{what}: {r.status_code} {r.text[:300]}"
        lt.error_json(r)
    # The primary's signature but another cluster's uuid: not newer, another cluster.
    other = forged_body(c, t, canary, uuid="otherCluster")
    r = post(url, other, lt.intra_headers(good, "POST", url, other, c.primary.id))
    assert r.status_code == 409 and "another cluster" in r.text, r.text
    time.sleep(1.5)  # the ETL runtime reconciles every 300 ms
    assert not canary.exists(), "the forged ETL's command ran"
    assert versions(c, t) == before
    assert "evil-etl" not in get_md(c, t, "etlmd").get("etls", {})
    assert get_md(c, t, "smap")["tmap"] == get_md(c, c.primary, "smap")["tmap"]
    # The cluster still works, and metasync from the primary still does.
    bck = lt.rand_name("trust-")
    r = requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck"), headers=c.headers())
    assert r.status_code == 200, r.text
    assert versions(c, t)["bmd"] == before["bmd"] + 1


def test_intra_endpoints_need_the_cluster_secret(cluster_factory):
    c = cluster_factory(targets=1)
    t, p = c.targets[0], c.primary
    bck = lt.rand_name("intra-")
    h = c.headers()
    assert requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck"), headers=h).status_code == 200
    r = requests.put(lt.obj_url(c.url, bck, "keep"), data=b"x", headers=h)
    assert r.status_code == 200, r.text
    job = json.dumps({"id": "forgedjob1", "kind": "delete-listrange", "src": bck, "dst": "",
                      "msg": {"objnames": ["keep"]}}).encode()
    join = json.dumps({"daemon_id": "tevil", "daemon_type": "target",
                       "direct_url": "http://127.0.0.1:9"}).encode()
    calls = [
        ("GET", t.url + f"/v1/internal/lso?bck={bck}", b""),
        ("POST", t.url + "/v1/xactions", job),  # a target-side job start
        ("GET", t.url + "/v1/xactions?id=forgedjob1", b""),
        ("GET", t.url + "/v1/etl/_status/some-etl", b""),
        ("POST", p.url + "/v1/cluster/join", join),
        ("POST", p.url + "/v1/cluster/keepalive", json.dumps({"daemon_id": t.id}).encode()),
        ("POST", p.url + "/v1/etl/some-etl/_abort", b'{"xid":"x","reason":"forged"}'),
        ("POST", p.url + "/v1/metasync", b"{}"),
    ]
    for method, url, body in calls:
        for hdrs in ({}, {"Ais-Caller-Id": p.id}, lt.bearer(lt.admin_token()),
                     lt.intra_headers(b"wrong", method, url, body, p.id)):
            # An admin's token is no node's signature either.
            r = requests.request(method, url, data=body, timeout=lt.REQ_TIMEOUT,
                                 headers={"Authorization": None, **hdrs})
            assert r.status_code == 401, f"{method} {url} {hdrs.keys()}: {r.status_code} {r.text}"
    time.sleep(0.5)
    r = requests.get(lt.obj_url(c.url, bck, "keep"), headers=h)
    assert r.status_code == 200 and r.content == b"x", "a forged job start deleted an object"
    assert "tevil" not in c.smap()["tmap"]
    # Signed with the cluster secret as a node does, the same call is served: the format in
    # docs/security.md is the one the nodes check.
    url = t.url + f"/v1/internal/lso?bck={bck}&prefix=&after=&limit=10&props=name"
    r = requests.get(url, headers={"Authorization": None,
                                   **lt.intra_headers(secret_of(c), "GET", url, b"", p.id)})
    assert r.status_code == 200, r.text
    assert [e["name"] for e in r.json()["entries"]] == ["keep"]


def test_without_cluster_secret_metasync_still_only_from_the_primary(cluster_factory, tmp_path):
    """Backward compatibility: no cluster secret configured. The node warns at start; a node is
    whoever says so in Ais-Caller-Id, but metasync still comes only from the primary's id and
    never carries another cluster."""
    c = cluster_factory(targets=1, auth=False, cluster_secret=False)
    t = c.targets[0]
    assert "no cluster_secret" in t.log.read_text()
    canary = tmp_path / "canary"
    before = versions(c, t)
    url = t.url + "/v1/metasync"
    body = forged_body(c, t, canary)
    assert post(url, body, {}).status_code == 403
    assert post(url, body, {"Ais-Caller-Id": t.id}).status_code == 403
    other = forged_body(c, t, canary, uuid="otherCluster")
    assert post(url, other, {"Ais-Caller-Id": c.primary.id}).status_code == 409
    time.sleep(1.0)
    assert not canary.exists()
    assert versions(c, t) == before
    bck = lt.rand_name("compat-")
    assert requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck")).status_code == 200
    assert requests.put(lt.obj_url(c.url, bck, "o"), data=b"1").status_code == 200
    assert requests.get(lt.obj_url(c.url, bck, "o")).content == b"1"


@pytest.mark.skipif(lt.USE_DAEMON != "", reason="restarts nodes")
def test_primary_restarted_from_scratch_is_followed(cluster_factory):
    """A primary that lost its state starts a new cluster (another uuid): its pushes are refused
    by the targets, but their join answers carry the new maps, so they follow it."""
    c = cluster_factory(targets=1)
    old = c.smap()["uuid"]
    c.problems += c.primary.stop()
    for f in ("smap.json", "bmd.json", "etlmd.json"):
        (c.primary.dir / f).unlink()
    c.primary.start()
    sm = c.wait_smap()
    assert sm["uuid"] != old
    t = c.targets[0]
    deadline = time.monotonic() + lt.READY_TIMEOUT
    while get_md(c, t, "smap")["uuid"] != sm["uuid"]:
        assert time.monotonic() < deadline, "the target did not follow the new primary"
        time.sleep(0.2)


@pytest.mark.parametrize("kind", ["p1305", "sha256"])
def test_a_signed_body_is_the_one_committed(cluster_factory, kind):
    """A node's streamed PUT commits only the body its signature covers: the digest nodes send
    (Poly1305 under a key only the cluster secret derives) and a plain SHA-256 alike. A body
    changed on the way, or a digest made with another secret, is 401 and leaves nothing behind."""
    c = cluster_factory(targets=1)
    t, p = c.targets[0], c.primary
    bck = lt.rand_name("digest-")
    h = c.headers()
    assert requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck"), headers=h).status_code == 200
    secret = secret_of(c)

    def put(name, signed, sent, key=secret):
        url = lt.obj_url(t.url, bck, name)
        dg = lt.body_digest(key, signed, kind)
        hdrs = lt.intra_headers(secret, "PUT", url, signed, p.id, sha=dg)
        return requests.put(url, data=sent, headers={"Authorization": None, **hdrs},
                            timeout=lt.REQ_TIMEOUT)

    body = bytes(range(256)) * 4096  # 1 MiB: streamed to the work file as it comes
    r = put("good", body, body)
    assert r.status_code == 200, r.text
    assert requests.get(lt.obj_url(c.url, bck, "good"), headers=h).content == body
    bad = bytearray(body)
    bad[700000] ^= 1
    r = put("tampered", body, bytes(bad))
    assert r.status_code == 401 and "not the one signed" in r.text, r.text
    r = put("tampered", body, body + b"x")
    assert r.status_code in (400, 401), r.text
    if kind == "p1305":  # the tag's key comes from the secret: another secret's tag fails
        r = put("othersecret", body, body, key=b"another secret")
        assert r.status_code == 401, r.text
    for name in ("tampered", "othersecret"):
        assert requests.head(lt.obj_url(t.url, bck, name), headers=h).status_code == 404
