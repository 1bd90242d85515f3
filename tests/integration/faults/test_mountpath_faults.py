"""
Fault test: a target's mountpaths are detached and attached again, over and over, while 8 threads
PUT, overwrite and GET objects through the proxy for ~10 s. Every acknowledged PUT must stay
readable with its last acknowledged content: no object lost, none corrupt, and no GET of an
acknowledged object answers 404 while a resilver moves it.
"""

import hashlib
import os
import random
import threading
import time

import locustest as lt

P = {"provider": "ais"}
THREADS = 8
DURATION = 10.0


def _mp(c, t, method, action, path):
    r = lt.Http().request(method, c.url + "/v1/reverse/daemon/mountpaths",
                          json={"action": action, "value": path},
                          headers={"Ais-Node-Id": t.id}, timeout=120)
    assert r.status_code == 200, f"{action} {path}: {r.status_code} {r.text}"
    return r.text.strip()


def _wait_job(c, jid, timeout=60):
    deadline = time.monotonic() + timeout
    while jid:
        st = lt.Http().get(c.url + "/v1/cluster", params={"what": "status", "id": jid}).json()
        if st["end_time"]:
            return st
        assert time.monotonic() < deadline, f"resilver {jid} still running"
        time.sleep(0.05)


class Worker(threading.Thread):
    def __init__(self, c, k, stop):
        super().__init__()
        self.c, self.k, self.stop = c, k, stop
        self.acked = {}  # name -> sha256 of the last acknowledged content
        self.maybe = {}  # name -> shas a failed PUT may have left
        self.puts = self.put_fail = self.gets = 0
        self.get_404 = []
        self.get_bad = []
        self.rng = random.Random(k)

    def put(self, s, name):
        data = os.urandom(self.rng.choice((0, 100, 4096, 70000)))
        sha = hashlib.sha256(data).hexdigest()
        try:
            r = s.put(lt.obj_url(self.c.url, "faults", name), params=P, data=data)
            ok = r.status_code == 200
        except Exception:  # noqa: BLE001 - counted as not acknowledged
            ok = False
        self.puts += 1
        if ok:
            self.acked[name] = sha
            self.maybe.pop(name, None)
        else:
            self.put_fail += 1
            self.maybe.setdefault(name, set()).add(sha)

    def get(self, s, name):
        r = s.get(lt.obj_url(self.c.url, "faults", name), params=P)
        self.gets += 1
        if r.status_code == 404:
            self.get_404.append(name)
        elif r.status_code != 200:
            self.get_bad.append((name, r.status_code))
        elif hashlib.sha256(r.content).hexdigest() not in {self.acked[name]} | self.maybe.get(name, set()):
            self.get_bad.append((name, "content"))

    def run(self):
        with lt.Http() as s:
            i = 0
            while not self.stop.is_set():
                names = list(self.acked)
                op = self.rng.random()
                if names and op < 0.4:
                    self.get(s, self.rng.choice(names))
                elif names and op < 0.55:
                    self.put(s, self.rng.choice(names))  # overwrite: a new version
                else:
                    self.put(s, f"w{self.k}/{i % 5}/obj-{i}")
                    i += 1


def test_detach_attach_under_load(cluster_factory, http):
    c = cluster_factory(proxies=1, targets=1)
    t = c.targets[0]
    mp1, mp2 = [str(m) for m in t.mountpaths]
    mp3 = str(t.dir / "mp3")
    r = http.post(lt.bck_url(c.url, "faults"), params=P, json=lt.actmsg("create-bck"))
    assert r.status_code == 200, r.text
    stop = threading.Event()
    workers = [Worker(c, k, stop) for k in range(THREADS)]
    for w in workers:
        w.start()
    changes = 0
    t0 = time.monotonic()
    try:
        time.sleep(1.0)  # some objects first
        while time.monotonic() - t0 < DURATION:
            for victim in (mp1, mp2):
                _wait_job(c, _mp(c, t, "PUT", "attach-mp", mp3))
                _mp(c, t, "DELETE", "detach-mp", victim)  # waits until it is empty
                _wait_job(c, _mp(c, t, "PUT", "attach-mp", victim))
                _mp(c, t, "DELETE", "detach-mp", mp3)
                changes += 4
    finally:
        stop.set()
        for w in workers:
            w.join()

    acked = {}
    for w in workers:
        for name, sha in w.acked.items():
            acked[name] = (sha, w.maybe.get(name, set()))
    lost, corrupt = [], []
    for name, (sha, maybe) in acked.items():
        r = http.get(lt.obj_url(c.url, "faults", name), params=P)
        if r.status_code == 404:
            lost.append(name)
        elif r.status_code != 200 or hashlib.sha256(r.content).hexdigest() not in {sha} | maybe:
            corrupt.append(name)
    puts = sum(w.puts for w in workers)
    put_fail = sum(w.put_fail for w in workers)
    gets = sum(w.gets for w in workers)
    get_404 = sum(len(w.get_404) for w in workers)
    get_bad = sum(len(w.get_bad) for w in workers)
    print(f"\nmountpath faults: {changes} mountpath changes in {time.monotonic() - t0:.1f}s; "
          f"{puts} PUTs ({put_fail} not acknowledged), {len(acked)} objects acknowledged; "
          f"{gets} GETs during the run ({get_404} 404, {get_bad} other errors); "
          f"lost {len(lost)}, corrupt {len(corrupt)}")
    assert mp_sorted(c, t) == sorted([mp1, mp2])
    assert not lost and not corrupt, f"lost {lost[:5]}, corrupt {corrupt[:5]}"
    assert get_404 == 0 and get_bad == 0, [w.get_404[:3] + w.get_bad[:3] for w in workers]


def mp_sorted(c, t):
    r = lt.Http().get(c.url + "/v1/reverse/daemon", params={"what": "mountpaths"},
                      headers={"Ais-Node-Id": t.id})
    return r.json()["available"]
