"""41 jobs you can see (docs/protocol.md §1.8): GET /v1/cluster what=qryxstats without an id,
what=status_all and what=running_all with AIStore's QueryMsg filters (kind, bck, show_active),
bad filters answered 400, stop-xaction by kind, and `locus job ls|show|stop`."""

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import locustest as lt

HERE = os.path.dirname(os.path.abspath(__file__))
PY_SERVER = os.path.join(HERE, "etl", "py_server.py")
P = {"provider": "ais"}


def cli(cluster, *args):
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url, LOCUS_TOKEN=cluster.token or "")
    return subprocess.run([str(lt.LOCUS_CLI), *args], env=env, capture_output=True, text=True,
                          timeout=lt.tmo(60))


def query(http, base, what, msg=None, **params):
    return http.get(base + "/v1/cluster", params={"what": what, **params}, json=msg)


def put_objects(http, base, bck, n, size=10):
    with ThreadPoolExecutor(8) as ex:
        for r in ex.map(lambda i: http.put(lt.obj_url(base, bck, f"o{i}"), params=P,
                                           data=b"x" * size), range(n)):
            assert r.status_code == 200, r.text


def start(http, base, action, src, dst, value):
    r = http.post(lt.bck_url(base, src), params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"},
                  json=lt.actmsg(action, value))
    assert r.status_code == 200, r.text
    return r.text.strip()


def wait_end(http, base, job, timeout=30):
    deadline = time.monotonic() + lt.tmo(timeout)
    while True:
        st = query(http, base, "status", {"ID": job}).json()
        if st["end_time"]:
            return st
        assert time.monotonic() < deadline, f"job {job} still running: {st}"
        time.sleep(0.1)


@pytest.fixture
def env(cluster, http):
    """A finished copy-bck (src -> cp) and a slow running etl-bck (src -> tx)."""
    base = cluster.url
    src, cp, tx = (lt.rand_name("jls-") for _ in range(3))
    etl = lt.rand_name("slow-").lower()
    r = http.post(lt.bck_url(base, src), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    try:
        put_objects(http, base, src, 12)
        copy = start(http, base, "copy-bck", src, cp, {"prefix": ""})
        assert wait_end(http, base, copy)["err"] == ""
        spec = {"name": etl, "communication": "hpush://", "obj_timeout": "30s",
                "runtime": {"image": "local/py", "command": ["/usr/bin/python3", PY_SERVER],
                            "env": [{"name": "MODE", "value": "sleep"},
                                    {"name": "SLEEP", "value": "1.5"}]}}
        r = http.put(base + "/v1/etl", json=spec, timeout=lt.tmo(60))
        assert r.status_code == 200, r.text
        slow = start(http, base, "etl-bck", src, tx, {"id": etl, "num-workers": 1})
        yield {"src": src, "cp": cp, "tx": tx, "copy": copy, "slow": slow}
    finally:
        http.put(base + "/v1/cluster", json=lt.actmsg("stop-xaction", {"kind": "etl-bck"}))
        http.post(base + f"/v1/etl/{etl}/stop")
        http.delete(base + f"/v1/etl/{etl}")
        for b in (src, cp, tx):
            http.delete(lt.bck_url(base, b), params=P, json=lt.actmsg("destroy-bck"))


def test_list_filter_stop(cluster, http, env):
    base = cluster.url
    copy, slow = env["copy"], env["slow"]

    # running_all: AIStore's sorted "kind[id]" names of running jobs only
    r = query(http, base, "running_all")
    assert r.status_code == 200, r.text
    names = r.json()
    assert f"etl-bck[{slow}]" in names and names == sorted(names), names
    assert not any(copy in n for n in names), names

    # qryxstats without an id: {target: [snap]} of the selected jobs
    r = query(http, base, "qryxstats", {"kind": "etl-bck", "show_active": True})
    assert r.status_code == 200, r.text
    per = r.json()
    assert per and all(isinstance(v, list) for v in per.values()), per
    ids = {s["id"] for v in per.values() for s in v}
    assert slow in ids and copy not in ids
    assert all(s["kind"] == "etl-bck" and "end_ns" not in s for v in per.values() for s in v)
    r = query(http, base, "qryxstats", {"kind": "", "bck": {"name": env["cp"], "provider": "ais"},
                                        "show_active": False})
    assert {s["id"] for v in r.json().values() for s in v} == {copy}, r.text
    r = query(http, base, "qryxstats", None, kind="copy-bck", bck=env["src"])  # query params
    assert copy in {s["id"] for v in r.json().values() for s in v}, r.text

    # status_all: one nl.Status per job, aggregated over the targets as what=status
    r = query(http, base, "status_all", {"kind": "", "bck": {"name": env["src"]}})
    assert r.status_code == 200, r.text
    vec = {s["uuid"]: s for s in r.json()}
    assert set(vec) >= {copy, slow}, vec
    assert vec[copy]["end_time"] > 0 and vec[copy]["kind"] == "copy-bck"
    assert vec[slow]["end_time"] == 0 and not vec[slow]["aborted"]
    one = query(http, base, "status", {"ID": copy}).json()
    assert vec[copy] == one
    r = query(http, base, "status_all", {"show_active": True})
    assert copy not in {s["uuid"] for s in r.json()}, r.text
    r = query(http, base, "status_all", {"ID": copy})  # with an id: that job only
    assert [s["uuid"] for s in r.json()] == [copy], r.text

    # bad input: 400 before any target is asked
    for what, msg, params in (("qryxstats", {"kind": "no-such-kind"}, {}),
                              ("status_all", {"show_active": "yes"}, {}),
                              ("running_all", {"bck": "not-an-object"}, {}),
                              ("qryxstats", {"bck": {"name": "b", "provider": "gcp"}}, {}),
                              ("status_all", None, {"bck": "../x"}),
                              ("qryxstats", None, {"show_active": "maybe"}),
                              ("no-such-what", None, {})):
        lt.assert_error(query(http, base, what, msg, **params), 400)
    lt.assert_error(http.put(base + "/v1/cluster", json=lt.actmsg("stop-xaction",
                                                                  {"kind": "bogus"})), 400)

    # the CLI: ls (running by default, --all with finished ones), --json
    p = cli(cluster, "job", "ls")
    assert p.returncode == 0, p.stderr
    assert "STATE" in p.stdout and slow in p.stdout and copy not in p.stdout, p.stdout
    p = cli(cluster, "job", "ls", "--all", "--bucket", env["src"], "--json")
    assert p.returncode == 0, p.stderr
    rows = {r["id"]: r for r in json.loads(p.stdout)}
    assert rows[copy]["state"] == "finished" and rows[copy]["objects"] == 12, rows[copy]
    assert rows[copy]["bucket"] == f"{env['src']} -> {env['cp']}"
    assert rows[slow]["state"] == "running" and rows[slow]["end"] == ""
    p = cli(cluster, "job", "ls", "--all", "--kind", "copy-bck", "--bucket", env["cp"])
    assert p.returncode == 0 and copy in p.stdout and slow not in p.stdout, p.stdout
    p = cli(cluster, "job", "ls", "--kind", "nope")
    assert p.returncode == 1 and "invalid job kind" in p.stderr, p.stderr

    # stop by kind: every running etl-bck stops, the count says how many (per target)
    p = cli(cluster, "job", "stop")
    assert p.returncode == 2, p.stderr
    p = cli(cluster, "job", "stop", "--kind", "etl-bck")
    assert p.returncode == 0, p.stderr
    assert "asked to stop" in p.stdout and not p.stdout.startswith("0 "), p.stdout
    st = wait_end(http, base, slow, timeout=10)
    assert st["aborted"] is True and "abort" in st["err"], st
    assert slow not in query(http, base, "running_all").json()
    r = http.put(base + "/v1/cluster", json=lt.actmsg("stop-xaction", {"kind": "etl-bck"}))
    assert r.status_code == 200 and r.json() == {"stopped": 0}, r.text
    r = http.put(base + "/v1/cluster", json=lt.actmsg("stop-xaction", {"id": "", "kind": ""}))
    lt.assert_error(r, 400)  # as AIStore: a kind or an id
    p = cli(cluster, "job", "stop", "--all")
    assert p.returncode == 0, p.stderr

    # job show: per-target errors, and an unknown id
    p = cli(cluster, "job", "show", slow)
    assert p.returncode == 0 and "aborted" in p.stdout, p.stdout
    p = cli(cluster, "job", "show", "nosuchjob")
    assert p.returncode == 1 and "no such job" in p.stderr, p.stderr
    p = cli(cluster, "job", "stop", "nosuchjob")
    assert p.returncode == 1 and "no such job" in p.stderr, p.stderr
    p = cli(cluster, "job", "stop", copy)  # already ended: nothing to do, no error
    assert p.returncode == 0, p.stderr


def test_show_object_errors(cluster, http):
    """`job show` prints the per-object errors of a job that had them (a transform that fails
    for some objects, continuing on error)."""
    base = cluster.url
    src, dst = lt.rand_name("jls-"), lt.rand_name("jls-")
    etl = lt.rand_name("fail-").lower()
    r = http.post(lt.bck_url(base, src), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    try:
        for name in ("good-1", "bad-1"):
            assert http.put(lt.obj_url(base, src, name), params=P, data=b"x").status_code == 200
        spec = {"name": etl, "communication": "hpush://",
                "runtime": {"image": "local/py", "command": ["/usr/bin/python3", PY_SERVER],
                            "env": [{"name": "MODE", "value": "fail"},
                                    {"name": "FAIL_ON", "value": "bad"}]}}
        r = http.put(base + "/v1/etl", json=spec, timeout=lt.tmo(60))
        assert r.status_code == 200, r.text
        job = start(http, base, "etl-bck", src, dst, {"id": etl, "coer": True})
        wait_end(http, base, job)
        r = query(http, base, "qryxstats", {"ID": job}, errors="true")
        errs = [e for v in r.json().values() for s in v for e in s.get("obj_errors", [])]
        assert errs, r.text
        p = cli(cluster, "job", "show", job)
        assert p.returncode == 0, p.stderr
        assert "object errors (1)" in p.stdout and "bad-1" in p.stdout, p.stdout
    finally:
        http.post(base + f"/v1/etl/{etl}/stop")
        http.delete(base + f"/v1/etl/{etl}")
        for b in (src, dst):
            http.delete(lt.bck_url(base, b), params=P, json=lt.actmsg("destroy-bck"))
