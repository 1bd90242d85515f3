"""83 ETLs across restarts (issue 3: "EtlMD versioned, pushed to all nodes, persisted: after a
full cluster restart, Running ETLs come back up"): a full restart of every node brings a Running
ETL back without a new init while a stopped one stays Aborted; ETL servers do not outlive their
target, whether it is stopped or killed. Each test has its own cluster.
"""

import os
import signal
import time

import locustest as lt
from etl import etlutil as eu


def wait_inline(http, base, bck, obj, name, want, timeout=30):
    deadline = time.monotonic() + lt.tmo(timeout)
    while True:
        r = eu.get_obj(http, base, bck, obj, etl_name=name)
        if r.status_code == 200 and r.content == want:
            return
        assert time.monotonic() < deadline, \
            f"inline transform through {name} does not work again: {r.status_code} {r.text[:300]}"
        time.sleep(0.2)


def test_full_restart_brings_running_etl_back(cluster_factory, http):
    c = cluster_factory()
    base = c.url
    etls = eu.Etls(http, base)
    try:
        bck = lt.rand_name("etl-")
        eu.create_bucket(http, base, bck)
        objs = {f"o{i}": b"restart me %d" % i for i in range(20)}
        eu.put_many(base, bck, objs)
        up = etls.track(eu.etl_name("back"))
        xid = etls.init_ok(eu.py_spec(up))
        off = etls.track(eu.etl_name("off"))
        etls.init_ok(eu.py_spec(off, mode="reverse"))
        assert eu.stop(http, base, off).status_code == 200
        eu.wait_no_servers(off)
        wait_inline(http, base, bck, "o1", up, b"RESTART ME 1")

        c.stop_all()
        # the servers go down with their targets
        eu.wait_no_servers(up)
        c.restart_all()

        for n, d in objs.items():
            wait_inline(http, base, bck, n, up, d.upper())
        ent = eu.list_entry(http, base, up)
        assert ent and ent["stage"] == "Running", eu.etl_list(http, base)
        eu.assert_servers(c, up)
        v = eu.view_ok(http, base, up)
        assert v["init_msg"]["name"] == up
        # env values are never shown (docs/security.md); the inline GETs above prove MODE=upper
        assert v["init_msg"]["runtime"]["env"][0] == {"name": "MODE", "value": "<redacted>"}
        print(f"xid before {xid}, after {ent['xaction_id']}")
        # the stopped one stays stopped, and can be started
        assert eu.stage_of(http, base, off) == "Aborted"
        assert eu.etl_pids(off) == []
        assert eu.start(http, base, off).status_code == 200
        wait_inline(http, base, bck, "o2", off, b"restart me 2"[::-1])
        # every node agrees (the EtlMD reached every proxy)
        for n in c.proxies:
            assert eu.list_entry(http, n.url, up)["stage"] == "Running"
    finally:
        etls.cleanup()


def test_killed_target_does_not_leak_its_etl_server(cluster_factory, http):
    """SIGKILL of a target: its ETL server must not keep running as an orphan (the runtime puts
    it in its own process group, so nothing kills it unless the daemon arranged for it)."""
    c = cluster_factory()
    base = c.url
    etls = eu.Etls(http, base)
    leaked = []
    try:
        name = etls.track(eu.etl_name("orphan"))
        etls.init_ok(eu.py_spec(name))
        victim = c.targets[0]
        mine = [p for p in eu.etl_pids(name) if _descends(p, victim.proc.pid)]
        assert len(mine) == 1, (mine, eu.etl_pids(name))
        c.kill_node(victim)
        deadline = time.monotonic() + lt.tmo(5)
        while _alive(mine[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(mine[0]):
            leaked.append(mine[0])
        victim.start()
        victim.wait_ready(time.monotonic() + lt.READY_TIMEOUT)
        c.wait_smap()
        assert not leaked, (f"ETL server pid {mine[0]} outlived its SIGKILLed target "
                            f"(no PR_SET_PDEATHSIG or equivalent in the runtime)")
    finally:
        for p in leaked:  # we caused it: end it by pid
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        etls.cleanup()


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except OSError:
        return -1


def _descends(pid, ancestor):
    """Whether ancestor is pid's parent, or (a server in the ETL sandbox runs under bwrap) one of
    its parent's ancestors."""
    for _ in range(8):
        pid = _ppid(pid)
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False
