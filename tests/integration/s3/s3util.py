"""Helpers of the S3 API suite shared by its files."""

import hashlib
import os

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
