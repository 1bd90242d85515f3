"""80 ETL control plane and inline transforms on a real cluster (1 proxy + 3 targets)
(docs/protocol.md §1.6-1.7, docs/protocol.md §2.2, §3.1, §6-§7): init/list/view/health/logs/
stop/start/delete with the stage transitions, 409 on a second init, inline GET with etl_args
through the Python transformer (tests/integration/etl/py_server.py) and the built-in
transformers (AIStore's reference images), single-object transform-copy, obj_timeout, a server
that dies during init, and bad init messages.

Every ETL server process a test causes must be gone after its stop/delete (fixture `etls`).
"""

import base64
import hashlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import xxhash

import locustest as lt
from etl import etlutil as eu


@pytest.fixture
def etls(cluster, http):
    yield from eu.etls_fixture(cluster, http)


@pytest.fixture
def buckets(cluster, http):
    yield from eu.buckets_fixture(cluster, http)


def test_lifecycle_and_stages(cluster, http, etls, buckets):
    base = cluster.url
    bck = buckets()
    eu.put(http, base, bck, "a/obj.txt", b"hello etl")
    name = etls.track(eu.etl_name("life"))
    spec = eu.py_spec(name, env={"STARTUP_DELAY": "1.5"})

    # init blocks until every target's server is healthy; meanwhile the ETL is Initializing
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("r", eu.init(http, base, spec)))
    th.start()
    seen = set()
    while th.is_alive():
        st = eu.stage_of(http, base, name)
        if st:
            seen.add(st)
        time.sleep(0.05)
    th.join()
    r = res["r"]
    assert r.status_code == 200, f"init: {r.status_code} {r.text[:1000]}"
    xid = r.text.strip()
    assert xid and " " not in xid and '"' not in xid, f"init must reply the id as text: {r.text!r}"
    assert "Initializing" in seen, f"stage while starting: {seen}"

    ent = eu.list_entry(http, base, name)
    assert ent is not None, eu.etl_list(http, base)
    assert ent["stage"] == "Running" and ent["xaction_id"] == xid, ent
    for k in ("obj_count", "in_bytes", "out_bytes"):
        assert isinstance(ent[k], int), ent

    v = eu.view_ok(http, base, name)
    im = v["init_msg"]
    assert im["name"] == name and im["communication"] == "hpush://", im
    assert im["runtime"]["image"] == eu.PY_IMAGE
    assert im["runtime"]["command"] == spec["runtime"]["command"]
    assert isinstance(im["init_timeout"], str) and isinstance(im["obj_timeout"], str), im
    assert v["obj_errors"] == [], v

    # one healthy server per target, each with its log
    r = http.get(f"{base}/v1/etl/{name}/health")
    assert r.status_code == 200, r.text
    health = r.json()
    assert sorted(h["target_id"] for h in health) == sorted(t.id for t in cluster.targets), health
    assert all(h["health_status"] == "Running" for h in health), health
    r = http.get(f"{base}/v1/etl/{name}/logs")
    assert r.status_code == 200, r.text
    logs = r.json()
    assert sorted(x["target_id"] for x in logs) == sorted(t.id for t in cluster.targets)
    for x in logs:
        assert b"py_server: upper on port" in base64.b64decode(x["logs"]), x
    tid = cluster.targets[0].id
    r = http.get(f"{base}/v1/etl/{name}/logs/{tid}")
    assert r.status_code == 200 and [x["target_id"] for x in r.json()] == [tid], r.text
    eu.assert_servers(cluster, name)

    r = eu.get_obj(http, base, bck, "a/obj.txt", etl_name=name)
    assert r.status_code == 200 and r.content == b"HELLO ETL", (r.status_code, r.content[:200])
    ent = eu.list_entry(http, base, name)
    assert ent["obj_count"] >= 1 and ent["in_bytes"] >= 9 and ent["out_bytes"] >= 9, ent

    # stop -> Aborted, servers gone, inline refused; stop is idempotent
    r = eu.stop(http, base, name)
    assert r.status_code == 200, r.text
    assert eu.view_ok(http, base, name).get("stage", eu.stage_of(http, base, name)) == "Aborted"
    assert eu.stage_of(http, base, name) == "Aborted"
    eu.wait_no_servers(name)
    r = eu.get_obj(http, base, bck, "a/obj.txt", etl_name=name)
    assert 400 <= r.status_code < 600, (r.status_code, r.content[:200])
    assert name in lt.error_json(r)["message"]
    assert eu.stop(http, base, name).status_code == 200

    # start again -> Running with a new job id; starting a Running ETL is a 400
    r = eu.start(http, base, name)
    assert r.status_code == 200, r.text
    ent = eu.list_entry(http, base, name)
    assert ent["stage"] == "Running", ent
    assert ent["xaction_id"] and ent["xaction_id"] != xid, (xid, ent)
    eu.assert_servers(cluster, name)
    r = eu.get_obj(http, base, bck, "a/obj.txt", etl_name=name, etl_args="x")
    assert r.status_code == 200 and r.content == b"HELLO ETL|x", (r.status_code, r.content[:200])
    lt.assert_error(eu.start(http, base, name), 400, "Running")

    # delete -> gone everywhere
    r = eu.delete(http, base, name)
    assert r.status_code == 200, r.text
    eu.wait_no_servers(name)
    missing = f"etl job {name} does not exist"
    lt.assert_error(eu.view(http, base, name), 404, missing)
    assert eu.list_entry(http, base, name) is None
    lt.assert_error(eu.get_obj(http, base, bck, "a/obj.txt", etl_name=name), 404, missing)
    lt.assert_error(eu.stop(http, base, name), 404, missing)
    lt.assert_error(eu.start(http, base, name), 404, missing)
    lt.assert_error(eu.delete(http, base, name), 404, missing)


def test_init_twice_409(cluster, http, etls, buckets):
    name = eu.etl_name("twice")
    etls.init_ok(eu.py_spec(name))
    r = etls.init(eu.py_spec(name, mode="reverse"))
    lt.assert_error(r, 409, f"etl job {name} already exists")
    # the first one is untouched: it still upper-cases (views never show env values)
    bck = buckets()
    eu.put(http, cluster.url, bck, "o", b"abc")
    assert eu.get_obj(http, cluster.url, bck, "o", etl_name=name).content == b"ABC"
    assert eu.view_ok(http, cluster.url, name)["init_msg"]["runtime"]["env"][0]["value"] == "<redacted>"
    assert eu.stage_of(http, cluster.url, name) == "Running"
    eu.assert_servers(cluster, name)


def test_inline_args_names_and_sizes(cluster, http, etls, buckets):
    base = cluster.url
    bck = buckets()
    up = etls.track(eu.etl_name("upper"))
    rev = etls.track(eu.etl_name("rev"))
    etls.init_ok(eu.py_spec(up))
    etls.init_ok(eu.py_spec(rev, mode="reverse"))
    big = bytes(range(97, 123)) * (3 * lt.MiB // 26)
    objs = {
        "plain": b"some text",
        "dir/sub/deep name.txt": b"with spaces",
        "unicod\u00e9/\u0436\u0443\u043a.bin": b"\x00\x01abc\xff",
        "empty": b"",
        "big": big,
    }
    for n, d in objs.items():
        eu.put(http, base, bck, n, d)
    for n, d in objs.items():
        r = eu.get_obj(http, base, bck, n, etl_name=up)
        assert r.status_code == 200, (n, r.status_code, r.text[:300])
        assert r.content == d.upper(), (n, len(r.content), r.content[:100])
        r = eu.get_obj(http, base, bck, n, etl_name=rev)
        assert r.status_code == 200 and r.content == d[::-1], (n, r.status_code, r.content[:100])
    # etl_args reach the server verbatim (the SDK sends dicts as compact JSON)
    for args in ("abc", '{"a":1,"b":"x y"}', "p=q&r=s/t%u"):
        r = eu.get_obj(http, base, bck, "plain", etl_name=up, etl_args=args)
        assert r.status_code == 200, (args, r.status_code, r.text[:300])
        assert r.content == b"SOME TEXT|" + args.encode(), (args, r.content)
    # the source objects are untouched
    r = eu.get_obj(http, base, bck, "plain")
    assert r.content == b"some text"
    lt.assert_error(eu.get_obj(http, base, bck, "no/such/obj", etl_name=up), 404, "does not exist")
    lt.assert_error(eu.get_obj(http, base, bck, "plain", etl_name="nosuch-etl"), 404,
                    "etl job nosuch-etl does not exist")
    ent = eu.list_entry(http, base, up)
    assert ent["obj_count"] >= len(objs), ent


def test_inline_concurrent(cluster, http, etls, buckets):
    """Many inline GETs at once over kept-alive connections: every answer is the right one."""
    base = cluster.url
    bck = buckets()
    name = etls.track(eu.etl_name("conc"))
    etls.init_ok(eu.py_spec(name, mode="reverse"))
    objs = {f"c/{i:03d}": os.urandom(1 + (i * 7919) % 50000) for i in range(200)}
    eu.put_many(base, bck, objs)
    local = threading.local()

    def one(item):
        s = getattr(local, "s", None) or setattr(local, "s", lt.Http()) or local.s
        n, d = item
        r = eu.get_obj(s, base, bck, n, etl_name=name, etl_args=n)
        return n, r.status_code, r.content == d[::-1] + b"|" + n.encode()

    with ThreadPoolExecutor(32) as ex:
        res = list(ex.map(one, list(objs.items()) * 2))
    bad = [x for x in res if x[1] != 200 or not x[2]]
    assert not bad, f"{len(bad)} of {len(res)} wrong: {bad[:5]}"


def test_inline_server_exits_mid_request(cluster, http, etls, buckets):
    """The server dies while handling an inline GET: the client gets an error, not a hang, and
    the ETL ends Aborted with the exit status."""
    base = cluster.url
    bck = buckets()
    eu.put(http, base, bck, "x/boom", b"bye")
    eu.put(http, base, bck, "x/fine", b"fine")
    name = etls.track(eu.etl_name("die"))
    etls.init_ok(eu.py_spec(name, mode="exit", env={"FAIL_ON": "boom"}))
    assert eu.get_obj(http, base, bck, "x/fine", etl_name=name).content == b"FINE"
    t0 = time.monotonic()
    r = eu.get_obj(http, base, bck, "x/boom", etl_name=name, timeout=lt.tmo(30))
    assert time.monotonic() - t0 < lt.tmo(10), "inline GET hung after the server died"
    assert 500 <= r.status_code < 600, (r.status_code, r.content[:200])
    lt.error_json(r)
    v = eu.wait_stage(http, base, name, "Aborted", timeout=15)
    assert "status 3" in v.get("reason", ""), v
    eu.wait_no_servers(name)


def _xxh(seed):
    return lambda d: xxhash.xxh64(d, seed=seed).hexdigest().encode()


@pytest.mark.parametrize("which,env,args,expect", [
    ("md5", None, None, lambda d: hashlib.md5(d).hexdigest().encode()),
    ("echo", None, None, lambda d: d),
    ("hello", None, None, lambda d: b"Hello World!"),
    ("xxhash", {"SEED_DEFAULT": "500"}, None, _xxh(500)),
    ("xxhash", {"SEED_DEFAULT": "500"}, "12345", _xxh(12345)),
], ids=["md5", "echo", "hello", "xxhash-seed-env", "xxhash-seed-args"])
def test_builtin_inline(cluster, http, etls, buckets, which, env, args, expect):
    base = cluster.url
    name = etls.track(eu.etl_name(which))
    spec = eu.builtin_spec(name, which, env)  # skips when the binary is not built
    etls.init_ok(spec)
    bck = buckets()
    objs = {f"o{i}": (b"data-%d-" % i) * (i * 1000 + 1) for i in range(6)}
    objs["empty"] = b""
    for n, d in objs.items():
        eu.put(http, base, bck, n, d)
    for n, d in objs.items():
        params = {"etl_name": name}
        if args is not None:
            params["etl_args"] = args
        r = eu.get_obj(http, base, bck, n, **params)
        assert r.status_code == 200, (n, r.status_code, r.text[:300])
        assert r.content == expect(d), (which, n, r.content[:100])
    assert eu.view_ok(http, base, name)["init_msg"]["runtime"]["image"] == spec["runtime"]["image"]


def test_builtin_bad_args_is_etl_error(cluster, http, etls, buckets):
    """A transformer's 4xx reaches the client with that status and `ETL error: <body>`."""
    name = etls.track(eu.etl_name("xxh"))
    etls.init_ok(eu.builtin_spec(name, "xxhash"))
    bck = buckets()
    eu.put(http, cluster.url, bck, "o", b"abc")
    r = eu.get_obj(http, cluster.url, bck, "o", etl_name=name, etl_args="not-a-seed")
    lt.assert_error(r, 400, "ETL error")


def test_transform_copy(cluster, http, etls, buckets):
    base = cluster.url
    src, dst = buckets(), buckets()
    name = etls.track(eu.etl_name("tco"))
    etls.init_ok(eu.py_spec(name))
    names = [f"dir/obj-{i}.txt" for i in range(12)]
    for n in names:
        eu.put(http, base, src, n, f"payload of {n}".encode())
    for i, n in enumerate(names):
        params = {"provider": "ais", "object_to": f"ais/@#/{dst}/copied/{n}", "etl_name": name}
        if i % 2:
            params["etl_args"] = f"arg{i}"
        r = http.put(lt.obj_url(base, src, n), params=params)
        assert r.status_code == 200, (n, r.status_code, r.text[:300])
    for i, n in enumerate(names):
        want = f"payload of {n}".upper().encode() + (f"|arg{i}".encode() if i % 2 else b"")
        r = eu.get_obj(http, base, dst, f"copied/{n}")
        assert r.status_code == 200 and r.content == want, (n, r.status_code, r.content[:200])
        assert eu.get_obj(http, base, src, n).content == f"payload of {n}".encode()
    assert sorted(eu.list_names(http, base, dst)) == sorted(f"copied/{n}" for n in names)
    # unknown ETL: 404, nothing written
    r = http.put(lt.obj_url(base, src, names[0]),
                 params={"provider": "ais", "object_to": f"ais/@#/{dst}/nope",
                         "etl_name": "nosuch-etl"})
    lt.assert_error(r, 404, "etl job nosuch-etl does not exist")
    lt.assert_error(eu.get_obj(http, base, dst, "nope"), 404)


def test_obj_timeout_enforced(cluster, http, etls, buckets):
    base = cluster.url
    bck = buckets()
    eu.put(http, base, bck, "slow", b"zzz")
    name = etls.track(eu.etl_name("slow"))
    etls.init_ok(eu.py_spec(name, mode="sleep", env={"SLEEP": "5"}, obj_timeout="1s"))
    assert eu.view_ok(http, base, name)["init_msg"]["obj_timeout"] in ("1s", "1s0ms")
    t0 = time.monotonic()
    r = eu.get_obj(http, base, bck, "slow", etl_name=name, timeout=lt.tmo(20))
    took = time.monotonic() - t0
    assert 400 <= r.status_code < 600, (r.status_code, r.content[:200])
    msg = lt.error_json(r)["message"]
    assert "timeout" in msg.lower() or "timed out" in msg.lower(), msg
    assert took < lt.tmo(4), f"inline GET failed only after {took:.1f}s (obj_timeout 1s, server 5s)"
    # the ETL itself stays up: a slow object is not a dead server
    assert eu.stage_of(http, base, name) == "Running"


def test_server_dies_during_init(cluster, http, etls):
    base = cluster.url
    name = etls.track(eu.etl_name("dies"))
    spec = eu.py_spec(name)
    code = "import sys; print('boom: cannot start', flush=True); sys.exit(7)"
    spec["runtime"]["command"] = [sys.executable, "-c", code]
    t0 = time.monotonic()
    r = eu.init(http, base, spec)
    assert time.monotonic() - t0 < lt.tmo(15), "init did not notice the dead server quickly"
    body = lt.assert_4xx(r)
    assert "status 7" in body["message"] and "boom: cannot start" in body["message"], body
    # a failed init leaves nothing behind (docs/protocol.md §1.6): the name is free again
    assert eu.view(http, base, name).status_code == 404
    eu.wait_no_servers(name)


def test_server_never_healthy_init_timeout(cluster, http, etls):
    base = cluster.url
    name = etls.track(eu.etl_name("mute"))
    spec = eu.py_spec(name, init_timeout="2s")
    spec["runtime"]["command"] = [sys.executable, "-c", "import time; time.sleep(60)"]
    t0 = time.monotonic()
    r = eu.init(http, base, spec)
    took = time.monotonic() - t0
    body = lt.assert_4xx(r)
    assert "2s" in body["message"] or "health" in body["message"].lower(), body
    assert took < lt.tmo(12), f"init with init_timeout 2s took {took:.1f}s"
    assert eu.view(http, base, name).status_code == 404  # nothing left behind
    eu.wait_no_servers(name)


def _spec(**kw):
    s = eu.py_spec("bad-spec-1")
    s.update(kw)
    return s


def _spec_rt(**rt):
    s = eu.py_spec("bad-spec-2")
    s["runtime"] = rt
    return s


@pytest.mark.parametrize("body,contains", [
    (_spec(name="Bad_Name"), "Bad_Name"),
    (_spec(name="abc"), "abc"),
    (_spec(name="a" * 33), "a" * 33),
    (_spec(name="-leading"), "-leading"),
    (_spec(name=""), "name"),
    ({k: v for k, v in _spec().items() if k != "name"}, "name"),
    (_spec(communication="foo://"), "foo://"),
    (_spec(communication="ws://", support_direct_put=False), "ws://"),
    (_spec_rt(command=["true"]), "runtime.image"),
    (_spec_rt(image="example.com/unknown:1"), "example.com/unknown:1"),
    (_spec_rt(image="example.com/unknown:1", command=[]), "example.com/unknown:1"),
    (_spec(obj_timeout="soon"), "obj_timeout"),
    (_spec(runtime={"image": "x/y", "command": ["true"], "env": "A=1"}), "env"),
    ("{not json", None),
    ("[1, 2]", None),
], ids=["upper-underscore", "too-short", "too-long", "leading-dash", "empty-name", "no-name",
        "unknown-comm", "ws-no-direct-put", "no-image", "unknown-image-no-command",
        "unknown-image-empty-command", "bad-obj-timeout", "bad-env", "malformed-json", "array"])
def test_bad_specs_4xx(cluster, http, body, contains):
    if isinstance(body, str):
        r = http.put(cluster.url + "/v1/etl", data=body,
                     headers={"Content-Type": "application/json"})
    else:
        r = http.put(cluster.url + "/v1/etl", json=body)
    names = [e["id"] for e in eu.etl_list(http, cluster.url)]
    for n in names:  # accepted by mistake: do not leave it to the next test
        if n.startswith("bad-spec"):
            eu.stop(http, cluster.url, n)
            eu.delete(http, cluster.url, n)
            eu.wait_no_servers(n)
    lt.assert_error(r, 400, contains)
    assert not any(n.startswith("bad-spec") for n in names), names
