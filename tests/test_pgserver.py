"""The PostgreSQL server the kit starts: password logins only, the class subnet allowed, data kept across a stop."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from dlopt_kit.pgserver import PgServer, PgServerError, free_port, local_subnet
from dlopt_kit.shared import StorageError, connect, create_shared, study_names


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
