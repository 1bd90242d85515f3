"""Helpers of the S3 API suite shared by its files."""

import base64
import hashlib
import hmac
import os
import zlib

import locustest as lt


def md5(data):
    return hashlib.md5(data).hexdigest()


def tree(root, files):
    """Writes {relative path: bytes} under root."""
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def sample_files():
    return {"a.txt": b"alpha\n", "dir/b.txt": b"bravo\n", "dir/sub/c.bin": os.urandom(300_000),
            "z.txt": b""}


def native_object(c, bck, obj):
    """The object as the native API serves it (bytes), or None when absent."""
    r = lt.Http().get(lt.obj_url(c.url, bck, obj), params={"provider": "ais"})
    return r.content if r.status_code == 200 else None


def native_names(c, bck):
    r = lt.Http().get(lt.bck_url(c.url, bck), params={"provider": "ais"},
                      json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200, r.text
    return sorted(e["name"] for e in r.json().get("entries") or [])


def native_bucket_exists(c, bck):
    r = lt.Http().head(lt.bck_url(c.url, bck), params={"provider": "ais"})
    assert r.status_code in (200, 404), r.status_code
    return r.status_code == 200


MIB = 1 << 20


def etag_of_parts(*parts):
    """S3's ETag of a multipart object: the MD5 of the parts' MD5s, "-", their count."""
    d = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{d}-{len(parts)}"'


def etag_of_chunks(data, chunk):
    return etag_of_parts(*[data[i:i + chunk] for i in range(0, len(data), chunk)])


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CHECKSUMS = {  # trailer name -> the base64 checksum of data
    "x-amz-checksum-crc32": lambda d: base64.b64encode(zlib.crc32(d).to_bytes(4, "big")),
    "x-amz-checksum-crc32c": lambda d: base64.b64encode(crc32c(d).to_bytes(4, "big")),
    "x-amz-checksum-sha256": lambda d: base64.b64encode(hashlib.sha256(d).digest()),
}


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def chunked_put(url, data, signed, trailer="x-amz-checksum-crc32", chunk=64 << 10, creds=None,
                tamper=None):
    """PUTs data as an aws-chunked body, the way current SDKs send it: STREAMING-UNSIGNED-
    PAYLOAD-TRAILER, or (signed) STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] with chunk and
    trailer signatures chained from the request's SigV4 signature by creds (key, secret); without
    creds the signatures are dummies (auth off). tamper: "data" (a byte changed after signing),
    "checksum" (a wrong trailer value), "sig" (a wrong chunk signature), "trailer-sig", "cut" (the
    body ends early). Returns the requests response."""
    import requests
    mode = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "") if signed
            else "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    hdrs = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
            "x-amz-content-sha256": mode}
    if trailer:
        hdrs["x-amz-trailer"] = trailer
    key = prev = date = scope = None
    if creds:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        class Streaming(S3SigV4Auth):
            def payload(self, request):
                return mode
        req = AWSRequest(method="PUT", url=url, headers=dict(hdrs))
        Streaming(Credentials(*creds), "s3", "us-east-1").add_auth(req)
        hdrs = dict(req.headers)
        prev = hdrs["Authorization"].split("Signature=")[1]
        date = hdrs["X-Amz-Date"]
        scope = f"{date[:8]}/us-east-1/s3/aws4_request"
        key = _hmac(_hmac(_hmac(_hmac(("AWS4" + creds[1]).encode(), date[:8]), "us-east-1"),
                          "s3"), "aws4_request")
    wire = bytearray()
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for i, piece in enumerate(pieces):
        ext = ""
        if signed:
            sig = "0" * 64
            if key:
                sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, prev, EMPTY_SHA256,
                                 hashlib.sha256(piece).hexdigest()])
                sig = prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            if tamper == "sig" and i == 1:
                sig = "f" * 64
            ext = ";chunk-signature=" + sig
        if tamper == "data" and i == 0:
            piece = bytes([piece[0] ^ 1]) + piece[1:]  # changed, whatever it was
        wire += f"{len(piece):x}{ext}\r\n".encode() + piece + (b"\r\n" if piece else b"")
    if trailer:
        value = CHECKSUMS[trailer](data).decode() if trailer in CHECKSUMS else "AAAAAAAAAAA="
        if tamper == "checksum":
            value = CHECKSUMS[trailer](data + b"x").decode()
        wire += f"{trailer}:{value}\r\n".encode()
        if signed:
            sig = "0" * 64
            if key:
                sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", date, scope, prev,
                                 hashlib.sha256(f"{trailer}:{value}\n".encode()).hexdigest()])
                sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            if tamper == "trailer-sig":
                sig = "e" * 64
            wire += f"x-amz-trailer-signature:{sig}\r\n".encode()
    wire += b"\r\n"
    if tamper == "cut":
        wire = wire[:len(wire) // 2]
    return requests.put(url, data=bytes(wire), headers=hdrs, timeout=30)
