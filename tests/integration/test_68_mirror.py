"""
n-way mirror (docs/design.md §5, docs/operations.md "Redundancy"): with mirror {enabled, copies},
every object has copies on other mountpaths of its target (under %mi); a GET whose main replica
is missing, or damaged when validate_warm_get is on, is served from a good copy that repairs it.
"""

import hashlib
import os
import time
from pathlib import Path

import locustest as lt


def set_props(http, c, bck, value):
    r = http.patch(lt.bck_url(c.url, bck), json=lt.actmsg("set-bprops", value),
                   headers=c.headers())
    assert r.status_code == 200, r.text
    return r.text


def wait_job(http, c, jid, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = http.get(c.url + "/v1/cluster", params={"what": "status", "id": jid},
                     headers=c.headers())
        assert r.status_code == 200, r.text
        if r.json()["end_time"]:
            assert not r.json()["aborted"], r.json()
            return
        time.sleep(0.1)
    raise AssertionError(f"job {jid} did not end")


def places(c, bck, name):
    """(main replica path, [copy paths that exist]) of bck/name on its target."""
    owner = lt.hrw_target(c.smap(), bck, name)["daemon_id"]
    t = c.node(owner)
    mps = [str(m) for m in t.mountpaths]
    main = lt.fqn(lt.hrw_mountpath(mps, bck, name), bck, name)
    copies = [Path(mp) / "@ais" / bck / "%mi" / name for mp in mps]
    return main, [p for p in copies if p.exists()]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def put(http, c, bck, name, data):
    r = http.put(lt.obj_url(c.url, bck, name), data=data, headers=c.headers())
    assert r.status_code == 200, r.text


def get(http, c, bck, name):
    return http.get(lt.obj_url(c.url, bck, name), headers=c.headers())


def mirrored_bucket(http, c, prefix, n, size):
    """A bucket created with mirror {enabled, copies: 2} and n objects o0.. of size + i bytes."""
    bck = lt.rand_name(prefix)
    r = http.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck", {"mirror": {
        "enabled": True, "copies": 2}}), headers=c.headers())
    assert r.status_code == 200, r.text
    data = {f"o{i}": os.urandom(size + i) for i in range(n)}
    for name, d in data.items():
        put(http, c, bck, name, d)
    return bck, data


def test_mirror_copies_repair_and_delete(cluster, http):
    bck = lt.rand_name("mir")
    r = http.post(lt.bck_url(cluster.url, bck), json=lt.actmsg("create-bck"),
                  headers=cluster.headers())
    assert r.status_code == 200, r.text
    data = {f"old/{i}": os.urandom(2000 + i) for i in range(30)}
    for n, d in data.items():
        put(http, cluster, bck, n, d)
    assert all(places(cluster, bck, n)[1] == [] for n in data)  # no copies yet
    # turning the mirror on gives the existing objects their copies (a make-n-copies job)
    jid = set_props(http, cluster, bck, {"mirror": {"enabled": True, "copies": 2}})
    assert jid, "set-bprops started no job"
    wait_job(http, cluster, jid)
    for n, d in data.items():
        main, copies = places(cluster, bck, n)
        assert main.exists() and len(copies) == 1 and copies[0].parent != main.parent, (n, copies)
        assert copies[0].read_bytes() == d
    # a new object gets its copy with the PUT; HEAD counts the copies
    put(http, cluster, bck, "new", b"fresh bytes")
    main, copies = places(cluster, bck, "new")
    assert len(copies) == 1 and copies[0].read_bytes() == b"fresh bytes"
    r = http.head(lt.obj_url(cluster.url, bck, "new"), headers=cluster.headers(),
                  allow_redirects=True)
    assert r.headers["Ais-Mirror-Copies"] == "2", r.headers
    assert r.headers["Ais-Mirror-Paths"].count(",") == 1, r.headers
    # the main replica is gone: the GET is served from the copy, which restores it
    main, _ = places(cluster, bck, "old/3")
    main.unlink()
    r = get(http, cluster, bck, "old/3")
    assert r.status_code == 200 and r.content == data["old/3"], r.text
    assert main.exists() and main.read_bytes() == data["old/3"]
    # the main replica is damaged: with validate_warm_get the copy serves and repairs it
    set_props(http, cluster, bck, {"checksum": {"validate_warm_get": True}})
    main, _ = places(cluster, bck, "old/4")
    raw = bytearray(main.read_bytes())
    raw[7] ^= 0x20
    with open(main, "r+b") as f:
        f.write(raw)
    r = get(http, cluster, bck, "old/4")
    assert r.status_code == 200 and r.content == data["old/4"], r.text
    assert sha(main.read_bytes()) == sha(data["old/4"])
    # both damaged: never served
    main, copies = places(cluster, bck, "old/5")
    for p in [main] + copies:
        raw = bytearray(p.read_bytes())
        raw[0] ^= 0x01
        with open(p, "r+b") as f:
            f.write(raw)
    lt.assert_error(get(http, cluster, bck, "old/5"), 500, "no good copy")
    # a delete takes the copies too
    assert http.delete(lt.obj_url(cluster.url, bck, "old/6"), headers=cluster.headers()).ok
    main, copies = places(cluster, bck, "old/6")
    assert not main.exists() and copies == []
    # more copies than mountpaths: one per mountpath; mirror off: the copies go
    wait_job(http, cluster, set_props(http, cluster, bck, {"mirror": {"copies": 3}}))
    assert len(places(cluster, bck, "old/7")[1]) == 1
    wait_job(http, cluster, set_props(http, cluster, bck, {"mirror": {"enabled": False}}))
    assert all(places(cluster, bck, n)[1] == [] for n in data)
    r = get(http, cluster, bck, "old/8")
    assert r.status_code == 200 and r.content == data["old/8"]


def test_mirror_follows_rebalance(cluster_factory, http):
    """A target joins: the objects it now owns arrive with their copies, and their old target
    keeps neither the object nor its copies."""
    c = cluster_factory(targets=2)
    bck, data = mirrored_bucket(http, c, "mreb", 120, 1000)
    before = c.rmd()["version"]
    c.add_target()
    rmd = c.wait_rebalance(timeout=60, min_version=before + 1)
    assert rmd["state"] == "done", rmd
    for n, d in data.items():
        main, copies = places(c, bck, n)
        assert main.read_bytes() == d and len(copies) == 1 and copies[0].read_bytes() == d, n
    held = {n: [t.id for t in c.targets for mp in t.mountpaths
                if (Path(mp) / "@ais" / bck / "%mi" / n).exists()] for n in data}
    assert all(len(v) == 1 for v in held.values()), {k: v for k, v in held.items() if len(v) != 1}


def test_scrub_repairs_from_copies(cluster, http):
    import subprocess
    bck, data = mirrored_bucket(http, cluster, "mscr", 10, 3000)
    main, copies = places(cluster, bck, "o3")
    raw = bytearray(main.read_bytes())
    raw[5] ^= 0x10
    with open(main, "r+b") as f:
        f.write(raw)
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url, LOCUS_TOKEN=cluster.token or "")
    p = subprocess.run([str(lt.LOCUS_CLI), "storage", "scrub", bck, "--wait"], env=env,
                       capture_output=True, timeout=90)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert f"repaired ais://{bck}/o3".encode() in p.stdout, p.stdout
    assert b"0 corrupt, 1 repaired" in p.stderr, p.stderr
    assert main.read_bytes() == data["o3"]


def list_copies(http, c, bck, fmt="json", props="name,copies"):
    """{name: copies} of one listing (the default page size holds these buckets)."""
    headers = dict(c.headers())
    if fmt == "msgpack":
        headers["Accept"] = "application/msgpack"
    r = http.get(lt.bck_url(c.url, bck), json=lt.actmsg("list", lt.lsomsg(props=props)),
                 headers=headers)
    assert r.status_code == 200, r.text
    if fmt == "msgpack":
        import msgpack
        return {e["n"]: e.get("c") for e in msgpack.unpackb(r.content, raw=False)["Entries"]}
    return {e["name"]: e.get("copies") for e in r.json()["entries"]}


def test_list_reports_copies(cluster, http):
    """props "copies": the main replica and the mirror copies present (AIStore's LsoEnt.Copies,
    "copies" in JSON, "c" in msgpack); 1 in a plain bucket; absent when not asked for."""
    bck, data = mirrored_bucket(http, cluster, "mlst", 12, 500)
    assert list_copies(http, cluster, bck) == {n: 2 for n in data}
    assert list_copies(http, cluster, bck, "msgpack") == {n: 2 for n in data}
    _, copies = places(cluster, bck, "o3")
    copies[0].unlink()  # a lost copy shows
    got = list_copies(http, cluster, bck, props="name,size,copies")
    assert got["o3"] == 1 and all(v == 2 for n, v in got.items() if n != "o3"), got
    assert set(list_copies(http, cluster, bck, props="name,size").values()) == {None}
    import subprocess
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url, LOCUS_TOKEN=cluster.token or "")
    p = subprocess.run([str(lt.LOCUS_CLI), "ls", f"ais://{bck}", "--props", "name,copies"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rows = dict(f for f in (line.split() for line in p.stdout.splitlines()[1:]) if len(f) == 2)
    assert rows.get("o3") == "1" and rows.get("o4") == "2", p.stdout
    plain = lt.rand_name("mplain")
    r = http.post(lt.bck_url(cluster.url, plain), json=lt.actmsg("create-bck"),
                  headers=cluster.headers())
    assert r.status_code == 200, r.text
    put(http, cluster, plain, "x", b"plain")
    assert list_copies(http, cluster, plain) == {"x": 1}


def mp_change(c, t, method, action, path):
    """A mountpath change on target t; waits for its resilver."""
    r = lt.Http().request(method, c.url + "/v1/reverse/daemon/mountpaths",
                          json={"action": action, "value": path},
                          headers={"Ais-Node-Id": t.id}, timeout=120)
    assert r.status_code == 200, f"{action} {path}: {r.status_code} {r.text}"
    if r.text.strip():
        wait_job(lt.Http(), c, r.text.strip())


def check_distinct(c, bck, data, enabled, gone, want):
    """Every object: its main replica on its HRW mountpath among `enabled`, and exactly
    min(want, len(enabled)) - 1 copies, each on another enabled mountpath, each with the object's
    bytes; no copy on a mountpath in `gone`."""
    n_copies = min(want, len(enabled)) - 1
    for name, d in data.items():
        main_mp = str(lt.hrw_mountpath(enabled, bck, name))
        assert lt.fqn(main_mp, bck, name).read_bytes() == d, name
        have = [mp for mp in enabled if (Path(mp) / "@ais" / bck / "%mi" / name).exists()]
        assert main_mp not in have, f"{name}: a copy beside its main replica on {main_mp}"
        assert len(have) == n_copies, (name, main_mp, have)
        for mp in have:
            assert (Path(mp) / "@ais" / bck / "%mi" / name).read_bytes() == d, (name, mp)
        for mp in gone:
            assert not (Path(mp) / "@ais" / bck / "%mi" / name).exists(), (name, mp)


def test_copies_distinct_after_mountpath_changes(cluster_factory, http):
    """Attach, detach, disable, enable: after each resilver every object has its main replica and
    its copies on distinct enabled mountpaths, as many as the property asks and the mountpaths
    allow; a copy on a mountpath that left is made again elsewhere."""
    c = cluster_factory(proxies=1, targets=1)
    t = c.targets[0]
    mp1, mp2 = [str(m) for m in t.mountpaths]
    mp3 = str(t.dir / "mp3")
    bck, data = mirrored_bucket(http, c, "mmp", 80, 700)
    check_distinct(c, bck, data, [mp1, mp2], [], 2)
    mp_change(c, t, "PUT", "attach-mp", mp3)
    check_distinct(c, bck, data, [mp1, mp2, mp3], [], 2)
    # mp1 leaves: main replicas move off it (some onto their copy's mountpath), its copies go
    mp_change(c, t, "DELETE", "detach-mp", mp1)
    check_distinct(c, bck, data, [mp2, mp3], [mp1], 2)
    # 3 copies asked, 2 mountpaths: 2 each; mp1 back: 3 each
    wait_job(http, c, set_props(http, c, bck, {"mirror": {"copies": 3}}))
    check_distinct(c, bck, data, [mp2, mp3], [mp1], 3)
    mp_change(c, t, "PUT", "attach-mp", mp1)
    check_distinct(c, bck, data, [mp1, mp2, mp3], [], 3)
    mp_change(c, t, "POST", "disable-mp", mp2)
    check_distinct(c, bck, data, [mp1, mp3], [mp2], 3)
    mp_change(c, t, "POST", "enable-mp", mp2)
    check_distinct(c, bck, data, [mp1, mp2, mp3], [], 3)
    assert list_copies(http, c, bck) == {n: 3 for n in data}
    for name, d in data.items():
        r = get(http, c, bck, name)
        assert r.status_code == 200 and r.content == d, name
