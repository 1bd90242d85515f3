"""31 bucket- and cluster-level API of AIStore (docs/protocol.md §1.4, §1.8, §1.12-1.14): listing
flags and props with correct sizes, bucket info (HEAD ?bsumm_remote) and summary-bck, node
performance stats through /v1/reverse/daemon, StartXaction (PUT /v1/cluster "start") with AIStore's
display names, copy-listrange / etl-listrange with num-workers in the snapshot's packed field, and
the CLI's --json listings, bucket cp --list/--template --wait and rm --prefix/--template.

One cluster for the module (1 proxy, 2 targets); small objects."""

import json
import os
import subprocess
import time

import msgpack
import pytest

import locustest as lt

HERE = os.path.dirname(os.path.abspath(__file__))
PY_SERVER = os.path.join(HERE, "etl", "py_server.py")
P = {"provider": "ais"}
SIZES = {"a/x1": 1, "a/x2": 10, "a/x3": 100, "b/y1": 1000, "b/y2": 3333, "z": 7}


@pytest.fixture(scope="module")
def mc(tmp_path_factory, cluster_tools):
    if lt.USE_DAEMON:
        pytest.skip("needs its own cluster (LOCUS_TEST_USE_DAEMON is set)")
    new, teardown = cluster_tools
    c = new(tmp_path_factory, "misc", proxies=1, targets=2)
    yield c
    problems = teardown(c)
    assert not problems, problems


@pytest.fixture(scope="module")
def src(mc):
    """A bucket holding SIZES."""
    http = lt.Http()
    bck = lt.rand_name("src-")
    r = http.post(lt.bck_url(mc.url, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    for name, size in SIZES.items():
        r = http.put(lt.obj_url(mc.url, bck, name), params=P, data=b"s" * size)
        assert r.status_code == 200, r.text
    yield bck
    http.close()


def cli(c, *args):
    env = dict(os.environ, LOCUS_ENDPOINT=c.url, LOCUS_TOKEN=c.token or "")
    return subprocess.run([str(lt.LOCUS_CLI), *args], env=env, capture_output=True, text=True,
                          timeout=lt.tmo(60))


def lso(http, base, bck, props="", flags="0", msgpk=False, **kw):
    msg = lt.lsomsg(props=props, flags=flags)
    msg.update(kw)
    hdrs = {"Accept": "application/msgpack"} if msgpk else {}
    r = http.get(lt.bck_url(base, bck), params=P, json=lt.actmsg("list", msg), headers=hdrs)
    assert r.status_code == 200, r.text
    if msgpk:
        d = msgpack.unpackb(r.content)
        return {e["n"]: e for e in d["Entries"]}
    return {e["name"]: e for e in r.json()["entries"]}


def wait_job(http, base, job, timeout=30):
    deadline = time.monotonic() + lt.tmo(timeout)
    while True:
        st = http.get(base + "/v1/cluster", params={"what": "status"}, json={"ID": job}).json()
        if st["end_time"]:
            return st
        assert time.monotonic() < deadline, st
        time.sleep(0.05)


def test_list_props_flags_sizes(mc, http, src):
    base = mc.url
    full = "name,size,checksum,atime,version,custom,location,copies,cached,status"
    for props in ("", "name,size", "size", full, "checksum,size", "name,size,cached",
                  "size,location"):
        for flags in ("0", "1", "64", 0, 65):  # cached, bck-present (number or Go's string)
            for mp in (False, True):
                got = lso(http, base, src, props, flags, mp)
                sk = "s" if mp else "size"
                assert {n: int(e.get(sk, 0)) for n, e in got.items()} == SIZES, (props, flags, mp)
                fk = "f" if mp else "flags"
                assert all(e[fk] & 64 for e in got.values())  # EntryIsCached
    # every property asked for is there (JSON)
    e = lso(http, base, src, full)["b/y1"]
    assert e["checksum"] and e["atime"] and e["version"] == "1" and ":" in e["location"], e
    # name only: no size, even when asked for (AIStore's LsNameOnly skips the metadata)
    for props in ("name", "name,cached", "name,size"):
        got = lso(http, base, src, props, str(1 << 4))
        assert set(got) == set(SIZES) and all("size" not in e for e in got.values()), got
    # name-size: sizes even without "size" in props
    got = lso(http, base, src, "name", str(1 << 5), True)
    assert {n: e.get("s", 0) for n, e in got.items()} == SIZES
    # start_after (ais buckets)
    got = lso(http, base, src, "name,size", start_after="a/x3")
    assert sorted(got) == ["b/y1", "b/y2", "z"]
    for bad in ("x", "-1", [1], {"a": 1}):
        r = http.get(lt.bck_url(base, src), params=P,
                     json=lt.actmsg("list", dict(lt.lsomsg(), flags=bad)))
        lt.assert_error(r, 400, "flags")


def bsumm_of(s, objs, size):
    assert s["ObjCount"]["obj_count_present"] == str(objs), s
    assert s["TotalSize"]["size_all_present_objs"] == str(size), s
    assert int(s["TotalSize"]["size_on_disk"]) >= size and int(s["TotalSize"]["total_disks_size"]) > 0
    if objs:
        assert s["ObjSize"]["obj_avg_size"] == size // objs
    assert s["is_present"] is True and s["provider"] == "ais"


def test_bucket_info(mc, http, src):
    base = mc.url
    # AIStore's GetBucketInfo: 202 with the job id and the props, then poll until 200
    r = http.head(lt.bck_url(base, src), params={"provider": "ais", "bsumm_remote": "false"})
    assert r.status_code == 202, r.headers
    xid = r.headers["Ais-Xaction-Id"]
    assert xid and json.loads(r.headers["Ais-Bucket-Props"])["provider"] == "ais"
    deadline = time.monotonic() + lt.tmo(20)
    while True:
        r = http.head(lt.bck_url(base, src), params={"bsumm_remote": "false", "uuid": xid})
        assert r.status_code in (200, 202, 206), r.status_code
        if r.status_code == 200:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert r.headers["Ais-Xaction-Id"] == xid and "Ais-Bucket-Props" in r.headers
    s = json.loads(r.headers["Ais-Bucket-Summ"])
    assert s["name"] == src
    bsumm_of(s, len(SIZES), sum(SIZES.values()))
    assert s["ObjSize"]["obj_min_size"] == 1 and s["ObjSize"]["obj_max_size"] == 3333
    # with a prefix (the path's rest, as AIStore's API sends it)
    r = http.head(lt.bck_url(base, src) + "/b/", params={"bsumm_remote": "true"})
    assert r.status_code == 202
    xid = r.headers["Ais-Xaction-Id"]
    wait_job(http, base, xid)
    r = http.head(lt.bck_url(base, src), params={"bsumm_remote": "true", "uuid": xid})
    assert r.status_code == 200
    bsumm_of(json.loads(r.headers["Ais-Bucket-Summ"]), 2, 4333)
    # without bsumm_remote: plain HEAD, 200 and no job
    r = http.head(lt.bck_url(base, src))
    assert r.status_code == 200 and "Ais-Xaction-Id" not in r.headers
    r = http.head(lt.bck_url(base, src), params={"bsumm_remote": "false", "uuid": "nosuchjob"})
    assert r.status_code == 404
    r = http.head(lt.bck_url(base, "nosuchbck"), params={"bsumm_remote": "false"})
    assert r.status_code == 404


def summary(http, base, bck, value):
    url = lt.bck_url(base, bck) if bck else base + "/v1/buckets"
    r = http.get(url, params=P, json=lt.actmsg("summary-bck", value))
    assert r.status_code == 202, r.text
    xid = r.text.strip('"')
    deadline = time.monotonic() + lt.tmo(20)
    while True:
        r = http.get(url, params=P, json=lt.actmsg("summary-bck", dict(value, uuid=xid)))
        assert r.status_code in (200, 202, 206), r.text
        if r.status_code == 200:
            return {s["name"]: s for s in r.json()}
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_summary_bck(mc, http, src):
    base = mc.url
    res = summary(http, base, src, {"prefix": "", "cached": True, "present": True})
    assert list(res) == [src]
    bsumm_of(res[src], len(SIZES), sum(SIZES.values()))
    res = summary(http, base, src, {"prefix": "a/"})
    bsumm_of(res[src], 3, 111)
    empty = lt.rand_name("empty-")
    assert http.post(lt.bck_url(base, empty), params=P,
                     json=lt.actmsg("create-bck")).status_code == 200
    res = summary(http, base, None, {})  # every bucket
    assert src in res and empty in res
    bsumm_of(res[empty], 0, 0)
    r = http.get(lt.bck_url(base, src), json=lt.actmsg("summary-bck", {"uuid": "nosuchjob"}))
    assert r.status_code == 404
    for bad in ([], {"prefix": 3}, {"uuid": 1}):
        r = http.get(lt.bck_url(base, src), json=lt.actmsg("summary-bck", bad))
        lt.assert_error(r, 400, "summary-bck")
    r = http.get(lt.bck_url(base, "nosuchbck"), json=lt.actmsg("summary-bck", {}))
    assert r.status_code == 404
    # a summary is a job: the kind filter takes AIStore's display name too
    r = http.get(base + "/v1/cluster", params={"what": "status_all"},
                 json={"kind": "summary", "show_active": False})
    assert r.status_code == 200 and all(s["kind"] == "summary-bck" for s in r.json()), r.text


def test_node_stats(mc, http, src):
    base = mc.url
    tid = mc.targets[0].id
    hdr = {"Ais-Node-Id": tid}
    r = http.get(base + "/v1/reverse/daemon", params={"what": "node_status"}, headers=hdr)
    assert r.status_code == 200, r.text
    before = r.json()
    assert before["status"] == "online" and before["snode"]["daemon_id"] == tid
    assert int(before["smap_version"]) > 0
    cap = before["capacity"]
    assert len(cap["mountpaths"]) == 2 and int(cap["total_avail"]) > 0
    assert all(int(m["used"]) > 0 for m in cap["mountpaths"].values())
    # the target's GET counter moves with the GETs it serves
    names = [n for n in SIZES if lt.hrw_target(mc.smap(), src, n)["daemon_id"] == tid]
    for n in names:
        assert http.get(lt.obj_url(base, src, n)).status_code == 200
    r = http.get(base + "/v1/reverse/daemon", params={"what": "node_stats"}, headers=hdr)
    after = r.json()
    assert "status" not in after
    got = int(after["tracker"]["get.n"]["v"]) - int(before["tracker"]["get.n"]["v"])
    assert got >= len(names), (before["tracker"], after["tracker"])
    r = http.get(base + "/v1/reverse/daemon", params={"what": "node_status"},
                 headers={"Ais-Node-Id": "nosuch"})
    assert r.status_code == 404


def start_x(http, base, kind, bck=None, **kw):
    v = {"Kind": kind, **kw}
    if bck:
        v["Bck"] = {"name": bck, "provider": "ais"}
    return http.put(base + "/v1/cluster", json=lt.actmsg("start", v))


def test_start_xaction(mc, http, src):
    base = mc.url
    for kind in ("make-n-copies", "mirror", "scrub-bck"):
        r = start_x(http, base, kind, src)
        assert r.status_code == 200, r.text
        st = wait_job(http, base, r.text)
        assert st["err"] == "" and st["kind"] == ("make-n-copies" if kind == "mirror" else kind)
    # the SDK's Job.start(buckets=[b]): JobArgs with "Bck": null and "Buckets": [b]
    r = http.put(base + "/v1/cluster", json=lt.actmsg("start", {
        "ID": "", "Kind": "scrub-bck", "DaemonID": "", "Bck": None,
        "Buckets": [{"name": src, "provider": "ais", "namespace": {"uuid": "", "name": ""}}]}))
    assert r.status_code == 200, r.text
    wait_job(http, base, r.text)
    r = http.put(base + "/v1/cluster", json=lt.actmsg("start", {
        "Kind": "scrub-bck", "Buckets": [{"name": src}, {"name": src}]}))
    lt.assert_error(r, 400, "one bucket")
    r = start_x(http, base, "resilver", DaemonID=mc.targets[1].id)
    assert r.status_code == 200, r.text
    st = wait_job(http, base, r.text)
    assert st["kind"] == "resilver" and st["err"] == ""
    r = start_x(http, base, "rebalance")
    assert r.status_code == 200, r.text
    r = start_x(http, base, "resilver", DaemonID="nosuch")
    assert r.status_code == 404
    for kind, bck, want in (("copy-bck", src, "not startable"), ("copy-bucket", src, "startable"),
                            ("summary", src, "startable"), ("bogus", src, "unknown"),
                            ("ec-encode", src, "not erasure coded"), ("mirror", None, "Bck")):
        lt.assert_error(start_x(http, base, kind, bck), 400, want)
    assert start_x(http, base, "mirror", "nosuchbck").status_code == 404
    r = http.put(base + "/v1/cluster", json=lt.actmsg("start", "mirror"))
    lt.assert_error(r, 400, "kind")


def copy_lr(http, base, action, src, dst, value):
    return http.post(lt.bck_url(base, src), params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"},
                     json=lt.actmsg(action, value))


def snaps(http, base, job):
    r = http.get(base + "/v1/cluster", params={"what": "qryxstats"}, json={"ID": job})
    assert r.status_code == 200, r.text
    return [s for v in r.json().values() for s in v]


def test_copy_listrange(mc, http, src):
    base = mc.url
    dst = lt.rand_name("lr-")
    r = copy_lr(http, base, "copy-listrange", src, dst,
                {"objnames": ["a/x1", "b/y2", "missing"], "num-workers": 3, "prepend": "p/"})
    assert r.status_code == 200, r.text
    job = r.text
    assert wait_job(http, base, job)["err"] == ""
    got = lso(http, base, dst, "name,size")
    assert {n: int(e.get("size", 0)) for n, e in got.items()} == {"p/a/x1": 1, "p/b/y2": 3333}
    ss = snaps(http, base, job)
    assert all(s["kind"] == "copy-listrange" and int(s["glob.id"]) >> 10 == 3 for s in ss), ss
    # as AIStore's API and SDK send it: the destination in the TCOMsg ("tobck"), no bck_to
    sdk = lt.rand_name("sdk-")
    r = http.post(lt.bck_url(base, src), params=P, json=lt.actmsg("copy-listrange", {
        "objnames": ["z"], "tobck": {"name": sdk, "provider": "ais",
                                     "namespace": {"uuid": "", "name": ""}}, "coer": False}))
    assert r.status_code == 200, r.text
    wait_job(http, base, r.text)
    assert set(lso(http, base, sdk, "name")) == {"z"}
    r = http.post(lt.bck_url(base, src), params=P, json=lt.actmsg("copy-listrange", {
        "objnames": ["z"], "tobck": {"name": sdk, "provider": "gcp"}}))
    lt.assert_error(r, 400, "tobck")
    r = http.post(lt.bck_url(base, src), params=P,
                  json=lt.actmsg("copy-listrange", {"objnames": ["z"]}))
    lt.assert_error(r, 400, "destination")
        # a range, into the same destination
    r = copy_lr(http, base, "copy-listrange", src, dst, {"template": "a/x{1..3}"})
    assert r.status_code == 200, r.text
    assert wait_job(http, base, r.text)["err"] == ""
    assert {"a/x1", "a/x2", "a/x3"} <= set(lso(http, base, dst, "name"))
    # dry run: nothing written
    dry = lt.rand_name("dry-")
    r = copy_lr(http, base, "copy-listrange", src, dry, {"template": "b/y{1..2}", "dry_run": True})
    assert r.status_code == 200, r.text
    wait_job(http, base, r.text)
    assert http.head(lt.bck_url(base, dry)).status_code == 404
    # copy-bck reports its workers too
    r = copy_lr(http, base, "copy-bck", src, lt.rand_name("cb-"), {"num-workers": 2})
    wait_job(http, base, r.text)
    assert all(int(s["glob.id"]) >> 10 == 2 for s in snaps(http, base, r.text))
    for bad, want in (({"objnames": ["a", 1]}, "objnames"), ({"objnames": "a"}, "objnames"),
                      ({"template": "x{1..", "objnames": []}, "template"),
                      ({"template": "x-{1..3", }, "template"), ({"template": 5}, "template"),
                      ({"objnames": ["a"], "template": "b"}, "exclusive"),
                      ({"objnames": ["../x"]}, "objnames"), ({"num-workers": "x"}, "num-workers"),
                      ({"bogus": 1}, "unknown key")):
        lt.assert_error(copy_lr(http, base, "copy-listrange", src, dst, bad), 400, want)
    lt.assert_error(copy_lr(http, base, "etl-listrange", src, dst, {"objnames": ["z"]}), 400, "id")
    r = copy_lr(http, base, "etl-listrange", src, dst, {"objnames": ["z"], "id": "nosuchetl"})
    assert r.status_code == 404


def test_etl_listrange(mc, http, src):
    base = mc.url
    etl = lt.rand_name("up-").lower()
    spec = {"name": etl, "communication": "hpush://",
            "runtime": {"image": "local/py", "command": ["/usr/bin/python3", PY_SERVER]}}
    r = http.put(base + "/v1/etl", json=spec, timeout=lt.tmo(60))
    assert r.status_code == 200, r.text
    try:
        dst = lt.rand_name("tx-")
        r = copy_lr(http, base, "etl-listrange", src, dst,
                    {"id": etl, "objnames": ["a/x2", "z"], "num-workers": 2,
                     "continue_on_error": True})
        assert r.status_code == 400  # AIStore's key is "coer"
        r = copy_lr(http, base, "etl-listrange", src, dst,
                    {"id": etl, "objnames": ["a/x2", "z"], "num-workers": 2, "coer": True})
        assert r.status_code == 200, r.text
        assert wait_job(http, base, r.text)["err"] == ""
        assert all(int(s["glob.id"]) >> 10 == 2 for s in snaps(http, base, r.text))
        assert set(lso(http, base, dst, "name")) == {"a/x2", "z"}
        got = http.get(lt.obj_url(base, dst, "z"))
        assert got.status_code == 200 and got.content == b"S" * 7  # upper-cased
    finally:
        http.post(base + f"/v1/etl/{etl}/stop")
        http.delete(base + f"/v1/etl/{etl}")


def test_cli(mc, http, src):
    r = cli(mc, "ls", src, "--json", "--props", "checksum")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["count"] == len(SIZES) and doc["size"] == sum(SIZES.values())
    assert {e["name"] for e in doc["entries"]} == set(SIZES)
    assert all(e["checksum"] and "size" not in e for e in doc["entries"])
    r = cli(mc, "ls", src, "--props", "checksum")  # the total has the sizes
    assert r.returncode == 0 and f"{len(SIZES)} objects, 4.35 KiB" in r.stdout, r.stdout
    for args in (("bucket", "ls", "--json"), ("ls", "--json")):
        r = cli(mc, *args)
        assert r.returncode == 0, r.stderr
        assert {"name": src, "provider": "ais"} in json.loads(r.stdout)
    for args in (("job", "ls", "--all", "--json"), ("etl", "ls", "--json"),
                 ("cluster", "show", "--json")):
        r = cli(mc, *args)
        assert r.returncode == 0, (args, r.stderr)
        json.loads(r.stdout)
    r = cli(mc, "bucket", "summary", src, "--prefix", "b/", "--json")
    assert r.returncode == 0, r.stderr
    [one] = json.loads(r.stdout)
    bsumm_of(one, 2, 4333)
    r = cli(mc, "bucket", "summary")
    assert r.returncode == 0 and f"ais://{src}" in r.stdout and "ON DISK" in r.stdout, r
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(f"ais://{src} "))
    assert row.split()[1] == str(len(SIZES)), row
    r = cli(mc, "job", "start", "mirror", src, "--wait")
    assert r.returncode == 0 and r.stdout.strip(), r
    r = cli(mc, "job", "start", "copy-bck", src)
    assert r.returncode == 1 and "not startable" in r.stderr, r
    dst = lt.rand_name("clicp-")
    r = cli(mc, "bucket", "cp", src, dst, "--list", "a/x1,a/x2,b/y1", "--wait")
    assert r.returncode == 0, r.stderr
    assert "copied 3 objects (1011 B)" in r.stdout and "copying:" in r.stderr, r
    r = cli(mc, "bucket", "cp", src, dst, "--template", "b/y{1..2}", "--wait", "--num-workers", "1")
    assert r.returncode == 0 and "copied 2 objects" in r.stdout, r
    r = cli(mc, "rm", dst, "--template", "a/x{1..2}")
    assert r.returncode == 0 and "deleted 2 objects" in r.stdout, r
    r = cli(mc, "rm", dst, "--prefix", "b/")
    assert r.returncode == 0 and "deleted 2 objects" in r.stdout, r
    assert set(lso(http, mc.url, dst, "name")) == set()
    for args in (("rm", dst, "--prefix", ""), ("rm", dst, "--prefix", "a", "--template", "b"),
                 ("rm", f"{dst}/obj", "--prefix", "a"),
                 ("bucket", "cp", src, dst, "--list", "a", "--template", "b")):
        r = cli(mc, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
