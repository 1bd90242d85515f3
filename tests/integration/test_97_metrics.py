"""97 Metrics (issue 14; docs/operations.md, "Metrics"): every node serves GET /metrics in
Prometheus's text format with AIStore's metric names. A known workload moves the counters by
exactly its requests and bytes (errors too); mountpaths, jobs and ETLs have their families; a real
Prometheus server (Debian's) scrapes the cluster and its query API returns the same totals; the
CLI's `show performance` summarises them.
"""

import hashlib
import re
import shutil
import subprocess
import time

import pytest
import requests

import locustest as lt

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+-]+|NaN|[+-]Inf)$')


def scrape(node):
    """{(name, labels text): value} of node's /metrics, checking the format on the way."""
    r = requests.get(node.url + "/metrics", timeout=lt.REQ_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out, typed = {}, set()
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in typed, f"family {name} twice"
            typed.add(name)
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"{node}: not a sample line: {line!r}"
        base = re.sub(r"_(bucket|sum|count)$", "", m[1])
        assert m[1] in typed or base in typed, f"{m[1]} before its TYPE"
        assert f'node_id="{node.id}"' in (m[2] or ""), line
        out[(m[1], m[2] or "")] = float(m[3])
    return out


def total(c, name, nodes=None):
    return sum(v for n in (nodes or c.targets) for (k, _), v in scrape(n).items() if k == name)


def test_counters_follow_a_known_workload(cluster, http):
    c = cluster
    bck = lt.rand_name("metrics-")
    assert http.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck")).status_code == 200
    names = ["put_count", "put_bytes", "get_count", "get_bytes", "err_get_count", "head_count",
             "del_count", "lst_count"]
    before = {n: total(c, "ais_target_" + n) for n in names}
    lst0 = total(c, "ais_proxy_lst_count", [c.primary])
    bodies = {f"o{i}": bytes([i]) * (1000 + i) for i in range(7)}
    for name, body in bodies.items():
        assert http.put(lt.obj_url(c.url, bck, name), data=body).status_code == 200
    for name in list(bodies)[:5]:
        r = http.get(lt.obj_url(c.url, bck, name))
        assert r.status_code == 200 and r.content == bodies[name]
    assert http.get(lt.obj_url(c.url, bck, "nosuch")).status_code == 404
    for name in list(bodies)[:2]:
        assert http.head(lt.obj_url(c.url, bck, name), allow_redirects=True).status_code == 200
    assert http.delete(lt.obj_url(c.url, bck, "o6")).status_code == 200
    r = http.get(lt.bck_url(c.url, bck), json=lt.actmsg("list", lt.lsomsg()))
    assert r.status_code == 200
    after = {n: total(c, "ais_target_" + n) for n in names}
    d = {n: after[n] - before[n] for n in names}
    assert d["put_count"] == 7 and d["put_bytes"] == sum(len(b) for b in bodies.values()), d
    assert d["get_count"] == 6 and d["err_get_count"] == 1, d
    assert d["get_bytes"] == sum(len(bodies[n]) for n in list(bodies)[:5]), d
    assert d["head_count"] == 2 and d["del_count"] == 1, d
    assert d["lst_count"] == 0, d  # the proxy asks the targets for pages: node calls, "other"
    assert total(c, "ais_proxy_lst_count", [c.primary]) - lst0 == 1
    # the proxy counts what it redirected
    assert total(c, "ais_proxy_put_count", [c.primary]) >= 7
    # histograms: cumulative buckets ending in +Inf == _count
    m = scrape(c.targets[0])
    inf = m[("locus_request_duration_seconds_bucket", '{node_id="%s",op="put",le="+Inf"}'
             % c.targets[0].id)]
    assert inf == m[("locus_request_duration_seconds_count",
                     '{node_id="%s",op="put"}' % c.targets[0].id)]
    # mountpaths: every one, with its capacity
    for t in c.targets:
        caps = {k: v for (n, k), v in scrape(t).items() if n == "locus_mountpath_capacity_bytes"}
        assert len(caps) == len(t.mountpaths) and all(v > 0 for v in caps.values()), caps
    assert http.post(c.targets[0].url + "/metrics").status_code == 405


def test_jobs_and_etl_families(cluster, http):
    c = cluster
    bck = lt.rand_name("metrics-etl-")
    assert http.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck")).status_code == 200
    assert http.put(lt.obj_url(c.url, bck, "a"), data=b"abc").status_code == 200
    spec = lt.REPO_ROOT / "transformers" / "md5" / "etl_spec.yaml"
    env = dict(lt.daemon_env(), LOCUS_ENDPOINT=c.url)
    etl = lt.rand_name("md5-")
    p = subprocess.run([str(lt.BIN_DIR / "locus"), "etl", "init", "-f", str(spec), "--name", etl],
                       capture_output=True, text=True, env=env, timeout=lt.tmo(90))
    if p.returncode != 0 and "--name" in p.stderr:
        pytest.skip("etl init has no --name")
    assert p.returncode == 0, p.stderr
    try:
        r = http.get(lt.obj_url(c.url, bck, "a"), params={"etl_name": etl})
        assert r.status_code == 200 and r.text == hashlib.md5(b"abc").hexdigest()
        owner = [t for t in c.targets if t.id == lt.hrw_target(c.smap(), bck, "a")["daemon_id"]][0]
        m = scrape(owner)
        lab = '{node_id="%s",etl="%s"}' % (owner.id, etl)
        assert m[("locus_etl_objects_total", lab)] >= 1
        assert m[("locus_etl_in_bytes_total", lab)] >= 3
        assert m[("locus_etl_out_bytes_total", lab)] >= 32
        assert m[("locus_etl_errors_total", lab)] == 0
        assert m[("locus_etl_running", lab)] == 1
    finally:
        subprocess.run([str(lt.BIN_DIR / "locus"), "etl", "delete", etl], env=env,
                       capture_output=True, timeout=lt.tmo(60))
    # a job leaves its kind, state and counters
    r = http.post(lt.bck_url(c.url, bck), params={"bck_to": f"ais/@#/{bck}-copy/"},
                  json=lt.actmsg("copy-bck", {}))
    assert r.status_code == 200, r.text
    job = r.text.strip().strip('"')
    deadline = time.monotonic() + lt.tmo(60)
    while http.get(c.url + "/v1/cluster", params={"what": "status"},
                   json={"ID": job}).json().get("end_time", 0) == 0:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    states = {}
    for t in c.targets:
        for (n, k), v in scrape(t).items():
            if n == "locus_jobs" and 'kind="copy-bck"' in k:
                states[k] = v
            if n == "locus_job_objects" and f'job="{job}"' in k and 'dir="in"' not in k:
                states.setdefault("objects", 0)
                states["objects"] += v
    assert states.get("objects") == 1, states  # copied here (loc) or sent to its owner (out)


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is missing")
def test_prometheus_scrapes_the_cluster(cluster, http, tmp_path):
    c = cluster
    bck = lt.rand_name("metrics-prom-")
    assert http.post(lt.bck_url(c.url, bck), json=lt.actmsg("create-bck")).status_code == 200
    for i in range(5):
        assert http.put(lt.obj_url(c.url, bck, f"p{i}"), data=b"x" * 100).status_code == 200
    want = total(c, "ais_target_put_count")
    (port,) = lt.free_ports(1)
    nodes = ", ".join(f"'{n.url.split('://')[1]}'" for n in c.nodes)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: locus\n    static_configs:\n      - targets: [{nodes}]\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp_path}/prometheus.yml",
                             f"--storage.tsdb.path={tmp_path}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w"),
                            preexec_fn=lt._child_setup)

    def query(q):
        r = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": q}, timeout=5)
        res = r.json()["data"]["result"] if r.status_code == 200 else []
        return float(res[0]["value"][1]) if res else None

    try:
        # every node scraped up (a scrape may time out now and then on a loaded machine: the
        # next one, a second later, counts) and the targets' PUTs summed to what they serve
        deadline = time.monotonic() + lt.tmo(60)
        got = up = None
        while time.monotonic() < deadline:
            try:
                got, up = query("sum(ais_target_put_count)"), query('sum(up{job="locus"})')
                if got == want and up == len(c.nodes):
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            assert prom.poll() is None, lt.tail(tmp_path / "prom.log")
            time.sleep(0.5)
        assert (got, up) == (want, len(c.nodes)), (got, up, lt.tail(tmp_path / "prom.log"))
    finally:
        prom.terminate()
        prom.wait(timeout=30)


def test_cli_show_performance(cluster):
    env = dict(lt.daemon_env(), LOCUS_ENDPOINT=cluster.url)
    for args in (["show", "performance"], ["cluster", "show", "--stats"]):
        p = subprocess.run([str(lt.BIN_DIR / "locus"), *args], capture_output=True, text=True,
                           env=env, timeout=lt.tmo(30))
        assert p.returncode == 0, p.stderr
        assert re.search(r"^NODE\s+ROLE\s+GET\s+PUT\s+HEAD\s+DEL\s+LIST\s+ERRORS", p.stdout, re.M)
        for n in cluster.nodes:
            assert re.search(rf"^{n.id}\s+{n.role}\s+\d+\s+\d+", p.stdout, re.M), p.stdout


def test_grafana_dashboard_uses_real_metrics(cluster):
    """Every metric the shipped dashboard (deploy/grafana) queries is a family some node serves."""
    import json
    dash = json.loads((lt.REPO_ROOT / "deploy/grafana/locus-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_bucket$", "", m) for e in exprs for m in re.findall(r"\b(?:ais|locus)_\w+", e)}
    served = set()
    for n in cluster.nodes:
        text = requests.get(n.url + "/metrics", timeout=lt.REQ_TIMEOUT).text
        served |= set(re.findall(r"^# TYPE (\S+)", text, re.M))
    assert used and used <= served, used - served
