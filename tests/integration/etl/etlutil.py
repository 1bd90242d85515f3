"""
etlutil.py - helpers of the ETL integration tests (test_80..84): ETL specs for the Python
transformer server (py_server.py) and the built-in images, the control-plane calls of
docs/protocol.md §1.6, job helpers (§1.7-1.8), and a census of ETL server processes.

Every ETL server a target starts has AIS_TARGET_URL=<target>/v1/etl/_object/<etl name>/<secret>
in its environment (docs/protocol.md §6), so `etl_pids(name)` finds the servers of one ETL
whatever their command line; the `etls` fixture of the test files stops and deletes what a test
created and then requires those processes to be gone.
"""

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import locustest as lt

HERE = Path(__file__).resolve().parent
PY_SERVER = HERE / "py_server.py"
P = {"provider": "ais"}
PY_IMAGE = "locus-test/py-server:latest"  # not in any image table: the spec's command runs

BUILTIN_IMAGES = {  # built-in transformer -> the AIStore image the node config maps to it
    "md5": "aistorage/transformer_md5:latest",
    "echo": "aistorage/transformer_echo:latest",
    "hello": "aistorage/transformer_hello_world:latest",
    "xxhash": "aistorage/transformer_hash_with_args:latest",
}


def etl_name(prefix="etl"):
    return lt.rand_name(prefix + "-", 8)


def env_list(env):
    return [{"name": k, "value": str(v)} for k, v in env.items()]


def py_spec(name, mode="upper", env=None, obj_timeout=None, init_timeout="30s", **extra):
    """ETLSpecMsg for py_server.py (its own runtime.command; the image is not in any table)."""
    e = {"MODE": mode}
    e.update(env or {})
    spec = {
        "name": name,
        "communication": "hpush://",
        "init_timeout": init_timeout,
        "support_direct_put": False,
        "runtime": {
            "image": PY_IMAGE,
            "command": [sys.executable, str(PY_SERVER), f"--etl={name}"],
            "env": env_list(e),
        },
    }
    if obj_timeout is not None:
        spec["obj_timeout"] = obj_timeout
    spec.update(extra)
    return spec


def builtin_spec(name, which, env=None):
    """AIStore's published spec shape for a reference image (no command: the node maps it)."""
    binary = lt.BIN_DIR / f"locus-etl-{which}"
    if not binary.exists():
        pytest.skip(f"{binary} is not built (the built-in transformer {which} is not finished)")
    spec = {"name": name, "communication": "hpush://", "init_timeout": "30s",
            "obj_timeout": "45s", "runtime": {"image": BUILTIN_IMAGES[which]}}
    if env:
        spec["runtime"]["env"] = env_list(env)
    return spec


# ------------------------------------------------------------------------------------------------
# control plane


def init(http, base, spec, timeout=90):
    return http.put(base + "/v1/etl", json=spec, timeout=lt.tmo(timeout))


def init_ok(http, base, spec, timeout=90):
    r = init(http, base, spec, timeout)
    assert r.status_code == 200, f"init {spec.get('name')}: {r.status_code} {r.text[:1500]}"
    xid = r.text.strip()
    assert xid and '"' not in xid and " " not in xid, f"init must answer the id as text: {r.text!r}"
    return xid


def etl_list(http, base):
    r = http.get(base + "/v1/etl")
    assert r.status_code == 200, f"list etls: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert isinstance(body, list), f"GET /v1/etl must be an array: {body!r:.300}"
    return body


def list_entry(http, base, name):
    return next((e for e in etl_list(http, base) if e.get("id") == name), None)


def view(http, base, name, uuid=None):
    return http.get(f"{base}/v1/etl/{name}", params={"uuid": uuid} if uuid else None)


def view_ok(http, base, name, uuid=None):
    r = view(http, base, name, uuid)
    assert r.status_code == 200, f"view {name}: {r.status_code} {r.text[:300]}"
    return r.json()


def stop(http, base, name):
    return http.post(f"{base}/v1/etl/{name}/stop", timeout=lt.tmo(60))


def start(http, base, name):
    return http.post(f"{base}/v1/etl/{name}/start", timeout=lt.tmo(90))


def delete(http, base, name):
    return http.delete(f"{base}/v1/etl/{name}", timeout=lt.tmo(60))


def stage_of(http, base, name):
    e = list_entry(http, base, name)
    return e and e.get("stage")


def wait_stage(http, base, name, stage, timeout=20):
    """Polls GET /v1/etl/<name> until its stage is `stage`; returns the view."""
    deadline = time.monotonic() + lt.tmo(timeout)
    last = None
    while True:
        r = view(http, base, name)
        if r.status_code == 200:
            last = r.json()
            if last.get("stage") == stage:
                return last
            # the view may lack the stage (AIStore's does): fall back to the list
            if "stage" not in last and stage_of(http, base, name) == stage:
                return last
        else:
            last = f"{r.status_code} {r.text[:300]}"
        assert time.monotonic() < deadline, f"etl {name} did not reach stage {stage}: {last}"
        time.sleep(0.1)


def etl_pids(name):
    """Pids of live processes whose environment carries this ETL's AIS_TARGET_URL: the servers
    themselves, not the bwrap processes of their sandboxes (which carry the environment too)."""
    marker = f"/v1/etl/_object/{name}/".encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/stat", "rb") as f:
                comm, rest = f.read().rsplit(b")", 1)
            state = rest.split()[0]
        except OSError:
            continue
        if comm.endswith(b"(bwrap"):
            continue
        if state != b"Z" and marker in env and b"AIS_TARGET_URL=" in env:
            out.append(int(d))
    return out


def wait_no_servers(name, timeout=10):
    deadline = time.monotonic() + lt.tmo(timeout)
    while True:
        pids = etl_pids(name)
        if not pids:
            return
        if time.monotonic() > deadline:
            cmds = []
            for p in pids:
                try:
                    cmds.append(f"{p}: " + Path(f"/proc/{p}/cmdline").read_bytes()
                                .replace(b"\0", b" ").decode(errors="replace")[:200])
                except OSError:
                    pass
            pytest.fail(f"ETL {name}: server processes still alive {lt.tmo(timeout):.0f}s after "
                        f"stop/delete:\n" + "\n".join(cmds))
        time.sleep(0.1)


class Etls:
    """Tracks the ETLs a test creates; cleanup() stops and deletes them and requires their
    server processes to be gone."""

    def __init__(self, http, base):
        self.http, self.base, self.names = http, base, []

    def track(self, name):
        if name not in self.names:
            self.names.append(name)
        return name

    def init_ok(self, spec, timeout=90):
        self.track(spec["name"])
        return init_ok(self.http, self.base, spec, timeout)

    def init(self, spec, timeout=90):
        self.track(spec["name"])
        return init(self.http, self.base, spec, timeout)

    def cleanup(self):
        for n in self.names:
            try:
                stop(self.http, self.base, n)
                delete(self.http, self.base, n)
            except Exception:  # a broken cluster: the process check below still runs
                pass
        for n in self.names:
            wait_no_servers(n)


# ------------------------------------------------------------------------------------------------
# buckets, objects, jobs


def create_bucket(http, base, bck):
    r = http.post(lt.bck_url(base, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, f"create {bck}: {r.status_code} {r.text[:300]}"


def destroy_bucket(http, base, bck):
    http.delete(lt.bck_url(base, bck), params=P, json=lt.actmsg("destroy-bck"))


def bucket_exists(http, base, bck):
    r = http.head(lt.bck_url(base, bck), params=P)
    assert r.status_code in (200, 404), f"HEAD bucket {bck}: {r.status_code}"
    return r.status_code == 200


def put(http, base, bck, obj, data):
    r = http.put(lt.obj_url(base, bck, obj), params=P, data=data)
    assert r.status_code == 200, f"PUT {bck}/{obj}: {r.status_code} {r.text[:300]}"


def put_many(base, bck, objs, workers=16):
    """Uploads {name: bytes} concurrently, one session per worker thread."""
    import threading
    local = threading.local()

    def one(item):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = lt.Http()
        put(s, base, bck, item[0], item[1])

    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, objs.items()))


def get_many(base, bck, names, workers=16):
    """Downloads names concurrently; {name: (status, bytes)}."""
    import threading
    local = threading.local()

    def one(name):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = lt.Http()
        r = s.get(lt.obj_url(base, bck, name), params=P)
        return name, (r.status_code, r.content)

    with ThreadPoolExecutor(workers) as ex:
        return dict(ex.map(one, names))


def get_obj(http, base, bck, obj, timeout=None, **params):
    kw = {"timeout": timeout} if timeout else {}
    return http.get(lt.obj_url(base, bck, obj), params={**P, **params}, **kw)


def list_names(http, base, bck, prefix=""):
    """Every object name of the bucket (all pages, JSON)."""
    names, token, uuid = [], "", ""
    for _ in range(10000):
        r = http.get(lt.bck_url(base, bck), params=P,
                     json=lt.actmsg("list", lt.lsomsg(prefix=prefix, token=token, uuid=uuid)))
        assert r.status_code == 200, f"list {bck}: {r.status_code} {r.text[:300]}"
        body = r.json()
        names += [e["name"] for e in body["entries"]]
        token, uuid = body["continuation_token"], body.get("uuid", "")
        if not token:
            return names
    pytest.fail("listing did not end")


def tcb_value(etl, **kw):
    """TCBMsg as the SDK's Bucket.transform sends it (§1.7)."""
    v = {"id": etl, "prefix": "", "prepend": "", "dry_run": False, "force": False,
         "latest-ver": False, "synchronize": False, "request_timeout": "5m", "pipeline": None}
    v.update(kw)
    return v


def etl_bck(http, base, src, dst, etl, **kw):
    return http.post(lt.bck_url(base, src), params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"},
                     json=lt.actmsg("etl-bck", tcb_value(etl, **kw)))


def job_id_of(r):
    assert r.status_code == 200, f"{r.request.method} {r.url}: {r.status_code} {r.text[:500]}"
    jid = r.text.strip()
    assert jid and '"' not in jid and " " not in jid, f"job id must be plain text: {r.text!r}"
    return jid


def job_status(http, base, jid):
    r = http.get(base + "/v1/cluster", params={"what": "status"},
                 json={"ID": jid, "Kind": "", "DaemonID": "", "Bck": None, "Buckets": None})
    assert r.status_code == 200, f"job status {jid}: {r.status_code} {r.text[:300]}"
    return r.json()


def wait_job(http, base, jid, timeout=60):
    """Until what=status reports the job ended; returns the status."""
    deadline = time.monotonic() + lt.tmo(timeout)
    while True:
        st = job_status(http, base, jid)
        if st.get("end_time"):
            return st
        assert time.monotonic() < deadline, f"job {jid} did not end within {timeout}s: {st}"
        time.sleep(0.1)


def job_snaps(http, base, jid):
    r = http.get(base + "/v1/cluster", params={"what": "qryxstats"},
                 json={"ID": jid, "Kind": "", "DaemonID": "", "Bck": None, "Buckets": None})
    assert r.status_code == 200, f"qryxstats {jid}: {r.status_code} {r.text[:300]}"
    return r.json()


# ------------------------------------------------------------------------------------------------
# fixture bodies: a test module declares
#     @pytest.fixture
#     def etls(cluster, http):
#         yield from eu.etls_fixture(cluster, http)


def etls_fixture(cluster, http):
    e = Etls(http, cluster.url)
    yield e
    e.cleanup()


def buckets_fixture(cluster, http):
    made = []

    def make(create=True):
        bck = lt.rand_name("etl-")
        if create:
            create_bucket(http, cluster.url, bck)
        made.append(bck)
        return bck

    yield make
    for b in made:
        destroy_bucket(http, cluster.url, b)


def assert_servers(cluster, name, n=None):
    """Exactly n (default: one per target) live server processes of this ETL on this machine.
    Not checked against an external cluster (LOCUS_TEST_USE_DAEMON): its servers may be remote."""
    if getattr(cluster, "external", False):
        return
    want = len(cluster.targets) if n is None else n
    pids = etl_pids(name)
    assert len(pids) == want, f"ETL {name}: {len(pids)} server processes {pids}, want {want}"
