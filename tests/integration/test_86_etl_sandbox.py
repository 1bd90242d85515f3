"""86 the ETL sandbox (issue 10; docs/security.md, "ETL sandbox").

Defect 6: `PUT /v1/etl` with a runtime.command ran the command on every target as root (the init
failed afterwards, the command had run). Now a node that does not allow commands
(etl_allow_commands, default off) refuses such an init with a 4xx before anything runs, at the
proxy and again at each target; and whatever runs, runs under bubblewrap as uid 65534: the
mountpaths read-only, nothing of the node's own state (config, data dir, logs) or of other nodes
visible, within the limits of the spec's `resources`, and stopped with a reason that says so when
it goes over its memory limit.

The probe server below runs from `runtime.command` (python -c), so these tests need a cluster
that allows commands (the suite's clusters do) except where they show the refusal.
"""

import base64
import json
import os
import subprocess
import sys
import time

import pytest

import locustest as lt
from etl import etlutil as eu

# A transformer that reports what it may do instead of transforming: its uid and limits, and the
# outcome of writing the object's FQN, creating a file next to it, deleting it, and reading the
# paths given in etl_args (a JSON list).
PROBE_SERVER = r"""
import json, os, resource, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return f"{type(e).__name__}: {e.strerror}"

def write(path, mode):
    with open(path, mode) as f:
        f.write(b"evil")

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(b"ok")

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        fqn = urllib.parse.unquote(q.get("etl_fqn", [""])[0])
        paths = json.loads(q.get("etl_args", ["[]"])[0])
        rep = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
               "groups": os.getgroups(), "fqn": fqn,
               "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
               "nproc": resource.getrlimit(resource.RLIMIT_NPROC),
               "as": resource.getrlimit(resource.RLIMIT_AS),
               "append": attempt(lambda: write(fqn, "ab")),
               "create": attempt(lambda: write(os.path.join(os.path.dirname(fqn), "planted"), "wb")),
               "unlink": attempt(lambda: os.unlink(fqn)),
               "tmp": attempt(lambda: write("/tmp/scratch", "wb")),
               "read": {p: attempt(lambda p=p: open(p, "rb").read(1)) for p in paths}}
        self.reply(json.dumps(rep).encode())

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""

# A server that leaks: after each request its main loop keeps another 256 MiB (GROW=1), or it
# takes 512 MiB before it even listens (GROW=start). Python raises MemoryError under the limit.
HOG_SERVER = r"""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
hog = []
if os.environ.get("GROW") == "start":
    hog.append(bytearray(512 << 20))

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_PUT(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.grow = True

srv = HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
srv.grow = False
while True:
    srv.handle_request()
    if srv.grow:
        hog.append(bytearray(256 << 20))
"""


def py_command_spec(name, code, comm="hpush://", **extra):
    spec = {"name": name, "communication": comm, "init_timeout": "30s",
            "runtime": {"image": "locus-test/sandbox-probe", "command": [sys.executable, "-c", code]}}
    spec.update(extra)
    return spec


def io_spec(name, script):
    return {"name": name, "communication": "io://",
            "runtime": {"image": "none", "command": ["sh", "-c", script]}}


def owner(cluster, bck, obj):
    return cluster.node(lt.hrw_target(cluster.smap(), bck, obj)["daemon_id"])


def no_commands_flags():
    # builds before the sandbox had no such setting and ran every command (the defect)
    return ["--etl-allow-commands=false"] if lt.etl_sandbox_keys() else []


def assert_absent_for_a_while(paths, seconds=2.0):
    """None of paths appears within `seconds` (a command that ran would have created it)."""
    deadline = time.monotonic() + lt.tmo(seconds)
    while time.monotonic() < deadline:
        made = [str(p) for p in paths if p.exists()]
        assert not made, f"the refused ETL command ran anyway and created {made}"
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------
# Defect 6: commands only where the node allows them


def test_runtime_command_refused_before_it_runs(cluster_factory, http, tmp_path):
    """Regression test for defect 6 (issue 10): on a node without etl_allow_commands a
    runtime.command (a server, or io://) is a 4xx, nothing is stored, and nothing ran on any node;
    images of the table still work."""
    c = cluster_factory(flags=no_commands_flags())
    base = c.url
    canaries = [tmp_path / "server-ran", tmp_path / "io-ran"]
    server = {"name": eu.etl_name("sh"), "init_timeout": "10s",
              "runtime": {"image": "example.com/any:1",
                          "command": ["sh", "-c", f"touch {canaries[0]}; id; sleep 30"]}}
    io = io_spec(eu.etl_name("io"), f"touch {canaries[1]}; id")
    md5 = eu.etl_name("md5")
    try:
        answers = [eu.init(http, base, spec) for spec in (server, io)]
        assert_absent_for_a_while(canaries)
        for spec, r in zip((server, io), answers):
            lt.assert_4xx(r)
            if lt.etl_sandbox_keys():
                body = lt.assert_error(r, 403, "etl_allow_commands")
                assert "not allowed on this node" in body["message"]
            assert eu.list_entry(http, base, spec["name"]) is None, "a refused ETL was stored"
        for spec in (server, io):
            assert eu.etl_pids(spec["name"]) == []
        # the node's image table is not a command of the requester's: it still runs
        eu.init_ok(http, base, eu.builtin_spec(md5, "md5"))
    finally:
        for spec in (server, io, {"name": md5}):
            eu.stop(http, base, spec["name"])
            eu.delete(http, base, spec["name"])
            eu.wait_no_servers(spec["name"])


def test_targets_check_commands_with_their_own_config(cluster_factory, http, tmp_path):
    """A proxy that allows commands does not decide for the targets: each target checks the
    EtlMD entry again with its own config and refuses before anything runs."""
    if not lt.etl_sandbox_keys():
        pytest.skip("this locusd has no etl_allow_commands")
    c = cluster_factory(targets=2)
    for t in c.targets:
        t.extra_flags = ["--etl-allow-commands=false"]
        c.restart_node(t)
    canary = tmp_path / "target-ran"
    name = eu.etl_name("tgt")
    spec = {"name": name, "init_timeout": "10s",
            "runtime": {"image": "example.com/any:1",
                        "command": ["sh", "-c", f"touch {canary}; sleep 30"]}}
    try:
        r = eu.init(http, c.url, spec)
        body = lt.assert_4xx(r)
        assert "refused by t[" in body["message"] and "etl_allow_commands" in body["message"], body
        assert_absent_for_a_while([canary])
        assert eu.etl_pids(name) == []
    finally:
        eu.stop(http, c.url, name)
        eu.delete(http, c.url, name)


# ------------------------------------------------------------------------------------------------
# What a sandboxed ETL can and cannot do


def test_io_command_runs_unprivileged(cluster, http, etls, buckets):
    """The reproduction of the issue, `sh -c 'cat /etc/hostname; id'` over io://, answers with an
    unprivileged uid now, and cannot read the node's config."""
    cluster.require_local()
    bck = buckets()
    eu.put(http, cluster.url, bck, "o.txt", b"data")
    node = owner(cluster, bck, "o.txt")
    name = etls.track(eu.etl_name("io-id"))
    etls.init_ok(io_spec(name, f"id -u; id; cat {node.config} >/dev/null 2>&1 && echo read-config"
                               " || echo no-config"))
    r = eu.get_obj(http, cluster.url, bck, "o.txt", etl_name=name)
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()
    assert lines[0] == "65534" and "uid=0" not in r.text, r.text
    assert lines[-1] == "no-config", r.text


def probe(cluster, http, etls, bck, obj, paths, **spec_extra):
    name = etls.track(eu.etl_name("probe"))
    spec = py_command_spec(name, PROBE_SERVER, argument="fqn", **spec_extra)
    etls.init_ok(spec)
    r = eu.get_obj(http, cluster.url, bck, obj, etl_name=name, etl_args=json.dumps(paths))
    assert r.status_code == 200, r.text
    return name, r.json()


def test_server_cannot_write_mountpaths_or_read_node_state(cluster, http, etls, buckets,
                                                           tmp_path):
    """A server in FQN mode reads its object by path, but cannot change it, create files next to
    it or delete it; it sees no node's config, data dir or log, no other ETL's log, and no file
    outside the paths it is given; it runs as uid 65534 with the default limits."""
    cluster.require_local()
    bck = buckets()
    data = b"precious object bytes\n"
    eu.put(http, cluster.url, bck, "dir/o.bin", data)
    node = owner(cluster, bck, "dir/o.bin")
    other = next(t for t in cluster.targets if t is not node)
    canary = tmp_path / "canary.txt"
    canary.write_text("outside every allowed path\n")
    fqn = lt.fqn(lt.hrw_mountpath(node.mountpaths, bck, "dir/o.bin"), bck, "dir/o.bin")
    assert fqn.is_file()
    other_etl_log = node.dir / "etl" / "other-etl.log"  # as another ETL's log would be
    other_etl_log.write_text("another ETL's log\n")
    secret = [node.config, other.config, cluster.primary.config, node.log, node.dir / "daemon.id",
              node.dir / "smap.json", canary, other_etl_log]
    name, rep = probe(cluster, http, etls, bck, "dir/o.bin", [str(p) for p in secret] + [str(fqn)])
    assert rep["fqn"] == str(fqn), rep
    assert rep["read"][str(fqn)] == "ok", rep  # FQN mode: the object is readable by path
    assert (rep["uid"], rep["euid"], rep["gid"]) == (65534, 65534, 65534), rep
    assert 0 not in rep["groups"], rep
    for what in ("append", "create", "unlink"):  # root's file, on a read-only bind
        assert rep[what] in ("OSError: Read-only file system", "PermissionError: Permission denied"), \
            f"{what} of the FQN: {rep}"
    assert rep["tmp"] == "ok", rep  # a private /tmp
    for p in secret:
        assert rep["read"][str(p)].startswith("FileNotFoundError"), \
            f"the ETL saw {p}: {rep['read'][str(p)]}"
    # the object is intact and nothing was planted next to it
    g = eu.get_obj(http, cluster.url, bck, "dir/o.bin")
    assert g.status_code == 200 and g.content == data
    assert lt.object_files(node, bck) and not any(p.name == "planted" for p in
                                                  lt.object_files(node, bck))
    assert (rep["nofile"], rep["nproc"]) == ([4096, 4096], [4096, 4096]), rep
    default_as = -1 if lt.ASAN else 4 << 30  # RLIM_INFINITY: etl_default_memory 0 (locustest)
    assert rep["as"] == [default_as, default_as], rep
    # the host sees the server as uid 65534 too (not root renamed by a user namespace)
    for pid in eu.etl_pids(name):
        status = open(f"/proc/{pid}/status").read()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids == ["65534"] * 4, (pid, uids)


def test_spec_resources_become_limits(cluster, http, etls, buckets):
    """resources.limits as AIStore spells it (Kubernetes quantities), plus our two keys."""
    cluster.require_local()
    bck = buckets()
    eu.put(http, cluster.url, bck, "o", b"x")
    limits = {"memory": "1536Mi", "cpu": "500m", "locus/open-files": "100",
              "locus/processes": 2000}
    _, rep = probe(cluster, http, etls, bck, "o", [],
                   resources={"requests": {"memory": "256Mi", "cpu": "250m"}, "limits": limits})
    assert rep["as"] == [1536 << 20, 1536 << 20], rep
    assert rep["nofile"] == [100, 100] and rep["nproc"] == [2000, 2000], rep
    bad = py_command_spec(eu.etl_name("badres"), PROBE_SERVER,
                          resources={"limits": {"memory": "a lot"}})
    lt.assert_error(eu.init(http, cluster.url, bad), 400, "resources.limits.memory")


def test_memory_limit_stops_the_etl_with_a_reason(cluster, http, etls, buckets):
    """A server that goes over its memory limit is stopped; the ETL is Aborted with a reason
    that names the limit, in GET /v1/etl/<name>, `locus etl show` and the ETL's log."""
    cluster.require_local()
    bck = buckets()
    eu.put(http, cluster.url, bck, "o", b"payload")
    limit = {"resources": {"limits": {"memory": "128Mi"}}}
    # over the limit while running: the first object goes through, then the leak kills it
    name = etls.track(eu.etl_name("hog"))
    spec = py_command_spec(name, HOG_SERVER, **limit)
    spec["runtime"]["env"] = eu.env_list({"GROW": "1"})
    etls.init_ok(spec)
    r = eu.get_obj(http, cluster.url, bck, "o", etl_name=name)
    assert r.status_code == 200 and r.content == b"payload", r.text
    view = eu.wait_stage(http, cluster.url, name, "Aborted", timeout=30)
    assert "memory limit 128MiB exceeded" in view["reason"], view
    assert "MemoryError" in view["reason"], view
    p = cli(cluster, "etl", "show", name)
    assert "memory limit 128MiB exceeded" in p, p
    logs = http.get(f"{cluster.url}/v1/etl/{name}/logs").json()
    text = b"".join(base64.b64decode(x["logs"]) for x in logs).decode(errors="replace")
    assert "stopped: memory limit 128MiB exceeded" in text, text[-2000:]
    # over the limit at start: the init itself fails with the reason
    name2 = etls.track(eu.etl_name("hog0"))
    spec2 = py_command_spec(name2, HOG_SERVER, resources={"limits": {"memory": "64Mi"}})
    spec2["runtime"]["env"] = eu.env_list({"GROW": "start"})
    lt.assert_4xx(eu.init(http, cluster.url, spec2), "memory limit 64MiB exceeded")
    # under its limit the same server starts and serves
    name3 = etls.track(eu.etl_name("hog1"))
    spec3 = py_command_spec(name3, HOG_SERVER, resources={"limits": {"memory": "1Gi"}})
    spec3["runtime"]["env"] = eu.env_list({"GROW": "start"})
    etls.init_ok(spec3)
    r = eu.get_obj(http, cluster.url, bck, "o", etl_name=name3)
    assert r.status_code == 200 and r.content == b"payload", r.text


def cli(cluster, *args):
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url)
    env.pop("AIS_ENDPOINT", None)
    p = subprocess.run([str(lt.LOCUS_CLI), *args], env=env, capture_output=True, timeout=lt.tmo(30))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode(errors="replace")


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def buckets(cluster, http):
    yield from eu.buckets_fixture(cluster, http)
