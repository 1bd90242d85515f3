"""The same S3 scenario through real client programs run as subprocesses - awscli (`aws s3`,
`aws s3api`), s3cmd and rclone - each configured with the endpoint URL, path-style addressing
and dummy keys, its HOME and config in a temporary dir: make a bucket, upload a small tree,
list it, download and compare, delete objects, remove the bucket. What each also checks:
awscli the MD5 ETag of head-object, s3cmd its MD5 check on download, rclone `check` (MD5s).
Then each uploads an 11 MiB file in 5 MiB parts (multipart upload), read back natively, with
S3's multipart ETag."""

import filecmp
import json
import os
import shutil
import subprocess

import pytest
import requests

import locustest as lt
import s3util as u

TIMEOUT = 120


def run(cmd, env, cwd=None, check=True):
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    if check:
        assert p.returncode == 0, f"{cmd}: rc {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, cmp.report()
    for sub in cmp.common_dirs:
        same_tree(a / sub, b / sub)


def need(tool):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (scripts/deps.sh)")


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "src"
    data = u.sample_files()
    u.tree(src, data)
    return src, data


def aws_setup(s3c, s3env, files):
    """(env, src, data, bucket name, aws command): Debian's awscli (not a pyenv shim)."""
    need("/usr/bin/aws")
    env, _ = s3env
    src, data = files
    return env, src, data, lt.rand_name("aws-"), ["/usr/bin/aws", "--endpoint-url",
                                                    s3c.url + "/s3", "--no-cli-pager"]


def test_awscli(s3c, s3env, files, tmp_path):
    """The default run keeps to three invocations (awscli starts slowly: ~1 s of CPU each)."""
    env, src, data, bck, aws = aws_setup(s3c, s3env, files)
    run(aws + ["s3", "mb", f"s3://{bck}"], env)
    run(aws + ["s3", "cp", "--recursive", "--quiet", str(src), f"s3://{bck}/t/"], env)
    assert sorted(u.native_names(s3c, bck)) == sorted("t/" + k for k in data)
    dst = tmp_path / "dst"
    run(aws + ["s3", "cp", "--recursive", "--quiet", f"s3://{bck}/t/", str(dst)], env)
    same_tree(src, dst)


@pytest.mark.slow
def test_awscli_more(s3c, s3env, files, tmp_path):
    """head-object's MD5 ETag, ls with prefixes, sync, s3api list-objects-v2 and delete-objects,
    rb refused on a bucket with objects, rb --force."""
    env, src, data, bck, aws = aws_setup(s3c, s3env, files)
    run(aws + ["s3", "mb", f"s3://{bck}"], env)
    run(aws + ["s3", "cp", str(src / "dir/sub/c.bin"), f"s3://{bck}/c.bin"], env)
    head = json.loads(run(aws + ["s3api", "head-object", "--bucket", bck, "--key", "c.bin"],
                          env).stdout)
    assert head["ETag"] == f'"{u.md5(data["dir/sub/c.bin"])}"'
    assert head["ContentLength"] == len(data["dir/sub/c.bin"])
    run(aws + ["s3", "sync", "--quiet", str(src), f"s3://{bck}/s/"], env)
    out = run(aws + ["s3", "ls", f"s3://{bck}/s/"], env).stdout
    assert "PRE dir/" in out and "a.txt" in out and "c.bin" not in out
    out = run(aws + ["s3", "ls", "--recursive", f"s3://{bck}"], env).stdout
    assert "s/dir/sub/c.bin" in out
    lst = json.loads(run(aws + ["s3api", "list-objects-v2", "--bucket", bck, "--prefix", "s/dir/",
                                "--delimiter", "/"], env).stdout)
    assert [c["Prefix"] for c in lst["CommonPrefixes"]] == ["s/dir/sub/"]
    keys = json.dumps({"Objects": [{"Key": "s/a.txt"}, {"Key": "s/z.txt"}]})
    out = json.loads(run(aws + ["s3api", "delete-objects", "--bucket", bck, "--delete", keys],
                         env).stdout)
    assert sorted(d["Key"] for d in out["Deleted"]) == ["s/a.txt", "s/z.txt"]
    assert sorted(u.native_names(s3c, bck)) == ["c.bin", "s/dir/b.txt", "s/dir/sub/c.bin"]
    p = run(aws + ["s3", "rb", f"s3://{bck}"], env, check=False)
    assert p.returncode != 0 and "BucketNotEmpty" in p.stderr
    run(aws + ["s3", "rb", "--force", f"s3://{bck}"], env)
    assert not u.native_bucket_exists(s3c, bck)


def s3cmd_cfg(s3c, home):
    hostport = s3c.url.split("://", 1)[1]
    cfg = home / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = locus-key\nsecret_key = locus-secret\n"
                   f"host_base = {hostport}/s3\nhost_bucket = {hostport}/s3\nuse_https = False\n"
                   f"check_ssl_certificate = False\n")
    return ["s3cmd", "-c", str(cfg)]


def test_s3cmd(s3c, s3env, files, tmp_path):
    need("s3cmd")
    env, home = s3env
    src, data = files
    s3cmd = s3cmd_cfg(s3c, home)
    bck = lt.rand_name("s3cmd-")
    run(s3cmd + ["mb", f"s3://{bck}"], env)
    run(s3cmd + ["put", "--recursive", str(src) + "/", f"s3://{bck}/t/"], env)
    out = run(s3cmd + ["ls", f"s3://{bck}/t/"], env).stdout
    assert f"DIR  s3://{bck}/t/dir/" in out and f"s3://{bck}/t/a.txt" in out
    dst = tmp_path / "dst"
    dst.mkdir()
    p = run(s3cmd + ["get", "--recursive", f"s3://{bck}/t/", str(dst) + "/"], env)
    assert "MD5 signatures do not match" not in p.stderr + p.stdout
    same_tree(src, dst)
    run(s3cmd + ["rb", "--recursive", "--force", f"s3://{bck}"], env)
    assert not u.native_bucket_exists(s3c, bck)


def test_rclone(s3c, s3env, files, tmp_path):
    need("rclone")
    env, home = s3env
    src, data = files
    (home / "rclone.conf").write_text(
        f"[loc]\ntype = s3\nprovider = Other\naccess_key_id = locus-key\n"
        f"secret_access_key = locus-secret\nendpoint = {s3c.url}/s3\nforce_path_style = true\n"
        f"region = us-east-1\n")
    bck = lt.rand_name("rclone-")
    rc = ["rclone", "--config", str(home / "rclone.conf")]
    run(rc + ["mkdir", f"loc:{bck}"], env)
    run(rc + ["copy", str(src), f"loc:{bck}/t"], env)
    out = run(rc + ["lsf", "-R", f"loc:{bck}/t"], env).stdout.split()
    assert sorted(x for x in out if not x.endswith("/")) == sorted(data)
    run(rc + ["check", str(src), f"loc:{bck}/t"], env)  # sizes and MD5s
    dst = tmp_path / "dst"
    run(rc + ["copy", f"loc:{bck}/t", str(dst)], env)
    same_tree(src, dst)
    run(rc + ["purge", f"loc:{bck}"], env)
    assert not u.native_bucket_exists(s3c, bck)


@pytest.fixture(scope="module")
def bigfile(tmp_path_factory):
    """(path, bytes): 11 MiB, three parts of 5 MiB chunks."""
    p = tmp_path_factory.mktemp("big") / "big.bin"
    data = os.urandom(11 * u.MIB)
    p.write_bytes(data)
    return p, data


def multipart_bucket(s3c, prefix):
    bck = lt.rand_name(prefix)
    assert requests.put(f"{s3c.url}/s3/{bck}", timeout=30).status_code == 200
    return bck


def check_multipart(s3c, bck, key, data):
    """The object is the file, its ETag S3's of 5 MiB parts, and no upload is left behind."""
    assert u.native_object(s3c, bck, key) == data
    r = requests.head(f"{s3c.url}/s3/{bck}/{key}", timeout=30)
    assert r.headers["ETag"] == u.etag_of_chunks(data, 5 * u.MIB)
    r = requests.get(f"{s3c.url}/s3/{bck}", params={"uploads": ""}, timeout=30)
    assert r.status_code == 200 and b"<Upload>" not in r.content, r.text


def test_awscli_multipart(s3c, s3env, bigfile, tmp_path):
    """`aws s3 cp` over multipart_threshold (5MB in its config): CreateMultipartUpload,
    UploadPart x3, CompleteMultipartUpload."""
    need("/usr/bin/aws")
    env, _ = s3env
    cfg = tmp_path / "aws.config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"
                   "    multipart_threshold = 5MB\n    multipart_chunksize = 5MB\n")
    env = dict(env, AWS_CONFIG_FILE=str(cfg))
    bck = multipart_bucket(s3c, "awsmp-")
    path, data = bigfile
    run(["/usr/bin/aws", "--endpoint-url", s3c.url + "/s3", "--no-cli-pager", "s3", "cp",
         "--quiet", str(path), f"s3://{bck}/big.bin"], env)
    check_multipart(s3c, bck, "big.bin", data)


def test_s3cmd_multipart(s3c, s3env, bigfile):
    need("s3cmd")
    env, home = s3env
    bck = multipart_bucket(s3c, "s3cmdmp-")
    path, data = bigfile
    run(s3cmd_cfg(s3c, home) + ["put", "--multipart-chunk-size-mb=5", str(path),
                                f"s3://{bck}/big.bin"], env)
    check_multipart(s3c, bck, "big.bin", data)


def test_rclone_multipart(s3c, s3env, bigfile):
    need("rclone")
    env, home = s3env
    (home / "rclone.conf").write_text(
        f"[loc]\ntype = s3\nprovider = Other\naccess_key_id = locus-key\n"
        f"secret_access_key = locus-secret\nendpoint = {s3c.url}/s3\nforce_path_style = true\n"
        f"region = us-east-1\n")
    bck = multipart_bucket(s3c, "rclonemp-")
    path, data = bigfile
    rc = ["rclone", "--config", str(home / "rclone.conf")]
    run(rc + ["copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(path),
              f"loc:{bck}"], env)
    check_multipart(s3c, bck, "big.bin", data)
