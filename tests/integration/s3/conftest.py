"""Fixtures of the S3 API suite (docs/s3.md): one cluster per test file (module scope, auth off:
the S3 API refuses requests while auth is on), and clean client environments (HOME and client
configs in a temporary dir, no AWS_* variable of the caller's environment)."""

import os

import pytest

import locustest as lt


@pytest.fixture(scope="module")
def s3c(tmp_path_factory):
    if not lt.LOCUSD.exists():
        pytest.fail(f"{lt.LOCUSD} does not exist (build it, or set LOCUS_BIN_DIR)")
    c = lt.Cluster(tmp_path_factory.mktemp("s3"), targets=2, name="s3", auth=False)
    c.start()
    yield c
    problems = c.teardown()
    assert not problems, problems


@pytest.fixture(scope="module")
def s3env(tmp_path_factory):
    """(env, home): an environment for S3 client subprocesses: HOME in a temporary dir, dummy
    keys, path-style addressing, none of the caller's AWS_* settings (a CA bundle would break
    rclone)."""
    home = tmp_path_factory.mktemp("s3home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID="locus-key", AWS_SECRET_ACCESS_KEY="locus-secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(home / "aws.config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "aws.credentials"), AWS_PAGER="",
               RCLONE_CONFIG=str(home / "rclone.conf"))
    (home / "aws.config").write_text("[default]\nregion = us-east-1\ns3 =\n"
                                     "    addressing_style = path\n")
    (home / "aws.credentials").write_text("")
    return env, home
