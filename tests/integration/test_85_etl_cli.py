"""85 ETL CLI: `locus etl ...` end to end against the shared cluster, with the Python transformer
tests/integration/etl/py_server.py (MODE=upper) and a reference spec file for the built-ins:
init from YAML (one and several documents, bad YAML, server-rejected specs), show, inline and
copy transforms of one object, bucket transforms with --ext/--prefix/--prepend/--wait (every
output checked), --cont-on-err, stop/start/rm, logs, health."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

import locustest as lt

pytestmark = pytest.mark.skipif(not lt.LOCUS_CLI.exists(), reason=f"{lt.LOCUS_CLI} not built")

PY_SERVER = Path(__file__).resolve().parent / "etl" / "py_server.py"
REF_SPECS = lt.REPO_ROOT / "tests" / "assets" / "aistore-specs"


def py_spec(name, mode="upper", extra_env=()):
    """A YAML runtime spec for py_server.py (comments, quoting and flow style on purpose)."""
    env = "".join(f'    - name: {k}\n      value: "{v}"\n' for k, v in extra_env)
    return (f"# the Python transformer of the integration tests\n"
            f"name: {name}\n"
            f"runtime:\n"
            f"  image: local/py-server:latest   # any name: the command runs\n"
            f"  command: [\"/usr/bin/python3\", \"{PY_SERVER}\"]\n"
            f"  env:\n"
            f"    - name: MODE\n"
            f"      value: {mode}\n"
            f"{env}"
            f"communication: hpush://\n"
            f"init_timeout: 30s\n"
            f"obj_timeout: 20s\n")


@pytest.fixture
def cli(cluster):
    env = dict(os.environ, LOCUS_ENDPOINT=cluster.url)
    env.pop("AIS_ENDPOINT", None)

    def run(*args, check=True, input=None, timeout=lt.tmo(90)):
        p = subprocess.run([str(lt.LOCUS_CLI), *map(str, args)], env=env, capture_output=True,
                           input=input, timeout=timeout)
        if check:
            assert p.returncode == 0, (f"locus {' '.join(map(str, args))}: rc {p.returncode}\n"
                                       f"stdout: {p.stdout.decode(errors='replace')[-2000:]}\n"
                                       f"stderr: {p.stderr.decode(errors='replace')[-2000:]}")
        return p

    return run


@pytest.fixture
def etls(cluster, http):
    """Names registered here are deleted after the test (whatever happened)."""
    names = []
    yield names
    for n in names:
        http.delete(f"{cluster.url}/v1/etl/{n}")


@pytest.fixture
def buckets(cluster, http):
    names = []
    yield names
    for b in names:
        http.delete(lt.bck_url(cluster.url, b), params={"provider": "ais"},
                    json=lt.actmsg("destroy-bck"))


def etl_names(cluster, http):
    r = http.get(f"{cluster.url}/v1/etl")
    assert r.status_code == 200, r.text
    return {e["id"]: e for e in r.json()}


def put(cluster, http, bck, obj, data):
    r = http.put(lt.obj_url(cluster.url, bck, obj), params={"provider": "ais"}, data=data)
    assert r.status_code == 200, r.text


def get(cluster, http, bck, obj):
    return http.get(lt.obj_url(cluster.url, bck, obj), params={"provider": "ais"})


def list_names(cluster, http, bck):
    r = http.get(lt.bck_url(cluster.url, bck), params={"provider": "ais"},
                 json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200, r.text
    return sorted(e["name"] for e in r.json().get("entries") or [])


def test_etl_cli_py_server(cluster, http, cli, etls, buckets, tmp_path):
    name = lt.rand_name("cli-py-", 8)
    src, dst, cpb = lt.rand_name("esrc"), lt.rand_name("edst"), lt.rand_name("ecp")
    etls.append(name)
    buckets += [src, dst, cpb]

    # --- init from a YAML file: prints the job id; show lists it Running
    spec = tmp_path / "py.yaml"
    spec.write_text(py_spec(name))
    job = cli("etl", "init", "-f", spec).stdout.decode().strip()
    assert job and "\n" not in job
    listed = etl_names(cluster, http)
    assert listed[name]["stage"] == "Running" and listed[name]["xaction_id"] == job
    out = cli("etl", "show").stdout.decode()
    row = next(l for l in out.splitlines() if l.startswith(name + " "))
    assert "Running" in row and job in row, out
    out = cli("etl", "show", name).stdout.decode()
    assert "Running" in out and "local/py-server:latest" in out and str(PY_SERVER) in out, out
    assert '"MODE"' in out and '"<redacted>"' in out and '"upper"' not in out, out
    # the same name again: the server's 409 message, one line, exit 1
    p = cli("etl", "init", "-f", spec, check=False)
    assert p.returncode == 1 and b"already exists" in p.stderr
    assert len(p.stderr.decode().strip().splitlines()) == 1, p.stderr

    # --- data
    cli("bucket", "create", f"ais://{src}", f"ais://{cpb}")
    objs = {f"a/x{i:02d}.flac": f"object {i} payload\n".encode() * (i + 1) for i in range(25)}
    objs["a/readme.txt"] = b"not audio"
    objs["b/other.flac"] = b"outside the prefix"
    for o, d in objs.items():
        put(cluster, http, src, o, d)

    # --- inline transform, with args, to stdout and to a file
    o = "a/x03.flac"
    got = cli("etl", "object", name, f"ais://{src}/{o}", "-", "--args", "k=v&x y").stdout
    assert got == objs[o].upper() + b"|k=v&x y"
    outf = tmp_path / "x03.out"
    cli("etl", "object", name, f"{src}/{o}", outf)
    assert outf.read_bytes() == objs[o].upper()
    assert not list(tmp_path.glob("*.locus-tmp-*"))
    # an unknown ETL: one clear line, exit 1, no output file
    p = cli("etl", "object", "no-such-etl", f"{src}/{o}", tmp_path / "none", check=False)
    assert p.returncode == 1 and b"etl job no-such-etl does not exist" in p.stderr
    assert not (tmp_path / "none").exists()

    # --- transform-copy of one object (explicit name, and the source's name by default)
    cli("etl", "object", name, "cp", f"ais://{src}/{o}", f"ais://{cpb}/copied.txt", "--args", "A")
    r = get(cluster, http, cpb, "copied.txt")
    assert r.status_code == 200 and r.content == objs[o].upper() + b"|A"
    cli("etl", "object", name, "cp", f"{src}/a/x04.flac", f"ais://{cpb}")
    r = get(cluster, http, cpb, "a/x04.flac")
    assert r.status_code == 200 and r.content == objs["a/x04.flac"].upper()

    # --- bucket transform: --ext, --prefix, --prepend, --wait (no terminal: a summary line)
    p = cli("etl", "bucket", name, f"ais://{src}", f"ais://{dst}", "--ext", "{flac:wav}",
            "--prefix", "a/", "--prepend", "up/", "--num-workers", "3", "--wait")
    bjob = p.stdout.decode().strip()
    assert bjob and "\n" not in bjob
    summary = p.stderr.decode()
    assert "transformed 26 objects" in summary, summary
    want = {}
    for o, d in objs.items():
        if not o.startswith("a/"):
            continue
        n = "up/" + (o[:-len(".flac")] + ".wav" if o.endswith(".flac") else o)
        want[n] = d.upper()
    assert list_names(cluster, http, dst) == sorted(want)
    for n, d in want.items():
        r = get(cluster, http, dst, n)
        assert r.status_code == 200 and r.content == d, n
    # the quoted JSON form of --ext, a dry run: nothing written
    drydst = lt.rand_name("edry")
    buckets.append(drydst)
    p = cli("etl", "bucket", name, src, drydst, "--ext", '{"flac":"wav"}', "--dry-run", "--wait")
    assert b"dry run" in p.stderr
    if http.head(lt.bck_url(cluster.url, drydst), params={"provider": "ais"}).status_code == 200:
        assert list_names(cluster, http, drydst) == []
    # a bad --ext is a usage error, nothing started
    p = cli("etl", "bucket", name, src, dst, "--ext", "{flac}", check=False)
    assert p.returncode == 2 and b"--ext" in p.stderr

    # --- counters in the list
    e = etl_names(cluster, http)[name]
    assert e["obj_count"] >= 26

    # --- logs and health
    out = cli("etl", "logs", name).stdout.decode()
    headers = [l for l in out.splitlines() if l.startswith("=== target ")]
    assert len(headers) == len(cluster.targets), out
    assert "py_server: upper on port" in out, out
    tid = headers[0].split()[2]
    one = cli("etl", "logs", name, tid).stdout.decode()
    assert one.count("=== target ") == 1 and tid in one
    out = cli("etl", "health", name).stdout.decode()
    assert out.count("Running") == len(cluster.targets), out

    # --- stop / start / rm
    cli("etl", "stop", name)
    assert etl_names(cluster, http)[name]["stage"] == "Aborted"
    assert "Aborted" in cli("etl", "show", name).stdout.decode()
    p = cli("etl", "object", name, f"{src}/{o}", "-", check=False)
    assert p.returncode == 1 and p.stdout == b""
    cli("etl", "start", name)
    assert etl_names(cluster, http)[name]["stage"] == "Running"
    assert cli("etl", "object", name, f"{src}/{o}", "-").stdout == objs[o].upper()
    cli("etl", "rm", name)
    assert name not in etl_names(cluster, http)
    p = cli("etl", "show", name, check=False)
    assert p.returncode == 1 and b"does not exist" in p.stderr


def test_etl_cli_cont_on_err(cluster, http, cli, etls, buckets, tmp_path):
    name = lt.rand_name("cli-fail-", 8)
    src, dst = lt.rand_name("fsrc"), lt.rand_name("fdst")
    etls.append(name)
    buckets += [src, dst]
    # init from options instead of a file
    cli("etl", "init", "--name", name, "--image", "local", "--command",
        f"/usr/bin/python3 '{PY_SERVER}'", "--env", "MODE=fail", "--env", "FAIL_ON=bad",
        "--comm-type", "hpush", "--obj-timeout", "20s")
    cli("bucket", "create", src)
    for i in range(6):
        put(cluster, http, src, f"ok{i}", b"fine")
    put(cluster, http, src, "bad1", b"x")
    put(cluster, http, src, "bad2", b"y")
    p = cli("etl", "bucket", name, src, dst, "--cont-on-err", "--wait", check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert f"ais://{src}/bad1" in err and f"ais://{src}/bad2" in err and "2 objects failed" in err
    job = p.stdout.decode().strip()
    assert sorted(list_names(cluster, http, dst)) == [f"ok{i}" for i in range(6)]
    out = cli("etl", "show", name, "--job", job).stdout.decode()
    assert f"object errors of job {job}: 2" in out and "cannot transform" in out, out
    # without --cont-on-err the job aborts and the command fails
    dst2 = lt.rand_name("fdst")
    buckets.append(dst2)
    p = cli("etl", "bucket", name, src, dst2, "--wait", check=False)
    assert p.returncode == 1 and b"cannot transform" in p.stderr


def test_etl_cli_multi_doc_and_bad_specs(cluster, http, cli, etls, tmp_path):
    n1, n2 = lt.rand_name("cli-m1-", 8), lt.rand_name("cli-m2-", 8)
    etls += [n1, n2]
    multi = tmp_path / "two.yaml"
    multi.write_text(py_spec(n1) + "---\n" + py_spec(n2, mode="reverse"))
    ids = cli("etl", "init", "-f", multi).stdout.decode().split()
    assert len(ids) == 2
    listed = etl_names(cluster, http)
    assert listed[n1]["stage"] == listed[n2]["stage"] == "Running"
    cli("etl", "rm", n1, n2)
    assert n1 not in etl_names(cluster, http) and n2 not in etl_names(cluster, http)

    # bad YAML: line/column, exit 1, nothing sent (not even the valid first document)
    bad = tmp_path / "bad.yaml"
    n3 = lt.rand_name("cli-bad-", 8)
    etls.append(n3)
    bad.write_text(py_spec(n3) + "---\nname: x\nruntime:\n  image: [unclosed\n")
    p = cli("etl", "init", "-f", bad, check=False)
    assert p.returncode == 1
    msg = p.stderr.decode().strip()
    assert len(msg.splitlines()) == 1 and "line " in msg and "column " in msg, msg
    assert n3 not in etl_names(cluster, http)

    # from stdin, a spec the server rejects: its 4xx message, one line
    p = cli("etl", "init", "-f", "-", check=False,
            input=b"name: Bad_Name\nruntime: {image: x, command: [true]}\n")
    assert p.returncode == 1 and b"Bad_Name" in p.stderr
    assert len(p.stderr.decode().strip().splitlines()) == 1
    p = cli("etl", "init", "-f", "-", check=False,
            input=json.dumps({"name": lt.rand_name("cli-comm-", 6), "communication": "ftp://",
                              "runtime": {"image": "x", "command": ["true"]}}).encode())
    assert p.returncode == 1 and b"ftp" in p.stderr
    # usage errors
    assert cli("etl", "init", check=False).returncode == 2
    assert cli("etl", "init", "--name", "x-etl-only", check=False).returncode == 2
    assert cli("etl", "init", "-f", bad, "--image", "y", check=False).returncode == 2


def test_etl_cli_reference_spec(cluster, http, cli, etls, buckets):
    """AIStore's published md5 spec file, unchanged (renamed with --name to stay unique)."""
    name = lt.rand_name("cli-md5-", 8)
    etls.append(name)
    bck = lt.rand_name("md5src")
    buckets.append(bck)
    cli("etl", "init", "-f", REF_SPECS / "md5.etl_spec.yaml", "--name", name)
    cli("bucket", "create", bck)
    data = os.urandom(10000)
    put(cluster, http, bck, "blob", data)
    got = cli("etl", "object", name, f"{bck}/blob", "-").stdout
    assert got.decode().strip() == hashlib.md5(data).hexdigest()
    out = cli("etl", "show", name).stdout.decode()
    assert "aistorage/transformer_md5:latest" in out and '"support_direct_put": true' in out
    cli("etl", "rm", name)
