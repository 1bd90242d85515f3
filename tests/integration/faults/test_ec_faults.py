"""
Erasure coding across targets (docs/design.md §15, docs/operations.md "Mirror or erasure
coding"): with ec {enabled, data_slices: D, parity_slices: P, objsize_limit}, the owner keeps the
main replica and its D + P pieces (or P replicas of a small object) sit on other targets, under
%ec. These tests kill targets for good, damage main replicas on disk, and count the objects
acknowledged, lost and corrupt; they check the pieces on disk against the placement rule.
"""

import os
import random
import subprocess
import time
from pathlib import Path

import requests

import locustest as lt

LIMIT = 16 * 1024  # objsize_limit of the tests' buckets: smaller objects are replicated


def create_ec_bucket(c, bck, d=2, p=1, limit=LIMIT, status=200):
    r = requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck", {"ec": {
        "enabled": True, "data_slices": d, "parity_slices": p, "objsize_limit": limit}}),
        headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == status, r.text
    return r


def put_objects(c, bck, n, seed=1):
    rnd = random.Random(seed)
    s = lt.Http()
    want = {}
    for i in range(n):
        # both kinds: replicated (< LIMIT) and sliced, with odd sizes (uneven last slices)
        size = rnd.choice([0, 1, 999, LIMIT - 1, LIMIT, LIMIT + 1, 100_003, 1_000_001])
        data = os.urandom(size)
        name = f"o{i:04d}"
        r = s.put(lt.obj_url(c.url, bck, name), data=data, headers=c.headers())
        assert r.status_code == 200, r.text
        want[name] = data
    return want


def ranked(smap, bck, obj):
    """The targets that take part (no maintenance/decommission/down flag) in HRW order."""
    digest = lt.hrw_digest(lt.uname(bck, obj))
    nodes = [n for n in smap["tmap"].values() if not int(n.get("flags", 0)) & (4 | 8 | 1024)]
    return sorted(nodes, key=lambda n: -lt.xoshiro256_hash(int(n["id_digest"]) ^ digest))


def pieces_on_disk(c, bck, name):
    """{target id: number of piece files} of bck/name over the live targets."""
    out = {}
    for t in c.targets:
        if t.gone:
            continue
        k = sum(1 for mp in t.mountpaths if (Path(mp) / "@ais" / bck / "%ec" / name).exists())
        if k:
            out[t.id] = k
    return out


def redundancy_problems(c, bck, want, d, p):
    """Objects whose pieces on disk are not the full set at their placement."""
    sm = c.smap()
    bad = []
    for name, data in want.items():
        rk = [n["daemon_id"] for n in ranked(sm, bck, name)]
        sliced = len(data) >= LIMIT and len(data) > 0
        npieces = d + p if sliced else p
        expect = {}
        for i in range(1, npieces + 1):
            tid = rk[i] if i < len(rk) else rk[0] if i == len(rk) else None
            if tid:
                expect[tid] = expect.get(tid, 0) + 1
        got = pieces_on_disk(c, bck, name)
        if got != expect:
            bad.append((name, len(data), expect, got))
    return bad


def wait_map(c, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred(c.smap()):
                return
        except (requests.RequestException, AssertionError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("the cluster map did not change as expected")


def is_down(tid):
    return lambda sm: tid in sm["tmap"] and int(sm["tmap"][tid].get("flags", 0)) & 1024


def wait_job(c, jid, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(c.url + "/v1/cluster", params={"what": "status", "id": jid},
                         headers=c.headers(), timeout=lt.REQ_TIMEOUT)
        assert r.status_code == 200, r.text
        if r.json()["end_time"]:
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"job {jid} did not end")


def ec_encode(c, bck, value=None):
    r = requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("ec-encode", value or {}),
                      headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.text


def test_ec_2_1_target_lost_for_good_then_restored(cluster_factory):
    c = cluster_factory(targets=4)
    bck = lt.rand_name("ec")
    create_ec_bucket(c, bck)
    want = put_objects(c, bck, 60)
    # every acknowledged write has its full set of pieces, on the targets the rule names
    assert redundancy_problems(c, bck, want, 2, 1) == []
    # one target dies for good
    victim = max(c.targets, key=lambda t: sum(
        1 for n in want if lt.hrw_target(c.smap(), bck, n)["daemon_id"] == t.id))
    before = c.smap()
    c.kill_node(victim)
    victim.gone = True
    wait_map(c, is_down(victim.id))
    # every other object is read now (the ones the victim owned are rebuilt by their new owner
    # on the way); the rest wait for the restore job
    lost, corrupt, other = lt.check_objects(c, bck, dict(list(want.items())[::2]))
    print(f"\nEC 2+1, 4 targets, {victim.id} killed: objects {len(want)}, lost {len(lost)}, "
          f"corrupt {len(corrupt)}, other {len(other)}")
    assert (lost, corrupt, other) == ([], [], [])
    # removed from the map; the rebalance and then the restore job bring back full redundancy
    r = requests.put(c.url + "/v1/cluster", json=lt.actmsg("decommission-node",
                     {"sid": victim.id}), headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    wait_map(c, lambda sm: victim.id not in sm["tmap"])
    # the primary starts the restore (ec-encode) of every erasure-coded bucket by itself; it
    # places the pieces and rebuilds the main replicas the victim held (in no set order: wait
    # for both)
    unread = [n for n in list(want)[1::2] if lt.hrw_target(before, bck, n)["daemon_id"] == victim.id]

    def not_rebuilt_now():
        sm = c.smap()
        return [n for n in unread if not any(lt.fqn(mp, bck, n).exists() for mp in
                                             c.node(lt.hrw_target(sm, bck, n)["daemon_id"]).mountpaths)]

    not_rebuilt = unread
    deadline = time.monotonic() + 90
    while ((problems := redundancy_problems(c, bck, want, 2, 1)) or (not_rebuilt := not_rebuilt_now())) \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"automatic restore: objects without full redundancy {len(problems)}, main replicas "
          f"rebuilt without a GET {len(unread) - len(not_rebuilt)} of {len(unread)}")
    assert problems == [], problems[:5]
    assert unread and not_rebuilt == [], (unread, not_rebuilt)
    # the same job by hand, as an operator runs it: nothing left to do
    env = dict(os.environ, LOCUS_ENDPOINT=c.url, LOCUS_TOKEN=c.token or "")
    p = subprocess.run([str(lt.LOCUS_CLI), "storage", "ec-encode", bck, "--wait"], env=env,
                       capture_output=True, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert b" 0 rebuilt, 0 pieces sent, 0 failed" in p.stderr, p.stderr
    assert redundancy_problems(c, bck, want, 2, 1) == []
    assert lt.check_objects(c, bck, want) == ([], [], [])
    # and it survives the loss of one more target
    victim2 = [t for t in c.targets if not t.gone][-1]
    c.kill_node(victim2)
    victim2.gone = True
    wait_map(c, is_down(victim2.id))
    assert lt.check_objects(c, bck, want) == ([], [], [])


def test_ec_damaged_or_missing_main_replica_is_rebuilt(cluster_factory):
    c = cluster_factory(targets=4)
    bck = lt.rand_name("ecd")
    create_ec_bucket(c, bck)
    r = requests.patch(lt.bck_url(c.url, bck), json=lt.actmsg("set-bprops", {
        "checksum": {"validate_warm_get": True}}), headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    want = {"big": os.urandom(300_001), "small": os.urandom(1000), "mid": os.urandom(LIMIT)}
    s = lt.Http()
    for n, d in want.items():
        assert s.put(lt.obj_url(c.url, bck, n), data=d, headers=c.headers()).status_code == 200
    for n in want:
        owner = c.node(lt.hrw_target(c.smap(), bck, n)["daemon_id"])
        main = lt.fqn(lt.hrw_mountpath([str(m) for m in owner.mountpaths], bck, n), bck, n)
        if n == "mid":
            main.unlink()  # gone
        else:
            with open(main, "r+b") as f:  # a bit flips
                f.seek(len(want[n]) // 2)
                b = f.read(1)
                f.seek(len(want[n]) // 2)
                f.write(bytes([b[0] ^ 0x10]))
        r = s.get(lt.obj_url(c.url, bck, n), headers=c.headers())
        assert r.status_code == 200, r.text
        assert r.content == want[n], n
        assert main.read_bytes() == want[n]  # repaired on disk


def test_ec_on_existing_objects_and_off_again(cluster_factory):
    c = cluster_factory(targets=4)
    bck = lt.rand_name("ece")
    r = requests.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck"), headers=c.headers(),
                      timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    want = put_objects(c, bck, 20, seed=2)
    assert all(pieces_on_disk(c, bck, n) == {} for n in want)
    jid = ec_encode(c, bck, {"data_slices": 2, "parity_slices": 1, "objsize_limit": LIMIT})
    snap = wait_job(c, jid)
    assert not snap["aborted"], snap
    assert redundancy_problems(c, bck, want, 2, 1) == []
    # the slice counts of an erasure-coded bucket cannot change; mirror and EC do not mix
    for props in ({"ec": {"data_slices": 3}}, {"mirror": {"enabled": True}}):
        r = requests.patch(lt.bck_url(c.url, bck), json=lt.actmsg("set-bprops", props),
                           headers=c.headers(), timeout=lt.REQ_TIMEOUT)
        lt.assert_error(r, 400)
    # off: the pieces go (the job answers its id)
    r = requests.patch(lt.bck_url(c.url, bck), json=lt.actmsg("set-bprops", {
        "ec": {"enabled": False}}), headers=c.headers(), timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200 and r.text, r.text
    wait_job(c, r.text)
    assert all(pieces_on_disk(c, bck, n) == {} for n in want)
    assert lt.check_objects(c, bck, want) == ([], [], [])
    # deleting an object deletes its pieces everywhere
    ec_encode(c, bck)
    wait_job(c, ec_encode(c, bck))
    s = lt.Http()
    for n in list(want)[:5]:
        assert s.delete(lt.obj_url(c.url, bck, n), headers=c.headers()).status_code == 200
        assert pieces_on_disk(c, bck, n) == {}
    # and so do list and range deletes (by names, and by a prefix each owner walks)
    for value in ({"objnames": list(want)[5:8]}, {"template": "o001"}):
        r = s.delete(lt.bck_url(c.url, bck), json=lt.actmsg("delete-listrange", value),
                     headers=c.headers())
        assert r.status_code == 200, r.text
        wait_job(c, r.text)
    gone = list(want)[5:8] + [n for n in want if n.startswith("o001")]
    assert all(pieces_on_disk(c, bck, n) == {} for n in gone), [
        (n, pieces_on_disk(c, bck, n)) for n in gone]
    left = {n: d for n, d in want.items() if n not in gone and n not in list(want)[:5]}
    assert lt.check_objects(c, bck, left) == ([], [], [])


def test_ec_needs_enough_targets(cluster_factory):
    c = cluster_factory(targets=3)
    bck = lt.rand_name("ecn")
    r = create_ec_bucket(c, bck, d=2, p=1, status=400)
    assert "requires at least 4 targets (have 3)" in r.text
    create_ec_bucket(c, bck, d=1, p=1)
    for bad in ({"data_slices": 0}, {"parity_slices": 33}, {"objsize_limit": -2},
                {"enabled": "yes"}, {"slices": 2}):
        r = requests.patch(lt.bck_url(c.url, bck), json=lt.actmsg("set-bprops", {"ec": bad}),
                           headers=c.headers(), timeout=lt.REQ_TIMEOUT)
        lt.assert_error(r, 400)


def test_ec_pieces_follow_a_joining_target(cluster_factory):
    c = cluster_factory(targets=4)
    bck = lt.rand_name("ecj")
    create_ec_bucket(c, bck)
    want = put_objects(c, bck, 40, seed=3)
    before = c.rmd()["version"]
    c.add_target()
    c.wait_rebalance(timeout=90, min_version=before + 1)
    # the rebalance moves main replicas; the EC restore that follows moves the pieces
    deadline = time.monotonic() + 90
    while (problems := redundancy_problems(c, bck, want, 2, 1)) and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"\nEC 2+1, a 5th target joined: objects without full redundancy at the new map "
          f"{len(problems)}")
    assert problems == [], problems[:5]
    assert lt.check_objects(c, bck, want) == ([], [], [])


def test_ec_target_killed_under_write_load(cluster_factory):
    """8 clients PUT to an EC 2+1 bucket on 4 targets; one target is SIGKILLed in the middle.
    Clients retry a 503 or a connection error (a write redirected to the dying target); every PUT
    acknowledged before, during and after the kill reads back with its bytes, through the
    rebuilds."""
    c = cluster_factory(targets=4)
    bck = lt.rand_name("eck")
    create_ec_bucket(c, bck)
    load = lt.Load(c, bck, 8, put_ratio=1.0, max_size=300_000, prefix="k",
                   retry_connection=True, attempts=150)
    load.start()
    time.sleep(3)
    victim = c.targets[1]
    c.kill_node(victim)
    victim.gone = True
    time.sleep(4)
    load.finish()
    acked, failures = load.acked, load.failures
    lost, corrupt, other = lt.check_objects(c, bck, dict(acked))
    print(f"\nEC 2+1 under 8 writers, {victim.id} SIGKILLed: acknowledged {len(acked)}, lost "
          f"{len(lost)}, corrupt {len(corrupt)}, other {len(other)}, failed PUTs {len(failures)}")
    assert not failures, failures[:5]
    assert (lost, corrupt, other) == ([], [], []), (lost[:5], corrupt[:5], other[:5])
