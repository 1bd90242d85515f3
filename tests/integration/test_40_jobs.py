"""40 jobs (docs/protocol.md §1.8): copy-bck with a prefix filter, delete-listrange (names and
template), what=status and what=qryxstats, unknown jobs."""

import time

import pytest

import locustest as lt

P = {"provider": "ais"}


def create_bucket(http, base, bck):
    r = http.post(lt.bck_url(base, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text


def destroy_bucket(http, base, bck):
    http.delete(lt.bck_url(base, bck), params=P, json=lt.actmsg("destroy-bck"))


@pytest.fixture
def buckets(cluster, http):
    made = []

    def make(create=True):
        bck = lt.rand_name("job-")
        if create:
            create_bucket(http, cluster.url, bck)
        made.append(bck)
        return bck

    yield make
    for b in made:
        destroy_bucket(http, cluster.url, b)


def job_args(job_id, upper=True):
    if upper:  # what the SDK sends: JobArgs.as_dict()
        return {"ID": job_id, "Kind": "", "DaemonID": "", "Bck": None, "Buckets": None}
    return {"id": job_id, "kind": "", "node": "", "bck": None}


def status(http, base, job_id, upper=True):
    return http.get(base + "/v1/cluster", params={"what": "status"}, json=job_args(job_id, upper))


def wait_job(http, base, job_id, timeout=60):
    deadline = time.monotonic() + lt.tmo(timeout)
    while True:
        r = status(http, base, job_id)
        assert r.status_code == 200, f"status: {r.status_code} {r.text[:300]}"
        st = r.json()
        for k in ("uuid", "err", "end_time", "aborted"):
            assert k in st, f"status lacks {k}: {st}"
        assert st["uuid"] == job_id
        assert isinstance(st["end_time"], int)
        if st["end_time"] != 0:
            return st
        assert time.monotonic() < deadline, f"job {job_id} did not end: {st}"
        time.sleep(0.1)


def job_id_of(r):
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    jid = r.text.strip()
    assert jid and '"' not in jid and " " not in jid, f"job id must be plain text: {r.text!r}"
    return jid


def copy_bck(http, base, src, dst, prefix=""):
    value = {"prefix": prefix, "prepend": "", "dry_run": False, "force": False, "latest-ver": False,
             "synchronize": False}
    return http.post(lt.bck_url(base, src), params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"},
                     json=lt.actmsg("copy-bck", value))


def put(http, base, bck, obj, data):
    r = http.put(lt.obj_url(base, bck, obj), params=P, data=data)
    assert r.status_code == 200, r.text[:200]


def list_names(http, base, bck):
    r = http.get(lt.bck_url(base, bck), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200, r.text[:300]
    return [e["name"] for e in r.json()["entries"]]


def test_copy_bck_prefix(cluster, http, buckets):
    src, dst = buckets(), buckets(create=False)  # dst is created by the job
    want = {}
    for i in range(30):
        name = f"{'keep' if i % 2 else 'skip'}/{i:02d}"
        data = f"content {i} ".encode() * (i + 1)
        put(http, cluster.url, src, name, data)
        if name.startswith("keep/"):
            want[name] = data
    t0 = time.time_ns()
    jid = job_id_of(copy_bck(http, cluster.url, src, dst, prefix="keep/"))
    st = wait_job(http, cluster.url, jid)
    assert st["err"] == "" and st["aborted"] is False, st
    assert st.get("kind") == "copy-bck", st
    assert st["end_time"] >= t0 - 5 * 10**9, f"end_time is not unix ns: {st}"
    # Same answer with lowercase keys (Go matches JSON keys case-insensitively).
    r = status(http, cluster.url, jid, upper=False)
    assert r.status_code == 200 and r.json()["uuid"] == jid and r.json()["end_time"] == st["end_time"]

    assert sorted(list_names(http, cluster.url, dst)) == sorted(want)
    sm = cluster.smap()
    owners = {lt.hrw_target(sm, dst, n)["daemon_id"] for n in want}
    assert len(owners) > 1, "test needs objects on several targets"
    for name, data in want.items():
        r = http.get(lt.obj_url(cluster.url, dst, name), params=P)
        assert r.status_code == 200 and r.content == data, name
        # Each copy lives on its HRW owner in the destination bucket.
        owner = lt.hrw_target(sm, dst, name)
        r = http.get(lt.obj_url(owner["public_net"]["direct_url"], dst, name), params=P)
        assert r.status_code == 200 and r.content == data, f"{name} not on its HRW owner"
    # Source untouched.
    assert len(list_names(http, cluster.url, src)) == 30

    r = http.get(cluster.url + "/v1/cluster", params={"what": "qryxstats"}, json=job_args(jid))
    assert r.status_code == 200, r.text[:300]
    snaps = r.json()
    assert isinstance(snaps, dict) and snaps
    assert set(snaps) <= {t.id for t in cluster.targets}, snaps.keys()
    assert set(snaps) == {t.id for t in cluster.targets}, "one runner per target"
    for tid, lst in snaps.items():
        assert isinstance(lst, list) and lst, (tid, lst)
        for s in lst:
            assert s["id"] == jid and s["kind"] == "copy-bck", s
            for k in ("start-time", "end-time", "stats", "aborted", "is_idle"):
                assert k in s, f"snap lacks {k}: {s}"
            assert s["aborted"] is False
            assert s["is_idle"] is True, f"finished job must report is_idle: {s}"
            assert not s["end-time"].startswith("0001-"), f"finished job has zero end-time: {s}"
            for k in ("loc-objs", "loc-bytes", "out-objs", "out-bytes", "in-objs", "in-bytes"):
                assert int(s["stats"][k]) >= 0, (k, s["stats"])
            for k in ("bck", "src-bck", "dst-bck"):
                if k in s and s[k]:
                    assert s[k]["provider"] == "ais", s[k]
            if s.get("dst-bck"):
                assert s["dst-bck"]["name"] == dst and s["src-bck"]["name"] == src


def test_copy_bck_missing_source_404(cluster, http, buckets):
    src = lt.rand_name("nosrc-")
    r = copy_bck(http, cluster.url, src, buckets(create=False))
    lt.assert_error(r, 404, lt.bucket_missing_msg(src))


def delete_listrange(http, base, bck, value):
    return http.delete(lt.bck_url(base, bck), params=P, json=lt.actmsg("delete-listrange", value))


def test_delete_listrange_objnames(cluster, http, buckets):
    bck = buckets()
    names = [f"obj-{i}" for i in range(12)]
    for n in names:
        put(http, cluster.url, bck, n, n.encode())
    gone = ["obj-1", "obj-3", "obj-10"]
    jid = job_id_of(delete_listrange(http, cluster.url, bck, {"objnames": gone}))
    st = wait_job(http, cluster.url, jid)
    assert st["err"] == "" and not st["aborted"], st
    assert st.get("kind") == "delete-listrange", st
    assert sorted(list_names(http, cluster.url, bck)) == sorted(set(names) - set(gone))
    for n in gone:
        lt.assert_error(http.get(lt.obj_url(cluster.url, bck, n), params=P), 404)
    # The bucket itself stays.
    assert http.head(lt.bck_url(cluster.url, bck), params=P).status_code == 200


def test_delete_listrange_template(cluster, http, buckets):
    bck = buckets()
    names = [f"obj-{i}" for i in range(20)]
    for n in names:
        put(http, cluster.url, bck, n, n.encode())
    jid = job_id_of(delete_listrange(http, cluster.url, bck, {"template": "obj-{0..9}"}))
    st = wait_job(http, cluster.url, jid)
    assert st["err"] == "" and not st["aborted"], st
    assert sorted(list_names(http, cluster.url, bck)) == sorted(f"obj-{i}" for i in range(10, 20))


def test_unknown_job_404(cluster, http):
    for upper in (True, False):
        r = status(http, cluster.url, "nonexistent-job-id", upper)
        lt.assert_error(r, 404)
    r = http.get(cluster.url + "/v1/cluster", params={"what": "qryxstats"},
                 json=job_args("nonexistent-job-id"))
    lt.assert_error(r, 404)
