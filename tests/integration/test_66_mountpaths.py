"""
Mountpaths of a target (docs/operations.md "Disks", docs/protocol.md "Mountpaths"): attach,
detach, enable and disable through the proxy's /v1/reverse route, the resilver job that moves
every object to its HRW mountpath, mountpaths.json across a restart, bad input, GETs during a
resilver, and the CLI.
"""

import hashlib
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import locustest as lt

P = {"provider": "ais"}


# ------------------------------------------------------------------------------------------------
# helpers

def mp_call(c, method, action, path, node, params=None, headers=None):
    h = {"Ais-Node-Id": node.id} if node is not None else {}
    h.update(headers or {})
    return lt.Http().request(method, c.url + "/v1/reverse/daemon/mountpaths", params=params,
                             json={"action": action, "value": path}, headers=h, timeout=120)


def mp_list(c, node, resilver=False):
    """AIStore's MountpathList of node; with resilver, also Locus's "resilver" (the last one)."""
    r = lt.Http().get(c.url + "/v1/reverse/daemon", params={"what": "mountpaths"},
                      headers={"Ais-Node-Id": node.id})
    assert r.status_code == 200, r.text
    j = r.json()
    rs = j.pop("resilver", None)
    if rs is not None:
        assert set(rs) == {"id", "running", "moved", "err"}, rs
    return (j, rs) if resilver else j


def wait_job(c, jid, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        r = lt.Http().get(c.url + "/v1/cluster", params={"what": "status", "id": jid})
        assert r.status_code == 200, f"job {jid}: {r.status_code} {r.text}"
        st = r.json()
        if st["end_time"]:
            assert st["kind"] == "resilver", st
            return st
        assert time.monotonic() < deadline, f"resilver {jid} still running"
        time.sleep(0.05)


def change(c, node, method, action, path, wait=True, params=None):
    r = mp_call(c, method, action, path, node, params=params)
    assert r.status_code == 200, f"{action} {path}: {r.status_code} {r.text}"
    jid = r.text.strip()
    if wait and jid:
        st = wait_job(c, jid)
        assert not st["aborted"] and not st["err"], st
    return jid


def populate(http, node, bck, n, size_of=lambda i: (i * 7919) % 20000, threads=8):
    """PUTs n objects straight to the (only) target; returns {name: sha256}."""
    http.post(lt.bck_url(node.cluster.url, bck), params=P, json=lt.actmsg("create-bck"))
    state = {}

    def put(i):
        name = f"d{i % 7}/o{i}" if i % 3 else f"flat-{i}"
        data = os.urandom(size_of(i))
        with lt.Http() as s:
            r = s.put(lt.obj_url(node.url, bck, name), params=P, data=data)
        assert r.status_code == 200, f"PUT {name}: {r.status_code} {r.text}"
        return name, hashlib.sha256(data).hexdigest()

    with ThreadPoolExecutor(threads) as ex:
        for name, sha in ex.map(put, range(n)):
            state[name] = sha
    return state


def files_on(mp, bck):
    ob = os.path.join(str(mp), "@ais", bck, "%ob")
    out = set()
    for root, _dirs, files in os.walk(ob):
        for f in files:
            out.add(os.path.relpath(os.path.join(root, f), ob))
    return out


def check_placement(node, bck, state, enabled, others=()):
    """Every object is one file, on its HRW mountpath among `enabled`; none on `others`."""
    on = {str(mp): files_on(mp, bck) for mp in list(enabled) + list(others)}
    for mp in others:
        assert not on[str(mp)], f"{len(on[str(mp)])} objects left on {mp}"
    total = sum(len(v) for v in on.values())
    assert total == len(state), f"{total} object files for {len(state)} objects"
    for name in state:
        want = str(lt.hrw_mountpath([str(m) for m in enabled], bck, name))
        assert name in on[want], f"{name} not on its HRW mountpath {want}"


def check_content(http, c, bck, state):
    def get(item):
        name, sha = item
        with lt.Http() as s:
            r = s.get(lt.obj_url(c.url, bck, name), params=P)
        assert r.status_code == 200, f"GET {name}: {r.status_code} {r.text[:200]}"
        assert hashlib.sha256(r.content).hexdigest() == sha, f"{name}: content changed"

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(get, state.items()))


def one_target(cluster_factory):
    c = cluster_factory(proxies=1, targets=1)
    return c, c.targets[0]


# ------------------------------------------------------------------------------------------------
# tests

def test_attach_then_detach_moves_every_object(cluster_factory, http):
    c, t = one_target(cluster_factory)
    mp1, mp2 = [str(m) for m in t.mountpaths]
    mp3 = str(t.dir / "mp3")
    state = populate(http, t, "mpa", 300)
    check_placement(t, "mpa", state, [mp1, mp2])

    jid = change(c, t, "PUT", "attach-mp", mp3)
    assert jid, "attach runs a resilver"
    assert mp_list(c, t) == {"available": sorted([mp1, mp2, mp3]), "waiting_dd": [],
                             "disabled": []}
    check_placement(t, "mpa", state, [mp1, mp2, mp3])
    assert files_on(mp3, "mpa"), "HRW puts some objects on the new mountpath"
    check_content(http, c, "mpa", state)
    _, rs = mp_list(c, t, resilver=True)  # the operator's view of the last resilver
    if not rs["running"]:
        assert rs["id"] == jid and rs["moved"] == len(files_on(mp3, "mpa")) and rs["err"] == ""
        # `locus cluster show` names only a resilver that runs or failed
        env = dict(os.environ, LOCUS_ENDPOINT=c.url, LOCUS_TOKEN=c.token or "")
        show = subprocess.run([str(lt.LOCUS_CLI), "cluster", "show"], env=env,
                              capture_output=True, timeout=60)
        assert show.returncode == 0 and b"resilver" not in show.stdout, show
    # the job is in the target's registry like any other
    r = http.get(c.url + "/v1/cluster", params={"what": "qryxstats", "id": jid})
    assert r.status_code == 200
    snap = r.json()[t.id][0]
    assert snap["kind"] == "resilver" and int(snap["stats"]["loc-objs"]) > 0, snap

    # detach waits for its resilver: when it answers, mp1 is empty and gone from the set
    r = mp_call(c, "DELETE", "detach-mp", mp1, t)
    assert r.status_code == 200, r.text
    assert mp_list(c, t)["available"] == sorted([mp2, mp3])
    check_placement(t, "mpa", state, [mp2, mp3], others=[mp1])
    check_content(http, c, "mpa", state)
    r = http.get(lt.bck_url(c.url, "mpa"), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert sorted(e["name"] for e in r.json()["entries"]) == sorted(state)

    # new PUTs go to the HRW mountpath of the new set
    more = {f"new-{i}": None for i in range(30)}
    for name in more:
        data = name.encode() * 10
        assert http.put(lt.obj_url(c.url, "mpa", name), params=P, data=data).status_code == 200
        state[name] = hashlib.sha256(data).hexdigest()
    check_placement(t, "mpa", state, [mp2, mp3], others=[mp1])


def test_disable_enable(cluster_factory, http):
    c, t = one_target(cluster_factory)
    mp1, mp2 = [str(m) for m in t.mountpaths]
    state = populate(http, t, "mpd", 200)
    change(c, t, "POST", "disable-mp", mp2)
    assert mp_list(c, t) == {"available": [mp1], "waiting_dd": [], "disabled": [mp2]}
    check_placement(t, "mpd", state, [mp1], others=[mp2])
    check_content(http, c, "mpd", state)
    # disabling again changes nothing; the last enabled one cannot go
    r = mp_call(c, "POST", "disable-mp", mp2, t)
    assert r.status_code == 200 and r.text == "", r.text
    lt.assert_error(mp_call(c, "POST", "disable-mp", mp1, t), 409, "last enabled mountpath")
    lt.assert_error(mp_call(c, "DELETE", "detach-mp", mp1, t), 409, "last enabled mountpath")
    change(c, t, "POST", "enable-mp", mp2)
    assert mp_list(c, t) == {"available": sorted([mp1, mp2]), "waiting_dd": [], "disabled": []}
    check_placement(t, "mpd", state, [mp1, mp2])
    check_content(http, c, "mpd", state)


def test_detach_dont_resilver_leaves_objects_behind(cluster_factory, http):
    c, t = one_target(cluster_factory)
    mp1, mp2 = [str(m) for m in t.mountpaths]
    state = populate(http, t, "mpx", 60)
    left = files_on(mp2, "mpx")
    r = mp_call(c, "DELETE", "detach-mp", mp2, t, params={"dont-resilver": "true"})
    assert r.status_code == 200 and r.text == "", r.text
    assert mp_list(c, t)["available"] == [mp1]
    assert files_on(mp2, "mpx") == left  # untouched, and out of reach
    for name in list(left)[:5]:
        assert http.get(lt.obj_url(c.url, "mpx", name), params=P).status_code == 404
    for name in set(state) - left:
        assert http.get(lt.obj_url(c.url, "mpx", name), params=P).status_code == 200


def test_bad_input(cluster_factory, http, tmp_path):
    c = cluster_factory(proxies=1, targets=2)
    t = c.targets[0]
    mp1, mp2 = [str(m) for m in t.mountpaths]
    afile = tmp_path / "a-file"
    afile.write_text("x")
    cases = [
        ("PUT", "attach-mp", "rel/dir", 400, "not an absolute path"),
        ("PUT", "attach-mp", "", 400, "not an absolute path"),
        ("PUT", "attach-mp", str(tmp_path / "x" / ".." / "y"), 400, '".."'),
        ("PUT", "attach-mp", "/", 400, "not allowed"),
        ("PUT", "attach-mp", str(afile / "sub"), 400, "cannot create"),
        ("PUT", "attach-mp", str(afile), 400, "not a directory"),
        ("PUT", "attach-mp", mp1, 409, "already attached"),
        ("PUT", "attach-mp", mp1 + "//", 409, "already attached"),
        ("PUT", "attach-mp", mp1 + "/inner", 400, "overlaps"),
        ("PUT", "attach-mp", str(t.dir), 400, "overlaps"),
        ("PUT", "detach-mp", str(tmp_path / "z"), 400, "invalid action"),
        ("DELETE", "detach-mp", str(tmp_path / "never-attached"), 404, "not attached"),
        ("POST", "enable-mp", str(tmp_path / "never-attached"), 404, "not attached"),
        ("POST", "frobnicate", mp1, 400, "invalid action"),
    ]
    for method, action, path, status, msg in cases:
        r = mp_call(c, method, action, path, t)
        lt.assert_error(r, status, msg)
    r = lt.Http().put(c.url + "/v1/reverse/daemon/mountpaths", data=b"{not json",
                      headers={"Ais-Node-Id": t.id})
    lt.assert_error(r, 400)
    r = lt.Http().put(c.url + "/v1/reverse/daemon/mountpaths", json={"action": "attach-mp",
                      "value": 7}, headers={"Ais-Node-Id": t.id})
    lt.assert_error(r, 400, "must be the mountpath")
    lt.assert_error(mp_call(c, "PUT", "attach-mp", "/tmp/x", None), 400, "Ais-Node-Id")
    r = mp_call(c, "PUT", "attach-mp", "/tmp/x", None, headers={"Ais-Node-Id": "t-nobody"})
    lt.assert_error(r, 404, "not a target")
    r = mp_call(c, "PUT", "attach-mp", "/tmp/x", None, headers={"Ais-Node-Id": c.primary.id})
    lt.assert_error(r, 404, "not a target")
    # the last enabled mountpath stays
    change(c, t, "DELETE", "detach-mp", mp2)
    lt.assert_error(mp_call(c, "DELETE", "detach-mp", mp1, t), 409, "last enabled")
    assert mp_list(c, t)["available"] == [mp1]
    # nothing changed on the other target
    assert mp_list(c, c.targets[1])["available"] == sorted(str(m) for m in c.targets[1].mountpaths)


def test_target_endpoint_needs_a_node_or_admin(cluster_factory, http):
    c, t = one_target(cluster_factory)
    # without a signature the target refuses a change (a cluster secret is configured)
    r = lt.Http().put(t.url + "/v1/daemon/mountpaths",
                      json={"action": "attach-mp", "value": str(t.dir / "mp9")},
                      headers={"Authorization": None} if lt.AUTH else None)
    if lt.AUTH:
        assert r.status_code == 401, r.text
    else:
        assert r.status_code == 200, r.text  # auth off: anyone may (docs/security.md)
    r = http.get(t.url + "/v1/daemon", params={"what": "mountpaths"})
    assert r.status_code == 200 and "waiting_dd" in r.json()


def test_mountpaths_json_survives_restart(cluster_factory, http):
    c, t = one_target(cluster_factory)
    mp1, mp2 = [str(m) for m in t.mountpaths]
    mp3 = str(t.dir / "mp3")
    state = populate(http, t, "mpr", 100)
    change(c, t, "PUT", "attach-mp", mp3)
    change(c, t, "POST", "disable-mp", mp1)
    saved = json.loads((t.dir / "mountpaths.json").read_text())
    assert saved["available"] == sorted([mp2, mp3]) and saved["disabled"] == [mp1], saved
    c.restart_node(t)  # its config.json still names mp1 and mp2 only
    assert mp_list(c, t) == {"available": sorted([mp2, mp3]), "waiting_dd": [],
                             "disabled": [mp1]}
    assert "overrides the configuration" in t.log.read_text()
    check_placement(t, "mpr", state, [mp2, mp3], others=[mp1])
    check_content(http, c, "mpr", state)


def test_get_never_404s_during_resilver(cluster_factory, http):
    c, t = one_target(cluster_factory)
    mp1, mp2 = [str(m) for m in t.mountpaths]
    mp3 = str(t.dir / "mp3")
    state = populate(http, t, "mpg", 2000, size_of=lambda i: 64 + i % 512)
    names = sorted(state)
    stop = threading.Event()
    bad = []
    gets = [0]

    def reader(k):
        with lt.Http() as s:
            i = k
            while not stop.is_set():
                name = names[i % len(names)]
                r = s.get(lt.obj_url(t.url, "mpg", name), params=P)
                gets[0] += 1
                if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != state[name]:
                    bad.append((name, r.status_code))
                i += 7

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    try:
        for _ in range(2):
            change(c, t, "PUT", "attach-mp", mp3)  # answers at once; waits for the job here
            change(c, t, "DELETE", "detach-mp", mp3)
            change(c, t, "POST", "disable-mp", mp1)
            change(c, t, "POST", "enable-mp", mp1, wait=False)
            change(c, t, "POST", "disable-mp", mp2)  # aborts the enable's resilver
            change(c, t, "POST", "enable-mp", mp2)
    finally:
        stop.set()
        for th in threads:
            th.join()
    print(f"{gets[0]} GETs during the resilvers, {len(bad)} bad")
    assert not bad, f"{len(bad)} failed GETs, e.g. {bad[:5]}"
    check_placement(t, "mpg", state, [mp1, mp2], others=[mp3])


def test_cli_storage_mountpath(cluster_factory, tmp_path):
    c, t = one_target(cluster_factory)
    env = dict(os.environ, LOCUS_ENDPOINT=c.url)

    def cli(*args, rc=0):
        p = subprocess.run([str(lt.LOCUS_CLI), "storage", "mountpath", *args], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == rc, f"{args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p.stdout + p.stderr

    mp3 = str(tmp_path / "cli-mp3")
    out = cli("attach", t.id, mp3, "--wait")
    assert "resilver" in out and "finished" in out, out
    out = cli("ls")
    assert t.id in out and mp3 in out and "enabled" in out, out
    out = cli("disable", t.id, mp3, "--wait")
    assert "disabled" in cli("ls", t.id)
    cli("enable", t.id, mp3)
    out = cli("detach", t.id, mp3)
    assert "(done)" in out, out
    listed = json.loads(cli("ls", t.id, "--json"))
    assert mp3 not in listed[t.id]["available"]
    out = cli("attach", t.id, "relative", rc=1)
    assert "not an absolute path" in out, out
    out = cli("detach", "t-nobody", mp3, rc=1)
    assert "not a target" in out, out
    cli("attach", t.id, rc=2)
