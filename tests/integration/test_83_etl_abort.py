"""83 aborting a running job (PUT /v1/cluster {"action":"stop-xaction"}): a bucket transform
slowed down by its ETL server is aborted mid-way, ends promptly with aborted=true, and an
unknown job id gets 404."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import locustest as lt

HERE = os.path.dirname(os.path.abspath(__file__))
PY_SERVER = os.path.join(HERE, "etl", "py_server.py")
P = {"provider": "ais"}


def test_abort_running_etl_job(cluster, http):
    base = cluster.url
    src, dst = lt.rand_name("abrt-"), lt.rand_name("abrt-")
    name = lt.rand_name("slow-").lower()
    r = http.post(lt.bck_url(base, src), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    try:
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: http.put(lt.obj_url(base, src, f"o{i}"), params=P,
                                           data=b"x" * 10), range(12)))
        spec = {"name": name, "communication": "hpush://", "obj_timeout": "30s",
                "runtime": {"image": "local/py", "command": ["/usr/bin/python3", PY_SERVER],
                            "env": [{"name": "MODE", "value": "sleep"},
                                    {"name": "SLEEP", "value": "1.5"}]}}
        r = http.put(base + "/v1/etl", json=spec, timeout=lt.tmo(60))
        assert r.status_code == 200, r.text
        value = {"id": name, "num-workers": 1}
        r = http.post(lt.bck_url(base, src), params={"provider": "ais", "bck_to": f"ais/@#/{dst}/"},
                      json=lt.actmsg("etl-bck", value))
        assert r.status_code == 200, r.text
        job = r.text.strip()
        time.sleep(0.3)
        t0 = time.monotonic()
        r = http.put(base + "/v1/cluster", json={"action": "stop-xaction", "name": "",
                                                  "value": {"id": job}})
        assert r.status_code == 200, r.text
        while True:  # 4 objects per target at 1.5 s each would take 6 s: abort must cut it short
            st = http.get(base + "/v1/cluster", params={"what": "status"}, json={"ID": job}).json()
            if st["end_time"]:
                break
            assert time.monotonic() - t0 < lt.tmo(4), f"aborted job still running: {st}"
            time.sleep(0.1)
        assert st["aborted"] is True, st
        assert "abort" in st["err"], st
        r = http.put(base + "/v1/cluster", json={"action": "stop-xaction", "name": "",
                                                  "value": {"id": "no-such-job"}})
        lt.assert_error(r, 404)
    finally:
        http.post(base + f"/v1/etl/{name}/stop")
        http.delete(base + f"/v1/etl/{name}")
        for b in (src, dst):
            http.delete(lt.bck_url(base, b), params=P, json=lt.actmsg("destroy-bck"))
