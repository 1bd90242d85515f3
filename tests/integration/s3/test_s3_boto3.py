"""S3 API through boto3 (python3-boto3, unmodified, in-process) and raw HTTP for what clients
never send: buckets, objects with MD5 ETags and ranges, ListObjects V1/V2, CopyObject,
DeleteObjects, S3 XML errors, S3 at the root, presigned URLs (auth off: not checked)."""

import os
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import locustest as lt
import s3util as u


def client(url):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id="locus-key",
                        aws_secret_access_key="locus-secret", region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def s3(s3c):
    os.environ.pop("AWS_CA_BUNDLE", None)
    return client(s3c.url + "/s3")


@pytest.fixture
def bucket(s3):
    name = lt.rand_name("s3b-")
    s3.create_bucket(Bucket=name)
    yield name
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


def code_of(exc):
    return exc.value.response["Error"]["Code"]


def status_of(exc):
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def xml_error(r):
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    return root.findtext("Code")


def test_buckets(s3c, s3):
    name = lt.rand_name("s3b-")
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert code_of(e) == "BucketAlreadyOwnedByYou"
    # the bucket is a native one: the native API sees it and its objects
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert u.native_object(s3c, name, "k") == b"v"
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code_of(e) == "BucketNotEmpty" and status_of(e) == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert code_of(e) == "NoSuchBucket"
    r = requests.put(s3c.url + "/s3/bad%20name", timeout=10)
    assert r.status_code == 400 and xml_error(r) == "InvalidBucketName"


def test_objects(s3c, s3, bucket):
    data = os.urandom(200_000)
    r = s3.put_object(Bucket=bucket, Key="d/obj.bin", Body=data)
    assert r["ETag"] == f'"{u.md5(data)}"'
    g = s3.get_object(Bucket=bucket, Key="d/obj.bin")
    assert g["Body"].read() == data
    assert g["ETag"] == f'"{u.md5(data)}"' and g["ContentLength"] == len(data)
    assert g["LastModified"] is not None
    assert u.native_object(s3c, bucket, "d/obj.bin") == data  # the same object natively
    g = s3.get_object(Bucket=bucket, Key="d/obj.bin", Range="bytes=100-199")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["Body"].read() == data[100:200]
    assert g["ContentRange"] == f"bytes 100-199/{len(data)}"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="d/obj.bin", Range=f"bytes={len(data) + 10}-")
    assert code_of(e) == "InvalidRange" and status_of(e) == 416
    h = s3.head_object(Bucket=bucket, Key="d/obj.bin")
    assert h["ContentLength"] == len(data) and h["ETag"] == f'"{u.md5(data)}"'
    # empty objects and names that need escaping
    for key in ["empty", "with space+plus%pct", "ünï/cødé?&=x"]:
        body = b"" if key == "empty" else key.encode()
        assert s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"] == f'"{u.md5(body)}"'
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key="d/obj.bin")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="d/obj.bin")
    assert code_of(e) == "NoSuchKey" and status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="d/obj.bin")
    assert status_of(e) == 404
    s3.delete_object(Bucket=bucket, Key="never-there")  # S3: 204 all the same
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket-s3", Key="k", Body=b"x")
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert code_of(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="md5")
    assert status_of(e) == 404  # a refused body is never stored


KEYS = ["a1", "a2", "b/1", "b/2", "b/c/3", "c/1", "d", "e/x/y"]


def all_pages(s3, **kw):
    keys, prefixes = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(**kw):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


def test_list(s3, bucket):
    for k in KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in r["Contents"]] == KEYS and r["KeyCount"] == len(KEYS)
    assert not r["IsTruncated"]
    o = r["Contents"][2]
    assert o["Size"] == 3 and o["ETag"] == f'"{u.md5(b"b/1")}"' and o["LastModified"]
    assert all_pages(s3, Bucket=bucket, Prefix="b/") == (["b/1", "b/2", "b/c/3"], [])
    assert all_pages(s3, Bucket=bucket, Delimiter="/") == (["a1", "a2", "d"], ["b/", "c/", "e/"])
    assert all_pages(s3, Bucket=bucket, Prefix="b/", Delimiter="/") == (["b/1", "b/2"], ["b/c/"])
    # pages of 2 and of 1: every key and prefix exactly once, in order
    assert all_pages(s3, Bucket=bucket, PaginationConfig={"PageSize": 2}) == (KEYS, [])
    assert all_pages(s3, Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}) == \
        (["a1", "a2", "d"], ["b/", "c/", "e/"])
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=3)
    assert r["IsTruncated"] and r["KeyCount"] == 3 and r["NextContinuationToken"]
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b/c/3")
    assert [o["Key"] for o in r["Contents"]] == ["c/1", "d", "e/x/y"]
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert r["KeyCount"] == 0 and "Contents" not in r
    # V1: marker, NextMarker with a delimiter
    keys, prefixes, marker = [], [], ""
    while True:
        r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=marker)
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        marker = r["NextMarker"]
    assert (keys, prefixes) == (["a1", "a2", "d"], ["b/", "c/", "e/"])
    r = s3.list_objects(Bucket=bucket, Marker="b/2")
    assert [o["Key"] for o in r["Contents"]] == ["b/c/3", "c/1", "d", "e/x/y"]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="not-hex!")
    assert code_of(e) == "InvalidArgument"


def test_copy_and_delete_many(s3c, s3, bucket):
    data = os.urandom(50_000)
    s3.put_object(Bucket=bucket, Key="src", Body=data)
    other = lt.rand_name("s3b-")
    s3.create_bucket(Bucket=other)
    r = s3.copy_object(Bucket=other, Key="dst/copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == f'"{u.md5(data)}"'
    assert s3.get_object(Bucket=other, Key="dst/copy")["Body"].read() == data
    assert s3.head_object(Bucket=other, Key="dst/copy")["ETag"] == f'"{u.md5(data)}"'
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "nope"})
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": "no-such-b", "Key": "k"})
    assert code_of(e) == "NoSuchBucket"
    s3.delete_object(Bucket=other, Key="dst/copy")
    s3.delete_bucket(Bucket=other)
    for k in ["m1", "m2", "m3"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "m1"}, {"Key": "m2"},
                                                             {"Key": "absent"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["absent", "m1", "m2"]
    assert not r.get("Errors")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "m3"}], "Quiet": True})
    assert not r.get("Deleted") and not r.get("Errors")
    assert u.native_names(s3c, bucket) == ["src"]


def test_root_and_presigned(s3c, s3, bucket):
    # S3 at the root: a signed request outside /v1 is an S3 one
    root = client(s3c.url)
    root.put_object(Bucket=bucket, Key="via-root", Body=b"root")
    assert s3.get_object(Bucket=bucket, Key="via-root")["Body"].read() == b"root"
    assert "via-root" in [o["Key"] for o in root.list_objects_v2(Bucket=bucket)["Contents"]]
    # presigned URLs (auth off: the signature is not checked, as AIStore)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "via-root"})
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"root"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre"})
    assert requests.put(url, data=b"presigned", timeout=10).status_code == 200
    assert u.native_object(s3c, bucket, "pre") == b"presigned"
    # an unsigned request outside /v1 and /s3 is not S3's
    r = requests.get(s3c.url + "/" + bucket, timeout=10)
    assert r.status_code == 400 and "expecting /v1" in r.text


def test_bad_requests(s3c, bucket):
    base = f"{s3c.url}/s3/{bucket}"
    bad = [b"<Delete><Object><Key>k</Key></Object>",  # not closed
           b"<Delete><Object><Nope>k</Nope></Object></Delete>",
           b"<Delete></Delete>",
           b"<Other/>",
           b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object>'
           b"<Key>&a;</Key></Object></Delete>",
           b"<Delete>text<Object><Key>k</Key></Object></Delete>",
           b"<Delete><Object><Key>" + b"k" * 5000 + b"</Key></Object></Delete>",
           b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
           b"<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
           b"\xff\xfe"]
    for body in bad:
        r = requests.post(base + "?delete", data=body, timeout=10)
        assert r.status_code == 400, (body[:60], r.text)
        assert xml_error(r) == "MalformedXML", body[:60]
    r = requests.post(base + "?delete", data=b"<Delete><Object><Key>k</Key></Object></Delete>",
                      headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, timeout=10)
    assert r.status_code == 400 and xml_error(r) == "BadDigest"
    r = requests.post(base + "?delete", data=b"x" * (3 << 20), timeout=10)
    assert r.status_code == 400 and xml_error(r) == "MaxMessageLengthExceeded"
    r = requests.request("PATCH", base + "/k", timeout=10)
    assert r.status_code == 405 and xml_error(r) == "MethodNotAllowed"
    r = requests.post(base, timeout=10)
    assert r.status_code == 405
    r = requests.get(base + "?list-type=3", timeout=10)
    assert r.status_code == 400 and xml_error(r) == "InvalidArgument"
    r = requests.get(base + "?max-keys=-1", timeout=10)
    assert r.status_code == 400
    r = requests.put(base + "/k", headers={"x-amz-copy-source": "/onlybucket"}, timeout=10)
    assert r.status_code == 400 and xml_error(r) == "InvalidArgument"
    r = requests.put(base + "/k", headers={"x-amz-copy-source": "/b/..%2Fescape"}, timeout=10)
    assert r.status_code == 400
    port = int(s3c.url.rsplit(":", 1)[1])
    for path in [f"/s3/{bucket}/..", f"/s3/{bucket}/a/../../x", "/s3/../v1/buckets"]:
        st, _, body = lt.raw_request("127.0.0.1", port, "PUT", path, body=b"x")
        assert st == 400, (path, body)
    r = requests.head(base + "/absent", timeout=10)
    assert r.status_code == 404 and r.content == b""
    r = requests.put(base + "/k", data=b"x", params={"uploadId": "1", "partNumber": "1"},
                     timeout=10)
    assert r.status_code == 404 and xml_error(r) == "NoSuchUpload"
    for m in ["GET", "HEAD"]:  # a part of a completed object: not kept
        r = requests.request(m, base + "/k", params={"partNumber": "1"}, timeout=10)
        assert r.status_code == 501, m
    for pn in ["0", "10001", "-1", "1x", ""]:
        r = requests.put(base + "/k", data=b"x", params={"uploadId": "a" * 20, "partNumber": pn},
                         timeout=10)
        assert r.status_code == 400 and xml_error(r) == "InvalidArgument", pn
    assert lt.Http().get(s3c.url + "/v1/health").status_code == 200  # still serving


MIB = u.MIB
etag_of_parts = u.etag_of_parts


def complete(s3, bucket, key, uid, parts):
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})


def test_multipart_low_level(s3c, s3, bucket):
    """create/upload_part/list_parts/list_multipart_uploads/complete/abort, S3's error codes,
    nothing visible before complete, S3's rules: listed parts only, ascending, 5 MiB but the
    last, ETag md5-of-md5s-N; UploadPartCopy with a range."""
    p1, p2, p3 = os.urandom(5 * MIB), os.urandom(1000), os.urandom(5 * MIB + 7)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m/obj")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="m/obj", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    assert e1 == f'"{u.md5(p1)}"'
    e3 = s3.upload_part(Bucket=bucket, Key="m/obj", UploadId=uid, PartNumber=3, Body=p3)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="m/obj", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="m/obj")
    assert status_of(e) == 404  # nothing visible before complete
    assert u.native_names(s3c, bucket) == []
    lp = s3.list_parts(Bucket=bucket, Key="m/obj", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == [
        (1, e1, len(p1)), (2, e2, len(p2)), (3, e3, len(p3))]
    lp = s3.list_parts(Bucket=bucket, Key="m/obj", UploadId=uid, MaxParts=1, PartNumberMarker=1)
    assert [p["PartNumber"] for p in lp["Parts"]] == [2] and lp["IsTruncated"]
    assert lp["NextPartNumberMarker"] == 2
    other = s3.create_multipart_upload(Bucket=bucket, Key="m/other")["UploadId"]
    lu = s3.list_multipart_uploads(Bucket=bucket)
    assert sorted((x["Key"], x["UploadId"]) for x in lu["Uploads"]) == [("m/obj", uid),
                                                                        ("m/other", other)]
    lu = s3.list_multipart_uploads(Bucket=bucket, Prefix="m/o", MaxUploads=1)
    assert [x["Key"] for x in lu["Uploads"]] == ["m/obj"] and lu["IsTruncated"]
    lu = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=lu["NextKeyMarker"],
                                   UploadIdMarker=lu["NextUploadIdMarker"])
    assert [x["Key"] for x in lu["Uploads"]] == ["m/other"] and not lu["IsTruncated"]
    s3.abort_multipart_upload(Bucket=bucket, Key="m/other", UploadId=other)
    for bad, code in [([(2, e2), (1, e1)], "InvalidPartOrder"), ([(1, e1), (1, e1)], "InvalidPartOrder"),
                      ([(1, e2), (3, e3)], "InvalidPart"), ([(1, e1), (4, e3)], "InvalidPart"),
                      ([(1, e1), (2, e2), (3, e3)], "EntityTooSmall")]:
        with pytest.raises(ClientError) as e:
            complete(s3, bucket, "m/obj", uid, bad)
        assert code_of(e) == code and status_of(e) == 400, bad
    for key, up in [("m/obj", "a" * 20), ("m/obj", other), ("m/other", uid), ("m/obj", "x")]:
        with pytest.raises(ClientError) as e:
            complete(s3, bucket, key, up, [(1, e1)])
        assert code_of(e) == "NoSuchUpload" and status_of(e) == 404, (key, up)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="m/other", UploadId=other)
    assert code_of(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="m/obj", UploadId="b" * 20)
    assert code_of(e) == "NoSuchUpload"
    # a subset of the parts (S3 allows gaps): part 2 is dropped
    r = complete(s3, bucket, "m/obj", uid, [(1, e1), (3, e3)])
    assert r["ETag"] == etag_of_parts(p1, p3)
    assert s3.get_object(Bucket=bucket, Key="m/obj")["Body"].read() == p1 + p3
    assert s3.head_object(Bucket=bucket, Key="m/obj")["ETag"] == r["ETag"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="m/")["Contents"]
    assert [(o["Key"], o["ETag"]) for o in listed] == [("m/obj", r["ETag"])]
    with pytest.raises(ClientError) as e:
        complete(s3, bucket, "m/obj", uid, [(1, e1), (3, e3)])  # completed: gone
    assert code_of(e) == "NoSuchUpload"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # UploadPartCopy: a range of the object, then the part of a plain object
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m/copy")["UploadId"]
    c1 = s3.upload_part_copy(Bucket=bucket, Key="m/copy", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "m/obj"},
                             CopySourceRange=f"bytes=0-{5 * MIB - 1}")["CopyPartResult"]["ETag"]
    s3.put_object(Bucket=bucket, Key="small", Body=b"tail")
    c2 = s3.upload_part_copy(Bucket=bucket, Key="m/copy", UploadId=uid, PartNumber=2,
                             CopySource=f"{bucket}/small")["CopyPartResult"]["ETag"]
    assert (c1, c2) == (f'"{u.md5(p1)}"', f'"{u.md5(b"tail")}"')
    r = complete(s3, bucket, "m/copy", uid, [(1, c1), (2, c2)])
    assert r["ETag"] == etag_of_parts(p1, b"tail")
    assert s3.get_object(Bucket=bucket, Key="m/copy")["Body"].read() == p1 + b"tail"


def test_multipart_bad_requests(s3c, bucket):
    """Malformed CompleteMultipartUpload bodies (MalformedXML), bad ids and part numbers."""
    base = f"{s3c.url}/s3/{bucket}/k"
    r = requests.post(base + "?uploads", timeout=10)
    assert r.status_code == 200, r.text
    uid = ET.fromstring(r.content).findtext("{http://s3.amazonaws.com/doc/2006-03-01/}UploadId")
    part = b"<Part><PartNumber>1</PartNumber><ETag>\"%s\"</ETag></Part>" % (b"0" * 32)
    bad = [b"", b"<CompleteMultipartUpload>", b"<CompleteMultipartUpload/>",
           b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
           b"</CompleteMultipartUpload>",
           b"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part>"
           b"</CompleteMultipartUpload>",
           b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>nothex</ETag></Part>"
           b"</CompleteMultipartUpload>",
           b"<CompleteMultipartUpload><Part><Bad/></Part></CompleteMultipartUpload>",
           b"<CompleteMultipartUpload>" + part * 10001 + b"</CompleteMultipartUpload>",
           b'<!DOCTYPE d [<!ENTITY a "1">]><CompleteMultipartUpload><Part><PartNumber>&a;'
           b"</PartNumber></Part></CompleteMultipartUpload>"]
    for body in bad:
        r = requests.post(base, params={"uploadId": uid}, data=body, timeout=10)
        assert r.status_code == 400 and xml_error(r) == "MalformedXML", (body[:80], r.text)
    r = requests.post(base, params={"uploadId": uid}, data=b"x" * (3 << 20), timeout=10)
    assert r.status_code == 400 and xml_error(r) == "MaxMessageLengthExceeded"
    r = requests.post(base, params={"uploadId": uid}, timeout=10,
                      data=b"<CompleteMultipartUpload>" + part + b"</CompleteMultipartUpload>")
    assert r.status_code == 400 and xml_error(r) == "InvalidPart"
    r = requests.get(f"{s3c.url}/s3/{bucket}", params={"uploads": "", "max-uploads": "x"},
                     timeout=10)
    assert r.status_code == 400 and xml_error(r) == "InvalidArgument"
    r = requests.get(base, params={"uploadId": uid, "part-number-marker": "-2"}, timeout=10)
    assert r.status_code == 400 and xml_error(r) == "InvalidArgument"
    r = requests.delete(base, params={"uploadId": uid}, timeout=10)
    assert r.status_code == 204
    assert lt.Http().get(s3c.url + "/v1/health").status_code == 200  # still serving


@pytest.mark.slow
def test_multipart_idle_upload_swept(tmp_path):
    """An upload without a new part for mpt_idle_timeout goes (the target's sweeper thread:
    nothing else touches the bucket meanwhile)."""
    import time
    c = lt.Cluster(tmp_path / "c", targets=1, name="s3idle", auth=False,
                   extra_flags=["--mpt-idle-timeout", "2s"])
    c.start()
    try:
        s3 = client(c.url + "/s3")
        s3.create_bucket(Bucket="idle")
        uid = s3.create_multipart_upload(Bucket="idle", Key="k")["UploadId"]
        s3.upload_part(Bucket="idle", Key="k", UploadId=uid, PartNumber=1, Body=b"x")
        time.sleep(5)
        with pytest.raises(ClientError) as e:
            s3.upload_part(Bucket="idle", Key="k", UploadId=uid, PartNumber=2, Body=b"y")
        assert code_of(e) == "NoSuchUpload"
        assert s3.list_multipart_uploads(Bucket="idle").get("Uploads", []) == []
    finally:
        problems = c.teardown()
    assert not problems, problems


def test_upload_file_multipart(s3, bucket, tmp_path):
    """boto3's managed transfer in parts (threshold and chunk 5 MiB): 3 parts, read back."""
    from boto3.s3.transfer import TransferConfig
    data = os.urandom(11 * MIB)
    src = tmp_path / "f"
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(src), bucket, "f", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="f")
    assert head["ETag"] == etag_of_parts(data[:5 * MIB], data[5 * MIB:10 * MIB], data[10 * MIB:])
    assert head["ContentLength"] == len(data)
    s3.download_file(bucket, "f", str(tmp_path / "g"))
    assert (tmp_path / "g").read_bytes() == data


def test_aws_chunked(s3c, s3, bucket):
    """aws-chunked bodies as current SDKs send them (auth off: chunk signatures not checked):
    decoded, trailing checksums (CRC32, CRC32C, SHA-256) verified, the MD5 ETag of the decoded
    bytes; a wrong checksum, a cut or malformed body: 400 and nothing stored."""
    base = f"{s3c.url}/s3/{bucket}"
    data = os.urandom(150_000)
    for i, (signed, trailer) in enumerate([(False, "x-amz-checksum-crc32"),
                                           (False, "x-amz-checksum-crc32c"),
                                           (False, "x-amz-checksum-sha256"), (False, None),
                                           (True, None), (True, "x-amz-checksum-crc32")]):
        r = u.chunked_put(f"{base}/c{i}", data, signed, trailer)
        assert r.status_code == 200, (signed, trailer, r.text)
        assert r.headers["ETag"] == f'"{u.md5(data)}"'
        assert s3.get_object(Bucket=bucket, Key=f"c{i}")["Body"].read() == data
    r = u.chunked_put(f"{base}/empty", b"", False)
    assert r.status_code == 200 and u.native_object(s3c, bucket, "empty") == b""
    for tamper, code in [("checksum", "BadDigest"), ("data", "BadDigest"),
                         ("cut", "IncompleteBody")]:
        r = u.chunked_put(f"{base}/bad", data, False, tamper=tamper)
        assert r.status_code == 400 and xml_error(r) == code, (tamper, r.text)
    r = u.chunked_put(f"{base}/bad", data, False, trailer="x-amz-checksum-crc64nvme")
    assert r.status_code == 501 and xml_error(r) == "NotImplemented"
    hdrs = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5"}
    for body in [b"zz\r\nhello\r\n0\r\n\r\n", b"5\nhello\r\n0\r\n\r\n",
                 b"5\r\nhello!\r\n0\r\n\r\n", b"6\r\nhello!\r\n0\r\n\r\n",
                 b"5\r\nhello\r\n0\r\nx-amz-meta-x:1\r\n\r\n",
                 b"5\r\nhello\r\n0\r\n\r\nmore", b"5;ext=1\r\nhello\r\n0\r\n\r\n",
                 b"5" * 300 + b"\r\n"]:
        r = requests.put(f"{base}/bad", data=body, headers=hdrs, timeout=10)
        assert r.status_code == 400, (body[:40], r.text)
    r = requests.put(f"{base}/bad", data=b"0\r\n\r\n", timeout=10,
                     headers=dict(hdrs, **{"x-amz-decoded-content-length": "x"}))
    assert r.status_code == 400 and xml_error(r) == "InvalidArgument"
    assert "bad" not in u.native_names(s3c, bucket)
    # an UploadPart in aws-chunked
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    r = u.chunked_put(f"{base}/mp?partNumber=1&uploadId={uid}", data, False)
    assert r.status_code == 200 and r.headers["ETag"] == f'"{u.md5(data)}"', r.text
    complete(s3, bucket, "mp", uid, [(1, r.headers["ETag"])])
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == data


@pytest.mark.slow
def test_big_object_spooled_to_a_file(s3, bucket):
    """A body over the in-memory spool (16 MiB) goes through a file on the proxy."""
    data = os.urandom(24 << 20)
    cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=1 << 30)
    import io
    s3.upload_fileobj(io.BytesIO(data), bucket, "big", Config=cfg)
    assert s3.head_object(Bucket=bucket, Key="big")["ETag"] == f'"{u.md5(data)}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    g = s3.get_object(Bucket=bucket, Key="big", Range="bytes=20000000-20000099")
    assert g["Body"].read() == data[20000000:20000100]


def test_object_lambda_etl(s3c, s3, bucket):
    """A GET through an initialized ETL: MinIO Object Lambda's presigned lambdaArn, or the
    x-locus-etl header / etl_name query, with boto3 alone (docs/etl.md)."""
    import hashlib

    from etl import etlutil as eu
    http = lt.Http()
    etls = eu.Etls(http, s3c.url)
    name = etls.track(eu.etl_name("md5"))
    etls.init_ok(eu.builtin_spec(name, "md5"))
    try:
        data = os.urandom(30_000)
        s3.put_object(Bucket=bucket, Key="in", Body=data)
        want = hashlib.md5(data).hexdigest().encode()
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "in"})
        r = requests.get(url + f"&lambdaArn=arn:minio:s3-object-lambda::{name}:webhook",
                         timeout=30)
        assert r.status_code == 200 and r.content == want

        def add_header(request, **kw):
            request.headers["x-locus-etl"] = name
        s3.meta.events.register("before-sign.s3.GetObject", add_header)
        try:
            assert s3.get_object(Bucket=bucket, Key="in")["Body"].read() == want
        finally:
            s3.meta.events.unregister("before-sign.s3.GetObject", add_header)
        r = requests.get(f"{s3c.url}/s3/{bucket}/in", params={"etl_name": name}, timeout=30)
        assert r.status_code == 200 and r.content == want
        assert s3.get_object(Bucket=bucket, Key="in")["Body"].read() == data  # none asked
        r = requests.get(f"{s3c.url}/s3/{bucket}/in", params={"etl_name": "no-such-etl"},
                         timeout=30)
        assert r.status_code == 404 and b"no-such-etl" in r.content  # the message names it
        r = requests.get(f"{s3c.url}/s3/{bucket}/in", params={"lambdaArn": "arn:aws:x"},
                         timeout=30)
        assert r.status_code == 400 and xml_error(r) == "InvalidArgument"
    finally:
        etls.cleanup()
