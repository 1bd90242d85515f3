"""49 `locus-bench obj --mirror N --ec D+P` (issue 12, "## Benchmarks"): a tiny run, correctness
only (no numbers asserted). The bench starts its own cluster, runs the proxy and direct PUT and GET
cells on the plain bucket and again on a bucket with mirror copies 2, and reports each of those
relative to the plain bucket with the server CPU per MB. The EC bucket is either measured too or,
while the cluster refuses ec.enabled, reported as skipped with the cluster's own message; the run
still exits 0. The mirrored bucket's objects really have their copies (under %mi). Bad --mirror and
--ec values exit 2. The same run has nginx's two front ends of its files, GET only: its own 307 to
the file server on another port and its reverse proxy, each a main-table row next to the proxy and
s3 GETs, with the like-for-like line putting proxy over nginx307 and s3 over nginxrelay.
"""

import glob
import os
import re
import subprocess

import pytest

import locustest as lt

BENCH = lt.BIN_DIR / "locus-bench"
ROW = re.compile(r"^(PUT|GET)\s+4KiB\s+(proxy|direct)\s+(plain|mirror2|ec2\+1)\s+(\d+)\s+[\d.]+\s+"
                 r"[\d.]+\s+(\d+)\s+\S+\s+(\S+)\s+(\S+)$", re.M)
# a main-table row: op size path ops/s MB/s p50 p99 errors conns srvCPU/op Locus/ref
MAIN = re.compile(r"^(PUT|GET)\s+4KiB\s+(\S+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\d+)\s+(\d+)\s+"
                  r"(\S+)\s+(\S+)$", re.M)


def test_obj_mirror_and_ec_small_run(tmp_path):
    if not BENCH.exists():
        pytest.fail(f"{BENCH} does not exist (build the locus-bench target)")
    md = tmp_path / "obj.md"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run([str(BENCH), "obj", "--mirror", "2", "--ec", "2+1", "--sizes", "4KiB",
                        "--duration", "0.5", "--rounds", "1", "--clients", "2",
                        "--paths", "proxy,direct,nginx,s3,nginx307,nginxrelay", "--keep", "--md",
                        str(md)],
                       capture_output=True, text=True, timeout=lt.tmo(120), env=env)
    out = p.stdout
    assert p.returncode == 0, out[-3000:] + p.stderr[-3000:]
    assert re.search(r"^op\s+size\s+path\s+bucket\s+ops/s\s+MB/s\s+p50 ms\s+errors\s+srvCPU/op\s+"
                     r"srvCPU/MB\s+vs plain$", out, re.M), out
    rows = {(m[1], m[2], m[3]): m for m in ROW.finditer(out)}
    ec_skipped = re.search(r"^ec2\+1: skipped: the cluster refused set-bprops .*HTTP \d+: \S", out,
                           re.M)
    buckets = ["plain", "mirror2"] + ([] if ec_skipped else ["ec2+1"])
    for op in ("PUT", "GET"):
        for path in ("proxy", "direct"):
            for bck in buckets:
                m = rows.get((op, path, bck))
                assert m, (op, path, bck, out)
                assert int(m[4]) > 0 and m[5] == "0", m[0]
                assert re.fullmatch(r"[\d.e+]+ms", m[6]), m[0]  # server CPU per MB
                assert m[7] == "1" if bck == "plain" else re.fullmatch(r"\d+\.\d\d", m[7]), m[0]
    assert ", bucket mirror2" in out, out
    main = {(m[1], m[2]): m for m in MAIN.finditer(out)}
    for path in ("nginx307", "nginxrelay"):
        m = main.get(("GET", path))
        assert m and int(m[3]) > 0 and m[4] == "0", (path, out)
        assert re.fullmatch(r"\d+us|\d+ms", m[6]) and re.fullmatch(r"\d+\.\d\d", m[7]), m[0]
        assert ("PUT", path) not in main, out  # GET only
    assert int(main[("GET", "nginx307")][5]) >= 4, out  # 2 clients: the front end and the files
    like = re.search(r"^Like for like \(GET ops/s, Locus over nginx in the same design\): "
                     r"proxy/nginx307: 4KiB \d+\.\d\d; s3/nginxrelay: 4KiB \d+\.\d\d$", out, re.M)
    assert like, out
    assert "locus-bench: ec2+1 bucket bench-ec2-1: skipped:" in p.stderr or not ec_skipped
    text = md.read_text()
    assert "| op | size | path | bucket |" in text and "| mirror2 |" in text, text
    assert "| GET | 4KiB | nginxrelay |" in text and "\n\nLike for like" in text, text
    # the mirrored bucket's objects have their copies, the plain bucket's none
    (run_dir,) = glob.glob(str(tmp_path / "locus-bench-*"))
    assert glob.glob(f"{run_dir}/cluster/t*/mp*/@ais/bench-mirror2/%mi/4KiB-*")
    assert not glob.glob(f"{run_dir}/cluster/t*/mp*/@ais/bench/%mi/*")


@pytest.mark.parametrize("args, what", [
    (["--mirror", "1"], "--mirror '1' (2-32)"),
    (["--mirror", "33"], "--mirror '33'"),
    (["--ec", "2"], "--ec '2' (D+P, each 1-32)"),
    (["--ec", "2+0"], "--ec '2+0'"),
    (["--ec", "0+1"], "--ec '0+1'"),
    (["--ec", "2+1x"], "--ec '2+1x'"),
    (["--ec", "+1"], "--ec '+1'"),
])
def test_obj_bad_redundancy_options(args, what):
    p = subprocess.run([str(BENCH), "obj", *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and what in p.stderr, (p.returncode, p.stderr)


def test_obj_ec_reference_moves_the_pieces(tmp_path):
    """With --ec and the nginx path, a PUT cell on the EC bucket's nginx path is the machine's
    ceiling for erasure coding: each op PUTs the object and then its D + P pieces of size/D (P
    copies below 256 KiB) to nginx. It is reported under nginx's plain PUT with a vs-plain ratio,
    and the pieces are really there, of the right sizes."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run([str(BENCH), "obj", "--targets", "4", "--ec", "2+1", "--sizes",
                        "4KiB,512KiB", "--ops", "put", "--duration", "0.5", "--rounds", "1",
                        "--clients", "2", "--paths", "direct,nginx", "--keep"],
                       capture_output=True, text=True, timeout=lt.tmo(120), env=env)
    out = p.stdout
    assert p.returncode == 0, out[-3000:] + p.stderr[-3000:]
    for size in ("4KiB", "512KiB"):
        for path in ("direct", "nginx"):
            m = re.search(rf"^PUT\s+{size}\s+{path}\s+ec2\+1\s+(\d+)\s+[\d.]+\s+[\d.]+\s+(\d+)\s+"
                          r"\S+\s+\S+\s+(\d+\.\d\d)$", out, re.M)
            assert m and int(m[1]) > 0 and m[2] == "0", (size, path, out)
    (run_dir,) = glob.glob(str(tmp_path / "locus-bench-*"))
    put = glob.glob(f"{run_dir}/**/put", recursive=True)
    assert put, os.listdir(run_dir)
    for size, n, piece in (("4KiB", 1, 4096), ("512KiB", 3, 256 * 1024)):
        pieces = {}
        for f in glob.glob(f"{put[0]}/{size}-nginx-*.ec*"):
            base, ext = f.rsplit(".", 1)
            pieces.setdefault(base, []).append((ext, os.path.getsize(f)))
        assert pieces, size  # (the plain cell's objects have the same names: not looked at)
        for base, got in pieces.items():
            assert sorted(got) == [(f"ec{i}", piece) for i in range(1, n + 1)], (base, got)
            assert os.path.exists(base), base


def test_obj_disk_net_floor(tmp_path):
    """The disk-net PUT row (issue 9): the same bytes as the disk reference, over a kept loopback
    TCP connection per client to a receiving thread that checksums and writes them, the network
    floor of any store. It is a main-table row with its receivers' CPU per op, and a line per size
    puts it over disk and each HTTP PUT over it. Its files are there, of the objects' sizes."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run([str(BENCH), "obj", "--targets", "1", "--sizes", "4KiB,512KiB", "--ops",
                        "put", "--duration", "0.5", "--rounds", "1", "--clients", "2", "--paths",
                        "direct,disk,disk-net", "--keep"],
                       capture_output=True, text=True, timeout=lt.tmo(120), env=env)
    out = p.stdout
    assert p.returncode == 0, out[-3000:] + p.stderr[-3000:]
    for size in ("4KiB", "512KiB"):
        m = re.search(rf"^PUT\s+{size}\s+disk-net\s+(\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\d+)\s+"
                      r"(\d+)\s+(\S+)\s+(\d+\.\d\d)$", out, re.M)
        assert m and int(m[1]) > 0 and m[2] == "0", (size, out)
        assert m[3] == "2", m[0]  # one kept connection per client
        assert re.fullmatch(r"\d+us|\d+ms", m[4]), m[0]  # the receivers' CPU per op
        assert re.search(rf"^  {size}: disk-net \d+\.\d\d of disk, direct \d+\.\d\d$", out,
                         re.M), out
    assert "PUT against the network floor (disk-net over disk; each path over disk-net):" in out
    (run_dir,) = glob.glob(str(tmp_path / "locus-bench-*"))
    sizes = {os.path.getsize(f) for f in glob.glob(f"{run_dir}/disk-net/*.out")}
    assert sizes == {4096, 512 * 1024}, sizes
    assert "GET" not in {m[1] for m in MAIN.finditer(out)}, out
