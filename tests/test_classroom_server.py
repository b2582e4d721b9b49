"""The PostgreSQL server the kit starts: password logins only, the class subnet allowed, data kept across a stop."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from dlopt_kit.classroom.server import PgServer, PgServerError, free_port, local_subnet
from dlopt_kit.classroom.study import StorageError, connect, create_shared, study_names


def test_server_keeps_its_data_across_stop_and_start_and_allows_only_passwords(postgres):
    folder = tempfile.mkdtemp(prefix="dlopt-pg-")
    try:
        server = PgServer(folder, port=free_port(), subnet="10.11.12.0/24").start()
        hba = (server.data / "pg_hba.conf").read_text()
        rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
        assert {r[-1] for r in rules} == {"scram-sha-256"} and not any(r[0] == "local" for r in rules)
        assert ["host", "dlopt", "student", "10.11.12.0/24", "scram-sha-256"] in rules
        assert (server.secrets_file.stat().st_mode & 0o077) == 0  # passwords readable by their owner only
        create_shared(connect(server.url()), "kept")
        server.stop()
        assert not server.running
        with pytest.raises(StorageError, match="cannot reach a database server"):
            connect(server.url())  # stopped: nothing listens
        server.start()
        assert "kept" in study_names(connect(server.url()))
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_taken_port_is_reported_with_the_servers_words(postgres):
    folder, port = tempfile.mkdtemp(prefix="dlopt-pg-"), free_port()
    os.chmod(folder, 0o755)  # the server's user (postgres, when root runs the tests) must reach the subfolders
    first = PgServer(folder + "/a", port=port).start()
    try:
        with pytest.raises(PgServerError, match=f"PostgreSQL did not start \\(port {port}\\)"):
            PgServer(folder + "/b", port=port).start()
    finally:
        first.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_subnet_of_an_address():
    assert local_subnet("192.0.2.77") == "192.0.2.0/24"  # not on this machine: the /24 around it


def test_the_instructors_commands_start_share_and_stop_the_class_server(postgres):
    import re
    import subprocess
    import sys

    folder, port = tempfile.mkdtemp(prefix="dlopt-pg-"), free_port()
    os.chmod(folder, 0o755)
    env = {k: v for k, v in os.environ.items() if k != "DLOPT_STORAGE"}

    def tune(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dlopt_kit", "tune", *args], capture_output=True, text=True,
                              env={**env, **extra}, timeout=120)

    server = ["--dir", f"{folder}/class", "--port", str(port), "--subnet", "10.11.12.0/24"]
    try:
        started = tune("server", "start", *server)
        assert started.returncode == 0, started.stderr
        assert "open to 10.11.12.0/24; study 'class' ready" in started.stdout
        url = re.search(r"^export DLOPT_STORAGE='(.+)'$", started.stdout, re.M).group(1)
        local = re.sub(r"@[^:/]+:", "@127.0.0.1:", url)  # the shared URL names this machine's network address
        status = tune("status", "--study", "class", DLOPT_STORAGE=local)
        assert status.returncode == 0 and "no finished trial yet" in status.stdout, status.stderr
        assert url.split(":")[2].split("@")[0] not in status.stdout + status.stderr  # the password is never shown
        assert tune("server", "url", *server).stdout.count(url) == 1
        assert "data stays in" in tune("server", "stop", *server).stdout
        again = tune("server", "start", *server)  # the data is kept: same study, same URL
        assert again.returncode == 0 and url in again.stdout
    finally:
        tune("server", "stop", *server)
        shutil.rmtree(folder, ignore_errors=True)
