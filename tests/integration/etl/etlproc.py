"""
etlproc.py - transformer processes for the framework tests (test_45, test_46, test_47): a
built-in transformer binary on a free loopback port, healthy before use, stopped with SIGTERM
and required to exit 0.
"""

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("LOCUS_BIN_DIR") or REPO / "build" / "bin")

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # die with the test runner


def free_port():
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p != 8080:
            return p


def binary(name):
    p = BIN / f"locus-etl-{name}"
    if not p.exists():
        pytest.skip(f"{p} is not built")
    return p


class Server:
    """A transformer process on a free port; stop() checks it exited cleanly."""

    def __init__(self, exe, env=None, args=(), tmp=None, stop_timeout=20):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.stop_timeout = stop_timeout
        e = {k: v for k, v in os.environ.items()
             if k not in ("AIS_TARGET_URL", "ARG_TYPE", "LOCUS_ETL_FQN_ROOTS", "SEED_DEFAULT")}
        e.update({"NUM_WORKERS": "4"})
        e.update(env or {})
        self.log = open(tmp / f"etl-{self.port}.log", "w+b") if tmp else subprocess.DEVNULL
        self.proc = subprocess.Popen([str(exe), "--port", str(self.port), "--host", "127.0.0.1",
                                      *args], env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=_child_setup)
        deadline = time.time() + 10
        while True:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.kill()
                raise AssertionError(f"{exe} did not become healthy: {self.logs()}")
            time.sleep(0.05)

    def logs(self):
        if self.log is subprocess.DEVNULL:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def status(self, key):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
        raise KeyError(key)

    def nfds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("transformer did not stop on SIGTERM")
            assert rc == 0, f"transformer exited with {rc}: {self.logs()}"
