"""49 `locus-bench batch` (issue 13, GetBatch against plain GETs): a tiny run, correctness only
(no numbers asserted). The bench starts its own cluster, stores the objects, runs the untimed
warm-up rounds and then the timed ones, each a round of plain GETs by --clients threads and one
GetBatch of every object (a TAR whose size it checks), and prints the table with the best of
each and the two ratios. A bad option value exits 2."""

import os
import re
import subprocess

import pytest

import locustest as lt

BENCH = lt.BIN_DIR / "locus-bench"
ROW = re.compile(r"^\| 60 \| 8192 B \| ([\d.]+) s \(\d+ obj/s\) \| ([\d.]+) s \(\d+ obj/s\) \| "
                 r"([\d.]+)x \| ([\d.]+)x \|$", re.M)


def test_batch_small_run(tmp_path):
    if not BENCH.exists():
        pytest.fail(f"{BENCH} does not exist (build the locus-bench target)")
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run([str(BENCH), "batch", "--objects", "60", "--size", "8KiB", "--clients", "2",
                        "--rounds", "2", "--warmup", "1"],
                       capture_output=True, text=True, timeout=lt.tmo(120), env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert len(re.findall(r"^  warm-up \d \(untimed\): GETs [\d.]+ s, GetBatch [\d.]+ s$",
                          p.stderr, re.M)) == 1, p.stderr
    assert len(re.findall(r"^  round \d: 60 GETs by 2 clients [\d.]+ s, one GetBatch [\d.]+ s$",
                          p.stderr, re.M)) == 2, p.stderr
    m = ROW.search(p.stdout)
    assert m, p.stdout
    get, batch, best, median = (float(x) for x in m.groups())
    assert get > 0 and batch > 0 and best > 0 and median > 0
    # best/best is the two bests' ratio (times printed to the ms, ratios to 0.01)
    lo, hi = (get - 0.0005) / (batch + 0.0005), (get + 0.0005) / max(batch - 0.0005, 1e-6)
    assert lo - 0.005 <= best <= hi + 0.005, (get, batch, best)
    assert not list(tmp_path.glob("locus-bench-*")), "the bench left its temp dir behind"

    bad = subprocess.run([str(BENCH), "batch", "--warmup", "-1"], capture_output=True, text=True,
                         timeout=lt.tmo(30), env=env)
    assert bad.returncode == 2, bad.stderr
    assert "warmup" in bad.stderr
