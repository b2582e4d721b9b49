"""`make lab`'s server: JupyterLab on 127.0.0.1 with token authentication that cannot be switched off."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def lab(tmp_path):
    port, token = free_port(), "test-token-0123456789"
    env = {**os.environ, "PORT": str(port), "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen([str(ROOT / "bin" / "lab"), "--no-browser"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        try:
            if get(f"{base}/api/status", token) == 200:
                break
        except OSError:
            time.sleep(0.5)
    yield base, token, proc, tmp_path / "lab.log"
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    log.close()


def test_lab_requires_the_token_and_listens_on_loopback(lab):
    base, token, proc, log = lab
    assert proc.poll() is None, log.read_text()
    assert get(f"{base}/api/status", token) == 200
    assert get(f"{base}/api/status") == 403
    assert get(f"{base}/api/status", "wrong-token") == 403
    assert get(f"{base}/api/contents/notebooks", token) == 200
    text = log.read_text()
    assert "http://127.0.0.1:" in text and "00_start_here.ipynb" in text
