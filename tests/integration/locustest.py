"""
locustest.py - shared helpers of the integration suite: the `Cluster` of real `locusd` processes,
AIStore's HRW placement in Python, REST helpers and assertion helpers.

The fixtures that use this live in conftest.py. STYLE.md rules 40-42: real binaries, a generated
config per node in a temp dir, free loopback ports, an explicit readiness signal with a bounded
wait, daemons killed from a finalizer, and a test fails when a daemon died from a signal we did not
send (or exited with an error code).

Knobs (environment):
  LOCUS_BIN_DIR          directory holding locusd and locus (default <repo>/build/bin)
  LOCUS_ASAN=1           binaries are sanitizer builds: every timeout is multiplied
  LOCUS_TEST_LEAVE=1     keep the cluster dirs (configs, logs, mountpaths) after the run
  LOCUS_TEST_LOG_LEVEL   locusd --log-level for spawned nodes (default notice)
  LOCUS_TEST_USE_DAEMON  host:port of an already running primary proxy; tests that need to control
                         processes or look at mountpaths are then skipped
  LOCUS_TEST_AUTH=1      every cluster runs with auth on (docs/security.md) and every request of
                         the suite (requests, raw_request, the CLI) carries an admin token; without
                         it clusters have a cluster secret but no auth, as `locus cluster up`
  LOCUS_TEST_TOKEN       with LOCUS_TEST_USE_DAEMON: the token to send
Runner flag: pytest --valgrind wraps every spawned locusd in valgrind (conftest.py).
"""

import atexit
import ctypes
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import jwt
import pytest
import requests
import xxhash

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("LOCUS_BIN_DIR") or REPO_ROOT / "build" / "bin")
LOCUSD = BIN_DIR / "locusd"
LOCUS_CLI = BIN_DIR / "locus"
ASAN = os.environ.get("LOCUS_ASAN") == "1"
LEAVE = os.environ.get("LOCUS_TEST_LEAVE") == "1"
LOG_LEVEL = os.environ.get("LOCUS_TEST_LOG_LEVEL", "notice")
USE_DAEMON = os.environ.get("LOCUS_TEST_USE_DAEMON", "")
AUTH = os.environ.get("LOCUS_TEST_AUTH") == "1"

SLOWDOWN = 4.0 if ASAN else 1.0


def tmo(seconds):
    """A timeout scaled for sanitizer builds."""
    return seconds * SLOWDOWN


READY_TIMEOUT = tmo(20)  # cluster start / restart until the smap shows every node
STOP_TIMEOUT = tmo(10)  # SIGTERM -> exit
REQ_TIMEOUT = tmo(30)  # one HTTP request (big objects pass their own)

MiB = 1 << 20
WRAPPER = []  # command prefix for every spawned daemon (--valgrind)
ETL_TEST_DIR = REPO_ROOT / "tests" / "integration" / "etl"  # the test servers (py_server.py)
_etl_sandbox_keys = None


def etl_sandbox_keys():
    """Whether this locusd has the ETL sandbox's config keys (docs/security.md). Older builds reject
    unknown keys; LOCUS_BIN_DIR pointing at one runs the suite as it was then."""
    global _etl_sandbox_keys
    if _etl_sandbox_keys is None:
        out = subprocess.run([str(LOCUSD), "--help"], capture_output=True, timeout=10).stdout
        _etl_sandbox_keys = b"etl_allow_commands" in out
    return _etl_sandbox_keys


def etl_sandbox_paths():
    """What the test ETLs read besides /usr and the bin dir: the test servers, and the test's
    interpreter when it lives elsewhere (a virtualenv or pyenv)."""
    paths = [str(ETL_TEST_DIR)]
    prefix = os.path.realpath(sys.prefix)
    if not prefix.startswith("/usr"):
        paths.append(prefix)
    return paths


def enable_valgrind():
    """pytest --valgrind: wrap every locusd in valgrind (errors => exit code 99) and stretch all
    timeouts."""
    global SLOWDOWN, READY_TIMEOUT, STOP_TIMEOUT, REQ_TIMEOUT, WRAPPER
    exe = shutil.which("valgrind")
    if exe is None:
        raise pytest.UsageError("--valgrind: valgrind is not installed")
    WRAPPER = [exe, "--quiet", "--error-exitcode=99", "--track-fds=no", "--leak-check=no",
               "--trace-children=no"]
    SLOWDOWN = 20.0
    READY_TIMEOUT, STOP_TIMEOUT, REQ_TIMEOUT = tmo(20), tmo(10), tmo(30)

# ------------------------------------------------------------------------------------------------
# Authentication (docs/security.md). One token secret for the whole session, so one admin
# token works on every cluster a test starts; each cluster has its own cluster secret.

_auth_dir = None


def auth_dir():
    """A private directory holding the session's token secret (auth.secret, mode 0600)."""
    global _auth_dir
    if _auth_dir is None:
        import tempfile
        _auth_dir = Path(tempfile.mkdtemp(prefix="locus-test-auth-"))
        atexit.register(shutil.rmtree, _auth_dir, True)
        write_private(_auth_dir / "auth.secret", os.urandom(32).hex() + "\n")
    return _auth_dir


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def auth_secret():
    return (auth_dir() / "auth.secret").read_text().strip()


def make_token(user="admin", admin=False, buckets=(), cluster_perm=None, ttl=3600, secret=None,
               alg="HS256", key=None, **extra):
    """A token as AIStore's AuthN issues it (cmd/authn/tok AISClaims), made with PyJWT.
    buckets: (name, perm) pairs, perm a decimal string or int as AuthN writes it ("perm": "831");
    extra: more claims, replacing those made here (e.g. bucket_acls=[...] for "buckets")."""
    now = int(time.time())
    claims = {"sub": user, "exp": now + ttl, "iat": now, "iss": "test", "admin": admin,
              "clusters": None if cluster_perm is None else [{"id": "", "perm": str(cluster_perm)}]}
    if buckets:
        claims["buckets"] = [{"bck": {"name": b, "provider": "ais",
                                      "namespace": {"uuid": "", "name": ""}}, "perm": str(p)}
                             for b, p in buckets]
    if "bucket_acls" in extra:
        claims["buckets"] = extra.pop("bucket_acls")
    claims.update(extra)
    return jwt.encode(claims, key if key is not None else (secret or auth_secret()), algorithm=alg)


def admin_token():
    return make_token(user="admin", admin=True, ttl=24 * 3600)


def bearer(token):
    return {"Authorization": "Bearer " + token}


# With LOCUS_TEST_AUTH=1 every request of the suite carries the admin token unless it sets its own
# Authorization (None: send none): requests' Session.request, raw_request and the CLI (LOCUS_TOKEN).
_SUITE_TOKEN = None
if AUTH or (USE_DAEMON and os.environ.get("LOCUS_TEST_TOKEN")):
    _SUITE_TOKEN = os.environ.get("LOCUS_TEST_TOKEN") if USE_DAEMON else admin_token()
    os.environ["LOCUS_TOKEN"] = _SUITE_TOKEN
    _orig_request = requests.Session.request

    def _request_with_token(self, method, url, **kw):
        hdrs = dict(kw.get("headers") or {})
        if not any(k.lower() == "authorization" for k in hdrs):
            hdrs["Authorization"] = "Bearer " + _SUITE_TOKEN
        kw["headers"] = hdrs
        return _orig_request(self, method, url, **kw)

    requests.Session.request = _request_with_token


def suite_headers():
    """Headers for a test's own http.client requests: the suite's token (LOCUS_TEST_AUTH=1)."""
    return bearer(_SUITE_TOKEN) if _SUITE_TOKEN else {}


def _form_decode(s):
    return urllib.parse.unquote_to_bytes(s.replace("+", " "))


def canon_request(method, path, raw_query, skip=()):
    """The canonical request the cluster secret signs (docs/security.md): method, decoded
    path, then every query parameter but those in skip, form-decoded and length-prefixed."""
    p = path.encode() if isinstance(path, str) else path
    out = bytearray(method.encode() + b"\n" + b"%d:%s\n" % (len(p), p))
    for seg in (raw_query or "").split("&"):
        if not seg:
            continue
        k, eq, v = seg.partition("=")
        kb, vb = _form_decode(k), (_form_decode(v) if eq else b"")
        if kb.decode("utf-8", "replace") in skip:
            continue
        out += b"%d:%s=%d:%s\n" % (len(kb), kb, len(vb), vb)
    return bytes(out)


def body_digest(secret, body, kind="sha256"):
    """The body digest an intra-cluster signature covers (docs/security.md): the body's hex
    SHA-256, or what nodes send, p1305-<nonce>-<Poly1305 tag under HMAC(secret, nonce)>."""
    import hashlib
    import hmac
    if kind == "sha256":
        return hashlib.sha256(body).hexdigest()
    from cryptography.hazmat.primitives.poly1305 import Poly1305
    nonce = os.urandom(16).hex()
    key = hmac.new(secret, b"locus-body-v1\n" + nonce.encode(), hashlib.sha256).digest()
    return f"p1305-{nonce}-{Poly1305.generate_tag(key, body).hex()}"


def intra_headers(secret, method, url, body=b"", caller="p1", date=None, sha=None):
    """The headers of an intra-cluster request signed with `secret` (bytes) as a node does;
    sha: the body digest to sign (default: the body's SHA-256)."""
    import base64
    import hashlib
    import hmac
    u = urllib.parse.urlsplit(url)
    sha = sha or body_digest(secret, body)
    date = str(int(time.time()) if date is None else date)
    msg = b"\n".join([b"locus-intra-v1", canon_request(method, urllib.parse.unquote_to_bytes(
        u.path or "/"), u.query), date.encode(), caller.encode(), sha.encode()])
    sig = base64.urlsafe_b64encode(hmac.new(secret, msg, hashlib.sha256).digest()).rstrip(b"=")
    return {"Ais-Caller-Id": caller, "Locus-Intra-Date": date, "Locus-Content-Digest": sha,
            "Locus-Intra-Sig": sig.decode()}


def daemon_env():
    """The environment of spawned daemons: the suite's token is not theirs (nor their ETLs')."""
    return {k: v for k, v in os.environ.items() if k not in ("LOCUS_TOKEN", "AIS_AUTHN_TOKEN")}

# ------------------------------------------------------------------------------------------------
# HRW placement, AIStore's definition (docs/protocol.md §1.1; SDK python/aistore/sdk/utils.py,
# Go core/meta/hrw.go and cmn/xoshiro256/xoshiro.go).

XX_SEED = 1103515245
_MASK = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


def hrw_digest(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return xxhash.xxh64(s, seed=XX_SEED).intdigest()


def xoshiro256_hash(seed):
    z = (seed + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _C1) & _MASK
    z = ((z ^ (z >> 27)) * _C2) & _MASK
    z = ((z ^ (z >> 31)) + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _C1) & _MASK
    z = ((z ^ (z >> 27)) * _C2) & _MASK
    z = ((z ^ (z >> 31)) * 5) & _MASK
    rotated = ((z << 7) | (z >> 57)) & _MASK
    return (rotated * 9) & _MASK


def uname(bck, obj):
    return f"ais/@#/{bck}/{obj}"


def hrw_target(smap, bck, obj):
    """The SNODE (dict from the smap's tmap) that owns ais://bck/obj, as the SDK computes it."""
    digest = hrw_digest(uname(bck, obj))
    best, best_cs = None, -1
    for node in smap["tmap"].values():
        if int(node.get("flags", 0)) & (4 | 8 | 1024):  # maintenance, decommission, down
            continue
        cs = xoshiro256_hash(int(node["id_digest"]) ^ digest)
        if cs > best_cs:
            best, best_cs = node, cs
    assert best is not None, "smap has no targets"
    return best


def hrw_mountpath(mountpaths, bck, obj):
    """The mountpath (one of the given strings) that holds ais://bck/obj inside its target."""
    digest = hrw_digest(uname(bck, obj))
    return max(mountpaths, key=lambda mp: xoshiro256_hash(hrw_digest(str(mp)) ^ digest))


def xxhash_cksum(data):
    """AIStore's "xxhash" checksum value: OneOfOne xxhash New64() (seed 0), hex of the big-endian sum."""
    return xxhash.xxh64(data, seed=0).hexdigest()


# ------------------------------------------------------------------------------------------------
# HTTP helpers


class Http(requests.Session):
    """requests.Session with a default timeout on every request (a hung daemon must fail a test,
    not hang the suite). Keep-alive stays on: the SDK uses a pooled session too."""

    def request(self, method, url, **kw):
        kw.setdefault("timeout", REQ_TIMEOUT)
        return super().request(method, url, **kw)


def qobj(name):
    """Object name quoted for the URL path exactly as the SDK does (urllib.parse.quote, '/' kept)."""
    return urllib.parse.quote(name)


def obj_url(base, bck, obj):
    return f"{base}/v1/objects/{bck}/{qobj(obj)}"


def bck_url(base, bck):
    return f"{base}/v1/buckets/{bck}"


def actmsg(action, value=None, name=""):
    return {"action": action, "name": name, "value": value}


def lsomsg(prefix="", pagesize=0, token="", props="", uuid="", flags="0"):
    return {
        "prefix": prefix,
        "pagesize": pagesize,
        "uuid": uuid,
        "props": props,
        "continuation_token": token,
        "flags": flags,
        "target": "",
    }


def error_json(resp):
    """Parses an error body: a JSON object with a non-empty "message" (docs/protocol.md §0)."""
    try:
        body = resp.json()
    except ValueError:
        pytest.fail(f"{resp.request.method} {resp.url} -> {resp.status_code}: error body is not JSON: "
                    f"{resp.content[:300]!r}")
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    msg = body.get("message")
    assert isinstance(msg, str) and msg, f"error body has no message: {body!r}"
    if "status" in body:
        assert int(body["status"]) == resp.status_code, f"status in body != HTTP status: {body!r}"
    return body


def assert_error(resp, status, contains=None):
    """resp is an error `status` (int or a collection of ints) with a JSON message that contains
    `contains` (when given). HEAD errors carry no body and are only checked for their status."""
    ok = resp.status_code in status if isinstance(status, (set, tuple, list, range)) else \
        resp.status_code == status
    assert ok, (f"{resp.request.method} {resp.url}: expected {status}, got {resp.status_code} "
                f"{resp.content[:300]!r}")
    if resp.request.method == "HEAD":
        assert resp.content == b""
        return None
    body = error_json(resp)
    if contains is not None:
        assert contains in body["message"], f"message {body['message']!r} lacks {contains!r}"
    return body


def assert_4xx(resp, contains=None):
    return assert_error(resp, range(400, 500), contains)


def bucket_missing_msg(bck):
    return f'bucket "ais://{bck}" does not exist'


def object_missing_msg(bck, obj):
    return f"ais://{bck}/{obj} does not exist"


def rand_name(prefix="b", n=8):
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def free_ports(n):
    """n distinct free loopback ports (bind port 0), never 8080."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            p = s.getsockname()[1]
            if p != 8080:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def raw_request(host, port, method, path, headers=None, body=b"", timeout=None):
    """One request over http.client, no URL normalisation (requests/urllib3 collapse '..')."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout or REQ_TIMEOUT)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = {"Content-Length": str(len(body))}
        if _SUITE_TOKEN:
            hdrs.update(bearer(_SUITE_TOKEN))
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------
# Cluster of real locusd processes

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    # Die with the test runner (PR_SET_PDEATHSIG = 1), so a killed pytest leaves no daemons.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<{path}: {e}>"
    return "\n".join(data.splitlines()[-lines:])


def describe_exit(rc):
    if rc is None:
        return "running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


SNODE_MAINT, SNODE_DECOMM, SNODE_DOWN = 4, 8, 1024  # smap node flags


class NodeDied(Exception):
    pass


class Node:
    """One locusd process: its id, role, port and directory stay the same across restarts."""

    def __init__(self, cluster, role, nid, port, ndir, primary=False, extra_flags=(), mountpaths=None):
        """mountpaths: how many mountpath dirs (mp1..mpN) a target gets (default 2)."""
        self.cluster = cluster
        self.role = role
        self.id = nid
        self.port = port
        self.dir = Path(ndir)
        self.primary = primary
        self.url = f"{cluster.scheme}://127.0.0.1:{port}"
        self.mountpaths = ([self.dir / f"mp{i + 1}" for i in range(mountpaths or 2)]
                           if role == "target" else [])
        self.config = self.dir / "config.json"
        self.log = self.dir / "locusd.log"
        self.stderr = self.dir / "stderr.log"
        self.pidfile = self.dir / "locusd.pid"
        self.extra_flags = list(extra_flags)
        self.proc = None
        self.sent = set()  # signals we sent to the current process
        self.running = False  # we expect it to be running
        self.gone = False  # stopped for good
        self.crash_reported = False
        self.crashed = False
        self.starts = 0
        self.stderr_seen = 0  # bytes of stderr.log already scanned for sanitizer reports

    def __repr__(self):
        return f"{self.role}[{self.id}]@{self.port}"

    def write_config(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        for mp in self.mountpaths:
            mp.mkdir(parents=True, exist_ok=True)
        cfg = {
            "_comment": "generated by tests/integration/locustest.py",
            "role": self.role,
            "id": self.id,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.dir),
            "log_level": LOG_LEVEL,
            "log_file": str(self.log),
            # Python ETL classes (init_class) run on the test's own interpreter: cloudpickle
            # payloads need the client's Python and cloudpickle versions.
            "etl_python": sys.executable,
        }
        if etl_sandbox_keys():
            # The suite deploys its own ETL commands (runtime.command, io://), in the sandbox.
            cfg["etl_allow_commands"] = True
            cfg["etl_sandbox_paths"] = etl_sandbox_paths()
            if ASAN:  # sanitizer shadow memory is terabytes of address space: no default limit
                cfg["etl_default_memory"] = 0
        if self.role == "target":
            cfg["mountpaths"] = [str(mp) for mp in self.mountpaths]
        if not self.primary:
            cfg["primary_url"] = self.cluster.primary.url
        if self.cluster.cluster_secret:
            cfg["cluster_secret_file"] = str(self.cluster.cluster_secret)
        if self.cluster.auth:
            cfg["auth_enabled"] = True
            cfg["auth_secret_file"] = str(auth_dir() / "auth.secret")
        self.config.write_text(json.dumps(cfg, indent=2) + "\n")

    def cmdline(self):
        return WRAPPER + [str(LOCUSD), "--config", str(self.config)] + self.extra_flags

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self} already running"
        if not self.config.exists():
            self.write_config()
        self.sent = set()
        self.crash_reported = False
        self.crashed = False
        self.starts += 1
        with open(self.stderr, "ab") as errf:
            errf.write(f"=== start #{self.starts} {time.strftime('%H:%M:%S')}: "
                       f"{' '.join(self.cmdline())}\n".encode())
            errf.flush()
            self.proc = subprocess.Popen(self.cmdline(), stdin=subprocess.DEVNULL, stdout=errf,
                                         stderr=errf, cwd=self.dir, preexec_fn=_child_setup,
                                         env=daemon_env())
        self.running = True
        self.gone = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self, lines=30):
        return (f"--- {self} {self.log} (last {lines} lines) ---\n{tail(self.log, lines)}\n"
                f"--- {self} {self.stderr} ---\n{tail(self.stderr, 15)}\n")

    def wait_ready(self, deadline):
        """Pid file with our pid, then /v1/health 200 (DEV-CONTRACT.md, Readiness)."""
        while True:
            if not self.alive():
                raise NodeDied(f"{self} died during start-up ({describe_exit(self.proc.returncode)})"
                               f"\n{self.logs()}")
            try:
                pid_ok = int(self.pidfile.read_text().strip() or 0) == self.proc.pid
            except (OSError, ValueError):
                pid_ok = False
            if pid_ok:
                try:
                    if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self} not ready in time (pidfile ok: {pid_ok})\n{self.logs()}")
            time.sleep(0.05)

    def signal(self, sig):
        self.sent.add(sig)
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL and reap; the node is expected down afterwards (restart with start())."""
        self.running = False
        if not self.alive():
            return [] if self.proc is None else self._check_exit("before SIGKILL")
        self.signal(signal.SIGKILL)
        self.proc.wait()
        return []

    def stop(self, timeout=None):
        """SIGTERM, wait, SIGKILL. Returns a list of problems (unexpected exit status, hang)."""
        self.term()
        return self.wait_stopped(timeout)

    def term(self):
        """First half of stop(): SIGTERM when running (lets callers stop nodes in parallel)."""
        self.running = False
        if self.alive():
            self.signal(signal.SIGTERM)

    def wait_stopped(self, timeout=None):
        if self.proc is None:
            return []
        if signal.SIGTERM not in self.sent and signal.SIGKILL not in self.sent:
            self.proc.wait()
            return self._check_exit("before SIGTERM")
        try:
            self.proc.wait(timeout or STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()
            return [f"{self} did not exit within {timeout or STOP_TIMEOUT:.0f}s of SIGTERM\n"
                    f"{self.logs()}"]
        return self._check_exit("after SIGTERM")

    def sanitizer_reports(self):
        """New sanitizer reports (ASan, UBSan, LSan) in stderr.log since the last call."""
        try:
            with open(self.stderr, "rb") as f:
                f.seek(self.stderr_seen)
                data = f.read()
        except OSError:
            return []
        self.stderr_seen += len(data)
        text = data.decode("utf-8", "replace")
        hits = [i for i, line in enumerate(text.splitlines()) if any(m in line for m in SANITIZER_MARKS)]
        if not hits:
            return []
        lines = text.splitlines()
        return [f"{self} sanitizer report in {self.stderr}:\n" + "\n".join(lines[hits[0]:hits[0] + 30])]

    def _check_exit(self, when):
        rc = self.proc.returncode
        if self.crash_reported:
            return []
        if rc < 0 and -rc in self.sent:
            return []
        if rc == 0 and signal.SIGTERM in self.sent:
            return []
        self.crash_reported = True
        return [f"{self} {describe_exit(rc)} {when} (signals sent: "
                f"{sorted(s.name for s in self.sent) or 'none'})\n{self.logs()}"]


class Cluster:
    """1..N proxies and M targets, each a real locusd with its own dir under `root`."""

    def __init__(self, root, proxies=1, targets=3, extra_flags=(), name="c", scheme="http",
                 auth=None, cluster_secret=True, target_mountpaths=None):
        """auth: None follows LOCUS_TEST_AUTH; cluster_secret: write root/cluster.secret and name
        it in every node's config (False: the backward-compatible mode without one);
        target_mountpaths: mountpath dirs per target (default 2)."""
        assert LOCUSD.exists(), f"{LOCUSD} missing"
        self.root = Path(root)
        self.scheme = scheme  # "https" with --tls-cert/--tls-key in extra_flags
        self.external = False
        self.auth = AUTH if auth is None else auth
        self.cluster_secret = None
        if cluster_secret or self.auth:
            self.root.mkdir(parents=True, exist_ok=True)
            self.cluster_secret = self.root / "cluster.secret"
            write_private(self.cluster_secret, os.urandom(32).hex() + "\n")
        self.token = admin_token() if self.auth else None
        self.problems = []
        self.torn_down = False
        suffix = "".join(random.choice(string.ascii_lowercase) for _ in range(3))
        self.suffix = suffix  # of every node id (add_target names its node the same way)
        self.target_mountpaths = target_mountpaths
        self.extra_flags = list(extra_flags)
        ports = free_ports(proxies + targets)
        self.nodes = []
        for i in range(proxies):
            nid = f"p{i + 1}{suffix}"
            self.nodes.append(Node(self, "proxy", nid, ports[i], self.root / nid, primary=(i == 0),
                                   extra_flags=extra_flags))
        for i in range(targets):
            nid = f"t{i + 1}{suffix}"
            self.nodes.append(Node(self, "target", nid, ports[proxies + i], self.root / nid,
                                   extra_flags=extra_flags, mountpaths=target_mountpaths))
        self.name = name

    # -- topology
    @property
    def primary(self):
        return self.nodes[0]

    @property
    def proxies(self):
        return [n for n in self.nodes if n.role == "proxy"]

    @property
    def targets(self):
        return [n for n in self.nodes if n.role == "target"]

    @property
    def url(self):
        return self.primary.url

    def node(self, nid):
        return next(n for n in self.nodes if n.id == nid)

    def live_nodes(self):
        return [n for n in self.nodes if not n.gone]

    def require_local(self):
        pass

    # -- lifecycle
    def start(self, timeout=None):
        deadline = time.monotonic() + (timeout or READY_TIMEOUT)
        try:
            self.primary.start()
            self.primary.wait_ready(deadline)
            rest = [n for n in self.live_nodes() if n is not self.primary]
            for n in rest:
                n.start()
            for n in rest:
                n.wait_ready(deadline)
            self.wait_smap(deadline=deadline)
        except Exception:
            self.teardown(report=False)
            raise
        return self

    def headers(self):
        """What the cluster's own helpers send: the admin token when auth is on."""
        return bearer(self.token) if self.token else {}

    def smap(self, node=None):
        r = requests.get((node or self.primary).url + "/v1/daemon", params={"what": "smap"},
                         timeout=REQ_TIMEOUT, headers=self.headers())
        assert r.status_code == 200, f"smap: {r.status_code} {r.text[:300]}"
        return r.json()

    def wait_smap(self, deadline=None, expect=None):
        """Until the primary's smap lists exactly the nodes we expect to be in the cluster and every
        one of them answers /v1/health with 200."""
        deadline = deadline or time.monotonic() + READY_TIMEOUT
        nodes = expect if expect is not None else self.live_nodes()
        want_p = {n.id for n in nodes if n.role == "proxy"}
        want_t = {n.id for n in nodes if n.role == "target"}
        last = None
        while True:
            for n in nodes:
                if not n.alive():
                    raise NodeDied(f"{n} {describe_exit(n.proc.returncode)} while waiting for the "
                                   f"cluster\n{n.logs()}")
            try:
                sm = self.smap()
                # A target that stopped stays in the map, flagged down (1024), until it returns.
                last = (set(sm.get("pmap", {})),
                        {k for k, v in sm.get("tmap", {}).items()
                         if not int(v.get("flags", 0)) & SNODE_DOWN})
                if last == (want_p, want_t) and all(
                        requests.get(n.url + "/v1/health", timeout=1).status_code == 200
                        for n in nodes):
                    return sm
            except (requests.RequestException, AssertionError, ValueError) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ready: want proxies {sorted(want_p)} targets "
                                   f"{sorted(want_t)}, smap has {last}\n" + self.all_logs())
            time.sleep(0.1)

    def add_target(self, mountpaths=None, timeout=None):
        """Starts one more target (the next id, a free port, the config of the others; mountpaths
        default: the cluster's target_mountpaths) and waits until the primary's smap lists it and
        every node answers /v1/health. Returns the new Node."""
        n = 1 + max((int(x.id[1:-len(self.suffix)]) for x in self.targets), default=0)
        used = {x.port for x in self.nodes}
        port = next(p for p in free_ports(len(used) + 1) if p not in used)
        nid = f"t{n}{self.suffix}"
        node = Node(self, "target", nid, port, self.root / nid, extra_flags=self.extra_flags,
                    mountpaths=mountpaths or self.target_mountpaths)
        self.nodes.append(node)
        deadline = time.monotonic() + (timeout or READY_TIMEOUT)
        node.start()
        node.wait_ready(deadline)
        self.wait_smap(deadline=deadline)
        return node

    def rmd(self, node=None):
        """GET /v1/cluster?what=rmd (the state of the last global rebalance) as JSON, or None when
        the cluster does not report it (400/404: a build without global rebalance)."""
        r = requests.get((node or self.primary).url + "/v1/cluster", params={"what": "rmd"},
                         timeout=REQ_TIMEOUT, headers=self.headers())
        if r.status_code in (400, 404):
            return None
        assert r.status_code == 200, f"rmd: {r.status_code} {r.text[:300]}"
        return r.json()

    def wait_rebalance(self, timeout=None, min_version=0):
        """Polls the primary's rebalance state until it is not "running" (and, with min_version,
        until its version reached it); returns the rmd JSON, or None when the cluster does not
        report it."""
        deadline = time.monotonic() + (timeout or tmo(60))
        while True:
            rmd = self.rmd()
            if rmd is None:
                return None
            if rmd.get("state") != "running" and int(rmd.get("version", 0)) >= min_version:
                return rmd
            if time.monotonic() > deadline:
                raise TimeoutError(f"rebalance still running: {rmd}\n" + self.all_logs())
            time.sleep(0.1)

    def restart_node(self, node, kill=False):
        self.problems += node.kill() if kill else node.stop()
        node.start()
        deadline = time.monotonic() + READY_TIMEOUT
        node.wait_ready(deadline)
        return self.wait_smap(deadline=deadline)

    def kill_node(self, node):
        self.problems += node.kill()

    def stop_node(self, node, forever=True):
        self.problems += node.stop()
        node.gone = forever

    def _stop_group(self, nodes, kill=False):
        nodes = [n for n in nodes if n.proc is not None]
        if kill:
            for n in nodes:
                self.problems += n.kill()
            return
        for n in nodes:
            n.term()
        for n in nodes:
            self.problems += n.wait_stopped()

    def stop_all(self, kill=False):
        """Targets first (in parallel), then the other proxies, the primary last."""
        self._stop_group(self.targets, kill)
        self._stop_group(self.proxies[1:], kill)
        self._stop_group([self.primary], kill)

    def restart_all(self, kill=False):
        self.stop_all(kill=kill)
        deadline = time.monotonic() + READY_TIMEOUT
        self.primary.start()
        self.primary.wait_ready(deadline)
        rest = [n for n in self.live_nodes() if n is not self.primary]
        for n in rest:
            n.start()
        for n in rest:
            n.wait_ready(deadline)
        return self.wait_smap(deadline=deadline)

    def take_problems(self):
        """Problems so far plus nodes that died while we expected them up. Each reported once."""
        out, self.problems = self.problems, []
        for n in self.nodes:
            out += n.sanitizer_reports()
            if n.running and not n.alive() and n.proc is not None and not n.crash_reported:
                n.running = False
                n.crash_reported = True
                n.crashed = True
                out.append(f"{n} {describe_exit(n.proc.returncode)} unexpectedly\n{n.logs()}")
        return out

    def broken(self):
        return any(n.crashed or (n.running and not n.alive()) for n in self.nodes)

    def all_logs(self, lines=30):
        return "".join(n.logs(lines) for n in self.nodes if n.proc is not None)

    def teardown(self, report=True):
        """Stops every node; returns the list of problems (also those not yet taken)."""
        if self.torn_down:
            return []
        self.torn_down = True
        self.problems = self.take_problems()
        live = [n for n in self.nodes if n.proc is not None and n.proc.returncode is None]
        self._stop_group([n for n in live if n.role == "target"])
        self._stop_group([n for n in live if n.role == "proxy" and n is not self.primary])
        self._stop_group([n for n in live if n is self.primary])
        for n in self.nodes:
            self.problems += n.sanitizer_reports()
        problems, self.problems = self.problems, []
        if LEAVE:
            print(f"\nLOCUS_TEST_LEAVE: cluster dir kept: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems if report else []


class ExternalCluster:
    """LOCUS_TEST_USE_DAEMON=host:port: talk to a running cluster, control no process."""

    external = True
    torn_down = False
    token = None
    auth = AUTH

    def __init__(self, hostport):
        self.url = f"http://{hostport}"
        sm = requests.get(self.url + "/v1/daemon", params={"what": "smap"}, timeout=REQ_TIMEOUT).json()

        class _N:
            pass

        self.nodes = []
        for kind, m in (("proxy", sm["pmap"]), ("target", sm["tmap"])):
            for nid, sn in m.items():
                n = _N()
                n.id, n.role, n.url = nid, kind, sn["public_net"]["direct_url"]
                n.port = int(sn["public_net"]["daemon_port"])
                n.mountpaths, n.gone = [], False
                self.nodes.append(n)
        pid = sm["proxy_si"]["daemon_id"]
        self.nodes.sort(key=lambda n: (n.id != pid, n.role != "proxy", n.id))

    primary = property(lambda self: self.nodes[0])
    proxies = property(lambda self: [n for n in self.nodes if n.role == "proxy"])
    targets = property(lambda self: [n for n in self.nodes if n.role == "target"])
    smap = Cluster.smap
    headers = Cluster.headers
    node = Cluster.node
    live_nodes = Cluster.live_nodes

    def require_local(self):
        pytest.skip("needs local processes/mountpaths (LOCUS_TEST_USE_DAEMON is set)")

    def take_problems(self):
        return []

    def broken(self):
        return False

    def all_logs(self, lines=30):
        return ""

    def teardown(self, report=True):
        return []


def fqn(mountpath, bck, obj):
    return Path(mountpath) / "@ais" / bck / "%ob" / obj


def work_files(node, bck=None):
    """Files under the `%wk` dirs of a target's mountpaths (optionally for one bucket)."""
    out = []
    for mp in node.mountpaths:
        base = Path(mp) / "@ais"
        if not base.exists():
            continue
        for bdir in ([base / bck] if bck else base.iterdir()):
            wk = bdir / "%wk"
            if wk.is_dir():
                out += [p for p in wk.rglob("*") if p.is_file()]
    return out


def inflight_work_sizes(node, bck):
    """Sizes of the work files of a running target's writes in progress for bck: named ones under
    the `%wk` dirs, and unnamed (O_TMPFILE) ones, which only the process's open descriptors show
    (`/proc/<pid>/fd/N` -> `<mpath>/@ais/<bck>/%wk/#<inode> (deleted)`)."""
    sizes = [p.stat().st_size for p in work_files(node, bck) if p.exists()]
    wks = [str(Path(mp) / "@ais" / bck / "%wk") + "/" for mp in node.mountpaths]
    fddir = Path(f"/proc/{node.proc.pid}/fd")
    for fd in (fddir.iterdir() if fddir.exists() else []):
        try:
            target = os.readlink(fd)
            if target.endswith(" (deleted)") and any(target.startswith(w) for w in wks):
                sizes.append(os.stat(fd).st_size)
        except OSError:
            pass  # closed meanwhile
    return sorted(sizes)


def object_files(node, bck):
    out = []
    for mp in node.mountpaths:
        ob = Path(mp) / "@ais" / bck / "%ob"
        if ob.is_dir():
            out += [p for p in ob.rglob("*") if p.is_file()]
    return out


def vm_hwm_kib(pid):
    """Peak resident set size of a process (VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def consecutive_free_ports(n):
    """A base port P with P..P+n-1 free (`locus cluster up` uses P for the primary, P+1.. for the
    rest)."""
    for _ in range(200):
        base = free_ports(1)[0]
        if base + n > 65535 or 8080 in range(base, base + n):
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


def pids_in(d):
    """The pids in d/*/locusd.pid (the nodes of a `locus cluster up` directory)."""
    out = []
    for pf in Path(d).glob("*/locusd.pid"):
        try:
            out.append(int(pf.read_text().strip()))
        except (OSError, ValueError):
            pass
    return out


# ------------------------------------------------------------------------------------------------
# Fault tests: client load and the count of acknowledged, lost and corrupt objects

def check_objects(c, bck, want, via=None):
    """(lost, corrupt, other) of the acknowledged objects want ({name: bytes or sha256 hex}),
    read through proxy via (default: the cluster's URL): not found, wrong bytes, other answers."""
    s = Http()
    base = via.url if via is not None else c.url
    lost, corrupt, other = [], [], []
    for name, expect in want.items():
        r = s.get(obj_url(base, bck, name), headers=c.headers())
        if r.status_code == 404:
            lost.append(name)
        elif r.status_code != 200:
            other.append((name, r.status_code, r.text[:200]))
        elif (r.content if isinstance(expect, bytes) else
              hashlib.sha256(r.content).hexdigest()) != expect:
            corrupt.append(name)
    return lost, corrupt, other


class Load:
    """Client threads PUTting new objects (sizes 1..max_size, prefix + client + sequence) and
    GETting acknowledged ones (their sha256 in acked), through urls in turn (default: the
    cluster's). A status in retry_status, and with retry_connection a connection error (then the
    next URL), is retried; anything else but 200 is a failure (op, name, status, text)."""

    def __init__(self, c, bck, clients=16, urls=None, put_ratio=0.5, max_size=8 * 1024,
                 prefix="l", retry_status=(503,), retry_connection=False, attempts=100):
        self.c, self.bck, self.clients = c, bck, clients
        self.urls = urls or [c.url]
        self.put_ratio, self.max_size, self.prefix = put_ratio, max_size, prefix
        self.retry_status, self.retry_connection, self.attempts = (
            retry_status, retry_connection, attempts)
        self.acked = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.failures = []
        self.retried = 0  # retried answers and connection errors
        self.ops = 0  # answered requests
        self.gets = []  # completion times of good GETs (monotonic)
        self.threads = []

    def _run(self, k):
        s = Http()
        rnd = random.Random(k)
        i = 0
        while not self.stop.is_set():
            if rnd.random() < self.put_ratio or not self.acked:
                name = f"{self.prefix}{k:02d}-{i:06d}"
                i += 1
                data = os.urandom(rnd.randint(1, self.max_size))
                if self._do(s, k, "PUT", name, data) is not None:
                    with self.lock:
                        self.acked[name] = hashlib.sha256(data).hexdigest()
            else:
                with self.lock:
                    name, sha = rnd.choice(list(self.acked.items()))
                body = self._do(s, k, "GET", name)
                if body is not None:
                    self.gets.append(time.monotonic())
                    if hashlib.sha256(body).hexdigest() != sha:
                        self.failures.append(("GET", name, "corrupt", ""))

    def _do(self, s, k, method, name, data=None):
        """The body of a 200, or None (a failure is recorded)."""
        for attempt in range(self.attempts):
            base = self.urls[(k + attempt) % len(self.urls)]
            try:
                r = s.request(method, obj_url(base, self.bck, name), data=data,
                              headers=self.c.headers())
            except requests.ConnectionError as e:
                if not self.retry_connection:
                    self.failures.append((method, name, "connection", repr(e)))
                    return None
                with self.lock:
                    self.retried += 1
                time.sleep(0.05)
                continue
            except requests.RequestException as e:
                self.failures.append((method, name, "request", repr(e)))
                return None
            with self.lock:
                self.ops += 1
            if r.status_code in self.retry_status:
                with self.lock:
                    self.retried += 1
                time.sleep(0.1)
                continue
            if r.status_code != 200:
                self.failures.append((method, name, r.status_code, r.text[:200]))
                return None
            return r.content
        self.failures.append((method, name, "retries exhausted", ""))
        return None

    def start(self):
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                        for k in range(self.clients)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def rate(self, t0, t1):
        """Good GETs per second between monotonic times t0 and t1."""
        n = sum(1 for t in self.gets if t0 <= t < t1)
        return n / max(t1 - t0, 1e-9)
