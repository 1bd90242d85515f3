"""S3 API with auth on: SigV4 signatures (header and presigned forms) are checked against the
access keys of the node's s3_keys_file; boto3's presigned URLs work; a wrong secret, an unknown
key, an unsigned request, an expired URL and a body that is not the signed one are refused."""

import hashlib
import os

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import locustest as lt

KEY, SECRET = "LOCUSTESTKEY", "locus-test-secret/with+chars"


@pytest.fixture(scope="module")
def authc(tmp_path_factory):
    d = tmp_path_factory.mktemp("s3auth")
    keys = d / "s3.keys"
    lt.write_private(keys, f"# S3 keys\n{KEY} {SECRET}\nOTHERKEY other-secret\n")
    c = lt.Cluster(d / "c", targets=1, name="s3auth", auth=True,
                   extra_flags=["--s3-keys-file", str(keys)])
    c.start()
    yield c
    problems = c.teardown()
    assert not problems, problems


def client(c, key=KEY, secret=SECRET):
    os.environ.pop("AWS_CA_BUNDLE", None)
    return boto3.client("s3", endpoint_url=c.url + "/s3", aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}))


def code_of(exc):
    return exc.value.response["Error"]["Code"]


def test_sigv4(authc):
    s3 = client(authc)
    bck = lt.rand_name("s3a-")
    s3.create_bucket(Bucket=bck)
    data = os.urandom(10_000)
    s3.put_object(Bucket=bck, Key="dir/o b+c", Body=data)
    assert s3.get_object(Bucket=bck, Key="dir/o b+c")["Body"].read() == data
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bck, Prefix="dir/")["Contents"]] == \
        ["dir/o b+c"]
    r = s3.delete_objects(Bucket=bck, Delete={"Objects": [{"Key": "nope"}]})
    assert [d["Key"] for d in r["Deleted"]] == ["nope"]
    # presigned GET and PUT made by boto3
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bck, "Key": "dir/o b+c"})
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == data
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bck, "Key": "pre"})
    assert requests.put(url, data=b"presigned", timeout=10).status_code == 200
    assert s3.get_object(Bucket=bck, Key="pre")["Body"].read() == b"presigned"
    # a tampered presigned URL, an expired one
    assert requests.get(url.replace("/pre?", "/pre2?"), timeout=10).status_code == 403
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bck, "Key": "pre"},
                                    ExpiresIn=1)
    import time
    time.sleep(2.1)
    r = requests.get(url, timeout=10)
    assert r.status_code == 403 and b"expired" in r.content
    # the wrong secret, an unknown key, no signature at all
    with pytest.raises(ClientError) as e:
        client(authc, secret="wrong").list_objects_v2(Bucket=bck)
    assert code_of(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        client(authc, key="NOSUCHKEY").list_buckets()
    assert code_of(e) == "InvalidAccessKeyId"
    r = requests.get(f"{authc.url}/s3/{bck}", timeout=10)
    assert r.status_code == 403 and b"AccessDenied" in r.content
    # the second key works too
    assert bck in [b["Name"] for b in
                   client(authc, "OTHERKEY", "other-secret").list_buckets()["Buckets"]]
    # a multipart upload, signed: the proxy's calls to the target's upload are a node's
    uid = s3.create_multipart_upload(Bucket=bck, Key="mp")["UploadId"]
    et = s3.upload_part(Bucket=bck, Key="mp", UploadId=uid, PartNumber=1, Body=data)["ETag"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bck)["Uploads"]] == [uid]
    assert [p["ETag"] for p in s3.list_parts(Bucket=bck, Key="mp", UploadId=uid)["Parts"]] == [et]
    s3.complete_multipart_upload(Bucket=bck, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": et}]})
    assert s3.get_object(Bucket=bck, Key="mp")["Body"].read() == data
    for k in ["dir/o b+c", "pre", "mp"]:
        s3.delete_object(Bucket=bck, Key=k)
    s3.delete_bucket(Bucket=bck)


def test_aws_chunked_signed(authc):
    """aws-chunked bodies with auth on: each chunk's signature and the trailer's are checked,
    chained from the request's; a changed byte, a wrong chunk or trailer signature: 403
    SignatureDoesNotMatch and nothing stored. Unsigned chunks with a trailer pass on the request's
    signature and their checksum."""
    import s3util as u
    s3 = client(authc)
    bck = lt.rand_name("s3c-")
    s3.create_bucket(Bucket=bck)
    base = f"{authc.url}/s3/{bck}"
    data = os.urandom(140_000)
    for i, (signed, trailer) in enumerate([(True, "x-amz-checksum-crc32"), (True, None),
                                           (False, "x-amz-checksum-crc32c")]):
        r = u.chunked_put(f"{base}/k{i}", data, signed, trailer, creds=(KEY, SECRET))
        assert r.status_code == 200, (signed, trailer, r.text)
        assert s3.get_object(Bucket=bck, Key=f"k{i}")["Body"].read() == data
    for tamper in ["data", "sig", "trailer-sig"]:
        r = u.chunked_put(f"{base}/bad", data, True, creds=(KEY, SECRET), tamper=tamper)
        assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content, (tamper, r.text)
    r = u.chunked_put(f"{base}/bad", data, True, creds=(KEY, "wrong"))
    assert r.status_code == 403
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bck, "Key": "bad"})
    r = u.chunked_put(url, data, True)  # no seed signature to chain the chunks from
    assert r.status_code == 400 and b"InvalidArgument" in r.content, r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bck, Key="bad")
    for i in range(3):
        s3.delete_object(Bucket=bck, Key=f"k{i}")
    s3.delete_bucket(Bucket=bck)


def signed_put(url, body):
    """Headers of a SigV4-signed PUT of body to url (botocore's signer, no Content-MD5)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="PUT", url=url, data=body,
                     headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(req)
    return dict(req.headers)


def test_body_must_be_the_signed_one(authc):
    """A SigV4 header over one payload hash, sent with another body: 400, nothing stored."""
    s3 = client(authc)
    bck = lt.rand_name("s3a-")
    s3.create_bucket(Bucket=bck)
    url = f"{authc.url}/s3/{bck}/k"
    h = signed_put(url, b"original")
    assert requests.put(url, data=b"original", headers=h, timeout=10).status_code == 200
    h = signed_put(url, b"second")
    r = requests.put(url, data=b"tampered", headers=h, timeout=10)
    assert r.status_code == 400 and b"XAmzContentSHA256Mismatch" in r.content
    assert s3.get_object(Bucket=bck, Key="k")["Body"].read() == b"original"
    s3.delete_object(Bucket=bck, Key="k")
    s3.delete_bucket(Bucket=bck)
