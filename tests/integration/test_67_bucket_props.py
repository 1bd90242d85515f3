"""
Bucket properties (docs/protocol.md §1.2): defaults shown by HEAD, AIStore's partial updates
(create-bck's value, PATCH set-bprops, reset-bprops) checked key by key, and
checksum.validate_warm_get: an object whose bytes no longer match their checksum is never served.
"""

import json
import os

import locustest as lt


def props(http, c, bck):
    r = http.head(lt.bck_url(c.url, bck), headers=c.headers())
    assert r.status_code == 200, r.text
    return json.loads(r.headers["Ais-Bucket-Props"])


def patch(http, c, bck, value, action="set-bprops"):
    return http.patch(lt.bck_url(c.url, bck), json=lt.actmsg(action, value), headers=c.headers())


def create(http, c, bck, value=None):
    return http.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck", value),
                     headers=c.headers())


def test_defaults_set_reset(cluster, http):
    bck = lt.rand_name("bp")
    assert create(http, cluster, bck).status_code == 200
    p = props(http, cluster, bck)
    assert p["checksum"] == {"type": "xxhash", "validate_cold_get": False,
                             "validate_warm_get": False, "validate_obj_move": False,
                             "enable_read_range": False}
    assert p["mirror"]["enabled"] is False and p["mirror"]["copies"] == 2
    assert p["ec"]["enabled"] is False and p["ec"]["data_slices"] == 2
    assert p["versioning"]["enabled"] is True and "bid" in p and "created" in p
    # a partial update changes only what it names
    r = patch(http, cluster, bck, {"checksum": {"validate_warm_get": True},
                                   "mirror": {"copies": 3}})
    assert r.status_code == 200 and r.text == "", r.text
    p = props(http, cluster, bck)
    assert p["checksum"]["validate_warm_get"] is True and p["checksum"]["type"] == "xxhash"
    assert p["mirror"]["copies"] == 3 and p["mirror"]["enabled"] is False
    r = patch(http, cluster, bck, None, action="reset-bprops")
    assert r.status_code == 200, r.text
    assert props(http, cluster, bck)["checksum"]["validate_warm_get"] is False
    # created with properties
    b2 = lt.rand_name("bp")
    assert create(http, cluster, b2, {"checksum": {"validate_warm_get": True}}).status_code == 200
    assert props(http, cluster, b2)["checksum"]["validate_warm_get"] is True


def test_bad_properties(cluster, http):
    bck = lt.rand_name("bp")
    assert create(http, cluster, bck).status_code == 200
    before = props(http, cluster, bck)
    for value, status, words in [
        ({"checksum": {"type": "md5"}}, 400, "checksum.type"),
        ({"checksum": {"validate_warm_get": "yes"}}, 400, "true or false"),
        ({"checksum": {"validate_warm_gett": True}}, 400, "checksum.validate_warm_gett"),
        ({"mirorr": {"copies": 2}}, 400, "mirorr"),
        ({"mirror": {"copies": 0}}, 400, "1..32"),
        ({"mirror": {"copies": 33}}, 400, "1..32"),
        ({"ec": {"data_slices": 2.5}}, 400, "integer"),
        ({"ec": {"objsize_limit": -2}}, 400, "objsize_limit"),
        ({"mirror": 2}, 400, "object"),
        ("checksum", 400, "JSON object"),
        # the shared cluster has 3 targets: EC 3+1 needs 5 (D + P + 1); mirror and ec exclude
        ({"ec": {"enabled": True, "data_slices": 3, "parity_slices": 1}}, 400,
         "requires at least 5 targets"),
        ({"ec": {"enabled": True, "data_slices": 1, "parity_slices": 1},
          "mirror": {"enabled": True}}, 400, "mirror and ec"),
    ]:
        lt.assert_error(patch(http, cluster, bck, value), status, words)
    assert props(http, cluster, bck) == before  # nothing of a refused update stayed
    lt.assert_error(patch(http, cluster, lt.rand_name("nosuch"), {"mirror": {"copies": 2}}), 404)
    lt.assert_error(patch(http, cluster, bck, {}, action="set-props"), 400, "set-bprops")
    b2 = lt.rand_name("bp")
    lt.assert_error(create(http, cluster, b2, {"checksum": {"type": "sha256"}}), 400)
    lt.assert_error(http.head(lt.bck_url(cluster.url, b2), headers=cluster.headers()), 404)


def flip_byte(cluster, bck, name, at):
    """Flips one byte of the object's file on disk; its xattr metadata (checksum) stays."""
    for t in cluster.targets:
        for mp in t.mountpaths:
            f = lt.fqn(mp, bck, name)
            if f.exists():
                with open(f, "r+b") as fh:
                    fh.seek(at)
                    b = fh.read(1)
                    fh.seek(at)
                    fh.write(bytes([b[0] ^ 0x01]))
                return f
    raise AssertionError(f"{bck}/{name} not found on disk")


def test_validate_warm_get_never_serves_bit_rot(cluster, http):
    bck = lt.rand_name("rot")
    assert create(http, cluster, bck).status_code == 200
    small, big = os.urandom(5000), os.urandom(3 * 1024 * 1024 + 7)
    for name, data in (("small", small), ("big", big), ("ok", b"fine")):
        assert http.put(lt.obj_url(cluster.url, bck, name), data=data,
                        headers=cluster.headers()).status_code == 200
    flip_byte(cluster, bck, "small", 100)
    flip_byte(cluster, bck, "big", 2 * 1024 * 1024)
    # without validation the bytes on disk are served as they are (AIStore's default too)
    r = http.get(lt.obj_url(cluster.url, bck, "small"), headers=cluster.headers())
    assert r.status_code == 200 and r.content != small
    assert patch(http, cluster, bck, {"checksum": {"validate_warm_get": True}}).status_code == 200
    for name in ("small", "big"):
        for hdr in ({}, {"Range": "bytes=0-9"}):
            r = http.get(lt.obj_url(cluster.url, bck, name),
                         headers={**cluster.headers(), **hdr})
            lt.assert_error(r, 500, "corrupt")
    r = http.get(lt.obj_url(cluster.url, bck, "ok"), headers=cluster.headers())
    assert r.status_code == 200 and r.content == b"fine"
    # HEAD still answers (metadata only)
    assert http.head(lt.obj_url(cluster.url, bck, "small"), headers=cluster.headers(),
                     allow_redirects=True).status_code == 200


def test_cli_props(cluster, http):
    import subprocess
    bck = lt.rand_name("bp")
    assert create(http, cluster, bck).status_code == 200
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url, LOCUS_TOKEN=cluster.token or "")

    def cli(*args):
        return subprocess.run([str(lt.LOCUS_CLI), "bucket", "props", *args], env=env,
                              capture_output=True, timeout=60)

    p = cli("set", f"ais://{bck}", "checksum.validate_warm_get=true", "mirror.copies=3")
    assert p.returncode == 0, p.stderr
    p = cli("show", bck)
    assert p.returncode == 0, p.stderr
    shown = json.loads(p.stdout)
    assert shown["checksum"]["validate_warm_get"] is True and shown["mirror"]["copies"] == 3
    p = cli("set", bck, "checksum.type=md5")
    assert p.returncode == 1 and b"checksum.type" in p.stderr, p.stderr
    p = cli("set", bck, "nodot=1")
    assert p.returncode == 2 and b"SECTION.KEY=VALUE" in p.stderr, p.stderr
    p = cli("set", bck, "--reset")
    assert p.returncode == 0, p.stderr
    assert props(http, cluster, bck)["mirror"]["copies"] == 2
    p = cli("show", lt.rand_name("nosuch"))
    assert p.returncode == 1 and b"does not exist" in p.stderr, p.stderr


def test_scrub_reports_bit_rot(cluster, http):
    import subprocess
    bck = lt.rand_name("scrub")
    assert create(http, cluster, bck).status_code == 200
    for i in range(20):
        assert http.put(lt.obj_url(cluster.url, bck, f"o{i}"), data=os.urandom(3000 + i),
                        headers=cluster.headers()).status_code == 200
    flip_byte(cluster, bck, "o7", 10)
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url, LOCUS_TOKEN=cluster.token or "")
    p = subprocess.run([str(lt.LOCUS_CLI), "storage", "scrub", f"ais://{bck}", "--wait",
                        "--timeout", "60s"], env=env, capture_output=True, timeout=90)
    assert p.returncode == 1, (p.stdout, p.stderr)
    out = p.stdout.decode()
    assert f"corrupt ais://{bck}/o7" in out and out.count("corrupt ") == 1, out
    assert b"20 objects" in p.stderr and b"1 corrupt" in p.stderr, p.stderr
    # through the REST API: the job's snapshots carry the per-object errors
    jid = out.splitlines()[0]
    r = http.get(cluster.url + "/v1/cluster", params={"what": "qryxstats", "id": jid,
                                                       "errors": "true"}, headers=cluster.headers())
    errs = [e for snaps in r.json().values() for s in snaps for e in s.get("obj_errors") or []]
    assert [e["obj_name"] for e in errs] == [f"ais://{bck}/o7"], errs
    # a clean prefix is clean
    p = subprocess.run([str(lt.LOCUS_CLI), "storage", "scrub", bck, "--prefix", "o1", "--wait"],
                       env=env, capture_output=True, timeout=90)
    assert p.returncode == 0 and b"11 objects" in p.stderr, p.stderr
    lt.assert_error(http.post(lt.bck_url(cluster.url, lt.rand_name("nosuch")),
                              json=lt.actmsg("scrub-bck"), headers=cluster.headers()), 404)
    lt.assert_error(http.post(lt.bck_url(cluster.url, bck), json=lt.actmsg("scrub-bck", {"prefix": 1}),
                              headers=cluster.headers()), 400, "prefix")
