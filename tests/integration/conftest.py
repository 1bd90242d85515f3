"""
Fixtures of the integration suite (helpers in locustest.py).

  cluster          the shared cluster of 1 proxy + 3 targets (started once, lazily; replaced by a
                   fresh one if a node of it died - that death fails the test during which it happened)
  cluster_factory  function scope: make(proxies=1, targets=3, flags=[...], auth=None,
                   cluster_secret=True) -> a new Cluster for tests that kill, restart or stop nodes
                   (or need auth on or off whatever LOCUS_TEST_AUTH says); torn down after the test
  http             a requests session with default timeouts
  --valgrind       runner flag: every locusd runs under valgrind

After every test the guard checks every cluster still alive: a daemon that died (or was reported
by a stop as exiting badly) fails that test. When a test fails, the tails of the node logs are
attached to its report.
"""

import pytest

import locustest as lt

_live_clusters = []  # every Cluster not yet torn down


def pytest_addoption(parser):
    parser.addoption("--valgrind", action="store_true",
                     help="run every spawned locusd under valgrind (slow; timeouts x20)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~30 s; `make test` skips it (-m 'not slow')")
    if config.getoption("--valgrind"):
        lt.enable_valgrind()


def _new_cluster(tmp_path_factory, name, **kw):
    if not lt.LOCUSD.exists():
        pytest.fail(f"{lt.LOCUSD} does not exist (build it, or set LOCUS_BIN_DIR)")
    c = lt.Cluster(tmp_path_factory.mktemp(name), name=name, **kw)
    _live_clusters.append(c)
    try:
        c.start()
    except Exception:
        _live_clusters.remove(c)
        raise
    return c


def _teardown(c):
    if c in _live_clusters:
        _live_clusters.remove(c)
    return c.teardown()


class _SharedClusterHolder:
    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.cluster = None
        self.pending = []  # teardown problems of a broken cluster, reported by the next guard

    def get(self):
        if lt.USE_DAEMON:
            if self.cluster is None:
                self.cluster = lt.ExternalCluster(lt.USE_DAEMON)
            return self.cluster
        if self.cluster is not None and self.cluster.broken():
            self.pending += _teardown(self.cluster)
            self.cluster = None
        if self.cluster is None:
            self.cluster = _new_cluster(self.tmp_path_factory, "shared", proxies=1, targets=3)
        return self.cluster

    def close(self):
        if self.cluster is not None and not self.cluster.external:
            return _teardown(self.cluster)
        return []


@pytest.fixture(scope="session")
def _shared(tmp_path_factory):
    holder = _SharedClusterHolder(tmp_path_factory)
    yield holder
    problems = holder.close() + holder.pending
    if problems:
        pytest.fail("daemon problems at session teardown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def cluster(_shared):
    return _shared.get()


@pytest.fixture(scope="session")
def cluster_tools():
    """(new, teardown): for module fixtures that keep a cluster of their own (a test module
    cannot import this conftest by name: tests/integration/s3 has one too)."""
    return _new_cluster, _teardown


@pytest.fixture
def cluster_factory(tmp_path_factory, request):
    if lt.USE_DAEMON:
        pytest.skip("needs its own cluster (LOCUS_TEST_USE_DAEMON is set)")
    made = []

    def make(proxies=1, targets=3, flags=(), **kw):
        c = _new_cluster(tmp_path_factory, request.node.name[:40].replace("[", "_").replace("]", ""),
                         proxies=proxies, targets=targets, extra_flags=flags, **kw)
        made.append(c)
        return c

    yield make
    problems = []
    for c in made:
        problems += _teardown(c)
    if problems:
        pytest.fail("daemon problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def http():
    s = lt.Http()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _daemon_guard(request):
    yield
    problems = []
    holder = request.node.funcargs.get("_shared")
    if holder is not None:
        problems += holder.pending
        holder.pending = []
    for c in list(_live_clusters):
        problems += c.take_problems()
    if problems:
        pytest.fail("daemon died or exited badly during this test:\n" + "\n".join(problems),
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("call", "setup"):
        for c in list(_live_clusters):
            logs = c.all_logs()
            if logs:
                rep.sections.append((f"locusd logs ({c.name}: {c.root})", logs))
