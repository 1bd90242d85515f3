"""
GetBatch when a node dies or the client leaves in the middle of a batch (docs/design.md §16).

An owner streams its entries to the assembling target over an upgraded connection. SIGKILL of
that owner while the archive is being sent must end the client's transfer as a failure, never
as a silently short archive; the assembling target stays up, and once the owner is back the same
batch comes whole and byte-exact. A client that leaves mid-batch must not leave any GetBatch
thread behind on any target (the owners' sessions end when the assembling target drops them).
"""

import io
import json
import os
import tarfile
import time

import pytest
import requests

import locustest as lt

P = {"provider": "ais"}
N, SIZE = 300, 128 * 1024  # ~38 MiB of archive: far more than any ring or socket buffer


def _fill(c, s):
    bck = lt.rand_name("mossf-")
    assert s.post(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("create-bck"),
                  headers=c.headers()).status_code == 200
    want = {}
    for i in range(N):
        name = f"o{i:04d}"
        want[name] = os.urandom(SIZE)
        r = s.put(lt.obj_url(c.url, bck, name), params=P, data=want[name], headers=c.headers())
        assert r.status_code == 200, r.text
    return bck, want


def _start_batch(c, s, bck):
    """The batch's streamed answer, straight from the target the proxy redirects it to:
    (that target's URL, the response, not read yet)."""
    body = json.dumps({"in": [{"objname": f"o{i:04d}"} for i in range(N)], "strm": True,
                       "onob": True})
    hdrs = dict(c.headers(), **{"Content-Type": "application/json"})
    r = s.get(f"{c.url}/v1/ml/moss/{bck}", params=P, data=body, headers=hdrs,
              allow_redirects=False)
    assert r.status_code in (301, 302, 307), r.text
    loc = r.headers["Location"]
    resp = s.get(loc, data=body, headers=hdrs, stream=True, timeout=lt.tmo(60))
    assert resp.status_code == 200, resp.text[:300]
    return loc, resp


def _members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


def _moss_threads(node):
    """GetBatch threads alive in node's process."""
    n = 0
    for t in os.listdir(f"/proc/{node.proc.pid}/task"):
        try:
            with open(f"/proc/{node.proc.pid}/task/{t}/comm") as f:
                n += f.read().startswith("moss-")
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended between the listing and the read (open or read)
    return n


def test_owner_killed_mid_batch(cluster_factory):
    c = cluster_factory(proxies=1, targets=3)
    s = lt.Http()
    bck, want = _fill(c, s)
    loc, resp = _start_batch(c, s, bck)
    assembler = next(n for n in c.targets if loc.startswith(n.url))
    victim = next(n for n in c.targets if n is not assembler)
    got = resp.raw.read(2 << 20)
    assert len(got) == 2 << 20
    c.kill_node(victim)
    failed = False
    try:
        for chunk in resp.iter_content(1 << 20):
            got += chunk
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        failed = True
    whole = N * (512 + SIZE) + 1024  # at least: a header and the data per member, the end
    print(f"owner killed after 2 MiB: the client got {len(got)} of {whole} bytes, then "
          f"{'a failed transfer' if failed else 'the end'}")
    assert failed, "an owner died mid-batch and the transfer ended as if complete"
    assert len(got) < whole
    assert assembler.alive() and requests.get(assembler.url + "/v1/health",
                                              timeout=lt.REQ_TIMEOUT).status_code == 200
    c.restart_node(victim)
    _, resp = _start_batch(c, s, bck)
    members = _members(resp.content)
    lost = sum(1 for n, d in want.items() if (n, d) not in members)
    print(f"after the owner's restart: {len(members)} members, {lost} lost or corrupt")
    assert [n for n, _ in members] == list(want) and lost == 0


def test_client_leaves_mid_batch(cluster_factory):
    c = cluster_factory(proxies=1, targets=3)
    s = lt.Http()
    bck, _ = _fill(c, s)
    loc, resp = _start_batch(c, s, bck)
    assert len(resp.raw.read(1 << 20)) == 1 << 20
    assert sum(_moss_threads(n) for n in c.targets) > 0
    resp.close()  # the client goes away with ~37 MiB unread
    deadline = time.monotonic() + lt.tmo(20)
    while sum(_moss_threads(n) for n in c.targets) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {n.id: _moss_threads(n) for n in c.targets}
    assert not any(left.values()), f"GetBatch threads left after the client went away: {left}"
    _, resp = _start_batch(c, s, bck)  # and the next batch is served whole
    assert [n for n, _ in _members(resp.content)] == [f"o{i:04d}" for i in range(N)]
