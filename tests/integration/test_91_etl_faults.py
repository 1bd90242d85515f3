"""91 ETL faults (issue 4): a direct put to a target that is down, an ETL server killed in the
middle of a ws job, and a server port taken by another process at start. Jobs must end (no hang)
with per-object errors that say what happened, nothing partial may become visible, and a port
clash must not abort the ETL."""

import base64
import os
import signal
import time

import pytest

import locustest as lt
from etl import etlutil as eu


def seed(base, n=600, size=2048):
    http = lt.Http()
    src = lt.rand_name("flt-")
    eu.create_bucket(http, base, src)
    objs = {f"f/o{i}.bin": os.urandom(size) for i in range(n)}
    eu.put_many(base, src, objs, workers=8)
    return http, src, objs


def test_direct_put_to_a_target_that_is_down(cluster_factory):
    # A long keepalive timeout keeps the dead target in the smap: objects still map to it.
    c = cluster_factory(targets=3, flags=["--keepalive-timeout", "60s"])
    base = c.url
    http, src, objs = seed(base)
    name = eu.etl_name("dpdown")
    spec = eu.builtin_spec(name, "echo")
    spec["support_direct_put"] = True
    eu.init_ok(http, base, spec)
    dead = c.targets[-1]
    dead_id = dead.id
    dst = lt.rand_name("flt-")
    t0 = time.monotonic()
    # one worker per target keeps the job going long enough to lose a target in the middle
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, coer=True, **{"num-workers": 1}))
    time.sleep(0.05)
    c.kill_node(dead)
    st = eu.wait_job(http, base, jid, timeout=120)
    print(f"job after the kill: {st}")
    # coer: the lost target costs per-object errors, never the job (an aborted job would leave
    # objects of live targets undone without an error each)
    assert not st["aborted"] and not st["err"], st
    took = time.monotonic() - t0
    assert took < lt.tmo(60), f"job took {took:.0f}s"
    errs = eu.view_ok(http, base, name, uuid=jid)["obj_errors"]
    smap = c.smap()
    to_dead = {o for o in objs if lt.hrw_target(smap, dst, o)["daemon_id"] == dead_id}
    on_dead = {o for o in objs if lt.hrw_target(smap, src, o)["daemon_id"] == dead_id}
    assert to_dead - on_dead, "test setup: no object of a live target maps to the dead one"
    failed = {e["obj_name"].split("/", 3)[3] for e in errs}
    # a live source either delivered before the kill or recorded an error for the dead owner
    got_dead = set()  # cannot read from the dead target: what is not failed was delivered
    assert failed & (to_dead - on_dead), f"no errors for objects bound to the dead target: {errs[:3]}"
    assert failed <= to_dead | on_dead, f"errors for objects unrelated to the dead target: {sorted(failed - to_dead - on_dead)[:5]}"
    for e in errs:
        assert e["ecode"] >= 400 and e["msg"], e
    # everything that had a live source and a live destination arrived, byte for byte
    ok = set(objs) - to_dead - on_dead
    got = eu.get_many(base, dst, sorted(ok))
    for o in ok:
        assert got[o] == (200, objs[o]), f"{o}: {got[o][0]} {got[o][1][:300]!r}; job {st}"
    assert st["end_time"]
    http.post(f"{base}/v1/etl/{name}/stop")
    http.delete(f"{base}/v1/etl/{name}")
    eu.wait_no_servers(name)


def test_etl_server_killed_during_ws_job(cluster, http):
    base = cluster.url
    _, src, objs = seed(base, n=300, size=256 << 10)
    name = eu.etl_name("wskill")
    spec = eu.builtin_spec(name, "echo")
    spec["communication"] = "ws://"
    spec["support_direct_put"] = True
    r = eu.init(http, base, spec)
    if r.status_code == 400 and "not supported" in r.text:
        pytest.skip("ws:// is not available in this build")
    assert r.status_code == 200, r.text
    try:
        dst = lt.rand_name("flt-")
        victims = eu.etl_pids(name)
        assert victims, "no ETL server processes found"
        # The job has its connections once the POST returns; freeze one server right then, so
        # the job is surely in flight on it when it dies (echo runs through these objects in a
        # fraction of a second: killing after a sleep once found the job already done).
        jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, **{"num-workers": 1}))
        os.kill(victims[0], signal.SIGSTOP)
        time.sleep(0.3)
        assert not eu.job_status(http, base, jid)["end_time"], "the job ended with a frozen server"
        os.kill(victims[0], signal.SIGKILL)
        st = eu.wait_job(http, base, jid, timeout=60)
        assert st["aborted"] or st["err"], f"the job must fail: {st}"
        eu.wait_stage(http, base, name, "Aborted", timeout=20)
        # whatever arrived is complete: no partial object is visible
        names = eu.list_names(http, base, dst) if eu.bucket_exists(http, base, dst) else []
        got = eu.get_many(base, dst, names)
        for o in names:
            assert got[o] == (200, objs[o]), f"{o}: partial or wrong"
    finally:
        http.post(f"{base}/v1/etl/{name}/stop")
        http.delete(f"{base}/v1/etl/{name}")
        eu.wait_no_servers(name)
        eu.destroy_bucket(http, base, src)


PORT_THIEF = r"""
# First start on each target: another server (hello, in its own process group, as another
# target's would be) takes our PORT first, so our own server (echo) cannot bind it and exits.
# Later starts run normally.
m="$THIEF_DIR/$(printf %s "$AIS_TARGET_URL" | cksum | cut -d' ' -f1)"
if [ ! -e "$m" ]; then
    touch "$m"
    setsid "$HELLO" </dev/null >/dev/null 2>&1 &
    echo $! >"$m.pid"
    sleep 0.5
fi
exec "$ECHO"
"""


def test_etl_server_port_taken_by_another_process(cluster_factory, http, tmp_path):
    """Two targets on one host may pick the same free port for their servers at the same
    moment. The loser must neither take the winner's /health for its own nor abort the ETL: it
    starts its server again on a new port (a CI run once failed on exactly this).
    The thief here is started by our own command and must outlive it, i.e. leave the ETL
    sandbox's pid namespace, which the sandbox forbids: this cluster runs without the sandbox.
    The clash is seen the same way with it (the other target's server is another group)."""
    cluster = cluster_factory(flags=["--etl-sandbox=false"] if lt.etl_sandbox_keys() else [])
    base = cluster.url
    name = eu.etl_name("thief")
    echo, hello = (str(lt.BIN_DIR / f"locus-etl-{b}") for b in ("echo", "hello"))
    spec = {"name": name, "communication": "hpush://", "init_timeout": "30s",
            "runtime": {"image": "locus-test/port-thief",
                        "command": ["/bin/sh", "-c", PORT_THIEF],
                        "env": eu.env_list({"THIEF_DIR": str(tmp_path), "ECHO": echo,
                                                 "HELLO": hello})}}
    src = lt.rand_name("thief-")
    eu.create_bucket(http, base, src)
    try:
        eu.init_ok(http, base, spec)
        thieves = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
        assert len(thieves) == len(cluster.targets), "every target's first start must be robbed"
        objs = {f"o{i}": os.urandom(100 + i) for i in range(12)}
        eu.put_many(base, src, objs)
        for o, data in objs.items():  # spread over every target, each through its own server
            r = eu.get_obj(http, base, src, o, etl_name=name)
            assert r.status_code == 200 and r.content == data, f"{o}: {r.status_code} {r.text[:300]}"
        logs = http.get(f"{base}/v1/etl/{name}/logs").json()
        for x in logs:
            starts = base64.b64decode(x["logs"]).count(b": starting ")
            assert starts == 2, f"target {x['target_id']}: {starts} starts"
    finally:
        for p in tmp_path.glob("*.pid"):
            try:
                os.kill(int(p.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        http.post(f"{base}/v1/etl/{name}/stop")
        http.delete(f"{base}/v1/etl/{name}")
        eu.wait_no_servers(name)
        eu.destroy_bucket(http, base, src)
