#!/usr/bin/env python3
"""seeds.py - writes the seed corpora of tests/fuzz/corpus/<harness>/ (docs/fuzzing.md).

The seeds are checked in; run this (from anywhere, Python 3 standard library only) after
changing it, and commit the result. Files are named seed-<what>; inputs that the fuzzers found
and that were merged in keep libFuzzer's names (their SHA-1). Only seed-* files are rewritten.
"""
import base64
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- names: one name, uname or FQN (mountpaths /mnt/a, /mnt/a/b, /mnt/c/, /) ----
NAMES = {
    "bucket": "photos-2024_v1.0",
    "object": "2024/cat.jpg",
    "dotdot": "a/../../etc/passwd",
    "dot-segment": "a/./b",
    "empty-segment": "a//b",
    "utf8": "fotos/k\u00f6nig-\u20ac.jpg",
    "uname": "ais/@#/photos/2024/cat.jpg",
    "uname-url": "ais://photos/a/b",
    "fqn": "/mnt/a/@ais/photos/%ob/2024/cat.jpg",
    "fqn-nested": "/mnt/a/b/@ais/bk/%ob/x/y",
    "fqn-root": "/@ais/b/%ob/o",
    "fqn-bad": "/mnt/c/@ais/b/%wk/0123456789abcdef.42",
}

# ---- url: a request target ----
URLS = {
    "object": "/v1/objects/photos/2024/cat.jpg?provider=ais",
    "escaped": "/v1/objects/b/a%2Fb%20c.txt?etl_name=md5-etl&etl_args=x+y%26z",
    "bad-utf8": "/v1/objects/%FF%FE/o?provider=%FF",
    "long-utf8": "/v1/objects/b/" + "%E2%82%AC" * 300,
    "nul": "/v1/objects/b/a%00b",
    "traversal": "/v1/objects/b/..%2F..%2Fetc%2Fpasswd",
    "etl-object": "/v1/etl/_object/md5-etl/abcdefghij/ais%2F%40%23%2Fb%2Fo",
    "bucket": "/v1/buckets/photos?bck_to=ais://backup&provider=ais",
    "lso": "/v1/internal/lso?bck=b&prefix=2024/&after=x&limit=10&props=name,size,atime",
    "daemon": "/v1/daemon?what=" + "%E2%82%AC" * 200,
    "copy": "/v1/objects/b/x?object_to=ais/@%23/c/y&etl_name=e",
    "etl": "/v1/etl/md5-etl/logs/t1",
    "not-v1": "/v2/objects",
}

# ---- template ----
TEMPLATES = {
    "padded": "shard-{0001..1000}.tar",
    "steps": "a-{0..99..2}-b{1..3}",
    "huge": "obj-{0..999999999999}",
    "limits": "x{9223372036854775800..9223372036854775807..3}",
    "negative": "{-5..5..3}/y",
    "eight-groups": "{1..2}{1..2}{1..2}{1..2}{1..2}{1..2}{1..2}{1..2}",
    "plain": "just-a-name",
    "malformed": "a{1..}b}",
}

# ---- range: byte 0 picks the object size (see fuzz_range.c), then the header ----
RANGES = {
    "first-byte": b"\x20bytes=0-0",
    "suffix": b"\x20bytes=-5",
    "open": b"\x4abytes=10-",
    "closed": b"\x3fbytes=3-40",
    "inverted": b"\x3fbytes=5-3",
    "huge": b"\x80bytes=0-99999999999999999999",
    "multi": b"\x30Bytes=1-2,3-4",
    "empty-object": b"\x00bytes=0-",
}

ETL_SPECS = {
    "json": '{"name":"md5-etl","runtime":{"image":"aistorage/transformer_md5:latest"},'
    '"communication":"hpush://","argument":"fqn","init_timeout":"2m","obj_timeout":45}',
    "json-array": '[{"name":"echo-etl","runtime":{"image":"fuzz/img:v1"}},'
    '{"id":"io-gzip","communication":"io","runtime":{"image":"x","command":["gzip","-c"]}}]',
    "ws": "name: ws-etl\nruntime:\n  image: aistorage/transformer_echo\ncommunication: ws://\n"
    "support_direct_put: true\nlocus_unix_socket: true\n",
    "env": "name: env-etl\nruntime:\n  image: custom/img\n  command: [\"/bin/srv\", \"--port\", "
    "\"${PORT}\"]\n  env:\n    - name: A\n      value: 1\n    - {name: B, value: ~}\n"
    "env: [{name: C, value: \"x\"}]\nresources:\n  limits: {memory: 512Mi, cpu: 0.5}\n",
    "multi-doc": "---\nname: one-etl\nruntime: {image: aistorage/transformer_hello}\n---\n"
    "name: two-etl\nruntime: {image: aistorage/transformer_md5}\nobj_timeout: 1h30m\n",
    "anchors": "name: &n alias-etl\nruntime: &r {image: aistorage/transformer_echo}\n"
    "x: [*n, *r, *r]\n",
    "bad-timeout": '{"name":"bad-etl","runtime":{"image":"x"},"init_timeout":9223372036}',
}

# ---- lso: msgpack pages (the layout of src/common/lso.h), minimal hand-rolled encoder ----


def mp(v):
    if v is None:
        return b"\xc0"
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v < 2**32:
            return b"\xce" + struct.pack(">I", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, (str, bytes)):
        b = v.encode() if isinstance(v, str) else v
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


ENTRY = {"n": "2024/cat.jpg", "cs": "a1b2c3d4e5f60708", "a": "Mon, 01 Jan 2024 00:00:00 UTC",
         "v": "3", "t": "t1:/mnt/a", "m": "k=v", "s": 123456, "c": 1, "f": 64}
LSO = {
    "page": mp({"UUID": "u1", "ContinuationToken": "2024/dog.jpg",
                "Entries": [ENTRY, {"n": "a"}, {"n": "b", "s": -1}], "Flags": 0}),
    "last-page": mp({"UUID": "", "ContinuationToken": "", "Entries": [], "Flags": 7}),
    "nil-entries": mp({"UUID": None, "Entries": None}),
    "bin-name": mp({"Entries": [{"n": b"\xff\xfe", "s": 2**63 - 1}]}),
    "big-int": mp({"Entries": [{"n": "x", "c": 2**40, "f": 2**33}], "Flags": 2**32 - 1}),
}

# ---- ws_client: the server's bytes (handshake answer, then unmasked server frames) ----
HANDSHAKE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Accept: @ACCEPT@\r\n\r\n")


# ---- http_head: an answer head from another node (httpc_get_lite) ----
HTTP_HEAD = {
    "object": "HTTP/1.1 200 OK\r\nDate: Mon, 07 Dec 2026 14:54:42 GMT\r\nConnection: Keep-Alive"
              "\r\nContent-Type: application/octet-stream\r\nAis-Checksum-Type: xxhash\r\n"
              "Ais-Checksum-Value: 466f4f0c835b55fc\r\nAis-Size: 4096\r\n"
              "Content-Length: 4096\r\n\r\n",
    "range": "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\n"
             "Content-Length: 10\r\n\r\n0123456789",
    "http10-close": "HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n{\"message\":\"x\"}",
    "no-length": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end",
    "two-lengths": "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    "chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "folded": "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
}


def frame(op, payload, fin=True, mask=None):
    b = bytes([(0x80 if fin else 0) | op])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        b += bytes([m | n])
    elif n < 65536:
        b += bytes([m | 126]) + struct.pack(">H", n)
    else:
        b += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        b += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return b + payload


WS_CLIENT = {
    "binary": HANDSHAKE + frame(2, b"transformed bytes"),
    "text": HANDSHAKE + frame(1, b"ETL-ERROR 500 it failed") + frame(1, b"17"),
    "fragmented": HANDSHAKE + frame(2, b"part1-", fin=False) + frame(9, b"ping")
    + frame(0, b"part2-", fin=False) + frame(0, b"end"),
    "medium": HANDSHAKE + frame(2, bytes(range(256)) * 2),
    "close": HANDSHAKE + frame(8, struct.pack(">H", 1001) + b"going away"),
    "refused": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    "bad-accept": b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n" + frame(2, b"x"),
}

# ---- ws_server: the target's bytes (masked client frames) after the upgrade ----
MASK = b"\x12\x34\x56\x78"


def ctl(**kv):
    import json
    return frame(2, json.dumps(kv).encode(), mask=MASK)


def obj(data, op=2):
    return frame(op, data, mask=MASK)


WS_SERVER = {
    "echo": ctl(path="b/o", etl_args="") + obj(b"hello object"),
    "two": ctl(path="b/o1") + obj(b"first") + ctl(path="b/o2", etl_args="static") + obj(b"2nd"),
    "stream": ctl(path="b/s", etl_args="stream") + obj(b"0123456789" * 10),
    "fail": ctl(path="b/f", etl_args="fail") + obj(b"x"),
    "big": ctl(path="b/b", etl_args="big") + obj(b"0123456789abcdef") + ctl(path="b/c") + obj(b"c"),
    "bigstream": ctl(path="b/b", etl_args="bigstream") + obj(b"s") + ctl(path="b/c") + obj(b"c"),
    "empty": ctl(path="b/e", etl_args="empty") + obj(b""),
    "fqn": ctl(path="b/o", fqn="/tmp/locus-fuzz-ws-fqn/obj"),
    "fqn-denied": ctl(path="b/o", fqn="/etc/passwd") + ctl(path="c", fqn="%2Ftmp%2F..%2Fx"),
    "direct-put": ctl(path="b/o", dst_addr="http://127.0.0.1:1/v1/objects/b/o2") + obj(b"d"),
    "pipeline": ctl(path="b/o", pipeline=["http://h1:1/", "http://h2:2/x"]) + obj(b"p"),
    "fragmented": frame(2, b'{"path":', fin=False, mask=MASK) + frame(9, b"", mask=MASK)
    + frame(0, b'"b/o"}', mask=MASK) + frame(2, b"ab", fin=False, mask=MASK)
    + frame(0, b"cd", mask=MASK),
    "bad-control": obj(b"not json", op=1) + obj(b"data"),
    "close": ctl(path="b/o") + obj(b"x") + frame(8, struct.pack(">H", 1000), mask=MASK),
}


# ---- etl_uri: request URI, then Ais-Node-Url; the last byte picks the mode (fuzz_etl_uri.c) ----
ETL_URI = {
    "hpush": "/photos/2024%2Fcat.jpg?etl_args=x+y%26z\nhttp://t1:8081/v1/objects/b/o, http://t2:1\x02",
    "fqn-query": "/b/o?etl_fqn=%252Fmnt%252Fa%252F%2540ais%252Fb%252F%2525ob%252Fo&latest-ver=true",
    "fqn-path": "/%2Fmnt%2Fb%2F..%2F..%2Fetc%2Fpasswd\n\x01",
    "pipeline": "/\nhttp://etl2:80,http://etl3:80/x\x04",
    "download": "/download?original_url=http%3A%2F%2Fexample.com%2Fa\n ,, ",
    "bad": "/a%zz?etl_args=%",
}

# ---- etl_pipeline: the etl_pipeline query value ----
ETL_PIPELINE = {
    "two": "upper-etl,md5-transformer-etl",
    "spaces": " upper-etl , hello-world-1 ",
    "one": "echo-etl",
    "empty-item": "upper-etl,,md5-etl",
    "bad-name": "Upper_ETL,x",
    "many": ",".join(["stage-%02d" % i for i in range(6)]),
    "nul": "upper-etl\x00,evil-etl",
}

# ---- auth (slot: the harness comes with src/auth): Authorization header values ----


def b64url(b):
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(header, claims, key=b"fuzz-secret", sig=None):
    import hashlib
    import hmac
    import json
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    if sig is None:
        sig = hmac.new(key, (h + "." + c).encode(), hashlib.sha256).digest()
    return h + "." + c + "." + b64url(sig)


# AIStore AuthN's claims: username, admin, clusters and buckets ACLs, expires (RFC 3339) or exp.
CLAIMS = {"username": "admin", "admin": True, "expires": "2099-01-01T00:00:00Z", "exp": 4070908800}
USER = {"username": "u", "admin": False, "exp": 4070908800,
        "clusters": [{"id": "c1", "perm": "32"}],
        "buckets": [{"bck": {"name": "photos", "provider": "ais"}, "perm": "3"}]}
AUTH = {
    "hs256-admin": "Bearer " + jwt({"alg": "HS256", "typ": "JWT"}, CLAIMS),
    "hs256-user": "Bearer " + jwt({"alg": "HS256", "typ": "JWT"}, USER),
    "expired": "Bearer " + jwt({"alg": "HS256"}, dict(CLAIMS, exp=1, expires="2000-01-01T00:00:00Z")),
    "alg-none": "Bearer " + jwt({"alg": "none"}, CLAIMS, sig=b""),
    "rs256-bad-sig": "Bearer " + jwt({"alg": "RS256", "typ": "JWT"}, CLAIMS, sig=b"\x00" * 256),
    "wrong-key": "Bearer " + jwt({"alg": "HS256"}, CLAIMS, key=b"another secret"),
    "two-parts": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJhZG1pbiI6dHJ1ZX0",
    "not-base64": "Bearer a$b.c%d.e*f",
    "basic": "Basic dXNlcjpwYXNz",
    "empty-bearer": "Bearer ",
}


# ---- lom: byte 0 even: the xattr JSON; odd: the URL-encoded Locus-Lom header ----
_LOM = ('{"v":1,"size":5,"cs_type":"xxhash","cs_val":"26c7827d889f6da3","ver":3,'
        '"atime":1700000000000000000,"custom":{"k":"v"}}')
LOM = {
    "xattr": b"\x00" + _LOM.encode(),
    "xattr-min": b'\x00{"v":1,"size":0}',
    "xattr-bad-custom": b'\x00{"v":1,"size":1,"custom":{"k":1}}',
    "xattr-negative": b'\x00{"v":1,"size":-1}',
    "xattr-compact": b"\x00" + _LOM[:_LOM.index(',"custom"')].encode() + b"}",
    # the binary xattr form: 'L', 2, xxhash, then size, version, atime, XXH64 (int64 LE)
    "xattr-binary": b"\x00L\x02\x01" + b"".join(
        v.to_bytes(8, "little") for v in (5, 3, 1700000000000000000, 0x26c7827d889f6da3)),
    "header": b"\x01" + "".join(c if c.isalnum() else "%%%02X" % ord(c) for c in _LOM).encode(),
    "header-raw": b"\x01" + _LOM.encode(),
    "header-bad-escape": b"\x01%7B%22v%22%3A1%2C%22size%22%3A%ZZ",
}

# ---- vote: a VoteMessage (GET /v1/vote/proxy) ----
def _smap(proxies, primary="p1", version="7"):
    pm = ",".join(f'"{p}":{{"daemon_id":"{p}","public_net":{{"direct_url":"http://127.0.0.1:{8080 + i}"}},"flags":0}}'
                  for i, p in enumerate(proxies))
    return ('{"tmap":{"t1":{"daemon_id":"t1","public_net":{"direct_url":"http://127.0.0.1:9090"}}},'
            f'"pmap":{{{pm}}},"proxy_si":{{"daemon_id":"{primary}"}},"uuid":"Xb1c","version":"{version}"}}')


def _vote(cand="p2", primary="p1", smap=None):
    return (f'{{"vote_record":{{"candidate":"{cand}","primary":"{primary}","smap":{smap or _smap(["p1", "p2", "p3"])},'
            f'"start_time":"2026-12-07T03:29:30Z","initiator":"{cand}"}}}}')


VOTE = {
    "three-proxies": _vote(),
    "two-proxies": _vote(smap=_smap(["p1", "p2"])),
    "candidate-is-primary": _vote(cand="p1"),
    "candidate-is-target": _vote(cand="t1"),
    "bad-id": _vote(cand="../p2"),
    "no-map": '{"vote_record":{"candidate":"p2","primary":"p1","initiator":"p2"}}',
}


# ---- ec_piece: the Locus-Ec header "D,P,slice,xxhash" ----
EC_PIECE = {
    "data": b"2,1,1,0123456789abcdef",
    "parity": b"2,1,3,ef46db3751d8e999",
    "replica": b"4,2,0,26c7827d889f6da3",
    "max": b"32,32,64,ffffffffffffffff",
    "slice-too-big": b"2,1,4,0123456789abcdef",
    "upper-hex": b"2,1,1,0123456789ABCDEF",
    "nul": b"2,1,1,0123456789abcd\x00f",
    "short": b"2,1",
}


# ---- arch: shard bytes (tar, tar.gz, zip, tar.lz4 when python3-lz4 is there; unsafe names) ----
def _tar(members, mode="w"):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _zip(members):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def arch_seeds():
    import gzip
    members = [("a/1.jpg", b"one" * 20), ("a/1.json", b'{"k":1}'), ("b/3.txt", b"three")]
    evil = [("../../etc/passwd", b"x"), ("/abs", b"y"), ("ok.txt", b"fine")]
    out = {
        "tar": _tar(members),
        "tgz": gzip.compress(_tar(members), mtime=0),
        "zip": _zip(members),
        "evil-tar": _tar(evil),
        "evil-zip": _zip(evil),
        "long-name-tar": _tar([("d/" * 60 + "f.bin", b"z" * 10)]),
        "not-archive": b"plain text, not an archive\n" * 4,
    }
    try:
        import lz4.frame
        out["tar-lz4"] = lz4.frame.compress(_tar(members))
    except ImportError:
        pass
    return out


MOSS = {
    "simple": b"\x01" + b'{"in":[{"objname":"a/b"},{"objname":"s.tar","archpath":"x/y.jpg"}]}',
    "full": b"\x00" + b'{"in":[{"objname":"o","bucket":"b","provider":"ais","opaque":"aGk=",'
                      b'"start":3,"length":-1}],"mime":".tar.lz4","coer":true,"onob":true,'
                      b'"strm":false,"coloc":1}',
    "traversal": b"\x01" + b'{"in":[{"objname":"a","archpath":"../../etc/passwd"}]}',
    "bad-range": b"\x01" + b'{"in":[{"objname":"a","start":5,"length":0}]}',
    "empty": b"\x01" + b'{"in":[]}',
}


MOSS_FRAMES = {
    "two": b"200 5\nhello404 24\nais://b/o does not exist",
    "empty-member": b"200 0\n200 0\n",
    "long-error": b"500 5000\n" + b"e" * 64,
    "signed": b"200 -5\nx+200 +5\nhello",
    "short": b"200 99\nabc",
    "bad-status": b"99 1\nx",
    "long-line": b"200 " + b"0" * 60 + b"\n",
}


# ---- metrics: GET /metrics bodies ----
METRICS = {
    "target": '# HELP ais_target_get_count requests\n# TYPE ais_target_get_count counter\n'
    'ais_target_get_count{node_id="t1"} 12\n'
    'locus_request_duration_seconds_bucket{node_id="t1",op="get",le="+Inf"} 3\n'
    'locus_mountpath_used_bytes{node_id="t1",mountpath="/a \\"b\\"\\n"} 1.5e+09\n',
    "timestamp": "up 1 1700000000000\nx{} NaN\ny -Inf\n",
    "broken": 'a{b="c} 1\nb{=""} 2\nc 1 2 3\n{x="y"} 3\nd{e="\\\\"} 4',
}


# ---- etl_podspec: the Pod YAML of a pod-spec ETL init message ----
ETL_PODSPEC = {
    "aistore-md5": (b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: etl-echo\n  annotations:\n"
                    b"    communication_type: \"hpush://\"\n    wait_timeout: \"5m\"\nspec:\n"
                    b"  containers:\n    - name: server\n      image: aistorage/transformer_md5:latest\n"
                    b"      ports: [{ name: default, containerPort: 8000 }]\n"
                    b"      command: [\"uvicorn\", \"app\", \"--port\", \"8000\"]\n"
                    b"      readinessProbe:\n        httpGet: { path: /health, port: default }\n"),
    "own-command": (b"spec:\n  containers:\n  - image: me/x\n    command: [sh, -c, 'srv :9000']\n"
                    b"    args: ['--port=9000']\n    ports: [{containerPort: 9000}]\n"
                    b"    env: [{name: A, value: 1}]\n    resources: {limits: {memory: 64Mi}}\n"
                    b"  volumes: [{name: s, emptyDir: {}}]\n"),
    "two-containers": b"spec:\n  containers: [{image: a}, {image: b}]\n",
    "host-path": b"spec:\n  containers: [{image: a}]\n  volumes: [{name: d, hostPath: {path: /}}]\n",
    "value-from": b"spec: {containers: [{image: a, env: [{name: S, valueFrom: {}}]}]}\n",
    "ws-direct-put": (b"metadata: {annotations: {communication_type: ws://, support_direct_put: 'true'}}\n"
                      b"spec: {containers: [{image: aistorage/transformer_echo}]}\n"),
    "alias": b"a: &x [1, 2]\nb: *x\nspec: {containers: [{image: a, args: *x}]}\n",
}


# ---- objapi: byte 0 % 3 picks the parser (0: an mpt-complete body, 1: a promote message, 2: the
# S3 complete body) ----
OBJAPI = {
    "mpt": b"\x00" + b'{"action":"mpt-complete","value":[{"etag":"","part-number":1},'
                     b'{"etag":"","part-number":2}]}',
    "mpt-unsorted": b"\x00" + b'{"value":[{"part-number":3},{"part-number":1},{"part-number":2}]}',
    "mpt-dup": b"\x00" + b'{"value":[{"part-number":1},{"part-number":1}]}',
    "mpt-huge": b"\x00" + b'{"value":[{"part-number":18446744073709551615}]}',
    "mpt-s3": b"\x02" + b'{"action":"mpt-complete","value":[{"part-number":1,"etag":'
                        b'"0123456789abcdef0123456789abcdef"},{"part-number":3,"etag":'
                        b'"fedcba9876543210fedcba9876543210"}]}',
    "mpt-s3-order": b"\x02" + b'{"value":[{"part-number":2,"etag":"0123456789abcdef0123456789'
                              b'abcdef"},{"part-number":1,"etag":"0123456789abcdef0123456789abcdef"}]}',
    "mpt-s3-etag": b"\x02" + b'{"value":[{"part-number":1,"etag":"\\"0123\\""}]}',
    "promote": b"\x01" + b'{"action":"promote","name":"/data/in","value":{"src":"/data/in",'
                         b'"obj":"p/","rcr":true,"ovw":false,"dls":false,"tid":"t1"}}',
    "promote-file": b"\x01" + b'{"name":"/data/f.txt","value":{"obj":"obj"}}',
    "promote-dotdot": b"\x01" + b'{"value":{"src":"/data/../etc/passwd"}}',
    "promote-conflict": b"\x01" + b'{"name":"/a","value":{"src":"/b","notshr":true}}',
}


# ---- s3_xml: DeleteObjects and CompleteMultipartUpload bodies (fuzz_s3_xml.c) ----
S3_XML = {
    "delete": '<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/'
              'doc/2006-03-01/"><Object><Key>a/b.txt</Key></Object><Object><Key>c</Key>'
              '<VersionId>1</VersionId></Object><Quiet>true</Quiet></Delete>',
    "entities": "<Delete><Object><Key>a&amp;b&lt;c&gt;&quot;&apos;&#x263A;</Key></Object></Delete>",
    "cdata": "<Delete><Object><Key><![CDATA[x<y]]></Key></Object></Delete>",
    "prefixed": '<s3:Delete xmlns:s3="x"><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>',
    "dtd": '<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Delete><Object><Key>&b;'
           '</Key></Object></Delete>',
    "unclosed": "<Delete><Object><Key>k</Key></Object>",
    "unknown": "<Delete><Object><Nope/></Object></Delete>",
    "two-keys": "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
    "utf16": b"\xff\xfe<\x00D\x00",
    "mpt-complete": '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://'
                's3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"0123456789abcdef0123456789abcdef"'
                '</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;FEDCBA9876543210FEDCBA'
                '9876543210&quot;</ETag><PartNumber>2</PartNumber><ChecksumCRC32>AAAAAA==</Checks'
                'umCRC32></Part></CompleteMultipartUpload>',
    "mpt-unquoted": "<CompleteMultipartUpload><Part><PartNumber>10000</PartNumber><ETag>"
                "0123456789abcdef0123456789abcdef</ETag></Part></CompleteMultipartUpload>",
    "mpt-no-etag": "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
               "</CompleteMultipartUpload>",
    "mpt-zero": "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part>"
            "</CompleteMultipartUpload>",
    "mpt-empty": "<CompleteMultipartUpload/>",
    "mpt-dtd": '<!DOCTYPE d [<!ENTITY a "1">]><CompleteMultipartUpload><Part><PartNumber>&a;'
           '</PartNumber></Part></CompleteMultipartUpload>',
}


# ---- s3_chunked: aws-chunked bodies (fuzz_s3_chunked.c); byte 0 mode/checksum/chain, byte 1
# the piece size ----
def s3_chunked_seeds():
    import zlib
    data = b"hello, aws-chunked world"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    sig = ";chunk-signature=" + "0" * 64
    return {
        "unsigned-crc32": bytes([4, 3]) + (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
                                           + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()),
        "unsigned-none": bytes([0, 1]) + b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
        "signed": bytes([1, 7]) + f"5{sig}\r\nhello\r\n0{sig}\r\n\r\n".encode(),
        "signed-checked": bytes([33, 5]) + f"5{sig}\r\nhello\r\n0{sig}\r\n\r\n".encode(),
        "signed-trailer": bytes([6, 2]) + (f"5{sig}\r\nhello\r\n0{sig}\r\n".encode() +
                                           b"x-amz-checksum-crc32:NhCmhg==\r\n" +
                                           b"x-amz-trailer-signature:" + b"1" * 64 +
                                           b"\r\n\r\n"),
        "sha256": bytes([16, 9]) + (b"2\r\nhi\r\n0\r\nx-amz-checksum-sha256:"
                                    b"j0NDRmSPa5bfid2pAcUXaxCm2Dlh3TwayItZstwyeqQ=\r\n\r\n"),
        "cut": bytes([0, 4]) + b"10\r\nshort",
    }


def main():
    for name, v in NAMES.items():
        write("names", name, v)
    for name, v in URLS.items():
        write("url", name, v)
    for name, v in TEMPLATES.items():
        write("template", name, v)
    for name, v in RANGES.items():
        write("range", name, v)
    for name, v in ETL_SPECS.items():
        write("etl_spec", name, v)
    with open(os.path.join(HERE, "..", "..", "transformers", "md5", "etl_spec.yaml"), "rb") as f:
        write("etl_spec", "md5-yaml", f.read())
    for name, v in ETL_PODSPEC.items():
        write("etl_podspec", name, v)
    for name, v in LSO.items():
        write("lso", name, v)
    for name, v in WS_CLIENT.items():
        write("ws_client", name, v)
    for name, v in WS_SERVER.items():
        write("ws_server", name, v)
    for name, v in ETL_URI.items():
        write("etl_uri", name, v)
    for name, v in ETL_PIPELINE.items():
        write("etl_pipeline", name, v)
    for name, v in AUTH.items():
        write("auth", name, v)
    for name, v in LOM.items():
        write("lom", name, v)
    for name, v in EC_PIECE.items():
        write("ec_piece", name, v)
    for name, v in VOTE.items():
        write("vote", name, v)
    for name, v in arch_seeds().items():
        write("arch", name, v)
    for name, v in MOSS.items():
        write("moss", name, v)
    for name, v in MOSS_FRAMES.items():
        write("moss", "frames-" + name, b"\x02" + v)
    for name, v in METRICS.items():
        write("metrics", name, v)
    for name, v in OBJAPI.items():
        write("objapi", name, v)
    for name, v in S3_XML.items():
        write("s3_xml", name, v)
    for name, v in s3_chunked_seeds().items():
        write("s3_chunked", name, v)
    for name, v in HTTP_HEAD.items():
        write("http_head", name, v)


if __name__ == "__main__":
    main()
