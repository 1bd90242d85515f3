"""
Primary proxy failover (docs/design.md §4.4, docs/operations.md).

Fault injection against real locusd processes: the primary proxy is SIGKILLed while 16 clients
PUT and GET through the other proxies (in the 3-proxy case through the primary too, until it
dies). The clients retry only on a connection error (on the next proxy); any other failure
counts. The tests count the objects acknowledged, lost (not readable) and corrupt (wrong
bytes), measure the time until another proxy is primary (printed; pytest -s shows it), create a
bucket through the new primary, and restart the old primary, which must join as a non-primary.
Short keepalives (200 ms) keep the election within a second or two.
"""

import json
import os
import signal
import subprocess
import time

import pytest
import requests

import locustest as lt
from etl import etlutil as eu

KEEPALIVE = ["--keepalive-interval", "200ms", "--keepalive-timeout", "2s"]
INTERVAL = 0.2
# The election: 3 failed keepalives, the vote, the takeover; generous for a loaded 2-core box.
ELECTION_LIMIT = 20 * INTERVAL + lt.tmo(2)


# ---------------------------------------------------------------------------------------------
# helpers

def smap_of(c, node):
    r = requests.get(node.url + "/v1/daemon", params={"what": "smap"}, headers=c.headers(),
                     timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def primary_of(c, node):
    """The primary proxy id node's map names, or None when node does not answer."""
    try:
        sm = smap_of(c, node)
    except (requests.RequestException, AssertionError):
        return None
    return (sm.get("proxy_si") or {}).get("daemon_id")


def wait_primary(c, nodes, not_id, timeout):
    """Until every node of nodes names the same primary other than not_id; returns (its id, the
    seconds it took)."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        last = {n.id: primary_of(c, n) for n in nodes}
        ids = set(last.values())
        if len(ids) == 1 and None not in ids and not_id not in ids:
            return ids.pop(), time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"no new primary in {timeout:.1f}s: {last}\n" + c.all_logs(40))


def wait_member(c, via, node_id, timeout=None):
    """Until the map of proxy via holds node_id (not flagged down) and every node answers."""
    deadline = time.monotonic() + (timeout or lt.READY_TIMEOUT)
    while time.monotonic() < deadline:
        sm = smap_of(c, via)
        if node_id in sm.get("pmap", {}) or node_id in sm.get("tmap", {}):
            return sm
        time.sleep(0.1)
    raise AssertionError(f"{node_id} not in the map of {via}\n" + c.all_logs(40))


def create_bucket(c, via, bck):
    r = requests.post(lt.bck_url(via.url, bck), json=lt.actmsg("create-bck"), headers=c.headers(),
                      timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text


def hrw_next(proxy_ids, skip):
    """AIStore's HrwProxy: the highest id digest among the proxies but skip."""
    return max((p for p in proxy_ids if p != skip), key=lt.hrw_digest)


def kill_primary_under_load(c, old, survivors, clients=16, before=1.0, after=2.0, via_old=False):
    """SIGKILLs proxy old while clients load the survivors (via_old: and old, until it dies: its
    clients retry on the next proxy); returns (new primary id, election seconds, the load)."""
    bck = lt.rand_name("fo")
    create_bucket(c, survivors[0], bck)
    load = lt.Load(c, bck, clients, urls=[p.url for p in survivors + ([old] if via_old else [])],
                   prefix="f", retry_status=(), retry_connection=True)
    load.start()
    try:
        time.sleep(before)
        c.kill_node(old)
        live = survivors + [t for t in c.targets if not t.gone]
        new, secs = wait_primary(c, live, old.id, ELECTION_LIMIT)
        time.sleep(after)
    finally:
        load.finish()
    lost, corrupt, other = lt.check_objects(c, bck, load.acked, via=survivors[0])
    print(f"\nfailover: {old.id} -> {new} in {secs:.2f}s; {load.ops} ops, {len(load.acked)} "
          f"acknowledged, {load.retried} connection retries, {len(lost)} lost, "
          f"{len(corrupt)} corrupt, {len(load.failures)} failures")
    assert load.failures == [], load.failures[:10]
    assert (lost, corrupt, other) == ([], [], [])
    assert len(load.acked) > 0
    return new, secs, load


def restart_old_primary(c, old, via):
    """Restarts old (its configuration has no primary_url: it was the bootstrap primary) and
    checks that it joins as a non-primary of the primary via names."""
    primary = primary_of(c, via)
    old.start()
    old.wait_ready(time.monotonic() + lt.READY_TIMEOUT)
    wait_member(c, via, old.id)
    nodes = [n for n in c.nodes if n.proc is not None and n.alive()]
    assert {n.id: primary_of(c, n) for n in nodes} == {n.id: primary for n in nodes}


# ---------------------------------------------------------------------------------------------
# tests

def test_primary_sigkill_two_proxies(cluster_factory, http):
    """2 proxies: the other proxy alone elects itself; bucket creation and ETL init work through
    it, an ETL of the old primary keeps running and is deleted through it; the old primary
    returns as a non-primary."""
    c = cluster_factory(proxies=2, targets=3, flags=KEEPALIVE)
    p1, p2 = c.proxies
    etl1 = eu.etl_name("fo")
    eu.init_ok(http, p1.url, eu.builtin_spec(etl1, "echo", env={"K": "v"}))
    new, secs, _ = kill_primary_under_load(c, p1, [p2])
    assert new == p2.id
    assert secs < ELECTION_LIMIT
    sm = smap_of(c, p2)
    assert p1.id not in sm["pmap"], "the dead primary leaves the map"
    # Bucket metadata changes go through the new primary; every target knows the bucket.
    create_bucket(c, p2, "after-failover")
    for t in c.targets:
        r = requests.get(t.url + "/v1/daemon", params={"what": "bmd"}, headers=c.headers(),
                         timeout=lt.REQ_TIMEOUT)
        assert "after-failover" in r.json()["buckets"], t.id
    # The EtlMD came along (with its secrets: the ETL still transforms) and the new primary
    # changes it: a new ETL, then both deleted.
    assert eu.stage_of(http, p2.url, etl1) == "Running"
    eu.put(http, p2.url, "after-failover", "o", b"etl through the new primary")
    r = eu.get_obj(http, p2.url, "after-failover", "o", etl_name=etl1)
    assert r.status_code == 200 and r.content == b"etl through the new primary", r.text[:300]
    etl2 = eu.etl_name("fo2")
    eu.init_ok(http, p2.url, eu.builtin_spec(etl2, "echo"))
    for name in (etl1, etl2):
        r = eu.delete(http, p2.url, name)
        assert r.status_code == 200, r.text
        eu.wait_no_servers(name)
    # The old primary comes back with its old configuration: it joins the new primary.
    restart_old_primary(c, p1, p2)
    text = p1.log.read_text()
    assert "joining as a non-primary" in text, text[-3000:]
    # Any proxy serves clients: a bucket created through the old primary (forwarded).
    create_bucket(c, p1, "via-old-primary")
    r = http.head(lt.bck_url(p2.url, "via-old-primary"), headers=c.headers())
    assert r.status_code == 200


def test_primary_sigkill_three_proxies_vote(cluster_factory, http):
    """3 proxies, clients on all three: the next proxy by HRW is elected by the vote of the third;
    then the role is moved back by hand (set-primary) to the returned old primary."""
    c = cluster_factory(proxies=3, targets=3, flags=KEEPALIVE)
    p1 = c.proxies[0]
    rest = c.proxies[1:]
    want = hrw_next([p.id for p in c.proxies], p1.id)
    new, secs, load = kill_primary_under_load(c, p1, rest, via_old=True)
    assert new == want, f"HRW gives {want}"
    assert load.retried > 0, "clients of the killed primary retried on another proxy"
    voter = next(p for p in rest if p.id != new)
    vlog = voter.log.read_text()
    assert f"vote YES for candidate {new}" in vlog, vlog[-3000:]
    nlog = c.node(new).log.read_text()
    assert "2 of 2 live proxies for me: elected" in nlog, nlog[-3000:]
    create_bucket(c, voter, "b3")  # forwarded to the new primary
    restart_old_primary(c, p1, c.node(new))
    # set-primary: the role goes back to p1 through any proxy; everyone follows.
    r = http.put(voter.url + f"/v1/cluster/proxy/{p1.id}", headers=c.headers())
    assert r.status_code == 200, r.text
    live = [n for n in c.nodes if n.alive()]
    got, _ = wait_primary(c, live, new, lt.tmo(10))
    assert got == p1.id
    create_bucket(c, c.node(new), "b4")
    r = http.put(voter.url + "/v1/cluster/proxy/nosuch", headers=c.headers())
    assert r.status_code == 404, r.text


def test_next_candidate_dead_too(cluster_factory):
    """3 proxies: the primary and the next in HRW order die together; the third passes over the
    dead candidate and is elected alone (no other proxy answers)."""
    c = cluster_factory(proxies=3, targets=2, flags=KEEPALIVE)
    p1 = c.proxies[0]
    cand = c.node(hrw_next([p.id for p in c.proxies], p1.id))
    third = next(p for p in c.proxies[1:] if p is not cand)
    c.kill_node(cand)
    c.kill_node(p1)
    live = [third] + c.targets
    new, secs = wait_primary(c, live, p1.id, ELECTION_LIMIT + lt.tmo(3))
    print(f"\nfailover past a dead candidate: {p1.id} -> {new} in {secs:.2f}s")
    assert new == third.id
    create_bucket(c, third, "b")


def test_vote_endpoint_needs_a_node(cluster_factory):
    """GET /v1/vote/proxy is intra-cluster: no signature, 401; a signed malformed record, 400; a
    valid record while the primary is alive: NO from every proxy."""
    c = cluster_factory(proxies=3, targets=1)
    p1, p2, p3 = c.proxies
    r = requests.get(p2.url + "/v1/vote/proxy", data=b'{"vote_record":{}}', timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 401, r.text
    secret = c.cluster_secret.read_bytes().strip()
    for body in (b"{}", b'{"vote_record":{"candidate":"../x","primary":"p","initiator":"p"}}',
                 b"[" * 10000, os.urandom(200)):
        url = p2.url + "/v1/vote/proxy"
        hdrs = lt.intra_headers(secret, "GET", url, body, caller=c.proxies[0].id)
        r = requests.get(url, data=body, headers=hdrs, timeout=lt.REQ_TIMEOUT)
        assert r.status_code == 400, (body[:40], r.status_code, r.text)
    sm = smap_of(c, p1)
    cand = hrw_next(list(sm["pmap"]), p1.id)
    msg = json.dumps({"vote_record": {"candidate": cand, "primary": p1.id, "smap": sm,
                                      "start_time": "2026-12-07T00:00:00Z",
                                      "initiator": cand}}).encode()
    for voter in (p1, p2, p3):
        url = voter.url + "/v1/vote/proxy"
        hdrs = lt.intra_headers(secret, "GET", url, msg, caller=cand)
        r = requests.get(url, data=msg, headers=hdrs, timeout=lt.REQ_TIMEOUT)
        assert (r.status_code, r.text) == (200, "NO"), (voter.id, r.status_code, r.text)
    assert "I am the primary, and alive" in p1.log.read_text()
    other = p2 if cand == p3.id else p3
    assert "the primary answers me" in other.log.read_text()


def test_cli_set_primary(cluster_factory):
    """`locus cluster set-primary ID` moves the role; `locus cluster show` marks the primary."""
    c = cluster_factory(proxies=2, targets=1)
    p1, p2 = c.proxies
    env = dict(os.environ, LOCUS_ENDPOINT=p1.url)
    if c.token:
        env["LOCUS_TOKEN"] = c.token
    cli = str(lt.LOCUS_CLI)
    r = subprocess.run([cli, "cluster", "set-primary", p2.id], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    got, _ = wait_primary(c, c.nodes, p1.id, lt.tmo(10))
    assert got == p2.id
    r = subprocess.run([cli, "cluster", "show"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.split() and ln.split()[0] == p2.id)
    assert "*" in line, r.stdout


@pytest.mark.slow
def test_primary_sigkill_twice_heavy(cluster_factory):
    """3 proxies, 4 targets, longer load: two failovers in a row, each old primary returning."""
    c = cluster_factory(proxies=3, targets=4, flags=KEEPALIVE)
    old = c.proxies[0]
    for _ in range(2):
        rest = [p for p in c.proxies if p is not old]
        new, secs, _ = kill_primary_under_load(c, old, rest, before=3.0, after=5.0)
        restart_old_primary(c, old, c.node(new))
        old = c.node(new)


def test_paused_primary_steps_down(cluster_factory):
    """Split brain: the primary is paused (SIGSTOP), not dead; the other proxy is elected. When
    the old primary wakes it finds the newer map, steps down and joins the new primary: one
    primary in the cluster."""
    c = cluster_factory(proxies=2, targets=2, flags=KEEPALIVE)
    p1, p2 = c.proxies
    p1.signal(signal.SIGSTOP)
    try:
        new, secs = wait_primary(c, [p2] + c.targets, p1.id, ELECTION_LIMIT + lt.tmo(5))
    finally:
        p1.signal(signal.SIGCONT)
    print(f"\npaused primary replaced by {new} in {secs:.2f}s")
    assert new == p2.id
    wait_member(c, p2, p1.id)
    got, _ = wait_primary(c, c.nodes, p1.id, lt.tmo(10))
    assert got == p2.id
    assert "no longer the primary" in p1.log.read_text()
    create_bucket(c, p1, "after-pause")  # relayed to p2
