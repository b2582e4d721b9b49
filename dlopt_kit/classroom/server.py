"""A PostgreSQL server for shared Optuna studies, run from the PostgreSQL programs installed on the machine (Debian's
``postgresql`` package): on loopback for the tests and the benchmark, on the classroom network for an instructor.

``PgServer(folder).start()`` creates a cluster in ``folder/data`` the first time (``initdb``, password
authentication with ``scram-sha-256`` only, no Unix socket), then starts it with ``pg_ctl``. Two roles: an
administrator, and ``student``, which owns the database ``dlopt`` and is the role in the URL that workers and
students use. The generated passwords live in ``folder/server.json`` (mode 600), never in code or on a command
line. ``stop()`` shuts the server down and keeps the data; ``start()`` again brings it back with its studies.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

ADMIN, ROLE, DATABASE = "dlopt_admin", "student", "dlopt"
INSTALL_HINT = "install PostgreSQL with: sudo apt-get install postgresql"


class PgServerError(RuntimeError):
    """The server could not be created, started or stopped; the message says why and what to do."""


def pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (on PATH, or Debian's /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lan_address() -> str:
    """This machine's address on its network (the one a default route leaves from); no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def local_subnet(address: str) -> str:
    """The subnet ``address`` belongs to, as CIDR (from ``ip -o -4 addr``; a /24 where that is unavailable)."""
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            fields = line.split()
            cidr = fields[fields.index("inet") + 1]
            if cidr.split("/")[0] == address:
                import ipaddress

                return str(ipaddress.ip_interface(cidr).network)
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        pass
    return ".".join(address.split(".")[:3]) + ".0/24"


@dataclass
class PgServer:
    """One PostgreSQL cluster in ``folder``. ``listen`` is the address it listens on (``"*"`` for every interface);
    ``subnet`` (CIDR), when given, may connect as ``student`` besides loopback."""

    folder: Path
    port: int = 5432
    listen: str = "127.0.0.1"
    subnet: str | None = None

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).resolve()
        self.data = self.folder / "data"
        self.secrets_file = self.folder / "server.json"
        self.log = self.data / "server.log"

    # ------------------------------------------------------------ life cycle
    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self.secrets_file.exists()

    @property
    def running(self) -> bool:
        return self.initialised and self._pg_ctl("status", check=False).returncode == 0

    def start(self) -> PgServer:
        """Create the cluster if needed and start it (a no-op where it runs already)."""
        fresh = not self.initialised
        if fresh:
            self._init()
        else:
            self._configure()
        if not self.running:
            done = self._pg_ctl("start", "-w", "-t", "30", "-l", str(self.log), check=False)
            if done.returncode != 0:
                raise PgServerError(f"PostgreSQL did not start (port {self.port}): {self._log_tail()}")
        if fresh:
            self._create_role_and_database()
        return self

    def stop(self) -> None:
        """Stop the server; the data stays in ``folder`` for the next ``start``."""
        if self.running:
            self._pg_ctl("stop", "-w", "-m", "fast")

    def url(self, host: str | None = None, role: str = ROLE) -> str:
        """The storage URL for ``role`` (with its password: share it, never print it in a log)."""
        password = self._secrets()["admin" if role == ADMIN else "student"]
        database = "postgres" if role == ADMIN else DATABASE
        return f"postgresql+psycopg://{role}:{password}@{host or self._host()}:{self.port}/{database}"

    # ------------------------------------------------------------ internals
    def _host(self) -> str:
        return "127.0.0.1" if self.listen in ("127.0.0.1", "localhost") else lan_address()

    def _secrets(self) -> dict[str, str]:
        return json.loads(self.secrets_file.read_text())

    def _init(self) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise PgServerError(f"PostgreSQL's programs (initdb, pg_ctl) were not found: {INSTALL_HINT}")
        if self.data.exists():
            shutil.rmtree(self.data)  # an earlier init that did not finish
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)  # the server's user must reach data/ (root runs it as "postgres")
        self.secrets_file.write_text(json.dumps({"admin": secrets.token_urlsafe(18),
                                                 "student": secrets.token_urlsafe(18)}))
        self.secrets_file.chmod(0o600)
        self.data.mkdir(mode=0o700)
        pwfile = self.folder / ".initdb-password"
        pwfile.write_text(self._secrets()["admin"])
        self._own(self.data, pwfile)
        try:
            done = self._run([str(binaries / "initdb"), "-D", str(self.data), "-U", ADMIN, f"--pwfile={pwfile}",
                              "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"], check=False)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
            hint = (f"; the server's user cannot reach {self.folder}: make its parent folders searchable "
                    "(chmod o+x) or choose another --dir") if "Permission denied" in last[0] else ""
            raise PgServerError(f"initdb failed: {last[0]}{hint}")
        self._configure()

    def _configure(self) -> None:
        """Write the listen address, port and client rules (run on every start: the port or subnet may change)."""
        settings = {"listen_addresses": f"'{self.listen}'", "port": str(self.port), "unix_socket_directories": "''",
                    "password_encryption": "'scram-sha-256'", "max_connections": "200"}
        (self.data / "postgresql.auto.conf").write_text(
            "# written by dlopt_kit.classroom.server on every start\n"
            + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        rules = ["host all all 127.0.0.1/32 scram-sha-256", "host all all ::1/128 scram-sha-256"]
        if self.subnet:
            rules.append(f"host {DATABASE} {ROLE} {self.subnet} scram-sha-256")
        (self.data / "pg_hba.conf").write_text("# written by dlopt_kit.classroom.server: password logins only\n"
                                               + "\n".join(rules) + "\n")
        self._own(self.data / "postgresql.auto.conf", self.data / "pg_hba.conf")

    def _create_role_and_database(self) -> None:
        import psycopg
        from psycopg import sql

        admin = self.url("127.0.0.1", ADMIN).replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(self._secrets()["student"])))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE),
                                                                       sql.Identifier(ROLE)))

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        binaries = pg_bin()
        if binaries is None:
            raise PgServerError(f"PostgreSQL's pg_ctl was not found: {INSTALL_HINT}")
        return self._run([str(binaries / "pg_ctl"), "-D", str(self.data), *args], check=check)

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        program = Path(command[0]).name
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as Debian's "postgres" user
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and done.returncode != 0:
            raise PgServerError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _own(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            for path in paths:
                shutil.chown(path, "postgres", "postgres")

    def _log_tail(self) -> str:
        try:
            lines = self.log.read_text().strip().splitlines()
        except OSError:
            return "no server log"
        return " | ".join(lines[-3:]) or "empty server log"
