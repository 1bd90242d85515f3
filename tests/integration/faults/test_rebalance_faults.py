"""
Nodes come and go, data stays reachable (docs/design.md §14, docs/operations.md).

Fault injection against real locusd processes: a target joins under load, a target is drained
(maintenance) and decommissioned, a target is SIGKILLed in the middle of a rebalance and comes
back, a target stops (SIGTERM) or dies. Each test counts the objects acknowledged, lost (not
readable) and corrupt (wrong bytes), and checks on disk that every object ends up on its HRW
owner and nowhere else. The figures are printed (pytest -s shows them).
"""

import hashlib
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import locustest as lt



# ---------------------------------------------------------------------------------------------
# helpers

def add_target(c):
    """Starts one more target in cluster c and waits until it is in the map."""
    if hasattr(c, "add_target"):
        return c.add_target()
    suffix = c.primary.id[2:]
    k = 1 + max(int(n.id[1:-len(suffix)]) for n in c.targets)
    nid = f"t{k}{suffix}"
    node = lt.Node(c, "target", nid, lt.free_ports(1)[0], c.root / nid,
                   extra_flags=c.primary.extra_flags)
    c.nodes.append(node)
    node.start()
    c.wait_smap()
    return node


def rmd(c):
    r = requests.get(c.url + "/v1/cluster", params={"what": "rmd"}, headers=c.headers(),
                     timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def wait_rebalanced(c, timeout=60, after=0):
    """Until the last rebalance (version > after) is done; returns its RMD."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = rmd(c)
        if last["version"] > after and last["state"] == "done":
            return last
        time.sleep(0.2)
    raise AssertionError(f"rebalance did not finish in {timeout}s: {last}")


def put_objects(c, bck, n, size=(100, 4000), prefix="o"):
    s = lt.Http()
    want = {}
    for i in range(n):
        data = os.urandom(random.randint(*size))
        name = f"{prefix}{i:05d}"
        r = s.put(lt.obj_url(c.url, bck, name), data=data, headers=c.headers())
        assert r.status_code == 200, r.text
        want[name] = hashlib.sha256(data).hexdigest()
    return want


def placement(c, bck, names):
    """(misplaced, copies): objects found on a target that is not their HRW owner, and objects
    held by more than one target - from the files on disk."""
    sm = c.smap()
    misplaced, extra = [], []
    for name in names:
        owner = lt.hrw_target(sm, bck, name)["daemon_id"]
        holders = [t.id for t in c.targets if not t.gone
                   for mp in t.mountpaths if lt.fqn(mp, bck, name).exists()]
        if holders != [owner]:
            misplaced.append((name, owner, holders))
        if len(holders) > 1:
            extra.append(name)
    return misplaced, extra


def make_bucket(c, bck):
    r = requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck"), headers=c.headers(),
                      timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text


def cluster_action(c, action, sid, **kw):
    value = {"sid": sid}
    value.update(kw)
    r = requests.put(c.url + "/v1/cluster", json=lt.actmsg(action, value), headers=c.headers(),
                     timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.text


# ---------------------------------------------------------------------------------------------
# a target joins under load

def join_under_load(cluster_factory, clients, seconds, preload):
    c = cluster_factory(targets=2)
    bck = lt.rand_name("reb")
    make_bucket(c, bck)
    base = put_objects(c, bck, preload, size=(1024, 64 * 1024), prefix="pre")
    load = lt.Load(c, bck, clients, put_ratio=0.4, max_size=16 * 1024, attempts=50)
    load.start()
    t_start = time.monotonic()
    time.sleep(seconds / 3)
    before = rmd(c)["version"]
    t_join = time.monotonic()
    add_target(c)
    done = wait_rebalanced(c, timeout=120, after=before)
    t_done = time.monotonic()
    time.sleep(max(0.0, seconds - (time.monotonic() - t_start)))
    load.finish()
    # Rebalances started by the join (and retries) are over; the load's own writes are placed.
    wait_rebalanced(c, timeout=60)
    want = dict(base)
    want.update(load.acked)
    lost, corrupt, other = lt.check_objects(c, bck, want)
    misplaced, extra = placement(c, bck, want)
    idle = load.rate(t_start, t_join)
    during = load.rate(t_join, max(t_done, t_join + 0.5))
    print(f"\njoin under load: {clients} clients {seconds}s: objects {len(want)} (preloaded "
          f"{len(base)}, written under load {len(load.acked)}), lost {len(lost)}, corrupt "
          f"{len(corrupt)}, other {len(other)}, failed requests {len(load.failures)}, retried "
          f"503 {load.retried}; rebalance {done['id']} moved {done['objs']} objects in "
          f"{(done['end_ns'] - done['start_ns']) / 1e9:.2f}s, converged {t_done - t_join:.2f}s "
          f"after the join; GET/s before {idle:.0f}, during rebalance {during:.0f} "
          f"({during / idle if idle else 0:.2f}x); misplaced {len(misplaced)}")
    assert not load.failures, load.failures[:10]
    assert (lost, corrupt, other) == ([], [], []), (lost[:10], corrupt[:10], other[:10])
    assert not misplaced, misplaced[:10]


def test_join_under_load(cluster_factory):
    join_under_load(cluster_factory, clients=8, seconds=10, preload=300)


@pytest.mark.slow
def test_join_under_load_16_clients_30s(cluster_factory):
    join_under_load(cluster_factory, clients=16, seconds=30, preload=2000)


# ---------------------------------------------------------------------------------------------
# maintenance and decommission

def test_maintenance_then_decommission(cluster_factory):
    c = cluster_factory(targets=3)
    bck = lt.rand_name("mnt")
    make_bucket(c, bck)
    want = put_objects(c, bck, 400)
    victim = c.targets[2]
    before = rmd(c)["version"]
    # A GET that a proxy routed by a newer map than the target's (its smap_ver) waits for that
    # map on the target: it goes to the owner of the new map, never to the victim's address.
    sm = c.smap()
    name = next(n for n in want if lt.hrw_target(sm, bck, n)["daemon_id"] == victim.id)
    sm_after = json.loads(json.dumps(sm))
    sm_after["tmap"][victim.id]["flags"] = lt.SNODE_MAINT
    heir = lt.hrw_target(sm_after, bck, name)
    via = next(t for t in c.targets if t.id not in (victim.id, heir["daemon_id"]))
    with ThreadPoolExecutor(1) as ex:
        early = ex.submit(requests.get, lt.obj_url(via.url, bck, name), headers=c.headers(),
                          params={"smap_ver": int(sm["version"]) + 1}, allow_redirects=False,
                          timeout=lt.REQ_TIMEOUT)
        time.sleep(0.2)
        xid = cluster_action(c, "start-maintenance", victim.id)
        r = early.result()
    assert xid.startswith("g"), xid
    assert r.status_code == 307, r.text
    assert r.headers["Location"].startswith(heir["public_net"]["direct_url"] + "/"), r.headers
    r = wait_rebalanced(c, after=before)
    sm = c.smap()
    assert int(sm["tmap"][victim.id]["flags"]) & lt.SNODE_MAINT
    held = [n for n in want for mp in victim.mountpaths if lt.fqn(mp, bck, n).exists()]
    assert held == [], f"{len(held)} objects still on the target in maintenance"
    assert lt.check_objects(c, bck, want) == ([], [], [])
    assert placement(c, bck, want) == ([], [])
    print(f"\nmaintenance: {r['id']} moved {r['objs']} objects off {victim.id}")

    # Back from maintenance: its objects come back.
    before = rmd(c)["version"]
    cluster_action(c, "stop-maintenance", victim.id)
    wait_rebalanced(c, after=before)
    assert lt.check_objects(c, bck, want) == ([], [], [])
    assert placement(c, bck, want) == ([], [])

    # Decommission: rebalance away, then it leaves the map and stops.
    before = rmd(c)["version"]
    cluster_action(c, "decommission-node", victim.id, rm_user_data=True)
    wait_rebalanced(c, after=before)
    deadline = time.monotonic() + 30
    while victim.id in c.smap()["tmap"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim.id not in c.smap()["tmap"]
    victim.proc.wait(30)
    victim.running = False
    victim.gone = True
    lost, corrupt, other = lt.check_objects(c, bck, want)
    print(f"decommission: objects {len(want)}, lost {len(lost)}, corrupt {len(corrupt)}")
    assert (lost, corrupt, other) == ([], [], [])
    assert placement(c, bck, want) == ([], [])
    left = [p for mp in victim.mountpaths for p in (mp / "@ais").rglob("*") if p.is_file()]
    assert left == [], f"rm_user_data left {left[:5]}"


def test_membership_action_errors(cluster_factory):
    c = cluster_factory(targets=1)
    for action, value, status in [
        ("start-maintenance", {}, 400),
        ("start-maintenance", {"sid": "nosuch"}, 404),
        ("decommission-node", {"sid": c.primary.id}, 400),
        ("start-maintenance", {"sid": c.primary.id}, 400),
    ]:
        r = requests.put(c.url + "/v1/cluster", json=lt.actmsg(action, value),
                         headers=c.headers(), timeout=lt.REQ_TIMEOUT)
        lt.assert_error(r, status)


# ---------------------------------------------------------------------------------------------
# crashes

def join_and_catch_rebalance(cluster_factory, prefix, n):
    """2 targets with n objects, a third joins: returns as soon as its rebalance runs
    (c, bck, want, the new target, the RMD)."""
    c = cluster_factory(targets=2)
    bck = lt.rand_name(prefix)
    make_bucket(c, bck)
    want = put_objects(c, bck, n, size=(1000, 40000))
    before = rmd(c)["version"]
    t3 = add_target(c)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = rmd(c)
        if m["version"] > before and m["state"] == "running":
            break
        time.sleep(0.01)
    return c, bck, want, t3, m


def test_sigkill_mid_rebalance_converges(cluster_factory):
    c, bck, want, t3, m = join_and_catch_rebalance(cluster_factory, "crash", 2000)
    time.sleep(0.1)  # objects in flight
    was = rmd(c)
    c.kill_node(t3)  # SIGKILL, in the middle of receiving
    assert was["state"] == "running", f"the rebalance ended before the kill: {was}"
    time.sleep(1)
    t3.start()
    t3.wait_ready(time.monotonic() + 30)
    c.wait_smap()
    done = wait_rebalanced(c, timeout=120, after=was["version"])
    assert done["errors"] == 0, done
    lost, corrupt, other = lt.check_objects(c, bck, want)
    misplaced, extra = placement(c, bck, want)
    print(f"\nSIGKILL mid-rebalance (killed at {was['state']} {was['objs']} moved): objects "
          f"{len(want)}, lost {len(lost)}, corrupt {len(corrupt)}, misplaced {len(misplaced)}, "
          f"converged with {done['id']}")
    assert (lost, corrupt, other) == ([], [], [])
    assert misplaced == []


def with_victim(cluster_factory, prefix, n, k):
    """3 targets, n objects; target k and the names it owns."""
    c = cluster_factory(targets=3)
    bck = lt.rand_name(prefix)
    make_bucket(c, bck)
    want = put_objects(c, bck, n)
    victim = c.targets[k]
    sm = c.smap()
    on_victim = [o for o in want if lt.hrw_target(sm, bck, o)["daemon_id"] == victim.id]
    assert on_victim
    return c, bck, want, victim, on_victim


def test_sigterm_tells_the_primary_and_dead_target_is_503(cluster_factory):
    c, bck, want, victim, on_victim = with_victim(cluster_factory, "down", 200, 1)
    t0 = time.monotonic()
    victim.term()
    c.problems += victim.wait_stopped()
    # The map changes at once, not after keepalive_timeout.
    flags = int(c.smap()["tmap"][victim.id]["flags"])
    assert flags & lt.SNODE_DOWN, flags
    assert time.monotonic() - t0 < 4
    s = lt.Http()
    for n in on_victim[:20]:
        r = s.get(lt.obj_url(c.url, bck, n), headers=c.headers())
        lt.assert_error(r, 503, "down")
    # A real miss is still a 404 (HRW over all targets does not pick the one that is down).
    sm_all = dict(c.smap())
    misses = [f"nosuch{i}" for i in range(60)]
    real = [m for m in misses
            if lt.hrw_target({"tmap": {k: dict(v, flags=0) for k, v in sm_all["tmap"].items()}},
                             bck, m)["daemon_id"] != victim.id]
    r = s.get(lt.obj_url(c.url, bck, real[0]), headers=c.headers())
    assert r.status_code == 404, r.text
    # New writes go elsewhere and are readable.
    r = s.put(lt.obj_url(c.url, bck, on_victim[0]), data=b"new", headers=c.headers())
    assert r.status_code == 200, r.text
    assert s.get(lt.obj_url(c.url, bck, on_victim[0]), headers=c.headers()).content == b"new"
    # It comes back: everything is readable, the newer write wins.
    before = rmd(c)["version"]
    victim.start()
    victim.wait_ready(time.monotonic() + 30)
    c.wait_smap()
    wait_rebalanced(c, after=before)
    assert s.get(lt.obj_url(c.url, bck, on_victim[0]), headers=c.headers()).content == b"new"
    del want[on_victim[0]]
    assert lt.check_objects(c, bck, want) == ([], [], [])
    assert placement(c, bck, list(want) + [on_victim[0]]) == ([], [])


def test_sigkill_target_is_503_until_it_returns(cluster_factory):
    c, bck, want, victim, on_victim = with_victim(cluster_factory, "kill", 150, 0)
    c.kill_node(victim)
    deadline = time.monotonic() + 20
    while not int(c.smap()["tmap"][victim.id]["flags"]) & lt.SNODE_DOWN:
        assert time.monotonic() < deadline, "the primary did not notice the dead target"
        time.sleep(0.2)
    s = lt.Http()
    for n in on_victim[:10]:
        lt.assert_error(s.get(lt.obj_url(c.url, bck, n), headers=c.headers()), 503, "down")
    others = [n for n in want if n not in on_victim]
    lost, corrupt, other = lt.check_objects(c, bck, {n: want[n] for n in others})
    assert (lost, corrupt, other) == ([], [], [])
    victim.start()
    victim.wait_ready(time.monotonic() + 30)
    c.wait_smap()
    assert lt.check_objects(c, bck, want) == ([], [], [])


def test_list_and_delete_during_rebalance(cluster_factory):
    c = cluster_factory(targets=2)
    bck = lt.rand_name("lst")
    make_bucket(c, bck)
    want = put_objects(c, bck, 800)
    before = rmd(c)["version"]
    add_target(c)
    s = lt.Http()
    seen_running = False
    while True:
        m = rmd(c)
        seen_running = seen_running or m["state"] == "running"
        r = s.get(lt.bck_url(c.url, bck), json=lt.actmsg("list", lt.lsomsg()),
                  headers=c.headers())
        assert r.status_code == 200, r.text
        names = [e["name"] for e in r.json()["entries"]]
        assert len(names) == len(set(names)) == len(want), (len(names), len(set(names)))
        if m["version"] > before and m["state"] == "done":
            break
    # A delete removes every copy: nothing comes back with a later rebalance.
    gone = sorted(want)[:50]
    for n in gone:
        r = s.delete(lt.obj_url(c.url, bck, n), headers=c.headers())
        assert r.status_code == 200, r.text
    before = rmd(c)["version"]
    r = requests.put(c.url + "/v1/cluster", json=lt.actmsg("rebalance"), headers=c.headers())
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    wait_rebalanced(c, after=before)
    for n in gone:
        assert s.get(lt.obj_url(c.url, bck, n), headers=c.headers()).status_code == 404


def test_primary_killed_mid_rebalance_resumes(cluster_factory):
    """The primary keeps the rebalance state (rmd.json): killed while one runs, it starts it again
    when it comes back, and the cluster converges."""
    c, bck, want, _, m = join_and_catch_rebalance(cluster_factory, "prim", 1500)
    assert m["state"] == "running", m
    c.restart_node(c.primary, kill=True)
    done = wait_rebalanced(c, timeout=120, after=m["version"])
    lost, corrupt, other = lt.check_objects(c, bck, want)
    misplaced, _ = placement(c, bck, want)
    print(f"\nprimary SIGKILL mid-rebalance ({m['id']}): resumed as {done['id']}, objects "
          f"{len(want)}, lost {len(lost)}, corrupt {len(corrupt)}, misplaced {len(misplaced)}")
    assert (lost, corrupt, other) == ([], [], [])
    assert misplaced == []


def test_moved_copy_rules(cluster_factory):
    """What a target does with an object another target moves to it (?reb= PUT, docs/design.md
    §14): only nodes may send one; a damaged one is refused; an older one never replaces a newer
    local copy; a copy of an object deleted after it was written stays deleted."""
    import urllib.parse
    c = cluster_factory(targets=1)
    t = c.targets[0]
    secret = c.cluster_secret.read_bytes().strip()
    bck = lt.rand_name("mv")
    make_bucket(c, bck)
    s = lt.Http()

    def send(name, body, md, signed=True):
        url = lt.obj_url(t.url, bck, name) + "?provider=ais&reb=gtest"
        hdrs = {"Locus-Lom": urllib.parse.quote(json.dumps(md, separators=(",", ":")), safe="")}
        if signed:
            hdrs.update(lt.intra_headers(secret, "PUT", url, body, caller=c.primary.id))
        return s.put(url, data=body, headers=hdrs)

    def md_of(body, atime, ver=3):
        return {"v": 1, "size": len(body), "cs_type": "xxhash", "cs_val": lt.xxhash_cksum(body),
                "ver": ver, "atime": atime}

    now = time.time_ns()
    # a node's copy lands with its metadata
    r = send("a", b"moved", md_of(b"moved", now - 10**9, ver=7))
    assert r.status_code == 200, r.text
    r = s.get(lt.obj_url(c.url, bck, "a"), headers=c.headers())
    assert r.content == b"moved" and r.headers["Ais-Version"] == "7"
    # not signed: refused (with a cluster secret, only nodes move objects)
    lt.assert_error(send("b", b"x", md_of(b"x", now), signed=False), 401, "signed")
    # damaged: size or checksum do not match
    lt.assert_error(send("b", b"xy", md_of(b"x", now)), 400, "damaged")
    bad = md_of(b"y", now)
    lt.assert_error(send("b", b"x", dict(bad, size=1)), 400, "damaged")
    lt.assert_error(send("b", b"x", {"v": 1}), 400)
    assert s.get(lt.obj_url(c.url, bck, "b"), headers=c.headers()).status_code == 404
    # an older copy never replaces a newer local one
    r = s.put(lt.obj_url(c.url, bck, "a"), data=b"newer", headers=c.headers())
    assert r.status_code == 200
    assert send("a", b"moved", md_of(b"moved", now - 10**9)).status_code == 200
    assert s.get(lt.obj_url(c.url, bck, "a"), headers=c.headers()).content == b"newer"
    # deleted after the copy was written: it stays deleted; written after the delete: it lands
    assert s.delete(lt.obj_url(c.url, bck, "a"), headers=c.headers()).status_code == 200
    assert send("a", b"moved", md_of(b"moved", now)).status_code == 200
    assert s.get(lt.obj_url(c.url, bck, "a"), headers=c.headers()).status_code == 404
    later = time.time_ns() + 10**6
    assert send("a", b"again", md_of(b"again", later)).status_code == 200
    assert s.get(lt.obj_url(c.url, bck, "a"), headers=c.headers()).content == b"again"


def test_rebalance_is_a_job(cluster_factory):
    """A rebalance is visible and abortable through the job API like any job; the primary does
    not restart one a user stopped, and a rebalance started by hand finishes the work."""
    c, bck, want, _, m = join_and_catch_rebalance(cluster_factory, "job", 2000)
    xid = m["id"]
    r = requests.get(c.url + "/v1/cluster", params={"what": "status", "id": xid},
                     headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200 and r.json()["kind"] == "rebalance", r.text
    r = requests.get(c.url + "/v1/cluster", params={"what": "qryxstats", "id": xid},
                     headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200 and len(r.json()) == 3, r.text  # one snapshot per target
    stopped = m["state"] == "running"
    if stopped:
        r = requests.put(c.url + "/v1/cluster", json=lt.actmsg("stop-xaction", {"id": xid}),
                         headers=c.headers(), timeout=lt.REQ_TIMEOUT)
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 30
        while rmd(c)["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        after = rmd(c)
        assert after["state"] in ("aborted", "done"), after
        print(f"\nstop-xaction {xid}: {after['state']} after {after['objs']} objects")
        time.sleep(3)  # longer than the retry delay of a failed one
        assert rmd(c)["version"] == after["version"], "a stopped rebalance was restarted"
    r = requests.put(c.url + "/v1/cluster", json=lt.actmsg("rebalance"), headers=c.headers(),
                     timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200 and r.text.startswith("g"), r.text
    wait_rebalanced(c, after=int(xid[1:]))
    assert lt.check_objects(c, bck, want) == ([], [], [])
    assert placement(c, bck, want) == ([], [])


def test_maintenance_without_rebalance_then_down_is_503(cluster_factory):
    """skip_rebalance leaves the objects on the target in maintenance; stopped, it is down, and
    its objects answer 503 (not a 404 that looks like a real miss) until it is back."""
    c, bck, want, victim, on_victim = with_victim(cluster_factory, "mdown", 150, 2)
    before = rmd(c)["version"]
    assert cluster_action(c, "start-maintenance", victim.id, skip_rebalance=True) == ""
    assert rmd(c)["version"] == before  # nothing started
    held = [n for n in on_victim if any(lt.fqn(mp, bck, n).exists() for mp in victim.mountpaths)]
    assert held == on_victim
    s = lt.Http()
    # in maintenance but up: its objects are still found (get from neighbor moves them)
    r = s.get(lt.obj_url(c.url, bck, on_victim[0]), headers=c.headers())
    assert r.status_code == 200, r.text
    victim.term()
    c.problems += victim.wait_stopped()
    for n in on_victim[1:11]:
        lt.assert_error(s.get(lt.obj_url(c.url, bck, n), headers=c.headers()), 503, "down")
    victim.start()
    victim.wait_ready(time.monotonic() + 30)
    c.wait_smap()
    before = rmd(c)["version"]
    cluster_action(c, "stop-maintenance", victim.id)
    wait_rebalanced(c, after=before)
    assert lt.check_objects(c, bck, want) == ([], [], [])
    assert placement(c, bck, want) == ([], [])
