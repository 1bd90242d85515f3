"""00 smoke: the cluster comes up, every node answers health, the smap has AIStore's shape."""

import time

import locustest as lt


def test_health_every_node(cluster, http):
    for n in cluster.nodes:
        r = http.get(n.url + "/v1/health")
        assert r.status_code == 200, f"{n}: {r.status_code} {r.text[:200]}"
    r = http.get(cluster.url + "/v1/health", params={"prr": "true"})
    assert r.status_code == 200


def _check_snode(sn, nid, role, node):
    assert sn["daemon_id"] == nid
    assert sn["daemon_type"] == role
    assert int(sn.get("flags", 0)) == 0
    assert int(sn["id_digest"]) == lt.hrw_digest(nid), "id_digest != xxh64(daemon_id, 1103515245)"
    for net in ("public_net", "intra_control_net", "intra_data_net"):
        ni = sn[net]
        assert ni["node_ip_addr"] == "127.0.0.1", (net, ni)
        assert str(ni["daemon_port"]) == str(node.port), (net, ni)
        assert ni["direct_url"] == node.url, (net, ni)
    # The SDK reads daemon_port as a string (Go: string field).
    assert isinstance(sn["public_net"]["daemon_port"], str)


def test_smap_shape(cluster, http):
    r = http.get(cluster.url + "/v1/daemon", params={"what": "smap"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    sm = r.json()
    for key in ("tmap", "pmap", "proxy_si", "uuid", "version"):
        assert key in sm, f"smap lacks {key}: {sorted(sm)}"
    assert int(sm["version"]) > 0
    assert isinstance(sm["uuid"], str) and sm["uuid"]
    assert set(sm["pmap"]) == {p.id for p in cluster.proxies}
    assert set(sm["tmap"]) == {t.id for t in cluster.targets}
    for p in cluster.proxies:
        _check_snode(sm["pmap"][p.id], p.id, "proxy", p)
    for t in cluster.targets:
        _check_snode(sm["tmap"][t.id], t.id, "target", t)
    _check_snode(sm["proxy_si"], cluster.primary.id, "proxy", cluster.primary)
    # The SDK's is_ready() calls health on proxy_si.public_net.direct_url.
    r = http.get(sm["proxy_si"]["public_net"]["direct_url"] + "/v1/health", params={"prr": "true"})
    assert r.status_code == 200


def test_smap_same_on_every_node(cluster, http):
    """Metasync: every node (targets too) serves the same smap version and uuid."""
    want = cluster.smap()
    deadline = time.monotonic() + lt.tmo(10)
    while True:
        got = {n.id: cluster.smap(n) for n in cluster.nodes}
        diff = {nid: (sm.get("version"), sm.get("uuid")) for nid, sm in got.items()
                if (str(sm.get("version")), sm.get("uuid")) != (str(want["version"]), want["uuid"])}
        if not diff:
            break
        assert time.monotonic() < deadline, f"smap differs: primary {want['version']}/{want['uuid']}, {diff}"
        time.sleep(0.2)
    for sm in got.values():
        assert set(sm["tmap"]) == set(want["tmap"]) and set(sm["pmap"]) == set(want["pmap"])


def test_ready_logged(cluster):
    cluster.require_local()
    for n in cluster.nodes:
        assert "ready" in n.log.read_text(errors="replace"), f"{n}: no 'ready' line in {n.log}"

