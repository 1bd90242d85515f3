"""92 a 1 GiB object through ws:// (issue 4): inline and bucket-to-bucket with the echo
transformer, content checked by SHA-256 while streaming, and the memory of every target and every
ETL server stays bounded: nobody holds the object in memory. Memory is the anonymous resident set
(RssAnon) sampled during the transfers: file-backed pages of a mapped object are page cache the
kernel reclaims at will, not memory a process holds (VmHWM counts both)."""

import hashlib
import threading
import time

import pytest

import locustest as lt
from etl import etlutil as eu

GIB = 1 << 30
CHUNK = 1 << 20
RSS_LIMIT_KB = 300 * 1024


def gen(n=GIB):
    """Deterministic pseudo-random 1 GiB, produced chunk by chunk."""
    block = hashlib.sha256(b"locus").digest() * (CHUNK // 32)
    for i in range(n // CHUNK):
        yield block[i % 32:] + block[:i % 32]


def expected_digest():
    h = hashlib.sha256()
    for c in gen():
        h.update(c)
    return h.hexdigest()


def rss_anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler(threading.Thread):
    """Samples RssAnon of the given pids every 50 ms; peaks[pid] is the highest seen."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peaks, self.done = pids, {p: 0 for p in pids}, threading.Event()

    def run(self):
        while not self.done.is_set():
            for p in self.pids:
                self.peaks[p] = max(self.peaks[p], rss_anon_kb(p))
            time.sleep(0.05)

    def stop(self):
        self.done.set()
        self.join()
        return self.peaks


def streamed_digest(resp):
    h = hashlib.sha256()
    n = 0
    for c in resp.iter_content(CHUNK):
        h.update(c)
        n += len(c)
    return h.hexdigest(), n


@pytest.mark.slow  # ~12 s: `make test-all` (test_46 streams 1 GiB through ws in the default run)
def test_one_gib_through_ws(cluster_factory):
    c = cluster_factory(targets=2)
    base = c.url
    http = lt.Http()
    src, dst = lt.rand_name("big-"), lt.rand_name("big-")
    eu.create_bucket(http, base, src)
    # Straight to the owner: a generator body cannot be re-sent after the proxy's redirect.
    owner = lt.hrw_target(c.smap(), src, "big.bin")["public_net"]["direct_url"]
    r = http.put(lt.obj_url(owner, src, "big.bin"), params=eu.P, data=gen(), timeout=lt.tmo(300))
    assert r.status_code == 200, r.text[:300]
    want = expected_digest()
    name = eu.etl_name("big-ws")
    spec = eu.builtin_spec(name, "echo")
    spec["communication"] = "ws://"
    spec["support_direct_put"] = True
    eu.init_ok(http, base, spec)
    names = {t.proc.pid: f"target {t.id}" for t in c.targets}
    names.update({p: f"etl server {p}" for p in eu.etl_pids(name)})
    assert len(names) == 2 * len(c.targets), names
    sampler = PeakSampler(list(names))
    sampler.start()
    try:
        g = http.get(lt.obj_url(base, src, "big.bin"), params={**eu.P, "etl_name": name},
                     stream=True, timeout=lt.tmo(600))
        assert g.status_code == 200, g.text[:300]
        assert streamed_digest(g) == (want, GIB), "inline ws transform of 1 GiB differs"
        jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name))
        st = eu.wait_job(http, base, jid, timeout=600)
        assert st["err"] == "" and not st["aborted"], st
        g = http.get(lt.obj_url(base, dst, "big.bin"), params=eu.P, stream=True,
                     timeout=lt.tmo(600))
        assert g.status_code == 200 and streamed_digest(g) == (want, GIB)
        peaks = {names[p]: kb for p, kb in sampler.stop().items()}
        over = {k: v for k, v in peaks.items() if v > RSS_LIMIT_KB}
        assert not over, f"anonymous RSS over {RSS_LIMIT_KB // 1024} MiB: {over} (all: {peaks})"
    finally:
        sampler.done.set()
        http.post(f"{base}/v1/etl/{name}/stop")
        http.delete(f"{base}/v1/etl/{name}")
        eu.wait_no_servers(name)
        for b in (src, dst):
            eu.destroy_bucket(http, base, b)
