"""62 TLS: a cluster whose nodes serve HTTPS (tls_cert, tls_key) and verify each other with a CA
(tls_ca). Clients reach it over https with the CA (requests' verify=, the CLI's LOCUS_CA or
AIStore's AIS_CLIENT_CA); object I/O through the proxy's redirect, listing, a GetBatch whose
entries the targets read from each other, a copy job between targets, and ETL servers that fetch from their target (hpull) and deliver by direct put all go
over TLS. A client without the CA is refused by certificate verification."""

import io
import json
import os
import subprocess
import tarfile

import pytest
import requests

import locustest as lt
from etl import etlutil as eu

P = {"provider": "ais"}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and one certificate for 127.0.0.1 signed by it (every node of the test uses it)."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=locus-test-ca", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr",
             "-subj", "/CN=127.0.0.1", cwd=d)
    _openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


@pytest.fixture
def tls_cluster(cluster_factory, pki, monkeypatch):
    # The test's own requests (readiness, helpers) verify with the test CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki / "ca.pem"))
    flags = ["--tls-cert", str(pki / "node.pem"), "--tls-key", str(pki / "node.key"),
             "--tls-ca", str(pki / "ca.pem")]
    return cluster_factory(proxies=1, targets=2, flags=flags, scheme="https")


def test_objects_and_jobs_over_tls(tls_cluster, http, pki):
    c = tls_cluster
    assert c.url.startswith("https://")
    bck = lt.rand_name("tls-")
    assert http.post(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("create-bck")).status_code == 200
    objs = {f"o{i}": os.urandom(1000 + i * 4096) for i in range(12)}
    for n, d in objs.items():
        r = http.put(lt.obj_url(c.url, bck, n), params=P, data=d)
        assert r.status_code == 200, r.text
        assert r.url.startswith("https://")  # the redirect to the target is https too
    for n, d in objs.items():
        assert http.get(lt.obj_url(c.url, bck, n), params=P).content == d
    # GetBatch: the assembling target reads the other target's entries over https (a streamed
    # answer: the upgraded plain connection is for http:// owners only).
    body = {"in": [{"objname": n} for n in objs], "strm": True, "onob": True}
    r = http.get(f"{c.url}/v1/ml/moss/{bck}", params=P, data=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
        assert [(m.name, t.extractfile(m).read()) for m in t.getmembers()] == list(objs.items())
    r = http.get(lt.bck_url(c.url, bck), params=P, json=lt.actmsg("list", lt.lsomsg()))
    assert sorted(e["name"] for e in r.json()["entries"]) == sorted(objs)
    # A copy job: targets PUT to each other over https (verified with tls_ca).
    dst = lt.rand_name("tlsdst-")
    jid = eu.job_id_of(http.post(lt.bck_url(c.url, bck), json=lt.actmsg("copy-bck", {}),
                                 params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"}))
    st = eu.wait_job(http, c.url, jid)
    assert not st.get("err"), st
    for n, d in objs.items():
        assert http.get(lt.obj_url(c.url, dst, n), params=P).content == d


def test_tls_refuses_unverified_and_plain_clients(tls_cluster, pki):
    c = tls_cluster
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(c.url + "/v1/health", verify="/etc/ssl/certs/ca-certificates.crt",
                     timeout=lt.tmo(5))
    # Plain HTTP to the TLS port gets no HTTP answer.
    with pytest.raises(requests.exceptions.RequestException):
        r = requests.get(c.url.replace("https://", "http://") + "/v1/health", timeout=lt.tmo(5))
        assert r.status_code != 200
    assert requests.get(c.url + "/v1/health", verify=str(pki / "ca.pem")).status_code == 200


def test_cli_over_tls(tls_cluster, pki, tmp_path):
    c = tls_cluster
    env = dict(os.environ, AIS_ENDPOINT=c.url)
    env.pop("LOCUS_ENDPOINT", None)
    cli = [str(lt.BIN_DIR / "locus")]
    bck = lt.rand_name("tlscli-")
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(300_000))

    def run(*args, **kw):
        return subprocess.run(cli + list(args), env=kw.get("env", env), capture_output=True,
                              timeout=lt.tmo(60))

    # Without a CA the system store does not know the test CA: a clear failure, exit != 0.
    r = run("bucket", "create", f"ais://{bck}")
    assert r.returncode != 0 and b"certificate" in (r.stdout + r.stderr).lower(), r
    for var in ("LOCUS_CA", "AIS_CLIENT_CA"):
        e = dict(env, **{var: str(pki / "ca.pem")})
        name = var.lower()
        if var == "LOCUS_CA":
            assert run("bucket", "create", f"ais://{bck}", env=e).returncode == 0
        r = run("put", str(src), f"ais://{bck}/{name}", env=e)
        assert r.returncode == 0, r
        out = tmp_path / f"{name}.out"
        r = run("get", f"ais://{bck}/{name}", str(out), env=e)
        assert r.returncode == 0, r
        assert out.read_bytes() == src.read_bytes()
    e = dict(env, AIS_SKIP_VERIFY_CRT="true")
    r = run("ls", f"ais://{bck}", env=e)
    assert r.returncode == 0 and b"locus_ca" in r.stdout, r


@pytest.mark.parametrize("comm,direct", [("hpull://", False), ("hpush://", True)],
                         ids=["hpull", "hpush-direct-put"])
def test_etl_over_tls(tls_cluster, http, comm, direct):
    """The ETL server fetches from AIS_TARGET_URL (https, hpull) or PUTs its output to the
    destination target (https, direct put), verifying with the CA the target passes it."""
    c = tls_cluster
    etls = eu.Etls(http, c.url)
    try:
        name = eu.etl_name("tls")
        spec = eu.builtin_spec(name, "md5")
        spec["communication"] = comm
        spec["support_direct_put"] = direct
        etls.init_ok(spec)
        src, dst = lt.rand_name("tlse-"), lt.rand_name("tlse-")
        eu.create_bucket(http, c.url, src)
        objs = {f"x{i}": os.urandom(5000 + i) for i in range(10)}
        for n, d in objs.items():
            eu.put(http, c.url, src, n, d)
        import hashlib
        for n, d in objs.items():
            r = eu.get_obj(http, c.url, src, n, etl_name=name)
            assert r.status_code == 200 and r.content.decode() == hashlib.md5(d).hexdigest(), r.text
        jid = eu.job_id_of(eu.etl_bck(http, c.url, src, dst, name))
        st = eu.wait_job(http, c.url, jid)
        assert not st.get("err"), st
        for n, d in objs.items():
            assert eu.get_obj(http, c.url, dst, n).content.decode() == hashlib.md5(d).hexdigest()
    finally:
        etls.cleanup()
