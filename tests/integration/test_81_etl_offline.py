"""81 offline ETL (docs/protocol.md §1.7-1.8, docs/protocol.md §7, §8.3): bucket-to-bucket
`etl-bck` over 1,000+ objects with prefix, ext and prepend, every output checked against a local
computation; dry run; `coer` on and off with a transformer that fails on chosen objects (errors
listed per object in GET /v1/etl/<name>?uuid=<job>); a transformer that exits mid-job (the job
ends with an error, no partial objects, the ETL is Aborted with the exit status); unknown and
stopped ETLs.
"""

import os
import random
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


def to_name(name, prepend="", ext=None):
    """Go's TCBMsg.ToName: prepend, then replace the extension after the last '.' via ext."""
    name = prepend + name
    if ext:
        idx = name.rfind(".")
        if idx >= 0 and name[idx + 1:] in ext:
            name = name[:idx + 1] + ext[name[idx + 1:]].lstrip(".")
    return name


def check_outputs(base, dst, want):
    """Every expected destination object exists with exactly the expected bytes."""
    got = eu.get_many(base, dst, list(want))
    bad = [(n, st, len(body), len(want[n])) for n, (st, body) in got.items()
           if st != 200 or body != want[n]]
    assert not bad, f"{len(bad)} of {len(want)} outputs wrong, e.g. {bad[:5]}"


def test_etl_bck_prefix_ext_prepend(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets(create=False)  # the job creates the destination
    name = etls.track(eu.etl_name("bck"))
    etls.init_ok(eu.py_spec(name))
    rnd = random.Random(80)
    kinds = ["{i:04d}.txt", "d{d}/{i:04d}.jpg", "{i:04d}.tar.gz", "v1.{d}/noext-{i:04d}",
             "{i:04d}.TXT"]
    objs = {}
    for i in range(1000):
        n = "in/" + kinds[i % len(kinds)].format(i=i, d=i % 7)
        size = rnd.choice([0, 1, 100, 1000, 4096, 10000]) if i % 100 else 256 * 1024
        objs[n] = bytes(rnd.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1)
        objs[n] = objs[n][:size]
    skipped = {f"out/{i:03d}.txt": b"not me %d" % i for i in range(100)}
    skipped.update({f"inx{i}.txt": b"prefix in but not in/" for i in range(10)})
    t0 = time.monotonic()
    eu.put_many(base, src, {**objs, **skipped})
    upload = time.monotonic() - t0

    ext = {"txt": "out", "jpg": ".png", "gz": "zst"}
    r = eu.etl_bck(http, base, src, dst, name, prefix="in/", ext=ext, prepend="tx-",
                   **{"num-workers": 4})
    jid = eu.job_id_of(r)
    st = eu.wait_job(http, base, jid, timeout=60)
    assert not st.get("err") and not st.get("aborted"), st
    want = {to_name(n, "tx-", ext): d.upper() for n, d in objs.items()}
    assert len(want) == 1000
    assert sorted(eu.list_names(http, base, dst)) == sorted(want)
    check_outputs(base, dst, want)
    assert eu.bucket_exists(http, base, dst)

    # counters: every source object transformed once (written locally or sent to its owner)
    snaps = eu.job_snaps(http, base, jid)
    assert set(snaps) == {t.id for t in cluster.targets}, snaps.keys()
    loc = sum(int(s["stats"]["loc-objs"]) for v in snaps.values() for s in v if s["id"] == jid)
    out = sum(int(s["stats"]["out-objs"]) for v in snaps.values() for s in v if s["id"] == jid)
    assert loc + out >= 1000, (loc, out)
    ent = eu.list_entry(http, base, name)
    assert ent["obj_count"] >= 1000, ent
    assert eu.view_ok(http, base, name, uuid=jid)["obj_errors"] == []
    # the sources are untouched
    check_outputs(base, src, dict(list(objs.items())[:50]))
    print(f"upload {upload:.1f}s, etl-bck of 1000 objects")


def test_dry_run_writes_nothing(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets(create=False)
    name = etls.track(eu.etl_name("dry"))
    etls.init_ok(eu.py_spec(name))
    eu.put_many(base, src, {f"o{i}.txt": b"x%d" % i for i in range(60)})
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, dry_run=True, ext={"txt": "out"}))
    st = eu.wait_job(http, base, jid)
    assert not st.get("err") and not st.get("aborted"), st
    if eu.bucket_exists(http, base, dst):
        assert eu.list_names(http, base, dst) == []
    for t in cluster.targets:
        if t.mountpaths:
            assert lt.object_files(t, dst) == [] and lt.work_files(t, dst) == []


def _coer_setup(http, base, etls, buckets, n=90):
    src, dst = buckets(), buckets(create=False)
    name = etls.track(eu.etl_name("coer"))
    etls.init_ok(eu.py_spec(name, mode="fail", env={"FAIL_ON": "bad"}))
    objs = {(f"dir/bad-{i:02d}" if i % 15 == 7 else f"dir/good-{i:02d}"): b"data %d" % i
            for i in range(n)}
    eu.put_many(base, src, objs)
    failing = sorted(o for o in objs if "bad" in o)
    assert len(failing) == n // 15
    return src, dst, name, objs, failing


def test_coer_on_records_errors_and_goes_on(cluster, http, etls, buckets):
    base = cluster.url
    src, dst, name, objs, failing = _coer_setup(http, base, etls, buckets)
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, coer=True, **{"num-workers": 2}))
    st = eu.wait_job(http, base, jid)
    assert not st.get("aborted"), st
    good = {o: d.upper() for o, d in objs.items() if o not in failing}
    assert sorted(eu.list_names(http, base, dst)) == sorted(good)
    check_outputs(base, dst, good)
    v = eu.view_ok(http, base, name, uuid=jid)
    errs = v["obj_errors"]
    assert sorted(e["obj_name"] for e in errs) == sorted(f"ais://{src}/{o}" for o in failing), errs
    for e in errs:
        assert e["ecode"] == 500, e
        assert "ETL error" in e["msg"] and "cannot transform" in e["msg"], e
    # without uuid: no job's errors
    assert eu.view_ok(http, base, name)["obj_errors"] == []
    assert eu.stage_of(http, base, name) == "Running"


def test_coer_off_aborts_the_job(cluster, http, etls, buckets):
    base = cluster.url
    src, dst, name, objs, failing = _coer_setup(http, base, etls, buckets)
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, **{"num-workers": 1}))
    st = eu.wait_job(http, base, jid)
    assert st.get("err"), f"a failed object without coer must fail the job: {st}"
    assert st.get("aborted"), st
    errs = eu.view_ok(http, base, name, uuid=jid)["obj_errors"]
    assert errs, "the failure that aborted the job is listed"
    assert all(e["obj_name"] in {f"ais://{src}/{o}" for o in failing} for e in errs), errs
    present = eu.list_names(http, base, dst) if eu.bucket_exists(http, base, dst) else []
    assert not [p for p in present if "bad" in p], present
    check_outputs(base, dst, {p: objs[p].upper() for p in present})
    # the ETL itself is fine: a transform error is not a dead server
    assert eu.stage_of(http, base, name) == "Running"


def test_transformer_exits_mid_job(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets(create=False)
    name = etls.track(eu.etl_name("exit"))
    etls.init_ok(eu.py_spec(name, mode="exit", env={"FAIL_ON": "boom"}))
    objs = {f"o/{i:04d}": os.urandom(2000) for i in range(300)}
    objs["o/0150-boom"] = b"the last straw"
    eu.put_many(base, src, objs)
    t0 = time.monotonic()
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, **{"num-workers": 2}))
    st = eu.wait_job(http, base, jid, timeout=30)  # no hang
    assert st.get("err"), f"the job must end with an error: {st}"
    print(f"job ended after {time.monotonic() - t0:.1f}s: {st['err'][:200]}")

    v = eu.wait_stage(http, base, name, "Aborted", timeout=15)
    reason = v.get("reason", "")
    assert "status 3" in reason, f"Aborted reason must carry the exit status: {v}"
    # no partial objects: whatever is visible is complete and correct
    present = eu.list_names(http, base, dst) if eu.bucket_exists(http, base, dst) else []
    assert "o/0150-boom" not in present
    check_outputs(base, dst, {p: objs[p].upper() for p in present})
    for t in cluster.targets:
        if t.mountpaths:
            assert lt.work_files(t, dst) == [], f"{t}: leftover work files"
    eu.wait_no_servers(name)
    # inline transforms are refused while Aborted
    r = eu.get_obj(http, base, src, "o/0001", etl_name=name)
    assert 400 <= r.status_code < 600, r.status_code
    assert name in lt.error_json(r)["message"]


def test_stop_etl_during_job_aborts_it(cluster, http, etls, buckets):
    """Stopping the ETL while an etl-bck job runs ends the job with an error, promptly."""
    base = cluster.url
    src, dst = buckets(), buckets(create=False)
    name = etls.track(eu.etl_name("stopjob"))
    etls.init_ok(eu.py_spec(name, mode="sleep", env={"SLEEP": "0.2"}))
    objs = {f"s/{i:03d}": b"slow %d" % i for i in range(150)}
    eu.put_many(base, src, objs)
    jid = eu.job_id_of(eu.etl_bck(http, base, src, dst, name, **{"num-workers": 2}))
    time.sleep(1.0)
    assert eu.job_status(http, base, jid)["end_time"] == 0, "the job should still be running"
    t0 = time.monotonic()
    assert eu.stop(http, base, name).status_code == 200
    st = eu.wait_job(http, base, jid, timeout=20)
    took = time.monotonic() - t0
    assert st.get("err"), f"a job whose ETL was stopped must end with an error: {st}"
    assert took < lt.tmo(10), f"job took {took:.1f}s to end after the stop"
    present = eu.list_names(http, base, dst) if eu.bucket_exists(http, base, dst) else []
    assert len(present) < len(objs)
    check_outputs(base, dst, {p: objs[p] for p in present})  # sleep mode echoes
    eu.wait_no_servers(name)


def test_etl_bck_unknown_or_stopped_etl(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets(create=False)
    eu.put(http, base, src, "a", b"a")
    r = eu.etl_bck(http, base, src, dst, "nosuch-etl")
    lt.assert_error(r, 404, "etl job nosuch-etl does not exist")
    name = etls.track(eu.etl_name("stopped"))
    etls.init_ok(eu.py_spec(name))
    assert eu.stop(http, base, name).status_code == 200
    r = eu.etl_bck(http, base, src, dst, name)
    if r.status_code == 200:  # accepted: then the job must fail, not transform
        st = eu.wait_job(http, base, r.text.strip())
        assert st.get("err"), st
    else:
        lt.assert_4xx(r, name)
    present = eu.list_names(http, base, dst) if eu.bucket_exists(http, base, dst) else []
    assert present == []
    # unknown TCBMsg keys are rejected
    r = http.post(lt.bck_url(base, src), params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"},
                  json=lt.actmsg("etl-bck", {**eu.tcb_value(name), "no-such-key": 1}))
    lt.assert_4xx(r)
