"""72 cluster CLI: `locus cluster up --mountpaths`, `add-target`, a restart of a stopped cluster
that waits for every node, the membership commands (maintenance, decommission, shutdown-node,
rebalance) and `cluster show`'s flags and rebalance line; the Cluster helpers add_target,
target_mountpaths and wait_rebalance."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

import locustest as lt

pytestmark = pytest.mark.skipif(not lt.LOCUS_CLI.exists(), reason=f"{lt.LOCUS_CLI} not built")

DOWN = 1024
MAINT = 4


def pid_alive(pid):
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st[st.rindex(")") + 2] not in "ZX"


class CliCluster:
    """A `locus cluster up` cluster in tmp dir d on ports from `port`; run() runs the CLI."""

    def __init__(self, d, port):
        self.d, self.port = d, port
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ, LOCUS_ENDPOINT=self.url)
        self.env.pop("AIS_ENDPOINT", None)
        self.started = set()

    def run(self, *args, check=True, timeout=lt.tmo(90)):
        p = subprocess.run([str(lt.LOCUS_CLI), *map(str, args)], env=self.env,
                           capture_output=True, timeout=timeout)
        self.started |= set(lt.pids_in(self.d))
        if check:
            assert p.returncode == 0, (f"locus {' '.join(map(str, args))}: rc {p.returncode}\n"
                                       f"stdout: {p.stdout.decode(errors='replace')[-2000:]}\n"
                                       f"stderr: {p.stderr.decode(errors='replace')[-3000:]}")
        return p

    def up(self, *extra, check=True):
        return self.run("cluster", "up", "--dir", self.d, "--port", self.port, *extra, check=check)

    def down(self):
        return self.run("cluster", "down", "--dir", self.d, check=False)

    def smap(self):
        r = requests.get(self.url + "/v1/daemon", params={"what": "smap"}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def rmd(self):
        r = requests.get(self.url + "/v1/cluster", params={"what": "rmd"}, timeout=10)
        return None if r.status_code in (400, 404) else r.json()

    def require_rmd(self):
        """The primary reports the rebalance state (GET /v1/cluster?what=rmd)."""
        assert self.rmd() is not None, "GET /v1/cluster?what=rmd failed"

    def put_objects(self, bck, n):
        requests.post(lt.bck_url(self.url, bck), params={"provider": "ais"},
                      json=lt.actmsg("create-bck"), timeout=10).raise_for_status()
        data = {f"o{i:03d}": os.urandom(100 + i) for i in range(n)}
        for name, body in data.items():
            r = requests.put(lt.obj_url(self.url, bck, name), params={"provider": "ais"},
                             data=body, timeout=10)
            assert r.status_code == 200, r.text
        return data

    def check_objects(self, bck, data):
        for name, body in data.items():
            r = requests.get(lt.obj_url(self.url, bck, name), params={"provider": "ais"},
                             timeout=10)
            assert r.status_code == 200 and r.content == body, (name, r.status_code, r.text[:200])

    def cleanup(self):
        """Whatever happened: down, then SIGKILL any daemon of this dir still there."""
        self.down()
        for pid in self.started | set(lt.pids_in(self.d)):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.2)


@pytest.fixture
def cli(tmp_path):
    c = CliCluster(tmp_path / "cluster", lt.consecutive_free_ports(6))
    try:
        yield c
    finally:
        c.cleanup()


def test_up_mountpaths_and_add_target(cli):
    cli.up("--targets", 3, "--mountpaths", 3)
    for t in ("t1", "t2", "t3"):
        cfg = json.loads((cli.d / t / "config.json").read_text())
        want = [str(cli.d / t / f"mp{i}") for i in (1, 2, 3)]
        assert cfg["mountpaths"] == want, cfg
        assert all(Path(mp).is_dir() for mp in want)
        assert not (cli.d / t / "mp4").exists()
    p = cli.run("cluster", "add-target", "--dir", cli.d)
    out = p.stdout.decode().split()
    assert out[0] == "t4" and out[1].startswith("http://127.0.0.1:"), p.stdout
    port = int(out[1].rsplit(":", 1)[1])
    assert port == cli.port + 4  # the next free port after the others
    cfg = json.loads((cli.d / "t4" / "config.json").read_text())
    assert cfg["mountpaths"] == [str(cli.d / "t4" / f"mp{i}") for i in (1, 2, 3)]  # as the others
    assert cfg["primary_url"] == cli.url and cfg["port"] == port
    assert cfg["cluster_secret_file"] == str(cli.d / "cluster.secret")
    sm = cli.smap()
    assert sorted(sm["tmap"]) == ["t1", "t2", "t3", "t4"]
    assert requests.get(out[1] + "/v1/health", timeout=5).status_code == 200
    show = cli.run("cluster", "show").stdout.decode()
    assert any(line.split()[:2] == ["t4", "target"] for line in show.splitlines()), show
    assert "FLAGS" in show.splitlines()[0]
    # one with its own mountpath count
    p = cli.run("cluster", "add-target", "--dir", cli.d, "--mountpaths", 1)
    assert p.stdout.decode().split()[0] == "t5"
    assert len(json.loads((cli.d / "t5" / "config.json").read_text())["mountpaths"]) == 1
    # up on the running cluster: a clear refusal that points at add-target
    p = cli.up(check=False)
    assert p.returncode == 1 and b"already running" in p.stderr and b"add-target" in p.stderr
    # down stops the added targets too
    pids = lt.pids_in(cli.d)
    assert len(pids) == 6
    p = cli.down()
    assert p.returncode == 0 and b"stopped 6 nodes" in p.stderr, p.stderr
    assert not any(pid_alive(pid) for pid in pids)


def test_restart_waits_for_every_node(cli):
    cli.up("--targets", 3)
    cli.run("cluster", "add-target", "--dir", cli.d)
    data = cli.put_objects("rst", 30)
    assert cli.down().returncode == 0
    p = cli.run("cluster", "add-target", "--dir", cli.d, check=False)
    assert p.returncode == 1 and b"not running" in p.stderr, p.stderr
    p = cli.up()
    assert b"restarting 1 proxy and 4 targets" in p.stderr, p.stderr
    # Right after `up` returned: every node healthy, every object readable, nobody DOWN.
    sm = cli.smap()
    assert sorted(sm["tmap"]) == ["t1", "t2", "t3", "t4"]
    for nid, sn in {**sm["pmap"], **sm["tmap"]}.items():
        r = requests.get(sn["public_net"]["direct_url"] + "/v1/health", timeout=5)
        assert r.status_code == 200, (nid, r.status_code)
        assert not int(sn.get("flags", 0)) & DOWN, (nid, sn)
    cli.check_objects("rst", data)


def test_restart_timeout_names_the_missing_node(cli):
    cli.up("--targets", 2)
    assert cli.down().returncode == 0
    # t2 of the saved map cannot start (its config is gone; --targets 1 does not make a new one):
    # up waits for it, then names it and fails
    (cli.d / "t2" / "config.json").unlink()
    p = cli.up("--targets", 1, "--timeout", "3s", check=False)
    err = p.stderr.decode()
    assert p.returncode == 1 and "timed out" in err and "t2 (" in err, err
    assert "t1 (" not in err, err


def test_bad_inputs(cli, tmp_path):
    p = cli.run("cluster", "add-target", "--dir", tmp_path / "missing", check=False)
    assert p.returncode == 1 and b"no cluster in" in p.stderr, p.stderr
    assert not (tmp_path / "missing").exists()
    for n in (0, 65, "x"):
        p = cli.up("--mountpaths", n, check=False)
        assert p.returncode == 2 and b"--mountpaths" in p.stderr, p.stderr
        p = cli.run("cluster", "add-target", "--dir", cli.d, "--mountpaths", n, check=False)
        assert p.returncode == 2 and b"--mountpaths" in p.stderr, p.stderr
    assert not cli.d.exists()
    for args in (("maintenance", "t1"), ("maintenance", "pause", "t1"), ("decommission",),
                 ("shutdown-node",), ("rebalance", "extra")):
        p = cli.run("cluster", *args, check=False)
        assert p.returncode == 2 and p.stderr, (args, p.stderr)
    # the endpoint is down: a clear one-line error
    p = cli.run("cluster", "rebalance", check=False)
    assert p.returncode == 1 and len(p.stderr.decode().strip().splitlines()) == 1, p.stderr


# ------------------------------------------------------------------------------------------------
# Membership through the proxy: maintenance, decommission, shutdown-node, rebalance.

def test_maintenance_cli(cli):
    cli.up("--targets", 3)
    cli.require_rmd()
    data = cli.put_objects("mnt", 40)
    p = cli.run("cluster", "maintenance", "start", "t[t1]", "--wait", "--timeout", "60s")
    job = p.stdout.decode().strip()
    assert job.startswith("g"), p.stdout
    assert b"rebalance " + job.encode() + b": done" in p.stderr, p.stderr
    assert int(cli.smap()["tmap"]["t1"]["flags"]) & MAINT
    show = cli.run("cluster", "show").stdout.decode()
    t1 = next(line for line in show.splitlines() if line.startswith("t1 "))
    assert "maintenance" in t1, show
    assert f"rebalance {job}: done" in show, show
    j = json.loads(cli.run("cluster", "show", "--json").stdout)
    assert j["rmd"]["id"] == job and j["rmd"]["state"] == "done"
    cli.check_objects("mnt", data)
    p = cli.run("cluster", "maintenance", "stop", "t1", "--wait", "--timeout", "60s")
    assert not int(cli.smap()["tmap"]["t1"]["flags"]) & MAINT
    cli.check_objects("mnt", data)
    p = cli.run("cluster", "maintenance", "start", "t99", check=False)
    assert p.returncode == 1 and p.stderr, p.stderr


def test_decommission_cli(cli):
    cli.up("--targets", 3)
    cli.require_rmd()
    t4 = cli.run("cluster", "add-target", "--dir", cli.d).stdout.decode().split()[0]
    pid = int((cli.d / t4 / "locusd.pid").read_text())
    data = cli.put_objects("dcm", 40)
    p = cli.run("cluster", "decommission", t4, "--wait", "--timeout", "60s")
    assert p.stdout.decode().strip().startswith("g"), p.stdout
    assert t4 not in cli.smap()["tmap"]
    cli.check_objects("dcm", data)
    deadline = time.monotonic() + lt.tmo(15)
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(pid), "the decommissioned target still runs"


def test_shutdown_node_and_rebalance_cli(cli):
    cli.up("--targets", 3)
    cli.require_rmd()
    p = cli.run("cluster", "rebalance", "--wait", "--timeout", "60s")
    job = p.stdout.decode().strip()
    assert job.startswith("g") and cli.rmd()["state"] == "done", (p.stdout, p.stderr)
    pid = int((cli.d / "t3" / "locusd.pid").read_text())
    cli.run("cluster", "shutdown-node", "t3")
    deadline = time.monotonic() + lt.tmo(15)
    while (pid_alive(pid) or not int(cli.smap()["tmap"].get("t3", {}).get("flags", 0)) & DOWN) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(pid)
    assert int(cli.smap()["tmap"]["t3"]["flags"]) & DOWN
    show = cli.run("cluster", "show").stdout.decode()
    t3 = next(line for line in show.splitlines() if line.startswith("t3 "))
    assert "down" in t3, show


# ------------------------------------------------------------------------------------------------
# The Cluster helpers of locustest.py

def test_cluster_helpers_add_target(cluster_factory):
    c = cluster_factory(targets=2, target_mountpaths=3)
    for t in c.targets:
        assert len(t.mountpaths) == 3
        assert json.loads(t.config.read_text())["mountpaths"] == [str(mp) for mp in t.mountpaths]
    t = c.add_target()
    assert len(t.mountpaths) == 3 and t.id.startswith("t3")
    assert sorted(c.smap()["tmap"]) == sorted(n.id for n in c.targets)
    t1 = c.add_target(mountpaths=1)
    assert len(t1.mountpaths) == 1 and t1.id.startswith("t4")
    rmd = c.wait_rebalance(timeout=lt.tmo(60))
    assert rmd is None or rmd["state"] in ("done", "none", "failed", "aborted"), rmd
