"""70 CLI: `locus cluster up/show/down` and the object commands against that cluster, briefly."""

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


@pytest.fixture
def cli_cluster(tmp_path):
    d = tmp_path / "cli-cluster"
    port = lt.consecutive_free_ports(4)
    env = dict(os.environ, LOCUS_ENDPOINT=f"http://127.0.0.1:{port}")
    env.pop("AIS_ENDPOINT", None)

    def run(*args, check=True, timeout=lt.tmo(60), input=None, cwd=None):
        p = subprocess.run([str(lt.LOCUS_CLI), *map(str, args)], env=env, capture_output=True,
                           timeout=timeout, input=input, cwd=cwd)
        if check:
            assert p.returncode == 0, (f"locus {' '.join(map(str, args))}: rc {p.returncode}\n"
                                       f"stdout: {p.stdout.decode(errors='replace')[-2000:]}\n"
                                       f"stderr: {p.stderr.decode(errors='replace')[-2000:]}")
        return p

    up = run("cluster", "up", "--targets", 3, "--dir", d, "--port", port, timeout=lt.tmo(60), check=False)
    started = lt.pids_in(d)
    try:
        assert up.returncode == 0, f"cluster up: {up.returncode}\n{up.stderr.decode(errors='replace')}"
        assert up.stdout.decode().strip() == f"http://127.0.0.1:{port}"
        # the 4 nodes share this machine's CPUs: at least one HTTP I/O thread each
        want = max(1, len(os.sched_getaffinity(0)) // 4)
        for node in Path(d).glob("*/config.json"):
            assert json.loads(node.read_text())["io_threads"] == want, node
        yield run, d, port
        down = run("cluster", "down", "--dir", d, check=False)
        assert down.returncode == 0, down.stderr.decode(errors="replace")
    finally:
        # Whatever happened: no daemon of ours survives (only the pids of this cluster dir).
        for pid in set(started) | set(lt.pids_in(d)):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.2)


def test_cli_roundtrip(cli_cluster, tmp_path):
    run, d, port = cli_cluster
    base = f"http://127.0.0.1:{port}"
    # Layout of DEV-CONTRACT.md: DIR/<id>/ with config, log, pid, mp1/ mp2/ for targets.
    for nid in ("p1", "t1", "t2", "t3"):
        assert (d / nid / "locusd.log").exists() and (d / nid / "locusd.pid").exists(), nid
    for nid in ("t1", "t2", "t3"):
        assert (d / nid / "mp1").is_dir() and (d / nid / "mp2").is_dir()
    sm = requests.get(base + "/v1/daemon", params={"what": "smap"}, timeout=10).json()
    assert len(sm["tmap"]) == 3 and len(sm["pmap"]) == 1
    out = run("cluster", "show").stdout.decode()
    for nid in ("p1", "t1", "t2", "t3"):
        assert nid in out, out

    src = tmp_path / "tree"
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(70000), "sub/deep/c": b"",
             "sp ace %.txt": b"odd name"}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    run("bucket", "create", "ais://clib")
    run("put", src, "ais://clib")
    out = run("ls", "ais://clib").stdout.decode()
    for rel in files:
        assert rel in out, f"{rel} not in ls output:\n{out}"
    r = requests.get(base + "/v1/buckets/clib", params={"provider": "ais"},
                     json=lt.actmsg("list", lt.lsomsg()), timeout=10)
    assert sorted(e["name"] for e in r.json()["entries"]) == sorted(files)
    out = run("ls", "clib", "--prefix", "sub/").stdout.decode()
    assert "sub/b.bin" in out and "a.txt" not in out
    # get to a file and to stdout
    dst = tmp_path / "b.out"
    run("get", "ais://clib/sub/b.bin", dst)
    assert dst.read_bytes() == files["sub/b.bin"]
    assert run("get", "clib/a.txt", "-").stdout == files["a.txt"]
    # rm
    run("rm", "ais://clib/a.txt")
    assert requests.get(lt.obj_url(base, "clib", "a.txt"), params={"provider": "ais"},
                        timeout=10).status_code == 404
    # bucket cp prints the job id; job wait waits for it
    job = run("bucket", "cp", "ais://clib", "ais://clib2", "--prefix", "sub/").stdout.decode().strip()
    assert job and "\n" not in job, job
    run("job", "wait", job, timeout=lt.tmo(120))
    out = run("ls", "ais://clib2").stdout.decode()
    assert "sub/b.bin" in out and "sub/deep/c" in out and "a.txt" not in out
    assert run("get", "ais://clib2/sub/b.bin", "-").stdout == files["sub/b.bin"]
    # errors: one clear line, non-zero exit
    p = run("get", "ais://clib/missing-object", "-", check=False)
    assert p.returncode != 0
    err = p.stderr.decode().strip()
    assert err and len(err.splitlines()) == 1, f"expected one error line, got: {err!r}"
    run("bucket", "rm", "ais://clib", "ais://clib2")
    out = run("bucket", "ls").stdout.decode()
    assert "clib" not in out


def test_cli_edge_options(cli_cluster, tmp_path):
    """Option values at the edges: a byte range reaching past the largest offset, a page size
    that does not fit the request, and an object named "-" (a file, not stdout)."""
    run, d, port = cli_cluster
    body = bytes(range(256)) * 40
    run("bucket", "create", "ais://edge")
    run("put", "-", "ais://edge/blob", input=body)
    big = str(2**63 - 1)
    # off + len overflows int64: the range is read to the end of the object.
    assert run("get", "edge/blob", "-", "--offset", 2, "--length", big).stdout == body[2:]
    assert run("get", "edge/blob", "-", "--offset", big, "--length", big,
               check=False).returncode == 1
    # --page-size is 32 bits on the wire: 2**32 is a usage error, not a wrap to 0 (the default).
    assert b"blob" in run("ls", "edge", "--page-size", 10000).stdout
    p = run("ls", "edge", "--page-size", 2**32, check=False)
    assert p.returncode == 2 and b"--page-size" in p.stderr, p.stderr
    # An object named "-" without OUT goes to the file ./-, reported under its own name.
    run("put", "-", "ais://edge/-", input=b"dash")
    p = run("get", "ais://edge/-", cwd=tmp_path)
    assert (tmp_path / "-").read_bytes() == b"dash"
    assert p.stdout == b"" and b"=> - (4 B)" in p.stderr, p.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(["-", "cli-cluster"]), os.listdir(tmp_path)
    # OUT a FIFO (as /dev/null is a device): written in place, never replaced by a renamed file
    # (which, run as root on /dev/null, would break /dev/null for the whole host).
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        run("get", "edge/blob", fifo, timeout=lt.tmo(20))
        assert reader.communicate(timeout=lt.tmo(20))[0] == body
    finally:
        reader.kill()
        reader.wait()
    assert fifo.is_fifo()
    assert sorted(os.listdir(tmp_path)) == sorted(["-", "cli-cluster", "pipe"]), os.listdir(tmp_path)
    if os.path.exists("/dev/full"):  # a device that refuses the bytes: a clear error, kept as is
        p = run("get", "edge/blob", "/dev/full", check=False)
        assert p.returncode != 0 and b"No space left" in p.stderr, p.stderr
        assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")
    run("get", "edge/blob", tmp_path)  # a directory: the object goes in it, under its name
    assert (tmp_path / "blob").read_bytes() == body
    run("bucket", "rm", "ais://edge")
