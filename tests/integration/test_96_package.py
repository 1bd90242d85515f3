"""96 The Debian package (issue 14, "A real deployment"; docs/deploy.md): `scripts/mkdeb.sh` (what
`make deb` runs) builds it from the build directory; it installs with dpkg into a fresh root (an
empty dpkg database and a passwd with root only: `dpkg --root` runs the maintainer scripts with
DPKG_ROOT, as for a chroot); its postinst makes the locus user and the cluster secret there; every
library it depends on is installed on this machine. A proxy and a target then start from the
units' own ExecStart lines (their paths taken inside the fresh root, ports moved to free ones),
and the packaged CLI stores, reads, lists and transforms through the packaged ETL transformer.
Purge removes the package and the secret and keeps the data. The units pass `systemd-analyze
verify`, and their exposure (`systemd-analyze security`) stays low.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import requests

import locustest as lt

SRC = lt.REPO_ROOT
BUILD = lt.BIN_DIR.parent

pytestmark = pytest.mark.skipif(lt.ASAN, reason="packaging, not memory: the plain build's job")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    p = subprocess.run([str(SRC / "scripts" / "mkdeb.sh"), str(BUILD), str(out)],
                       capture_output=True, text=True, timeout=lt.tmo(300))
    assert p.returncode == 0, p.stderr
    path = p.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r".*/locus_[0-9][^_]*_[a-z0-9]+\.deb", path), path
    return path


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def fresh_root(tmp_path):
    root = tmp_path / "root"
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
        (root / d).mkdir(parents=True)
    for f in ("var/lib/dpkg/status", "var/lib/dpkg/available"):
        (root / f).touch()
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\n")
    return root


def dpkg(root, *args):
    return subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless",
                           "--force-depends", f"--log={root}/dpkg.log", *args],
                          capture_output=True, text=True, timeout=lt.tmo(120))


def installed_version(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
                       capture_output=True, text=True)
    status, _, ver = p.stdout.partition("\t")
    return ver if p.returncode == 0 and status.endswith("install ok installed") else None


def test_depends_are_installed_here(deb):
    """Every dependency the package declares (dpkg-shlibdeps' libraries, bubblewrap) is
    satisfied on this machine: the package installs with apt on Debian 12."""
    unmet = []
    for dep in field(deb, "Depends").split(","):
        alts = [a.strip() for a in dep.split("|")]
        ok = False
        for a in alts:
            m = re.fullmatch(r"([a-z0-9.+-]+)(?:\s*\(([<>=]+)\s*([^)]+)\))?", a)
            assert m, a
            ver = installed_version(m[1])
            if ver is None:
                continue
            if m[2] is None or subprocess.run(["dpkg", "--compare-versions", ver, m[2].replace(
                    ">=", "ge").replace("<=", "le").replace(">>", "gt").replace("<<", "lt").replace(
                    "=", "eq"), m[3]]).returncode == 0:
                ok = True
        if not ok:
            unmet.append(dep.strip())
    assert not unmet, unmet
    assert "bubblewrap" in field(deb, "Depends")


def unit_exec_start(root, unit, instance):
    """The unit's ExecStart with %i expanded and absolute paths taken inside root."""
    text = (root / "lib/systemd/system" / unit).read_text()
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    argv = line.split("=", 1)[1].replace("%i", instance).split()
    return [str(root) + a if a.startswith("/") else a for a in argv]


def node_config(root, name, port, primary_port=None):
    """The packaged config with this test's ports and paths (inside root)."""
    path = root / "etc/locus" / f"{name}.json"
    cfg = json.loads(path.read_text())
    cfg["port"] = port
    cfg["data_dir"] = str(root) + cfg["data_dir"]
    cfg["cluster_secret_file"] = str(root) + cfg["cluster_secret_file"]
    cfg["log_file"] = str(root / f"{name}.log")
    if "mountpaths" in cfg:
        cfg["mountpaths"] = [str(root) + m for m in cfg["mountpaths"]]
        for m in cfg["mountpaths"]:
            os.makedirs(m, exist_ok=True)
    if primary_port:
        cfg["primary_url"] = f"http://127.0.0.1:{primary_port}"
    os.makedirs(cfg["data_dir"], exist_ok=True)
    path.write_text(json.dumps(cfg, indent=2))


def cli(root, port, *args, **kw):
    env = dict(lt.daemon_env(), LOCUS_ENDPOINT=f"http://127.0.0.1:{port}")
    return subprocess.run([str(root / "usr/bin/locus"), *args], capture_output=True, text=True,
                          env=env, timeout=lt.tmo(60), **kw)


def test_install_start_smoke_purge(deb, tmp_path):
    root = fresh_root(tmp_path)
    p = dpkg(root, "-i", deb)
    assert p.returncode == 0, p.stdout + p.stderr
    # postinst: the user, the secret (the user's, 0600, 32 random bytes in hex), the state dir
    users = dict(ln.split(":")[0:3:2] for ln in (root / "etc/passwd").read_text().splitlines())
    assert "locus" in users and users["locus"] != "0"
    assert re.search(r"^locus:x:\d+:", (root / "etc/group").read_text(), re.M)
    secret = root / "etc/locus/cluster.secret"
    assert re.fullmatch(r"[0-9a-f]{64}", secret.read_text())
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    assert str(secret.stat().st_uid) == users["locus"]
    assert (root / "var/lib/locus").is_dir()
    # the daemon's helpers sit next to the real locusd; /usr/bin links to it
    assert os.path.realpath(root / "usr/bin/locusd") == str(root / "usr/lib/locus/bin/locusd")
    for helper in ("locus-sandbox-exec", "locus-etl-md5", "locus-etl-python-runtime.py"):
        assert (root / "usr/lib/locus/bin" / helper).exists(), helper
    assert sorted(p.name for p in (root / "etc/locus").glob("*.json")) == [
        "proxy-p1.json", "target-t1.json"]

    pport, tport = lt.free_ports(2)
    node_config(root, "proxy-p1", pport)
    node_config(root, "target-t1", tport, primary_port=pport)
    procs = []
    try:
        for unit, inst in (("locus-proxy@.service", "p1"), ("locus-target@.service", "t1")):
            argv = unit_exec_start(root, unit, inst)
            assert argv[0] == str(root / "usr/bin/locusd"), argv
            procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                          stderr=open(root / f"{inst}.stderr", "w"),
                                          preexec_fn=lt._child_setup, env=lt.daemon_env()))
        deadline = time.monotonic() + lt.READY_TIMEOUT
        while True:
            try:
                sm = requests.get(f"http://127.0.0.1:{pport}/v1/daemon?what=smap", timeout=2).json()
                if "t1" in sm.get("tmap", {}):
                    break
            except (requests.RequestException, ValueError):
                pass
            assert time.monotonic() < deadline, lt.tail(root / "t1.stderr")
            assert all(pr.poll() is None for pr in procs), lt.tail(root / "p1.stderr")
            time.sleep(0.2)
        assert cli(root, pport, "bucket", "create", "ais://pkg").returncode == 0
        src = tmp_path / "hello.txt"
        src.write_bytes(b"hello from a package\n")
        r = cli(root, pport, "put", str(src), "ais://pkg/hello.txt")
        assert r.returncode == 0, r.stderr
        r = cli(root, pport, "get", "ais://pkg/hello.txt", "-")
        assert r.returncode == 0 and r.stdout == "hello from a package\n", r.stderr
        r = cli(root, pport, "ls", "ais://pkg")
        assert r.returncode == 0 and "hello.txt" in r.stdout, r.stdout + r.stderr
        # ETL through the packaged transformer (the image table maps AIStore's md5 image to
        # locus-etl-md5 next to locusd)
        r = cli(root, pport, "etl", "init", "-f", str(SRC / "transformers/md5/etl_spec.yaml"))
        assert r.returncode == 0, r.stdout + r.stderr
        r = cli(root, pport, "etl", "object", "md5-etl", "ais://pkg/hello.txt", "-")
        assert r.returncode == 0, r.stderr
        import hashlib
        assert r.stdout.strip() == hashlib.md5(b"hello from a package\n").hexdigest()
    finally:
        for pr in procs:
            pr.send_signal(signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(timeout=lt.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pr.kill()
    # purge: the package's files and the secret go, the objects stay
    p = dpkg(root, "--purge", "locus")
    assert p.returncode == 0, p.stdout + p.stderr
    assert not (root / "usr/lib/locus/bin/locusd").exists()
    assert not (root / "etc/locus").exists()
    assert list((root / "var/lib/locus/t1/mp1").rglob("hello.txt")), "purge removed objects"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_units_verify_and_are_hardened(tmp_path):
    """Each unit parses (`systemd-analyze verify`, with ExecStart pointing at a built locusd), and
    its exposure stays low: a proxy needs only its state and the network; a target also runs the
    ETL sandbox (namespaces, mount), so it is allowed more."""
    limits = {"locus-proxy@.service": 2.0, "locus-target@.service": 4.5}
    for unit, limit in limits.items():
        inst = unit.replace("@.", "@x.")
        text = (SRC / "deploy/systemd" / unit).read_text()
        for key in ("User=locus", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                    "PrivateTmp=yes", "CapabilityBoundingSet=\n"):
            assert key in text, (unit, key)
        text = text.replace("/usr/bin/locusd", str(lt.LOCUSD))
        (tmp_path / inst).write_text(text)
        p = subprocess.run(["systemd-analyze", "verify", str(tmp_path / inst)],
                           capture_output=True, text=True, timeout=60)
        bad = [ln for ln in (p.stdout + p.stderr).splitlines()
               if inst in ln and "sysinit.target" not in ln]
        assert not bad, bad
        p = subprocess.run(["systemd-analyze", "security", "--offline=true", str(tmp_path / inst)],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([\d.]+)", p.stdout + p.stderr)
        assert m, p.stdout + p.stderr
        assert float(m[1]) <= limit, (unit, m[0])


def test_k8s_manifests_are_consistent():
    """deploy/k8s (no cluster here to apply them to): every workload's selector matches its pod
    labels, every mount has its volume, every Service selects pods that expose its target port,
    the StatefulSet's service is headless, the configs in the ConfigMap parse and use only keys
    locusd knows (deploy/locusd.example.json), and the targets' primary URL is a Service."""
    import yaml
    docs = []
    for f in sorted((SRC / "deploy/k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    assert set(by_kind) >= {"ConfigMap", "Service", "Deployment", "StatefulSet"}, set(by_kind)
    (cm,) = by_kind["ConfigMap"].values()
    known = {k for k in json.loads((SRC / "deploy/locusd.example.json").read_text())
             if not k.startswith("_")} | {"mountpaths", "id"}
    for key, text in cm["data"].items():
        cfg = json.loads(text)
        assert set(cfg) <= known, (key, set(cfg) - known)
    workloads = list(by_kind["Deployment"].values()) + list(by_kind["StatefulSet"].values())
    for w in workloads:
        spec, pod = w["spec"], w["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), w["metadata"]["name"]
        vols = {v["name"] for v in pod["spec"]["volumes"]}
        vols |= {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            for m in c.get("volumeMounts", []):
                assert m["name"] in vols, (w["metadata"]["name"], m)
        for v in pod["spec"]["volumes"]:
            if "configMap" in v:
                assert v["configMap"]["name"] in by_kind["ConfigMap"]
        for c in pod["spec"]["containers"]:
            args = c["args"]
            conf = args[args.index("--config") + 1]
            assert conf.startswith("/etc/locus/") and conf[len("/etc/locus/"):] in cm["data"], conf
    for s in by_kind["Service"].values():
        sel = s["spec"]["selector"]
        pods = [w for w in workloads if sel.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert pods, s["metadata"]["name"]
        for port in s["spec"]["ports"]:
            for w in pods:
                names = {p["name"] for c in w["spec"]["template"]["spec"]["containers"]
                         for p in c.get("ports", [])}
                assert port["targetPort"] in names, (s["metadata"]["name"], port)
    for st in by_kind["StatefulSet"].values():
        assert by_kind["Service"][st["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    target = json.loads(cm["data"]["target.json"])
    host = re.match(r"http://([^:/]+)", target["primary_url"])[1]
    assert host in by_kind["Service"], host
