"""50 end-to-end restarts: metadata and objects survive restarts (graceful and SIGKILL), a target
killed in the middle of a PUT leaves no partial object, a target gone for good leaves the smap."""

import hashlib
import http.client as httpclient
import os
import signal
import threading
import time

import pytest

import locustest as lt

P = {"provider": "ais"}


def create_bucket(http, base, bck):
    r = http.post(lt.bck_url(base, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text


def put(http, base, bck, obj, data):
    r = http.put(lt.obj_url(base, bck, obj), params=P, data=data)
    assert r.status_code == 200, f"PUT {bck}/{obj}: {r.status_code} {r.text[:200]}"


def list_names(http, base, bck):
    r = http.get(lt.bck_url(base, bck), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200, r.text[:300]
    return sorted(e["name"] for e in r.json()["entries"])


def bucket_names(http, base):
    r = http.get(base + "/v1/buckets", params=P, json=lt.actmsg("list"))
    assert r.status_code == 200
    return sorted(b["name"] for b in r.json())


def populate(http, c):
    """Two buckets, objects of several sizes, one at version 2. Returns {(bck, obj): (sha, version)}."""
    state = {}
    for b in ("keep-a", "keep-b"):
        create_bucket(http, c.url, b)
        for i in range(20):
            name = f"d{i % 3}/o{i}" if b == "keep-a" else f"ü {i}%"
            data = os.urandom((i * 7919) % 300000)
            put(http, c.url, b, name, data)
            state[(b, name)] = (hashlib.sha256(data).hexdigest(), "1")
    put(http, c.url, "keep-a", "d0/o0", b"v2 content")
    state[("keep-a", "d0/o0")] = (hashlib.sha256(b"v2 content").hexdigest(), "2")
    return state


def verify(http, c, state):
    assert bucket_names(http, c.url) == ["keep-a", "keep-b"]
    for b in ("keep-a", "keep-b"):
        assert list_names(http, c.url, b) == sorted(o for (bb, o) in state if bb == b)
    sm = c.smap()
    for (b, o), (sha, ver) in state.items():
        r = http.get(lt.obj_url(c.url, b, o), params=P)
        assert r.status_code == 200, f"{b}/{o}: {r.status_code} {r.text[:200]}"
        assert hashlib.sha256(r.content).hexdigest() == sha, f"{b}/{o} content changed"
        assert r.headers.get("Ais-Version") == ver, f"{b}/{o} version {r.headers.get('Ais-Version')} != {ver}"
        owner = lt.hrw_target(sm, b, o)
        r = http.get(lt.obj_url(owner["public_net"]["direct_url"], b, o), params=P)
        assert r.status_code == 200, f"{b}/{o} not on HRW owner {owner['daemon_id']} after restart"


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_restart_every_node_keeps_data(cluster_factory, http, kill):
    c = cluster_factory()
    state = populate(http, c)
    sm0 = c.smap()
    # A stale work file (as a crash leaves) must be removed at start-up.
    stale = lt.Path(c.targets[0].mountpaths[0]) / "@ais" / "keep-a" / "%wk" / "stale-work-file"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"partial")
    c.restart_all(kill=kill)
    assert not stale.exists(), "work files are not removed at start-up"
    sm1 = c.smap()
    assert sm1["uuid"] == sm0["uuid"], "cluster uuid must survive a restart (persisted smap)"
    assert int(sm1["version"]) >= int(sm0["version"])
    assert set(sm1["tmap"]) == set(sm0["tmap"]) and set(sm1["pmap"]) == set(sm0["pmap"])
    verify(http, c, state)
    # Versions continue where they were.
    put(http, c.url, "keep-a", "d0/o0", b"v3")
    r = http.head(lt.obj_url(c.url, "keep-a", "d0/o0"), params=P, allow_redirects=True)
    assert r.headers["Ais-Version"] == "3"
    # Buckets still work: create after restart, 409 for an existing one.
    create_bucket(http, c.url, "after-restart")
    r = http.post(lt.bck_url(c.url, "keep-b"), params=P, json=lt.actmsg("create-bck"))
    lt.assert_error(r, 409)


def test_restart_nodes_one_by_one(cluster_factory, http):
    c = cluster_factory()
    state = populate(http, c)
    for n in c.targets + [c.primary]:
        c.restart_node(n)
        verify(http, c, state)


def _owned_names(sm, bck, tid, prefix, count):
    out, i = [], 0
    while len(out) < count:
        name = f"{prefix}{i}"
        if lt.hrw_target(sm, bck, name)["daemon_id"] == tid:
            out.append(name)
        i += 1
    return out


def test_sigkill_during_100mib_put(cluster_factory, http):
    """A target SIGKILLed in the middle of a 100 MiB PUT: after restart the new object is neither
    listed nor readable, an overwritten object keeps its old content, no work files remain."""
    c = cluster_factory()
    bck = "crash"
    create_bucket(http, c.url, bck)
    sm = c.smap()
    victim = c.targets[0]
    new_name, old_name = _owned_names(sm, bck, victim.id, "big-", 2)
    old = os.urandom(4096)
    put(http, c.url, bck, old_name, old)
    put(http, c.url, bck, "bystander", b"fine")

    size = 100 * lt.MiB
    conns = []
    for name in (new_name, old_name):
        # Leg 1 through the proxy (empty body) to learn the redirect, then stream to the target.
        r = http.put(lt.obj_url(c.url, bck, name), params=P, data=b"", allow_redirects=False)
        assert r.status_code == 307
        loc = r.headers["Location"]
        assert loc.startswith(victim.url + "/"), f"{name} redirected to {loc}, expected {victim}"
        conn = httpclient.HTTPConnection("127.0.0.1", victim.port, timeout=lt.tmo(30))
        conn.putrequest("PUT", loc[len(victim.url):], skip_accept_encoding=True)
        conn.putheader("Content-Length", str(size))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        conns.append(conn)
    block = os.urandom(lt.MiB)
    errors = []

    def send(conn):
        try:
            for _ in range(40):  # 40 of 100 MiB, then stall
                conn.send(block)
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=send, args=(cn,)) for cn in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(lt.tmo(60))
    # Wait until the target has written a good part of both uploads into work files (unnamed
    # ones: seen through the process's open descriptors).
    deadline = time.monotonic() + lt.tmo(15)
    sizes = []
    while time.monotonic() < deadline:
        sizes = lt.inflight_work_sizes(victim, bck)
        if len(sizes) >= 2 and sizes[-2] >= 8 * lt.MiB:
            break
        time.sleep(0.05)
    named = lt.work_files(victim, bck)  # none: this filesystem has O_TMPFILE (docs/design.md)
    c.kill_node(victim)
    for cn in conns:
        cn.close()
    assert not errors, f"sending stopped early: {errors}"

    c.restart_node(victim)
    left = lt.work_files(victim)
    assert not left, f"work files survive a restart: {left}"
    for mp in victim.mountpaths:
        assert not lt.fqn(mp, bck, new_name).exists(), "partial object file at its FQN"
    assert list_names(http, c.url, bck) == sorted([old_name, "bystander"])
    lt.assert_error(http.get(lt.obj_url(c.url, bck, new_name), params=P), 404)
    lt.assert_error(http.get(lt.obj_url(victim.url, bck, new_name), params=P), 404)
    assert http.head(lt.obj_url(c.url, bck, new_name), params=P, allow_redirects=True).status_code == 404
    r = http.get(lt.obj_url(c.url, bck, old_name), params=P)
    assert r.status_code == 200 and r.content == old, "overwritten object must keep its old content"
    assert r.headers["Ais-Version"] == "1"
    assert http.get(lt.obj_url(c.url, bck, "bystander"), params=P).content == b"fine"
    # The uploads were really in flight through work files in %wk when the target died.
    assert len(sizes) >= 2 and sizes[-2] >= 8 * lt.MiB, \
        f"no work files of 8 MiB or more in <mpath>/@ais/{bck}/%wk during the PUTs: {sizes}"
    assert not named, f"the writes in progress have named work files: {named}"


KEEPALIVE_TIMEOUT = 2.0


def _down(sm, tid):
    return int(sm["tmap"].get(tid, {}).get("flags", 0)) & lt.SNODE_DOWN


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_target_gone_stays_in_smap_down(cluster_factory, http, sig):
    """A target that stops (SIGTERM: it tells the primary at once) or dies (SIGKILL: missed
    keepalives) stays in the map flagged down (docs/design.md §14): placement skips it, and GETs
    of the objects it holds answer 503 (not a 404 that looks like a real miss) until it returns."""
    c = cluster_factory(flags=["--keepalive-interval", "300ms",
                               "--keepalive-timeout", f"{KEEPALIVE_TIMEOUT:g}s"])
    create_bucket(http, c.url, "before")
    victim = c.targets[-1]
    owned = _owned_names(c.smap(), "before", victim.id, "v", 3)
    for n in owned:
        put(http, c.url, "before", n, n.encode())
    # Live targets keep sending keepalives: nobody is dropped while all are up.
    time.sleep(KEEPALIVE_TIMEOUT * 2)
    sm0 = c.smap()
    assert set(sm0["tmap"]) == {t.id for t in c.targets}, "a live target was dropped"
    assert not any(_down(sm0, t.id) for t in c.targets)
    t0 = time.monotonic()
    if sig == signal.SIGKILL:
        c.kill_node(victim)
    else:
        c.stop_node(victim)
    victim.gone = True
    deadline = t0 + lt.tmo(KEEPALIVE_TIMEOUT + 10)
    while True:
        sm = c.smap()
        if _down(sm, victim.id):
            break
        assert time.monotonic() < deadline, f"{victim} not down in the smap {time.monotonic() - t0:.1f}s later"
        time.sleep(0.1)
    if sig == signal.SIGTERM:  # it said goodbye: no keepalive timeout to wait for
        assert time.monotonic() - t0 < KEEPALIVE_TIMEOUT
    assert int(sm["version"]) > int(sm0["version"]), "smap changed without a version bump"
    sm = c.wait_smap()
    # Pushed to every remaining node.
    deadline = time.monotonic() + lt.tmo(10)
    for n in c.live_nodes():
        while not _down(c.smap(n), victim.id):
            assert time.monotonic() < deadline, f"{n} does not know {victim} is down"
            time.sleep(0.1)
    for n in owned:
        r = http.get(lt.obj_url(c.url, "before", n), params=P)
        lt.assert_error(r, 503, "down")
    # The cluster keeps serving with the remaining targets.
    create_bucket(http, c.url, "after")
    for i in range(10):
        put(http, c.url, "after", f"o{i}", b"x" * i)
    sm = c.smap()
    for i in range(10):
        owner = lt.hrw_target(sm, "after", f"o{i}")
        assert owner["daemon_id"] != victim.id
        r = http.get(lt.obj_url(owner["public_net"]["direct_url"], "after", f"o{i}"), params=P)
        assert r.status_code == 200 and r.content == b"x" * i
    # Started again (same id, dirs, port), it rejoins and serves what it stored.
    victim.gone = False
    c.restart_node(victim)
    for n in owned:
        r = http.get(lt.obj_url(c.url, "before", n), params=P)
        assert r.status_code == 200 and r.content == n.encode(), f"{n} after rejoin: {r.status_code}"
