"""88 ETL init and ETL failures as AIStore users expect (issue 13): AIStore's pod-spec init
message (InitSpecMsg, "spec" = base64 Pod YAML) on the process runtime, its rejections, unknown
keys, missing OS/Python packages, a failed init that leaves nothing behind, a server that dies or
keeps failing mid-way (bounded, then aborted with the reason), direct-put byte counts and
`etl show --job` of an unknown job. Runs on the shared cluster; objects are tiny."""

import base64
import hashlib
import os
import signal
import subprocess
import time

import pytest

import locustest as lt
from etl import etlutil as eu


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def buckets(cluster, http):
    yield from eu.buckets_fixture(cluster, http)


# AIStore's documented pod spec (its CLI docs, "Example Pod Spec"), as AIStore users have it.
MD5_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: etl-md5
  annotations:
    communication_type: "hpush://"
    wait_timeout: "5m"
spec:
  containers:
    - name: server
      image: aistorage/transformer_md5:latest
      ports: [{ name: default, containerPort: 8000 }]
      command: ["uvicorn", "fastapi_server:fastapi_app", "--host", "0.0.0.0", "--port", "8000"]
      readinessProbe:
        httpGet: { path: /health, port: default }
"""


def cli(cluster, *args):
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url)
    env.pop("AIS_ENDPOINT", None)
    return subprocess.run([str(lt.LOCUS_CLI), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=lt.tmo(60))


def pod_msg(name, pod, **extra):
    """What the SDK's Etl.init_spec sends."""
    m = {"name": name, "init_timeout": "30s", "obj_timeout": "45s",
         "spec": base64.b64encode(pod.encode()).decode()}
    m.update(extra)
    return m


def py_pod(port=8000):
    """py_server.py as a Pod: its own command (the node allows commands), a port, env."""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: py-pod
spec:
  containers:
  - name: server
    image: {eu.PY_IMAGE}
    command: ["{eu.sys.executable}", "{eu.PY_SERVER}"]
    args: ["--port", "{port}"]
    ports: [{{name: default, containerPort: {port}}}]
    env: [{{name: MODE, value: reverse}}]
    readinessProbe: {{httpGet: {{path: /health, port: default}}}}
  restartPolicy: Never
"""


def test_pod_spec_reference_md5(cluster, http, etls, buckets):
    base = cluster.url
    if not (lt.BIN_DIR / "locus-etl-md5").exists():
        pytest.skip("locus-etl-md5 is not built")
    bck = buckets()
    eu.put(http, base, bck, "a.txt", b"pod spec")
    name = eu.etl_name("md5pod")
    etls.init_ok(pod_msg(name, MD5_POD))
    r = eu.get_obj(http, base, bck, "a.txt", etl_name=name)
    assert r.status_code == 200, r.text
    assert r.content.decode().strip() == hashlib.md5(b"pod spec").hexdigest()
    im = eu.view_ok(http, base, name)["init_msg"]
    assert im["runtime"]["image"] == "aistorage/transformer_md5:latest", im
    assert im["communication"] == "hpush://" and "spec" not in im, im


def test_pod_spec_own_command_port_env_and_cli(cluster, http, etls, buckets):
    base = cluster.url
    bck = buckets()
    eu.put(http, base, bck, "b.txt", b"abc")
    name = eu.etl_name("pypod")
    etls.init_ok(pod_msg(name, py_pod()))
    r = eu.get_obj(http, base, bck, "b.txt", etl_name=name)
    assert r.status_code == 200 and r.content == b"cba", (r.status_code, r.content)
    rt = eu.view_ok(http, base, name)["init_msg"]["runtime"]
    assert rt["command"][-2:] == ["--port", "${PORT}"], rt  # the container port is ours
    # a bucket transform passes etl_args with every object
    dst = buckets(create=False)
    eu.put(http, base, bck, "c.txt", b"xyz")
    st = eu.wait_job(http, base, eu.job_id_of(eu.etl_bck(http, base, bck, dst, name,
                                                         etl_args="A1")))
    assert not st.get("aborted"), st
    got = eu.get_many(base, dst, ["b.txt", "c.txt"])
    assert got == {"b.txt": (200, b"cba|A1"), "c.txt": (200, b"zyx|A1")}, got
    # the CLI sends a Pod YAML file as AIStore's CLI does (the name from metadata, or --name)
    f = cluster.root / f"{name}-pod.yaml"
    f.write_text(py_pod(9001))
    name2 = etls.track(eu.etl_name("clipod"))
    p = cli(cluster, "etl", "init", "-f", f, "--name", name2)
    assert p.returncode == 0, p.stderr
    r = eu.get_obj(http, base, bck, "b.txt", etl_name=name2)
    assert r.status_code == 200 and r.content == b"cba", (r.status_code, r.content)


@pytest.mark.parametrize("pod, needle", [
    ("spec:\n  containers: [{image: a/b, command: [x]}, {image: c/d, command: [y]}]\n",
     "2 containers"),
    ("spec:\n  containers: [{image: a/b, command: [x]}]\n"
     "  volumes: [{name: data, hostPath: {path: /data}}]\n", "volume \"data\" (hostPath)"),
    ("spec:\n  containers: [{image: unknown/image:1}]\n", "unknown image"),
    ("spec:\n  containers: [{image: a/b, command: [x], env: [{name: K, valueFrom: "
     "{secretKeyRef: {name: s, key: k}}}]}]\n", "valueFrom"),
    ("spec:\n  containers: [{image: a/b, comand: [x]}]\n", "unknown key \"comand\""),
    ("kind: Deployment\nspec: {containers: [{image: a/b}]}\n", "kind: Pod"),
    ("spec: [\n", "line"),
])
def test_pod_spec_rejections(cluster, http, pod, needle):
    name = eu.etl_name("badpod")
    r = eu.init(http, cluster.url, pod_msg(name, pod))
    lt.assert_error(r, 400, needle)
    assert eu.view(http, cluster.url, name).status_code == 404  # nothing left behind


def test_misspelled_keys(cluster, http):
    base = cluster.url
    name = eu.etl_name("typo")
    spec = eu.builtin_spec(name, "echo")
    spec["comunication"] = "hpush://"
    lt.assert_error(eu.init(http, base, spec), 400, "unknown key \"comunication\"")
    spec = eu.builtin_spec(name, "echo")
    spec["runtime"]["enV"] = []
    lt.assert_error(eu.init(http, base, spec), 400, "unknown key \"enV\" in runtime")
    lt.assert_error(eu.init(http, base, pod_msg(name, MD5_POD, runtime={"image": "x"})), 400,
                    "exclude each other")


def test_missing_packages_then_retry(cluster, http, etls):
    base = cluster.url
    name = eu.etl_name("pkgs")
    spec = eu.py_spec(name, env={"OS_PACKAGES": "bash,locus-no-such-pkg"})
    r = eu.init(http, base, spec)
    lt.assert_error(r, 400, "locus-no-such-pkg")
    assert "OS_PACKAGES: not installed" in r.text and "bash," not in r.text, r.text
    # a failed init leaves nothing behind: no entry, no server, and the same name inits again
    assert eu.view(http, base, name).status_code == 404
    eu.wait_no_servers(name)
    spec = eu.py_spec(name, env={"PACKAGES": "locus_no_such_dist>=1.0"})
    lt.assert_error(eu.init(http, base, spec), 400, "PACKAGES: not installed")
    etls.init_ok(eu.py_spec(name, env={"OS_PACKAGES": "bash"}))
    assert eu.stage_of(http, base, name) == "Running"
    # io:// (no server) is checked too
    io = {"name": eu.etl_name("iopkg"), "communication": "io://",
          "runtime": {"image": "none", "command": ["cat"],
                      "env": [{"name": "OS_PACKAGES", "value": "locus-no-such-pkg"}]}}
    lt.assert_error(eu.init(http, base, io), 400, "locus-no-such-pkg")
    assert eu.view(http, base, io["name"]).status_code == 404


def test_server_keeps_failing_is_aborted(cluster, http, etls, buckets):
    base = cluster.url
    bck = buckets()
    eu.put(http, base, bck, "bad.txt", b"x")
    name = eu.etl_name("fail5xx")
    etls.init_ok(eu.py_spec(name, mode="fail", env={"FAIL_ON": "bad"}))
    codes = []
    for _ in range(14):  # one object: one target's server, failing every time
        r = eu.get_obj(http, base, bck, "bad.txt", etl_name=name)
        codes.append(r.status_code)
        if r.status_code < 500:
            break
    assert codes[0] == 500 and 400 <= codes[-1] < 500, codes  # bounded, then a clear 4xx
    assert len(codes) <= 12, codes
    v = eu.wait_stage(http, base, name, "Aborted")
    assert "failed 10 requests in a row" in v["reason"], v
    lt.assert_error(r, 400, "failed 10 requests in a row")


def test_server_killed_mid_job(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets(create=False)
    eu.put_many(base, src, {f"o{i}": b"k" * 16 for i in range(24)}, workers=8)
    name = eu.etl_name("killed")
    etls.init_ok(eu.py_spec(name, mode="sleep", env={"SLEEP": "0.25"}))
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, **{"num-workers": 1}))
    time.sleep(0.6)
    for pid in eu.etl_pids(name):
        os.kill(pid, signal.SIGKILL)
    st = eu.wait_job(http, base, jid, timeout=60)
    assert st["aborted"] or st.get("err"), st
    v = eu.wait_stage(http, base, name, "Aborted")
    assert "killed by signal 9" in v["reason"], v
    # the CLI shows it stopped with its reason
    p = cli(cluster, "etl", "show", name)
    assert p.returncode == 0 and "Aborted" in p.stdout and "signal 9" in p.stdout, p.stdout
    p = cli(cluster, "etl", "show", name, "--job", "nosuch")
    assert p.returncode == 1 and "no such job" in p.stderr, (p.returncode, p.stdout, p.stderr)
    lt.assert_error(eu.view(http, base, name, uuid="nosuch"), 404, "no such job")


def test_direct_put_byte_counts(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets(create=False)
    objs = {f"d{i}": os.urandom(1000 + i) for i in range(15)}
    eu.put_many(base, src, objs, workers=8)
    total = sum(len(v) for v in objs.values())
    assert total == 15105  # 14.8 KiB
    name = eu.etl_name("dpcount")
    spec = eu.py_spec(name, mode="reverse", support_direct_put=True)
    etls.init_ok(spec)
    # the CLI's summary counts what the server delivered to other targets (direct put)
    p = cli(cluster, "etl", "bucket", name, src, dst, "--wait")
    assert p.returncode == 0, p.stderr
    jid = p.stdout.strip()
    assert f"transformed 15 objects of ais://{src} into ais://{dst} (14.8 KiB)" in p.stderr, p.stderr
    snaps = eu.job_snaps(http, base, jid)
    st = [s["stats"] for v in snaps.values() for s in v if s["id"] == jid]
    loc, out, inb = (sum(int(s[k]) for s in st) for k in ("loc-bytes", "out-bytes", "in-bytes"))
    assert out == 0 and loc + inb == total, (loc, out, inb, total)  # the server sent them
    ent = eu.list_entry(http, base, name)
    assert ent["obj_count"] == 15 and ent["in_bytes"] == total and ent["out_bytes"] == total, ent
