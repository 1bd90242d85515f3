"""
Authentication and authorization with AIStore AuthN tokens (docs/security.md): 401 without a
valid token, 403 without the permission, admin-only management, object I/O through the proxy's
signed redirect (clients drop the token on the way), RS256 next to HS256, the CLI's tokens and
`locus cluster up --auth`. Tokens are made with PyJWT in AuthN's claim layout, not by Locus.
"""

import os
import subprocess
import urllib.parse

import jwt
import msgpack
import pytest
import requests

import locustest as lt

NO_TOKEN = {"Authorization": None}
RO, RW = 771, 831  # AIStore's AccessRO, AccessRW
CLUSTER_RO = 4096 | 8192  # LIST-BUCKETS, SHOW-CLUSTER


@pytest.fixture(scope="module")
def rsa_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("rsa")
    subprocess.run(["openssl", "genrsa", "-out", str(d / "k.pem"), "2048"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(d / "k.pem"), "-pubout", "-out",
                    str(d / "pub.pem")], check=True, capture_output=True)
    return d / "k.pem", d / "pub.pem"


@pytest.fixture
def authc(cluster_factory, rsa_keys):
    """A cluster with auth on verifying HS256 (the session's secret) and RS256 (rsa_keys)."""
    return cluster_factory(targets=2, auth=True, flags=["--auth-pubkey-file", str(rsa_keys[1])])


def tok(**kw):
    return lt.bearer(lt.make_token(**kw))


def make_bucket(c, name=None):
    name = name or lt.rand_name("auth-")
    r = requests.post(lt.bck_url(c.url, name), json=lt.actmsg("create-bck"), headers=c.headers())
    assert r.status_code == 200, r.text
    return name


def test_no_or_bad_token_is_401(authc):
    c = authc
    bck = make_bucket(c)
    for n in c.nodes:
        assert requests.get(n.url + "/v1/health", headers=NO_TOKEN).status_code == 200
    calls = [("GET", c.url + "/v1/buckets"), ("GET", c.url + "/v1/daemon?what=smap"),
             ("GET", lt.bck_url(c.url, bck)), ("HEAD", lt.bck_url(c.url, bck)),
             ("GET", lt.obj_url(c.url, bck, "o")), ("PUT", lt.obj_url(c.url, bck, "o")),
             ("DELETE", lt.obj_url(c.url, bck, "o")), ("GET", c.url + "/v1/etl"),
             ("GET", c.targets[0].url + "/v1/objects/" + bck + "/o"),
             ("GET", c.url + "/v1/nothing")]
    now = __import__("time").time()
    bad = {
        "none": NO_TOKEN,
        "not bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "empty bearer": {"Authorization": "Bearer "},
        "malformed": {"Authorization": "Bearer abc.def"},
        "expired": tok(admin=True, ttl=-5),
        "bad signature": tok(admin=True, secret="not-the-secret"),
        "alg none": lt.bearer(jwt.encode({"sub": "x", "admin": True, "exp": int(now) + 60}, None,
                                         algorithm="none")),
        "alg HS384": tok(admin=True, alg="HS384"),
        "no exp": lt.bearer(jwt.encode({"sub": "x", "admin": True}, lt.auth_secret(),
                                       algorithm="HS256")),
        "no sub": lt.bearer(jwt.encode({"admin": True, "exp": int(now) + 60}, lt.auth_secret(),
                                       algorithm="HS256")),
    }
    for method, url in calls:
        for what, h in bad.items():
            r = requests.request(method, url, headers=h, data=b"x" if method == "PUT" else None,
                                 allow_redirects=False, timeout=lt.REQ_TIMEOUT)
            assert r.status_code == 401, f"{what}: {method} {url}: {r.status_code} {r.text[:200]}"
            if method != "HEAD":
                lt.error_json(r)
    r = requests.get(c.url + "/v1/buckets", headers=NO_TOKEN)
    assert "token required" in r.json()["message"]
    # A stranger's big control body is dropped, not buffered, and answered 401.
    r = requests.put(c.url + "/v1/etl", data=b"{" + b" " * (8 << 20) + b"}", headers=NO_TOKEN)
    assert r.status_code == 401, r.text
    r = requests.get(c.url + "/v1/buckets", headers=bad["expired"])
    assert "expired" in r.json()["message"]


def test_object_io_through_the_signed_redirect(authc):
    """requests drops Authorization when the 307 goes to another port: the proxy's signature on
    the redirect is what the target checks."""
    c = authc
    bck = make_bucket(c)
    user = tok(user="bob", buckets=[(bck, RW)])
    data = os.urandom(70000)
    for name in ("a", "dir/b c", "%41é"):
        r = requests.put(lt.obj_url(c.url, bck, name), data=data, headers=user)
        assert r.status_code == 200, r.text
        assert not r.request.headers.get("Authorization"), "the redirected leg carried the token"
        r = requests.get(lt.obj_url(c.url, bck, name), headers=user)
        assert r.status_code == 200 and r.content == data
        r = requests.head(lt.obj_url(c.url, bck, name), headers=user, allow_redirects=True)
        assert r.status_code == 200 and r.headers["Ais-Size"] == str(len(data))
    r = requests.get(lt.bck_url(c.url, bck), json=lt.actmsg("list", lt.lsomsg()),
                     headers={**user, "Accept": "application/msgpack"})
    assert r.status_code == 200, r.text
    names = sorted(e["n"] for e in msgpack.unpackb(r.content)["Entries"])
    assert names == sorted(["a", "dir/b c", "%41é"])
    # The redirect by hand: its Location works without a token, and only as signed.
    r = requests.get(lt.obj_url(c.url, bck, "a"), headers=user, allow_redirects=False)
    assert r.status_code == 307
    loc = r.headers["Location"]
    assert "auth_sig=" in loc and "auth_exp=" in loc
    assert requests.get(loc, headers=NO_TOKEN).content == data
    u = urllib.parse.urlsplit(loc)
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    tampered = {
        "another object": loc.replace("/a?", "/dir/b%20c?"),
        "another method": None,
        "no signature": u._replace(query=urllib.parse.urlencode(
            [(k, v) for k, v in q if k != "auth_sig"])).geturl(),
        "later expiry": u._replace(query=urllib.parse.urlencode(
            [(k, str(int(v) + 600) if k == "auth_exp" else v) for k, v in q])).geturl(),
        "a copy added": loc + "&object_to=ais%2F%40%23%2Fother%2Fx",
    }
    for what, url in tampered.items():
        if url is None:
            r = requests.delete(loc, headers=NO_TOKEN)
        else:
            r = requests.get(url, headers=NO_TOKEN) if "copy" not in what else \
                requests.put(url, headers=NO_TOKEN)
        assert r.status_code == 401, f"{what}: {r.status_code} {r.text[:200]}"
    assert requests.get(lt.obj_url(c.url, bck, "a"), headers=user).content == data
    r = requests.delete(lt.obj_url(c.url, bck, "a"), headers=user)
    assert r.status_code == 200
    # Straight to a target with the token: a non-owner redirects, signing for the client.
    for t in c.targets:
        r = requests.get(lt.obj_url(t.url, bck, "dir/b c"), headers=user)
        assert r.status_code == 200 and r.content == data


def test_permissions(authc):
    c = authc
    mine, other = make_bucket(c), make_bucket(c)
    assert requests.put(lt.obj_url(c.url, mine, "o"), data=b"1", headers=c.headers()).status_code == 200
    uuid = c.smap()["uuid"]
    ro = tok(user="reader", buckets=[(mine, RO)])
    rw = tok(user="writer", buckets=[(mine, RW)])
    # AuthN's own layout: the bucket's namespace is the cluster's uuid; another uuid: not ours.
    authn_rw = lt.bearer(lt.make_token(user="w2", bucket_acls=[
        {"bck": {"name": mine, "provider": "ais", "namespace": {"uuid": uuid, "name": ""}},
         "perm": str(RW)}]))
    foreign = lt.bearer(lt.make_token(user="w3", bucket_acls=[
        {"bck": {"name": mine, "provider": "ais", "namespace": {"uuid": "elsewhere", "name": ""}},
         "perm": str(RW)}]))
    viewer = tok(user="viewer", cluster_perm=CLUSTER_RO)
    o = lt.obj_url(c.url, mine, "o")
    expect = [
        (ro, "GET", o, 200), (ro, "HEAD", o, 200), (ro, "PUT", o, 403), (ro, "DELETE", o, 403),
        (ro, "GET", lt.obj_url(c.url, other, "o"), 403),
        (rw, "PUT", lt.obj_url(c.url, mine, "w"), 200), (rw, "DELETE", lt.obj_url(c.url, mine, "w"), 200),
        (authn_rw, "PUT", lt.obj_url(c.url, mine, "w2"), 200),
        (foreign, "GET", o, 403),
        (rw, "PUT", lt.obj_url(c.url, other, "w"), 403),
        (rw, "PUT", o + "?object_to=" + urllib.parse.quote(f"ais/@#/{other}/copy", safe=""), 403),
        (viewer, "GET", c.url + "/v1/daemon?what=smap", 200),
        (viewer, "GET", c.url + "/v1/buckets", 200),
        (viewer, "GET", o, 403),
        (rw, "GET", c.url + "/v1/daemon?what=smap", 403),
        (rw, "GET", c.url + "/v1/buckets", 403),
        (viewer, "GET", c.url + "/v1/daemon?what=etlmd", 403),
    ]
    for h, method, url, want in expect:
        r = requests.request(method, url, headers=h, data=b"x" if method == "PUT" else None)
        assert r.status_code == want, f"{h} {method} {url}: {r.status_code} {r.text[:200]}"
    # Listing and multi-object delete follow the bucket ACL.
    assert requests.get(lt.bck_url(c.url, mine), json=lt.actmsg("list", lt.lsomsg()),
                        headers=ro).status_code == 200
    assert requests.get(lt.bck_url(c.url, other), json=lt.actmsg("list", lt.lsomsg()),
                        headers=ro).status_code == 403
    dl = lt.actmsg("delete-listrange", {"objnames": ["o"]})
    assert requests.delete(lt.bck_url(c.url, mine), json=dl, headers=ro).status_code == 403
    # Admin-only: cluster management, ETL management, bucket create/destroy.
    for h in (ro, rw, viewer):
        admin_only = [
            ("POST", lt.bck_url(c.url, lt.rand_name("new-")), lt.actmsg("create-bck")),
            ("DELETE", lt.bck_url(c.url, mine), lt.actmsg("destroy-bck")),
            ("POST", lt.bck_url(c.url, mine) + "?bck_to=ais/@%23/" + lt.rand_name("cp-") + "/",
             lt.actmsg("copy-bck", {})),
            ("PUT", c.url + "/v1/etl", {"name": "auth-etl", "runtime": {"image": "x"}}),
            ("GET", c.url + "/v1/etl", None),
            ("POST", c.url + "/v1/etl/auth-etl/stop", None),
            ("DELETE", c.url + "/v1/etl/auth-etl", None),
            ("PUT", c.url + "/v1/cluster", lt.actmsg("stop-xaction", {"id": "x"})),
        ]
        for method, url, body in admin_only:
            r = requests.request(method, url, json=body, headers=h)
            assert r.status_code == 403, f"{method} {url}: {r.status_code} {r.text[:200]}"
    assert mine in [b["name"] for b in requests.get(c.url + "/v1/buckets",
                                                    headers=c.headers()).json()]
    # The admin may: the ETL calls now fail for other reasons (400/404), not 401/403.
    r = requests.delete(c.url + "/v1/etl/auth-etl", headers=c.headers())
    assert r.status_code == 404, r.text


def test_rs256_tokens(authc, rsa_keys):
    c = authc
    bck = make_bucket(c)
    priv = rsa_keys[0].read_bytes()
    good = lt.bearer(lt.make_token(user="r", buckets=[(bck, RW)], alg="RS256", key=priv))
    assert requests.put(lt.obj_url(c.url, bck, "r"), data=b"rs", headers=good).status_code == 200
    assert requests.get(lt.obj_url(c.url, bck, "r"), headers=good).content == b"rs"
    # Algorithm confusion: HS256 with the public key's PEM as the secret.
    pub = rsa_keys[1].read_bytes()
    import hmac as _hmac, hashlib, base64, json as _json

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    hdr = b64(_json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(_json.dumps({"sub": "x", "admin": True, "exp": 4102444800}).encode())
    sig = b64(_hmac.new(pub, hdr + b"." + body, hashlib.sha256).digest())
    confused = lt.bearer((hdr + b"." + body + b"." + sig).decode())
    assert requests.get(c.url + "/v1/buckets", headers=confused).status_code == 401
    other = subprocess.run(["openssl", "genrsa", "2048"], check=True, capture_output=True).stdout
    assert requests.get(c.url + "/v1/buckets", headers=lt.bearer(lt.make_token(
        admin=True, alg="RS256", key=other))).status_code == 401


def test_through_a_non_primary_proxy(cluster_factory):
    c = cluster_factory(proxies=2, targets=1, auth=True)
    p2 = c.proxies[1].url
    user = tok(user="u", buckets=[("b-any", RW)])
    assert requests.post(lt.bck_url(p2, "b-any"), json=lt.actmsg("create-bck"),
                         headers=user).status_code == 403
    r = requests.post(lt.bck_url(p2, "b-any"), json=lt.actmsg("create-bck"), headers=c.headers())
    assert r.status_code == 200, r.text  # relayed to the primary, signed as a node
    assert requests.put(lt.obj_url(p2, "b-any", "x"), data=b"2", headers=user).status_code == 200
    assert requests.get(lt.obj_url(c.url, "b-any", "x"), headers=user).content == b"2"


@pytest.mark.skipif(not lt.LOCUS_CLI.exists(), reason="locus CLI not built")
def test_cli_token_and_cluster_up_auth(tmp_path):
    port = lt.consecutive_free_ports(2)
    d = tmp_path / "c"
    env = {k: v for k, v in os.environ.items() if k not in ("LOCUS_TOKEN", "AIS_AUTHN_TOKEN",
                                                            "AIS_ENDPOINT")}
    env["LOCUS_ENDPOINT"] = f"http://127.0.0.1:{port}"

    def run(*args, check=True, extra=None):
        p = subprocess.run([str(lt.LOCUS_CLI), *map(str, args)], env={**env, **(extra or {})},
                           capture_output=True, text=True, timeout=lt.tmo(60))
        assert not check or p.returncode == 0, f"{args}: {p.returncode} {p.stderr}"
        return p

    up = run("cluster", "up", "--auth", "--dir", d, "--port", port, "--targets", 1,
             "--timeout", "60s")
    try:
        for f in ("cluster.secret", "auth.secret", "admin.token"):
            assert (d / f).stat().st_mode & 0o777 == 0o600, f
        assert "LOCUS_TOKEN" in up.stderr
        admin = {"LOCUS_TOKEN": (d / "admin.token").read_text().strip()}
        no = run("bucket", "create", "ais://clib", check=False)
        assert no.returncode != 0 and "token required" in no.stderr
        run("bucket", "create", "ais://clib", extra=admin)
        src = tmp_path / "f.txt"
        src.write_bytes(b"cli data")
        # A user token from `locus auth token` (the cluster's secret): rw on clib only.
        t = run("auth", "token", "--user", "carol", "--bucket", "clib=rw", "--ttl", "10m",
                "--secret-file", d / "auth.secret").stdout.strip()
        claims = jwt.decode(t, (d / "auth.secret").read_text().strip(), algorithms=["HS256"])
        assert claims["sub"] == "carol" and claims["buckets"][0]["perm"] == str(RW)
        assert claims["buckets"][0]["bck"] == {"name": "clib", "provider": "ais",
                                               "namespace": {"uuid": "", "name": ""}}
        user = {"AIS_AUTHN_TOKEN": t}  # the SDK's variable works too
        run("put", src, "ais://clib/f.txt", extra=user)
        assert run("get", "ais://clib/f.txt", "-", extra=user).stdout == "cli data"
        assert "f.txt" in run("ls", "ais://clib", extra=user).stdout
        denied = run("bucket", "create", "ais://other", check=False, extra=user)
        assert denied.returncode != 0 and "insufficient permissions" in denied.stderr
        bad = run("auth", "token", "--user", "x", "--bucket", "clib=sometimes", check=False)
        assert bad.returncode == 2
    finally:
        run("cluster", "down", "--dir", d, check=False)
