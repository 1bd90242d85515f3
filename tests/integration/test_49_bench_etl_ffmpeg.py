"""49 `locus-bench etl-ffmpeg` (issue 5, "## `locus-bench etl-ffmpeg`"): a small end-to-end run,
correctness only (no numbers asserted). The bench starts its own cluster on free ports, generates
20 LibriSpeech-like files, uploads them, runs the in-process client baseline, two in-cluster
configurations (hpush without FQN/direct put, ws with both), the bare compute limit (start and
end, bare-store twice, which also writes its outputs, and bare-store-net, whose outputs also cross
a loopback socket to a checksumming receiver) and, when /usr/bin/ffmpeg exists, a
short fork/exec-ffmpeg client; every run verifies its outputs as the reference does (counts; 20
WAVs: channels, rate, duration). Then: exit 0, the table with every row, the verdict and memory
lines, the markdown file, and the PNG when matplotlib is installed.
"""

import os
import re
import subprocess

import pytest

import locustest as lt

BENCH = lt.BIN_DIR / "locus-bench"


def have_matplotlib():
    return subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"],
                          capture_output=True).returncode == 0


def test_etl_ffmpeg_small_run(tmp_path):
    if not BENCH.exists():
        pytest.fail(f"{BENCH} does not exist (build the locus-bench target)")
    md, png = tmp_path / "t.md", tmp_path / "t.png"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run([str(BENCH), "etl-ffmpeg", "--files", "20", "--quick", "--ac", "1", "--ar",
                        "16000", "--configs", "hpush,ws-fqn-dp", "--fork-budget", "5", "--settle", "0.1",
                        "--md", str(md), "--png", str(png)],
                       capture_output=True, text=True, timeout=lt.tmo(150), env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = p.stdout
    assert re.search(r"^config\s+comm\s+fqn\s+dp\s+s\s+files/s\s+MB/s in\s+MB/s out\s+speedup\s+eff",
                     out, re.M), out
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([\d.]+)\*?\s+([\d.]+)\s+", line)
        if m:
            rows[m.group(1)] = float(m.group(6))
    want = ["bare-limit-start", "bare-limit-end", "bare-store-1", "bare-store-2", "bare-store-net",
            "client",
            "hpush", "hpush-fqn", "hpush-dp", "hpush-fqn-dp", "ws-fqn-dp"]
    for name in want:
        assert name in rows and rows[name] > 0, (name, out)
    assert "hpull" not in rows and "ws-dp" not in rows, out
    if os.access("/usr/bin/ffmpeg", os.X_OK):
        assert "client-ffmpeg-cli" in out, out
    assert "FAILED" not in out, out
    assert "AC=1 AR=16000" in out
    assert "each row started 0.1 s after the previous one's deletes (--settle)" in out, out
    assert re.search(r"^Best in-cluster: .* [\d.]+ of the faster bare-store \(target >= 0\.9: "
                     r"(MET|NOT met)\); [\d.]+ of bare-store-net; [\d.]+ of the bare limit; [\d.]+x the in-process client "
                     r"baseline \(target >= 1\.5x: (MET|NOT met)\)", out, re.M), out
    assert re.search(r"\(ceiling on these shared CPUs: the client's CPU per file over "
                     r"bare-store's, [\d.]+x\)", out), out
    # memory per ETL cell: idle and peak RSS, and what a job adds per worker and object
    for cell in ("hpush", "ws-fqn-dp"):
        assert re.search(rf" {cell} peak \d+ MiB, idle \d+ MiB, k -?[\d.]+;", out), out
    text = md.read_text()
    assert "| config | comm | fqn | direct put | s | files/s |" in text
    assert "| ws-fqn-dp | ws | on | on |" in text
    # CPU per file: the cluster's for ETL rows (the conversion runs there), the bench's for the
    # client and bare rows (the scale model's inputs)
    assert "| bench CPU ms/file | cluster CPU ms/file |" in text
    cpu = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 12 and re.match(r"^[\d.]+$", cells[-1]):
            cpu[cells[0].rstrip("*")] = (float(cells[-2]), float(cells[-1]))
    assert cpu["ws-fqn-dp"][1] > 0.5 and cpu["hpush"][1] > 0.5, cpu
    assert cpu["client"][0] > 0.5 and cpu["bare-limit-start"][0] > 0.5, cpu
    if have_matplotlib():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the bench removed its temp dir (cluster data) and stopped its cluster
    assert not list(tmp_path.glob("locus-bench-ff-*")), list(tmp_path.iterdir())


def test_etl_ffmpeg_bad_options():
    p = subprocess.run([str(BENCH), "etl-ffmpeg", "--ac", "0"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2
    assert "bad options" in p.stderr
