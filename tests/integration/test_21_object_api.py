"""21 object API: multipart upload (mpt-upload, part PUTs, mpt-complete, mpt-abort), appends
(append_type=append|flush with append_handle, the SDK's modes "w" and "a"), custom metadata
(PATCH, merge or set-new-custom), and promote of a target's local files (promote_allowed), all
through the proxy's redirects as AIStore's API and SDK send them (docs/protocol.md §1.3.1).

One cluster for the module (1 proxy, 2 targets) whose targets may promote from one directory."""

import os
import subprocess

import pytest

import locustest as lt

P = {"provider": "ais"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    allowed = tmp_path_factory.mktemp("promote-ok")
    outside = tmp_path_factory.mktemp("promote-no")
    c = lt.Cluster(tmp_path_factory.mktemp("objapi"), proxies=1, targets=2, name="objapi",
                   extra_flags=["--promote-allowed", str(allowed)])
    c.start()
    yield c, allowed, outside
    problems = c.teardown()
    assert not problems, problems


@pytest.fixture
def bucket(env, http):
    c = env[0]
    bck = lt.rand_name("oa-")
    r = http.post(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    yield bck
    http.delete(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("destroy-bck"))


def names(http, c, bck, props=""):
    r = http.get(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("list", lt.lsomsg(props=props)))
    assert r.status_code == 200, r.text
    return {e["name"]: e for e in (r.json().get("entries") or [])}


def get(http, c, bck, obj):
    r = http.get(lt.obj_url(c.url, bck, obj), params=P)
    assert r.status_code == 200, r.text
    return r.content


# ------------------------------------------------------------------------------------------------
# multipart upload (AIStore's api.CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
# AbortMultipartUpload)

def mpt_start(http, c, bck, obj):
    r = http.post(lt.obj_url(c.url, bck, obj), params=P, json=lt.actmsg("mpt-upload"))
    assert r.status_code == 200, r.text
    assert r.text and r.text.isalnum(), r.text
    return r.text


def mpt_part(http, c, bck, obj, uid, n, data):
    return http.put(lt.obj_url(c.url, bck, obj), data=data,
                    params={**P, "uploadId": uid, "partNumber": str(n)})


def mpt_complete(http, c, bck, obj, uid, parts):
    value = [{"etag": "", "part-number": n} for n in parts]
    return http.post(lt.obj_url(c.url, bck, obj), params={**P, "uploadId": uid},
                     json=lt.actmsg("mpt-complete", value))


def test_multipart_upload(env, http, bucket):
    c = env[0]
    obj = "mpt/big.bin"
    parts = [os.urandom(70000), os.urandom(1), os.urandom(5000)]
    r = http.post(lt.obj_url(c.url, bucket, obj), params=P, json=lt.actmsg("mpt-upload"),
                  allow_redirects=False)
    assert r.status_code == 307, r.status_code  # to the owner, as every object request
    uid = mpt_start(http, c, bucket, obj)
    for n in (2, 3, 1):  # any order
        r = mpt_part(http, c, bucket, obj, uid, n, parts[n - 1])
        assert r.status_code == 200, r.text
    r = mpt_part(http, c, bucket, obj, uid, 3, parts[2])  # a part sent again replaces it
    assert r.status_code == 200, r.text
    assert obj not in names(http, c, bucket)  # nothing visible before complete
    r = mpt_complete(http, c, bucket, obj, uid, [3, 1, 2])  # listed in any order, as AIStore
    assert r.status_code == 200, r.text
    data = b"".join(parts)
    assert get(http, c, bucket, obj) == data
    h = http.head(lt.obj_url(c.url, bucket, obj), params=P, allow_redirects=True)
    assert h.headers["Ais-Checksum-Value"] == lt.xxhash_cksum(data)
    assert list(names(http, c, bucket)) == [obj]
    # done: the id is gone
    assert mpt_complete(http, c, bucket, obj, uid, [1, 2, 3]).status_code == 404


def test_multipart_errors(env, http, bucket):
    c = env[0]
    obj = "mpt/err.bin"
    uid = mpt_start(http, c, bucket, obj)
    for bad in ("0", "10001", "x", "-1", ""):
        r = mpt_part(http, c, bucket, obj, uid, bad, b"abc")
        lt.assert_error(r, 400, "part number")
    lt.assert_error(mpt_part(http, c, bucket, obj, "nosuchupload1234567x", 1, b"a"), 404)
    lt.assert_error(mpt_part(http, c, bucket, obj, "../../../../etc", 1, b"a"), 404)
    # the id of one object does not work with another
    lt.assert_error(mpt_part(http, c, bucket, "other", uid, 1, b"a"), 404)
    assert mpt_part(http, c, bucket, obj, uid, 1, b"one").status_code == 200
    assert mpt_part(http, c, bucket, obj, uid, 3, b"three").status_code == 200
    lt.assert_error(mpt_complete(http, c, bucket, obj, uid, [1, 2]), 400)  # 2 missing
    lt.assert_error(mpt_complete(http, c, bucket, obj, uid, [1, 2, 3]), 400, "part 2")
    lt.assert_error(mpt_complete(http, c, bucket, obj, uid, [1, 1]), 400, "twice")
    lt.assert_error(mpt_complete(http, c, bucket, obj, uid, []), 400)
    r = http.post(lt.obj_url(c.url, bucket, obj), params={**P, "uploadId": uid},
                  json=lt.actmsg("mpt-complete", [{"part-number": "1"}]))
    lt.assert_error(r, 400)
    lt.assert_error(mpt_complete(http, c, bucket, obj, "nosuchupload1234567x", [1]), 404)
    # still there after the failed completes: the missing part, then complete
    assert mpt_part(http, c, bucket, obj, uid, 2, b"two").status_code == 200
    assert obj not in names(http, c, bucket)
    # abort (AIStore's: DELETE with the mpt-abort message)
    r = http.delete(lt.obj_url(c.url, bucket, obj), params={**P, "uploadId": uid},
                    json=lt.actmsg("mpt-abort"))
    assert r.status_code == 200, r.text
    lt.assert_error(mpt_part(http, c, bucket, obj, uid, 4, b"x"), 404)
    lt.assert_error(mpt_complete(http, c, bucket, obj, uid, [1, 2, 3]), 404)
    r = http.delete(lt.obj_url(c.url, bucket, obj), params={**P, "uploadId": uid},
                    json=lt.actmsg("mpt-abort"))
    lt.assert_error(r, 404)
    assert names(http, c, bucket) == {}
    r = http.post(lt.obj_url(c.url, bucket, obj), params=P, json=lt.actmsg("bogus-action"))
    lt.assert_error(r, 400)


# ------------------------------------------------------------------------------------------------
# appends (the SDK's ObjectWriter.append_content and ObjectFileWriter modes "w" and "a")

def append(http, c, bck, obj, data, handle="", flush=False):
    return http.put(lt.obj_url(c.url, bck, obj), data=data,
                    params={**P, "append_type": "flush" if flush else "append",
                            "append_handle": handle})


def test_append_modes(env, http, bucket):
    c = env[0]
    obj = "log.txt"
    r = http.put(lt.obj_url(c.url, bucket, obj), params=P, data=b"hello ")
    assert r.status_code == 200
    # mode "a": the old bytes stay
    r = append(http, c, bucket, obj, b"world")
    assert r.status_code == 200, r.text
    h = r.headers["Ais-Append-Handle"]
    assert h
    r = append(http, c, bucket, obj, b"!", h)
    assert r.status_code == 200, r.text
    h = r.headers["Ais-Append-Handle"]
    assert get(http, c, bucket, obj) == b"hello "  # nothing visible before the flush
    r = append(http, c, bucket, obj, b"", h, flush=True)
    assert r.status_code == 200, r.text
    assert get(http, c, bucket, obj) == b"hello world!"
    lt.assert_error(append(http, c, bucket, obj, b"", h, flush=True), 404)  # flushed: gone
    # mode "w": an empty PUT first, then appends
    assert http.put(lt.obj_url(c.url, bucket, obj), params=P, data=b"").status_code == 200
    h = append(http, c, bucket, obj, b"abc").headers["Ais-Append-Handle"]
    h = append(http, c, bucket, obj, b"def", h).headers["Ais-Append-Handle"]
    assert append(http, c, bucket, obj, b"", h, flush=True).status_code == 200
    assert get(http, c, bucket, obj) == b"abcdef"
    # appending to a new object
    h = append(http, c, bucket, "new", b"x" * 100).headers["Ais-Append-Handle"]
    assert append(http, c, bucket, "new", b"", h, flush=True).status_code == 200
    assert get(http, c, bucket, "new") == b"x" * 100
    assert sorted(names(http, c, bucket)) == ["log.txt", "new"]


def test_append_errors(env, http, bucket):
    c = env[0]
    obj = "a.bin"
    h = append(http, c, bucket, obj, b"abc").headers["Ais-Append-Handle"]
    tid, _, hid = h.partition("|")
    for bad in ("../../../etc/passwd", f"{tid}|../../x", f"{tid}|{hid}/..", "|", f"{tid}|"):
        lt.assert_error(append(http, c, bucket, obj, b"z", bad), 400, "append handle")
    lt.assert_error(append(http, c, bucket, obj, b"z", f"{tid}|{'a' * 20}"), 404)
    lt.assert_error(append(http, c, bucket, obj, b"z", f"someoneelse|{hid}"), 400)
    lt.assert_error(append(http, c, bucket, "other", b"z", h), (400, 404))  # another object's
    lt.assert_error(append(http, c, bucket, obj, b"", "", flush=True), 400)
    r = http.put(lt.obj_url(c.url, bucket, obj), params={**P, "append_type": "bogus"}, data=b"")
    lt.assert_error(r, 400)
    assert names(http, c, bucket) == {}
    assert append(http, c, bucket, obj, b"", h, flush=True).status_code == 200
    assert get(http, c, bucket, obj) == b"abc"


# ------------------------------------------------------------------------------------------------
# custom metadata (api.SetObjectCustomProps, ObjectWriter.set_custom_props)

def set_custom(http, c, bck, obj, kv, replace=False):
    params = {**P, "set-new-custom": "true"} if replace else P
    return http.patch(lt.obj_url(c.url, bck, obj), params=params, json=lt.actmsg("", kv))


def custom_of(http, c, bck, obj):
    h = http.head(lt.obj_url(c.url, bck, obj), params=P, allow_redirects=True).headers.get("Ais-Custom-Md", "")
    return dict(kv.split("=", 1) for kv in h.split(",") if kv)


def test_custom_props(env, http, bucket):
    c = env[0]
    obj = "meta/o"
    assert http.put(lt.obj_url(c.url, bucket, obj), params=P, data=b"data").status_code == 200
    r = http.patch(lt.obj_url(c.url, bucket, obj), params=P, json=lt.actmsg("", {"a": "1"}),
                   allow_redirects=False)
    assert r.status_code == 307
    assert set_custom(http, c, bucket, obj, {"a": "1", "b": "2"}).status_code == 200
    assert custom_of(http, c, bucket, obj) == {"a": "1", "b": "2"}
    assert set_custom(http, c, bucket, obj, {"b": "3", "c": "x y"}).status_code == 200  # merge
    assert custom_of(http, c, bucket, obj) == {"a": "1", "b": "3", "c": "x y"}
    assert set_custom(http, c, bucket, obj, {"d": "4"}, replace=True).status_code == 200
    assert custom_of(http, c, bucket, obj) == {"d": "4"}
    e = names(http, c, bucket, props="name,size,custom")[obj]
    assert e.get("custom-md") == "d=4", e
    assert get(http, c, bucket, obj) == b"data"  # the bytes untouched
    lt.assert_error(set_custom(http, c, bucket, "missing", {"a": "1"}), 404)
    for bad in ({"a": 1}, {"": "v"}, {"k=": "v"}, {"k": "a,b"}, {"k": "\n"}, {}, ["a"],
                {"k": "v" * 5000}):
        lt.assert_error(set_custom(http, c, bucket, obj, bad), 400)
    assert custom_of(http, c, bucket, obj) == {"d": "4"}


# ------------------------------------------------------------------------------------------------
# promote (api.Promote: POST /v1/objects/<bck> with PromoteArgs)

def promote(http, c, bck, src, **args):
    value = {"src": src, **args}
    return http.post(lt.bck_url(c.url, bck).replace("/buckets/", "/objects/"), params=P,
                     json=lt.actmsg("promote", value, name=src))


def test_promote(env, http, bucket):
    c, allowed, outside = env
    src = allowed / lt.rand_name("src-")
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"A" * 10, "b.bin": os.urandom(3000), "sub/c.txt": b"C"}
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    (outside / "secret").write_bytes(b"secret")
    (src / "link").symlink_to(outside / "secret")  # never followed in a walk
    (src / "sub" / "dirlink").symlink_to(outside)
    # non-recursive, into a prefix
    r = promote(http, c, bucket, str(src), obj="flat/")
    assert r.status_code == 200, r.text
    assert sorted(names(http, c, bucket)) == ["flat/a.txt", "flat/b.bin"]
    # recursive, every file, on whichever target owns its name
    r = promote(http, c, bucket, str(src), obj="all/", rcr=True)
    assert r.status_code == 200, r.text
    got = {n: get(http, c, bucket, n) for n in names(http, c, bucket) if n.startswith("all/")}
    assert got == {"all/" + k: v for k, v in files.items()}
    # one file, named by obj; one target (tid) sends what it does not own to its owner
    tid = c.targets[1].id
    r = promote(http, c, bucket, str(src / "b.bin"), obj="one", tid=tid)
    assert r.status_code == 200, r.text
    assert get(http, c, bucket, "one") == files["b.bin"]
    # ovw false keeps an existing object; dls deletes the sources promoted
    (src / "a.txt").write_bytes(b"changed")
    assert promote(http, c, bucket, str(src / "a.txt"), obj="flat/a.txt").status_code == 200
    assert get(http, c, bucket, "flat/a.txt") == files["a.txt"]
    r = promote(http, c, bucket, str(src / "a.txt"), obj="flat/a.txt", ovw=True, dls=True)
    assert r.status_code == 200, r.text
    assert get(http, c, bucket, "flat/a.txt") == b"changed"
    assert not (src / "a.txt").exists()


def test_promote_share_deletes_source(env, http, bucket):
    """In a file share every target looks at the source, and with dls the owner of a file deletes
    it once promoted: the others must not call that a missing source (it was, now and then)."""
    c, allowed, _ = env
    src = allowed / lt.rand_name("dls-")
    src.mkdir()
    for i in range(15):
        f = src / f"f{i}.bin"
        data = os.urandom(100 + i)
        f.write_bytes(data)
        r = promote(http, c, bucket, str(f), obj=f"one/{i}", dls=True)
        assert r.status_code == 200, r.text
        assert not f.exists()
        assert get(http, c, bucket, f"one/{i}") == data
    want = {}
    for i in range(30):
        want[f"all/f{i}"] = os.urandom(50 + i)
        (src / f"f{i}").write_bytes(want[f"all/f{i}"])
    r = promote(http, c, bucket, str(src), obj="all/", dls=True)
    assert r.status_code == 200, r.text
    assert list(src.iterdir()) == []
    assert {n: get(http, c, bucket, n) for n in names(http, c, bucket) if n.startswith("all/")} \
        == want
    # a source no target finds is still missing
    lt.assert_error(promote(http, c, bucket, str(src / "nope"), obj="x", dls=True), 404,
                    "not found on any target")


def test_promote_refused(env, http, bucket, cluster):
    c, allowed, outside = env
    (outside / "f").write_bytes(b"x")
    lt.assert_error(promote(http, c, bucket, str(outside / "f"), obj="x"), 403, "promote_allowed")
    link = allowed / lt.rand_name("ln-")
    link.symlink_to(outside)  # resolved before the check
    lt.assert_error(promote(http, c, bucket, str(link), obj="x/"), 403, "promote_allowed")
    lt.assert_error(promote(http, c, bucket, str(allowed / ".." / outside.name), obj="x"), 400)
    lt.assert_error(promote(http, c, bucket, "relative/path", obj="x"), 400, "absolute")
    lt.assert_error(promote(http, c, bucket, str(allowed / "nope"), obj="x"), 404)
    lt.assert_error(promote(http, c, bucket, str(allowed), obj="x", rcr="yes"), 400)
    lt.assert_error(promote(http, c, bucket, str(allowed), obj="x", tid="nosuchtarget"), 404)
    lt.assert_error(promote(http, c, "nosuchbucket", str(allowed), obj="x"), 404)
    assert names(http, c, bucket) == {}
    # a cluster whose config allows no directory: promote is off
    bck = lt.rand_name("oa-")
    assert http.post(lt.bck_url(cluster.url, bck), params=P,
                     json=lt.actmsg("create-bck")).status_code == 200
    try:
        lt.assert_error(promote(http, cluster, bck, str(allowed), obj="x"), 403, "disabled")
    finally:
        http.delete(lt.bck_url(cluster.url, bck), params=P, json=lt.actmsg("destroy-bck"))


# ------------------------------------------------------------------------------------------------
# CLI: locus object append | props set | promote

def locus(c, *args, stdin=None):
    env = dict(os.environ, LOCUS_ENDPOINT=c.url)
    env.pop("AIS_ENDPOINT", None)
    return subprocess.run([str(lt.LOCUS_CLI), *map(str, args)], env=env, input=stdin,
                          capture_output=True, timeout=60)


@pytest.mark.skipif(not lt.LOCUS_CLI.exists(), reason="locus CLI not built")
def test_cli(env, http, bucket, tmp_path):
    c, allowed, _ = env
    f = tmp_path / "part"
    f.write_bytes(b"from a file;")
    p = locus(c, "object", "append", f"ais://{bucket}/cli.txt", f)
    assert p.returncode == 0, p.stderr
    p = locus(c, "object", "append", f"{bucket}/cli.txt", stdin=b"from stdin")
    assert p.returncode == 0, p.stderr
    assert get(http, c, bucket, "cli.txt") == b"from a file;from stdin"
    p = locus(c, "object", "props", "set", f"{bucket}/cli.txt", "k1=v1", "k2=a b")
    assert p.returncode == 0, p.stderr
    assert custom_of(http, c, bucket, "cli.txt") == {"k1": "v1", "k2": "a b"}
    p = locus(c, "object", "props", "set", f"{bucket}/cli.txt", "k3=3", "--replace")
    assert p.returncode == 0, p.stderr
    assert custom_of(http, c, bucket, "cli.txt") == {"k3": "3"}
    p = locus(c, "object", "props", "set", f"{bucket}/cli.txt", "novalue")
    assert p.returncode == 2, p.stderr
    p = locus(c, "object", "props", "set", f"{bucket}/missing", "a=b")
    assert p.returncode == 1 and b"does not exist" in p.stderr, p.stderr
    src = allowed / lt.rand_name("cli-")
    src.mkdir()
    (src / "x.txt").write_bytes(b"x")
    p = locus(c, "object", "promote", bucket, src, "--obj", "cli/", "--recursive")
    assert p.returncode == 0, p.stderr
    assert get(http, c, bucket, "cli/x.txt") == b"x"
    p = locus(c, "object", "promote", bucket, tmp_path, "--obj", "no/")
    assert p.returncode == 1 and b"promote_allowed" in p.stderr, p.stderr
    # locus put --part-size: a multipart upload (3 parts), nothing left behind
    big = tmp_path / "big"
    data = os.urandom(2 * 65536 + 100)
    big.write_bytes(data)
    p = locus(c, "put", big, f"{bucket}/big", "--part-size", "64KiB")
    assert p.returncode == 0, p.stderr
    assert get(http, c, bucket, "big") == data
    p = locus(c, "put", big, f"{bucket}/big", "--part-size", "nonsense")
    assert p.returncode == 2, p.stderr


# ------------------------------------------------------------------------------------------------
# permissions (auth on): promote is an admin's; appends need APPEND, custom metadata OBJ-UPDATE

RW = 831  # AIStore's AccessRW: GET, HEAD, PUT, APPEND, DELETE, MOVE, bucket HEAD, list
RO = 771  # AccessRO


def test_permissions(cluster_factory, http, tmp_path):
    allowed = tmp_path / "ok"
    allowed.mkdir()
    (allowed / "f").write_bytes(b"f")
    c = cluster_factory(targets=1, auth=True, flags=["--promote-allowed", str(allowed)])
    admin = lt.bearer(lt.admin_token())
    bck = lt.rand_name("oa-")
    assert http.post(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("create-bck"),
                     headers=admin).status_code == 200
    rw = lt.bearer(lt.make_token(user="rw", buckets=[(bck, RW)]))
    ro = lt.bearer(lt.make_token(user="ro", buckets=[(bck, RO)]))
    url = lt.obj_url(c.url, bck, "o")
    # multipart and appends with read-write access
    r = http.post(url, params=P, json=lt.actmsg("mpt-upload"), headers=rw)
    assert r.status_code == 200, r.text
    uid = r.text
    assert http.put(url, params={**P, "uploadId": uid, "partNumber": "1"}, data=b"ab",
                    headers=rw).status_code == 200
    r = http.post(url, params={**P, "uploadId": uid}, headers=rw,
                  json=lt.actmsg("mpt-complete", [{"part-number": 1}]))
    assert r.status_code == 200, r.text
    r = http.put(url, params={**P, "append_type": "append", "append_handle": ""}, data=b"c",
                 headers=rw)
    assert r.status_code == 200, r.text
    r = http.put(url, params={**P, "append_type": "flush",
                              "append_handle": r.headers["Ais-Append-Handle"]}, headers=rw)
    assert r.status_code == 200, r.text
    assert http.get(url, params=P, headers=rw).content == b"abc"
    lt.assert_error(http.put(url, params={**P, "append_type": "append", "append_handle": ""},
                             data=b"c", headers=ro), 403)
    lt.assert_error(http.post(url, params=P, json=lt.actmsg("mpt-upload"), headers=ro), 403)
    # custom metadata needs OBJ-UPDATE (not in read-write)
    lt.assert_error(http.patch(url, params=P, json=lt.actmsg("", {"k": "v"}), headers=rw), 403)
    assert http.patch(url, params=P, json=lt.actmsg("", {"k": "v"}),
                      headers=admin).status_code == 200
    # promote: admins only, through the proxy and on the target itself
    msg = lt.actmsg("promote", {"src": str(allowed / "f"), "obj": "p"}, name=str(allowed / "f"))
    purl = lt.bck_url(c.url, bck).replace("/buckets/", "/objects/")
    lt.assert_error(http.post(purl, params=P, json=msg, headers=rw), 403)
    lt.assert_error(http.post(purl, params=P, json=msg), 401)
    turl = lt.bck_url(c.targets[0].url, bck).replace("/buckets/", "/objects/")
    lt.assert_error(http.post(turl, params=P, json=msg, headers=rw), 403)
    r = http.post(purl, params=P, json=msg, headers=admin)
    assert r.status_code == 200, r.text
    assert http.get(lt.obj_url(c.url, bck, "p"), params=P, headers=admin).content == b"f"


def test_redundancy_of_complete_and_flush(env, http):
    """A completed upload and a flushed append are commits like any PUT: a mirrored bucket's
    copies follow them."""
    c = env[0]
    bck = lt.rand_name("oa-mi-")
    r = http.post(lt.bck_url(c.url, bck), params=P, json=lt.actmsg(
        "create-bck", {"mirror": {"enabled": True, "copies": 2}}))
    assert r.status_code == 200, r.text
    try:
        uid = mpt_start(http, c, bck, "m")
        assert mpt_part(http, c, bck, "m", uid, 1, b"mirrored").status_code == 200
        assert mpt_complete(http, c, bck, "m", uid, [1]).status_code == 200
        h = append(http, c, bck, "a", b"appended").headers["Ais-Append-Handle"]
        assert append(http, c, bck, "a", b"", h, flush=True).status_code == 200
        for obj in ("m", "a"):
            r = http.head(lt.obj_url(c.url, bck, obj), params=P, allow_redirects=True)
            assert r.headers["Ais-Mirror-Copies"] == "2", r.headers
    finally:
        http.delete(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("destroy-bck"))
