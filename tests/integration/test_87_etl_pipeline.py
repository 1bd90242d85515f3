"""87 ETL pipelines and streaming transforms (docs/etl.md "Pipelines", docs/protocol.md §5.1,
docs/etl-framework.md "Streaming").

A pipeline is the ETL of a request followed by the ETLs of `etl_pipeline=b,c` (inline GET, object
copy) or of the TCBMsg's "pipeline" (etl-bck). The target sends the object to the first stage
only; each server PUTs its result to the next one (Ais-Node-Url / ws "pipeline") and the last
answers with the bytes or direct-puts them to the destination target. The stages here append
one letter each (the streaming C transformer transformers/append, and the Python test server in
its append mode, which forwards like AIStore's Python servers), so every output shows the order
its stages ran in.

The default run shares the session's cluster and deploys its ETLs once per module. The 2 GiB
object through a streaming transformer limited to 64 MiB of address space is marked slow.
"""

import hashlib
import json
import os
import subprocess
import time

import pytest

import locustest as lt
from etl import etlutil as eu

APPEND = lt.BIN_DIR / "locus-etl-append"


def append_spec(name, suffix, comm="hpush://", xor=0, fqn=False, memory=None, direct_put=True):
    spec = {
        "name": name,
        "communication": comm,
        "init_timeout": "30s",
        "obj_timeout": "10m",
        "support_direct_put": direct_put,
        "runtime": {
            "image": "locus-test/append:latest",
            "command": [str(APPEND), "--port", "${PORT}"],
            "env": eu.env_list({"APPEND_SUFFIX": suffix, "APPEND_XOR": str(xor),
                                "NUM_WORKERS": "2", "MALLOC_ARENA_MAX": "1"}),
        },
    }
    if fqn:
        spec["argument"] = "fqn"
    if memory:
        spec["resources"] = {"limits": {"memory": memory}}
    return spec


class Env:
    def __init__(self, cluster):
        self.cluster, self.base, self.http = cluster, cluster.url, lt.Http()
        self.etls = eu.Etls(self.http, self.base)
        self.buckets = []
        sfx = lt.rand_name("", 5)
        self.a, self.b, self.c = f"pa-{sfx}", f"pb-{sfx}", f"pc-{sfx}"
        self.py, self.pull, self.ws = f"py-{sfx}", f"pull-{sfx}", f"pws-{sfx}"
        self.wsf, self.md5 = f"pwsf-{sfx}", f"pmd5-{sfx}"

    def deploy(self):
        self.etls.init_ok(append_spec(self.a, "a"))
        self.etls.init_ok(append_spec(self.b, "b", fqn=True))
        self.etls.init_ok(append_spec(self.c, "c", direct_put=False))
        self.etls.init_ok(append_spec(self.pull, "h", comm="hpull://"))
        self.etls.init_ok(append_spec(self.ws, "w", comm="ws://"))
        self.etls.init_ok(append_spec(self.wsf, "f", comm="ws://", fqn=True))
        self.etls.init_ok(eu.py_spec(self.py, mode="append", env={"SUFFIX": "p"},
                                     support_direct_put=True))
        # AIStore's published md5 spec (the node maps its image to the built-in transformer)
        self.etls.init_ok(eu.builtin_spec(self.md5, "md5"))

    def bucket(self, create=True):
        b = lt.rand_name("pl-")
        if create:
            eu.create_bucket(self.http, self.base, b)
        self.buckets.append(b)
        return b

    def close(self):
        for b in self.buckets:
            eu.destroy_bucket(self.http, self.base, b)
        self.etls.cleanup()
        self.http.close()


@pytest.fixture(scope="module")
def env(_shared):
    e = Env(_shared.get())
    try:
        e.deploy()
        src = e.bucket()
        e.src = src
        e.objs = {f"o{i:02d}.txt": b"data %d;" % i for i in range(24)}
        eu.put_many(e.base, src, e.objs)
        yield e
    finally:
        e.close()


def get_t(env, obj, etl, pipeline=None, **params):
    p = {"etl_name": etl, **params}
    if pipeline is not None:
        p["etl_pipeline"] = pipeline
    return eu.get_obj(env.http, env.base, env.src, obj, **p)


def test_inline_two_stages_in_order(env):
    r = get_t(env, "o01.txt", env.a, env.b)
    assert r.status_code == 200, r.text
    assert r.content == b"data 1;ab"
    r = get_t(env, "o01.txt", env.b, env.a)
    assert r.status_code == 200, r.text
    assert r.content == b"data 1;ba"


def test_inline_three_stages_mixed_transports(env):
    # hpush (C) -> Python -> C without direct put support (it answers with the bytes)
    r = get_t(env, "o02.txt", env.a, f"{env.py},{env.c}")
    assert r.status_code == 200, r.text
    assert r.content == b"data 2;apc"
    # ws first stage, then the Python server, then FQN-mode C (later stages get the bytes)
    r = get_t(env, "o03.txt", env.ws, f"{env.py},{env.b}")
    assert r.status_code == 200, r.text
    assert r.content == b"data 3;wpb"
    # hpull first stage: with a pipeline the target asks the server itself (no redirect)
    r = get_t(env, "o04.txt", env.pull, f"{env.a},{env.ws}")
    assert r.status_code == 200, r.text
    assert r.content == b"data 4;haw"
    # AIStore's reference md5 spec as a middle and as the last stage
    r = get_t(env, "o06.txt", env.a, f"{env.md5},{env.b}")
    assert r.status_code == 200, r.text
    assert r.content == hashlib.md5(b"data 6;a").hexdigest().encode() + b"b"
    r = get_t(env, "o06.txt", env.py, env.md5)
    assert r.status_code == 200 and r.content == hashlib.md5(b"data 6;p").hexdigest().encode()
    # the same stage twice is two passes
    r = get_t(env, "o05.txt", env.a, f"{env.a},{env.a}")
    assert r.status_code == 200 and r.content == b"data 5;aaa", r.text


def test_inline_bad_pipelines_fail_before_running(env):
    missing = "nosuch-" + lt.rand_name("", 5)
    r = get_t(env, "o01.txt", env.a, f"{missing},{env.b}")
    lt.assert_error(r, 404, missing)
    r = get_t(env, "o01.txt", env.a, f"{env.b},{missing}")
    lt.assert_error(r, 404, missing)
    for bad in (f"{env.b},,{env.c}", ",", "Bad_Name", ",".join([env.b] * 17)):
        r = get_t(env, "o01.txt", env.a, bad)
        lt.assert_4xx(r)
        assert r.status_code == 400, (bad, r.status_code, r.text)
    # io:// has no server to forward or to forward to
    io = env.etls.track(eu.etl_name("pio"))
    env.etls.init_ok({"name": io, "communication": "io://",
                      "runtime": {"image": "none", "command": ["cat"]}})
    for first, pipe in ((io, env.a), (env.a, io)):
        r = get_t(env, "o01.txt", first, pipe)
        lt.assert_error(r, 400, "io://")
    # an empty etl_pipeline is no pipeline (the SDK sends none without stages)
    r = get_t(env, "o01.txt", env.a, "")
    assert r.status_code == 200 and r.content == b"data 1;a"


def test_copy_object_through_pipeline(env):
    dst = env.bucket()
    r = env.http.put(lt.obj_url(env.base, env.src, "o06.txt"),
                     params={**eu.P, "object_to": f"ais/@#/{dst}/copied", "etl_name": env.a,
                             "etl_pipeline": f"{env.c},{env.py}"})
    assert r.status_code == 200, r.text
    r = eu.get_obj(env.http, env.base, dst, "copied")
    assert r.status_code == 200 and r.content == b"data 6;acp", r.text


@pytest.mark.parametrize("first,stages,suffix", [
    ("a", ["b", "py"], b"abp"),      # last stage direct-puts to the destination target
    ("ws", ["a", "c"], b"wac"),      # ws first; the last stage answers with the bytes
    ("pull", ["py"], b"hp"),         # hpull first
])
def test_etl_bck_pipeline(env, first, stages, suffix):
    dst = env.bucket(create=False)
    names = [getattr(env, s) for s in stages]
    jid = eu.job_id_of(eu.etl_bck(env.http, env.base, env.src, dst, getattr(env, first),
                                  pipeline=names))
    st = eu.wait_job(env.http, env.base, jid)
    assert not st.get("err") and not st.get("aborted"), st
    got = eu.get_many(env.base, dst, list(env.objs))
    bad = {n: v for n, v in got.items() if v != (200, env.objs[n] + suffix)}
    assert not bad, list(bad.items())[:3]
    assert sorted(eu.list_names(env.http, env.base, dst)) == sorted(env.objs)


def test_etl_bck_missing_stage_is_404_before_start(env):
    dst = env.bucket(create=False)
    missing = "nosuch-" + lt.rand_name("", 5)
    r = eu.etl_bck(env.http, env.base, env.src, dst, env.a, pipeline=[env.b, missing])
    lt.assert_error(r, 404, missing)
    r = eu.etl_bck(env.http, env.base, env.src, dst, env.a, pipeline=[env.b, "UPPER"])
    assert r.status_code == 400, r.text
    r = eu.etl_bck(env.http, env.base, env.src, dst, env.a, pipeline="notalist")
    assert r.status_code == 400, r.text
    assert not eu.bucket_exists(env.http, env.base, dst)


def test_stopped_middle_stage_is_4xx(env):
    name = env.etls.track(eu.etl_name("pstop"))
    env.etls.init_ok(append_spec(name, "s"))
    eu.stop(env.http, env.base, name)
    eu.wait_stage(env.http, env.base, name, "Aborted")
    r = get_t(env, "o01.txt", env.a, f"{name},{env.b}")
    lt.assert_4xx(r, name)
    dst = env.bucket(create=False)
    r = eu.etl_bck(env.http, env.base, env.src, dst, env.a, pipeline=[name])
    lt.assert_4xx(r, name)


def test_streaming_transformer_small(env):
    """The streaming API on every input path: hpush body, FQN, hpull fetch, ws message, and an
    empty object; output XOR-ed and suffixed."""
    name = env.etls.track(eu.etl_name("xor"))
    env.etls.init_ok(append_spec(name, "!", xor=0x20))
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4: crosses the streaming threshold
    eu.put(env.http, env.base, env.src, "big.bin", data)
    eu.put(env.http, env.base, env.src, "empty.bin", b"")
    want = bytes(x ^ 0x20 for x in data) + b"!"
    for etl, pipe in ((name, None), (env.b, name), (env.pull, name), (env.ws, name)):
        r = get_t(env, "big.bin", etl, pipe)
        assert r.status_code == 200, r.text[:300]
        got = r.content
        if etl != name:  # the first stage appended its letter before the XOR stage
            letter = {env.b: b"b", env.pull: b"h", env.ws: b"w"}[etl]
            assert got == want[:-1] + bytes([letter[0] ^ 0x20]) + b"!", etl
        else:
            assert got == want
    r = get_t(env, "empty.bin", name)
    assert r.status_code == 200 and r.content == b"!"
    # ws: an object message past 4 MiB is spilled to a file and streamed from it; FQN in place
    data = bytes(range(251)) * (5 * 4096 + 7)
    eu.put(env.http, env.base, env.src, "big5.bin", data)
    for etl, pipe, sfx in ((env.ws, None, b"w"), (env.wsf, None, b"f"), (env.wsf, env.ws, b"fw"),
                           (env.b, env.ws, b"bw")):
        r = get_t(env, "big5.bin", etl, pipe)
        assert r.status_code == 200, r.text[:300]
        assert len(r.content) == len(data) + len(sfx) and r.content == data + sfx, (etl, pipe)


def test_cli_pipeline(env, tmp_path):
    """`locus etl object|bucket 'a>>b>>c'`: AIStore's CLI pipeline syntax."""
    e = dict(os.environ, LOCUS_ENDPOINT=env.base)
    e.pop("AIS_ENDPOINT", None)

    def run(*args):
        p = subprocess.run([str(lt.LOCUS_CLI), *args], env=e, capture_output=True,
                           timeout=lt.tmo(60))
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")

    rc, out, err = run("etl", "object", f"{env.a} >> {env.py}>>{env.b}", f"{env.src}/o07.txt", "-")
    assert rc == 0, err
    assert out == b"data 7;apb"
    dst = env.bucket(create=False)
    rc, out, err = run("etl", "bucket", f"{env.b}>>{env.a}", env.src, dst, "--wait")
    assert rc == 0, err
    r = eu.get_obj(env.http, env.base, dst, "o08.txt")
    assert r.status_code == 200 and r.content == b"data 8;ba"
    rc, out, err = run("etl", "object", f"{env.a}>>", f"{env.src}/o07.txt", "-")
    assert rc != 0 and "empty ETL name" in err, err

    # `etl init -f SPEC --pipeline`: the documents' ETLs, all or none, printed as a pipeline
    x, y = lt.rand_name("pix-", 5), lt.rand_name("piy-", 5)
    spec = tmp_path / "pipe.yaml"
    spec.write_text(json.dumps(append_spec(x, "x")) + "\n---\n" + json.dumps(append_spec(y, "y")))
    rc, out, err = run("etl", "init", "-f", str(spec), "--pipeline")
    assert rc == 0, err
    assert out.decode() == f"{x}>>{y}\n" and f"initialized ETL {y} (job " in err, (out, err)
    rc, out, err = run("etl", "object", out.decode().strip(), f"{env.src}/o03.txt", "-")
    assert (rc, out) == (0, b"data 3;xy"), err
    rc, out, err = run("etl", "rm", "-f", str(spec))
    assert rc == 0 and out.decode() == f"removed ETL {x}\nremoved ETL {y}\n", (out, err)
    # a stage that cannot start (its name is taken) removes the ones started before it
    spec.write_text(json.dumps(append_spec(x, "x")) + "\n---\n" + json.dumps(append_spec(env.a, "y")))
    rc, out, err = run("etl", "init", "-f", str(spec), "--pipeline")
    assert rc != 0 and out == b"" and f"removed ETL {x} (the pipeline did not start)" in err, err
    assert x not in [d["id"] for d in env.http.get(env.base + "/v1/etl").json()]


# ------------------------------------------------------------------------------------------------
# slow: 2 GiB through a streaming transformer limited to 64 MiB


def gen_chunks(total, chunk=4 << 20):
    """Deterministic non-repeating bytes: a SHA-256 counter stream."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(chunk // 32))
    sent, i = 0, 0
    while sent < total:
        n = min(chunk, total - sent)
        # vary each chunk so that a misplaced chunk changes the hash
        head = i.to_bytes(8, "little")
        yield (head + block[8:])[:n]
        sent += n
        i += 1


@pytest.mark.slow
def test_2gib_streaming_under_64mib(env):
    total = 2 << 30
    name = env.etls.track(eu.etl_name("big"))
    env.etls.init_ok(append_spec(name, "END", xor=0x5A, fqn=True, memory="64Mi"))
    # A generator body cannot follow the proxy's redirect: ask for it first, then stream there.
    r = env.http.put(lt.obj_url(env.base, env.src, "huge.bin"), params=eu.P, data=b"",
                     allow_redirects=False)
    assert r.status_code in (301, 302, 307, 308), r.text
    r = env.http.put(r.headers["Location"], data=gen_chunks(total), timeout=lt.tmo(600))
    assert r.status_code == 200, r.text
    r = env.http.head(lt.obj_url(env.base, env.src, "huge.bin"), params=eu.P,
                      allow_redirects=True)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == total, r.headers
    want = hashlib.sha256()
    table = bytes(x ^ 0x5A for x in range(256))
    for c in gen_chunks(total):
        want.update(c.translate(table))
    want.update(b"END")
    # FQN: the server reads the file in place; hpull: it fetches the object from its target
    # through a pipe, at the pace the transform reads
    pull = env.etls.track(eu.etl_name("bigpull"))
    env.etls.init_ok(append_spec(pull, "END", comm="hpull://", xor=0x5A, memory="64Mi"))
    for etl in (name, pull):
        t0 = time.monotonic()
        r = env.http.get(lt.obj_url(env.base, env.src, "huge.bin"),
                         params={**eu.P, "etl_name": etl}, stream=True, timeout=lt.tmo(600))
        assert r.status_code == 200, r.text
        got, n = hashlib.sha256(), 0
        for c in r.iter_content(1 << 20):
            got.update(c)
            n += len(c)
        assert n == total + 3, etl
        assert got.hexdigest() == want.hexdigest(), etl
        print(f"2 GiB through a 64 MiB streaming transformer ({etl}) in "
              f"{time.monotonic() - t0:.1f}s")
        assert eu.stage_of(env.http, env.base, etl) == "Running"
    # The control: the whole-buffer echo under the same limit cannot even map the object.
    echo = env.etls.track(eu.etl_name("bigecho"))
    spec = append_spec(echo, "", fqn=True, memory="64Mi")
    spec["runtime"]["command"] = [str(lt.BIN_DIR / "locus-etl-echo"), "--port", "${PORT}"]
    env.etls.init_ok(spec)
    r = env.http.get(lt.obj_url(env.base, env.src, "huge.bin"),
                     params={**eu.P, "etl_name": echo}, timeout=lt.tmo(120))
    assert r.status_code >= 400 and "cannot map" in r.text, (r.status_code, r.text[:300])
    env.http.delete(lt.obj_url(env.base, env.src, "huge.bin"), params=eu.P)
