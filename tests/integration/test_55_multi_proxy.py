"""55 end-to-end with two proxies: any proxy serves clients (docs/design.md §4)."""

import urllib.parse

import locustest as lt

P = {"provider": "ais"}


def test_any_proxy_serves(cluster_factory, http):
    c = cluster_factory(proxies=2, targets=3)
    p1, p2 = c.proxies
    sm = c.smap(p2)
    assert set(sm["pmap"]) == {p1.id, p2.id}
    assert sm["proxy_si"]["daemon_id"] == p1.id, "the first proxy is the primary"
    # Bucket created through the non-primary proxy is seen through the primary and vice versa.
    r = http.post(lt.bck_url(p2.url, "via-p2"), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    r = http.get(p1.url + "/v1/buckets", params=P, json=lt.actmsg("list"))
    assert "via-p2" in [b["name"] for b in r.json()]
    r = http.post(lt.bck_url(p1.url, "via-p2"), params=P, json=lt.actmsg("create-bck"))
    lt.assert_error(r, 409)
    # PUT through p2 redirects with p2's id, GET through p1.
    r = http.put(lt.obj_url(p2.url, "via-p2", "o 1"), params=P, data=b"abc", allow_redirects=False)
    assert r.status_code == 307
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q.get("pid") == [p2.id]
    assert http.put(lt.obj_url(p2.url, "via-p2", "o 1"), params=P, data=b"abc").status_code == 200
    assert http.get(lt.obj_url(p1.url, "via-p2", "o 1"), params=P).content == b"abc"
    # Listing through either proxy merges all targets.
    for i in range(20):
        assert http.put(lt.obj_url(p1.url, "via-p2", f"n{i:02d}"), params=P, data=b"x").status_code == 200
    for p in (p1, p2):
        r = http.get(lt.bck_url(p.url, "via-p2"), params=P, json=lt.actmsg("list", lt.lsomsg(pagesize=7)))
        assert r.status_code == 200
        assert [e["name"] for e in r.json()["entries"]] == ["n00", "n01", "n02", "n03", "n04", "n05", "n06"]
    # Destroy through p2, gone for p1.
    r = http.delete(lt.bck_url(p2.url, "via-p2"), params=P, json=lt.actmsg("destroy-bck"))
    assert r.status_code == 200
    r = http.head(lt.bck_url(p1.url, "via-p2"), params=P)
    assert r.status_code == 404
    # Restarting the non-primary proxy keeps it in the cluster.
    c.restart_node(p2)
    assert set(c.smap(p2)["pmap"]) == {p1.id, p2.id}
