"""The proxy's S3 relay (docs/s3.md, "How requests flow"): bodies of every size class (in
memory, in a reused block, streamed) both ways with ranges and MD5 ETags, a client that leaves
mid-GET, and a target killed mid-GET: the client must see the transfer fail (never a short 200
that looks whole) and the proxy must keep serving. Its own cluster: a target dies here."""

import http.client
import os
import signal
import xml.etree.ElementTree as ET

import pytest
import requests

import locustest as lt
import s3util as u

BIG = 48 << 20  # more than every socket and pipe buffer between the target and the client


@pytest.fixture(scope="module")
def bck(s3c):
    name = lt.rand_name("relay-")
    r = requests.put(f"{s3c.url}/s3/{name}", timeout=10)
    assert r.status_code == 200, r.text
    return name


def hostport(c):
    host, port = c.url.split("//")[1].split(":")
    return host, int(port)


def xml_code(body):
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return root.findtext("Code")


@pytest.mark.parametrize("size", [0, 4096, (64 << 10) - 1, 64 << 10, 1 << 20, (1 << 20) + 1,
                                  3 << 20])
def test_sizes_both_ways(s3c, bck, size):
    """PUT then GET (whole, a range, a suffix range) of each size class of the relay."""
    data = os.urandom(size)
    url = f"{s3c.url}/s3/{bck}/o-{size}"
    r = requests.put(url, data=data, timeout=30)
    assert r.status_code == 200 and r.headers["ETag"] == f'"{u.md5(data)}"', r.text
    g = requests.get(url, timeout=30)
    assert g.status_code == 200 and g.content == data
    assert g.headers["ETag"] == f'"{u.md5(data)}"'
    assert g.headers["Content-Length"] == str(size)
    if size < 200:
        return
    g = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=30)
    assert g.status_code == 206 and g.content == data[100:200]
    assert g.headers["Content-Range"] == f"bytes 100-199/{size}"
    g = requests.get(url, headers={"Range": "bytes=-150"}, timeout=30)
    assert g.status_code == 206 and g.content == data[-150:]


def test_client_leaves_mid_get(s3c, bck):
    """A client that reads a little of a big object and hangs up: the proxy serves on."""
    data = os.urandom(8 << 20)
    url = f"{s3c.url}/s3/{bck}/leaver"
    assert requests.put(url, data=data, timeout=30).status_code == 200
    for _ in range(3):
        conn = http.client.HTTPConnection(*hostport(s3c), timeout=10)
        conn.request("GET", f"/s3/{bck}/leaver")
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read(100 << 10)
        conn.sock.shutdown(2)
        conn.close()
    g = requests.get(url, timeout=30)
    assert g.status_code == 200 and g.content == data


def test_target_killed_mid_get(s3c, bck):
    """SIGKILL of the object's target while a big GET streams: the client's transfer fails
    (fewer bytes than Content-Length, the connection closed), the proxy stays up, and a GET of
    the object then is an S3 error."""
    data = os.urandom(BIG)
    obj = "doomed"
    r = lt.Http().put(lt.obj_url(s3c.url, bck, obj), data=data, timeout=60)
    assert r.status_code == 200, r.text
    owner = lt.hrw_target(s3c.smap(), bck, obj)
    node = s3c.node(owner["daemon_id"])
    conn = http.client.HTTPConnection(*hostport(s3c), timeout=20)
    conn.request("GET", f"/s3/{bck}/{obj}")
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == BIG
    got = len(resp.read(1 << 20))
    s3c.kill_node(node)
    node.gone = True
    failed = False
    try:
        while True:
            piece = resp.read(1 << 20)
            if not piece:
                break
            got += len(piece)
    except (http.client.IncompleteRead, ConnectionError, OSError):
        failed = True
    conn.close()
    assert got < BIG, "the whole object arrived although its target died"
    assert failed or resp.length, "a short body ended like a whole one"
    assert lt.Http().get(s3c.url + "/v1/health", timeout=10).status_code == 200
    st, _, body = lt.raw_request(*hostport(s3c), "GET", f"/s3/{bck}/{obj}", timeout=30)
    assert st in (404, 503), (st, body[:300])
    assert xml_code(body) in ("NoSuchKey", "ServiceUnavailable")
    assert requests.get(f"{s3c.url}/s3", timeout=10).status_code == 200
