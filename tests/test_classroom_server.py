"""The PostgreSQL server the kit starts: password logins only, the class subnet allowed, data kept across a stop."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from dlopt_kit.classroom.server import PgServer, PgServerError, check_subnet, free_port, local_subnet
from dlopt_kit.classroom.study import StorageError, connect, create_shared, study_names


class WatchedServer(PgServer):
    """A server that records, whenever it runs a PostgreSQL program, the modes of the files it hands over."""

    seen: list

    def _run(self, command, check=True):
        self.seen = getattr(self, "seen", [])
        for arg in command:
            if arg.startswith("--pwfile="):
                path = arg.split("=", 1)[1]
                self.seen.append((os.stat(path).st_mode & 0o777, os.stat(os.path.dirname(path)).st_mode & 0o777,
                                  self.secrets_file.stat().st_mode & 0o777))
        return super()._run(command, check)


def test_server_keeps_its_data_across_stop_and_start_and_allows_only_passwords(postgres):
    folder = tempfile.mkdtemp(prefix="dlopt-pg-")
    try:
        server = WatchedServer(folder, port=free_port(), subnet="10.11.12.0/24").start()
        assert server.seen == [(0o600, 0o700, 0o600)]  # the admin password is never readable by others, even briefly
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
        assert tune("server", "url", "--dir", f"{folder}/class").stdout.count(url) == 1  # the port it started on
        saved = tune("server", "backup", f"{folder}/class.dump", "--dir", f"{folder}/class")
        assert saved.returncode == 0 and "saved to" in saved.stdout, saved.stderr
        assert tune("server", "restore", f"{folder}/class.dump", "--dir", f"{folder}/class").returncode == 0
        missing = tune("server", "backup", "--dir", f"{folder}/class")
        assert missing.returncode == 2 and "needs a file" in missing.stderr and "Traceback" not in missing.stderr
        assert "data stays in" in tune("server", "stop", *server).stdout
        again = tune("server", "start", *server)  # the data is kept: same study, same URL
        assert again.returncode == 0 and url in again.stdout
    finally:
        tune("server", "stop", *server)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("bad", ["0.0.0.0/0 trust #", "0.0.0.0/0", "8.8.8.0/24", "10.0.0.0/8\nhost all all 0/0 trust",
                                 "all", "", "10.0.0.0/4", "::/0"])
def test_a_subnet_that_is_not_a_private_network_is_refused(bad, tmp_path):
    with pytest.raises(ValueError, match="subnet=.* is not a (private or loopback )?network"):
        check_subnet(bad)
    with pytest.raises(ValueError):
        PgServer(tmp_path / "class", subnet=bad)
    assert not (tmp_path / "class").exists()  # refused before anything is written


def test_a_private_subnet_is_written_as_its_network():
    assert check_subnet("192.168.1.77/24") == "192.168.1.0/24" and check_subnet(" 10.0.0.0/8 ") == "10.0.0.0/8"
    assert check_subnet("127.0.0.1/32") == "127.0.0.1/32" and check_subnet("fd00::/64") == "fd00::/64"


def test_the_subnet_option_cannot_open_the_server(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "dlopt_kit", "tune", "server", "start", "--dir",
                           str(tmp_path / "class"), "--subnet", "0.0.0.0/0 trust #"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "subnet='0.0.0.0/0 trust #' is not a network" in done.stderr and not (tmp_path / "class").exists()


@pytest.fixture()
def own_server(postgres):
    """A server of this test's own (its password is reset, its studies restored: nobody else's to break)."""
    folder = tempfile.mkdtemp(prefix="dlopt-pg-")
    server = PgServer(folder, port=free_port()).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_the_student_login_can_run_trials_but_not_change_or_drop_tables(own_server):
    import psycopg

    create_shared(connect(own_server.url()), "rights")  # the student creates a study and adds trials
    student = own_server.url().replace("postgresql+psycopg://", "postgresql://")
    refused = {"DROP TABLE trials": "must be owner", "TRUNCATE trial_values": "permission denied",
               "DELETE FROM trial_values": "permission denied", "ALTER TABLE trials ADD COLUMN x int": "must be owner",
               "CREATE TABLE mine (x int)": "permission denied", "DROP DATABASE dlopt": "must be owner",
               "CREATE SCHEMA mine": "permission denied"}
    with psycopg.connect(student, autocommit=True) as conn:
        for statement, message in refused.items():
            with pytest.raises(psycopg.errors.Error, match=message):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM studies").fetchone()[0] == 1  # reading and writing rows works
        conn.execute("UPDATE studies SET study_name = study_name")
    own_server.stop()
    own_server.start()  # every start sets the rights again; the study is kept
    assert study_names(connect(own_server.url())) == ["rights"]


def test_backup_and_restore_bring_the_class_study_back(own_server, tmp_path):
    import optuna
    import psycopg

    storage = connect(own_server.url())
    study = create_shared(storage, "class")
    dist = optuna.distributions.FloatDistribution(1e-3, 1.0, log=True)
    for value in (0.5, 0.7):
        study.add_trial(optuna.trial.create_trial(params={"lr": 0.01}, distributions={"lr": dist}, value=value))
    path = own_server.backup(tmp_path / "class.dump")
    assert (path.stat().st_mode & 0o777) == 0o600 and path.read_bytes()[:5] == b"PGDMP"
    with psycopg.connect(own_server.url().replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("UPDATE trial_values SET value = 1.0")  # a student rewrites every score
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.1}, distributions={"lr": dist}, value=0.9))
    own_server.restore(path)
    back = optuna.load_study(study_name="class", storage=connect(own_server.url()))
    assert [t.value for t in back.trials] == [0.5, 0.7]  # as saved; the trial added since is gone
    with psycopg.connect(own_server.url().replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.Error, match="must be owner"):
            conn.execute("DROP TABLE trials")  # the restored tables are the administrator's too
    with pytest.raises(PgServerError, match="is not a backup written by tune server backup"):
        own_server.restore(tmp_path.joinpath("junk").write_text("x") and tmp_path / "junk")
    with pytest.raises(PgServerError, match="does not exist"):
        own_server.restore(tmp_path / "missing.dump")


def test_a_reset_password_locks_out_the_old_url(own_server):
    old = own_server.url()
    connect(old)
    own_server.reset_password()
    with pytest.raises(StorageError, match="wrong password"):
        connect(old)
    assert own_server.url() != old
    create_shared(connect(own_server.url()), "after")  # the new URL works
