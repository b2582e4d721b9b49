"""A PostgreSQL server for shared Optuna studies, run from the PostgreSQL programs installed on the machine (Debian's
``postgresql`` package): on loopback for the tests and the benchmark, on the classroom network for an instructor.

``PgServer(folder).start()`` creates a cluster in ``folder/data`` the first time (``initdb``, password
authentication with ``scram-sha-256`` only, no Unix socket), then starts it with ``pg_ctl``. Two roles: an
administrator, which owns the database ``dlopt`` and Optuna's tables in it, and ``student``, the role in the URL
that workers and students use, with only the rights a worker needs (read, add and update rows; no table can be
created, changed, dropped or emptied). The generated passwords live in ``folder/server.json`` (mode 600 from the
start, in a folder only its owner can list), never in code or on a command line. ``stop()`` shuts the server down
and keeps the data; ``start()`` again brings it back with its studies. ``backup(path)`` / ``restore(path)`` save and
bring back the class's studies (``pg_dump``'s custom format); ``reset_password()`` gives ``student`` a new one.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
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


def check_subnet(subnet: str) -> str:
    """``subnet`` as a network in CIDR form when it is loopback or a private range (what a classroom's network is);
    ValueError naming the value and what is allowed otherwise. Nothing but a network ever reaches the access
    rules."""
    import ipaddress

    try:
        network = ipaddress.ip_network(str(subnet).strip(), strict=False)
    except ValueError:
        raise ValueError(f"subnet={subnet!r} is not a network: allowed is a private or loopback network in CIDR "
                         "form, e.g. 192.168.1.0/24 or 10.0.0.0/16") from None
    if not (network.is_private or network.is_loopback) or network.prefixlen < (8 if network.version == 4 else 16):
        raise ValueError(f"subnet={subnet!r} is not a private or loopback network (the class's own): allowed is e.g. "
                         "192.168.1.0/24, 172.16.0.0/12 or 10.0.0.0/8; the server must not be open to the internet")
    return str(network)


def _private_file(path: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` readable and writable by its owner only from the moment it exists (a file
    beside it, created mode 600, then renamed over ``path``: a crash never leaves half a file)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    tmp.replace(path)
    return path


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
        if self.subnet is not None:
            self.subnet = check_subnet(self.subnet)
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
        self._save(port=self.port)
        self._least_privilege()
        return self

    @property
    def started_port(self) -> int | None:
        """The port the server was last started on (None for a server started before the port was recorded)."""
        return self._secrets().get("port") if self.initialised else None

    def backup(self, path: Path | str) -> Path:
        """Save the class's studies (the whole ``dlopt`` database) to ``path`` with ``pg_dump`` (mode 600: the
        file holds every trial, not the passwords)."""
        path = Path(path).expanduser().resolve()
        if path.is_dir():
            raise PgServerError(f"backup path {path} is a folder: give a file name, e.g. {path / 'class.dump'}")
        if not path.parent.is_dir():
            raise PgServerError(f"backup path {path}: its folder {path.parent} does not exist")
        done = self._client("pg_dump", "--format=custom", "--no-owner", "--no-privileges", DATABASE)
        return _private_file(path, done.stdout)

    def restore(self, path: Path | str) -> None:
        """Bring the class's studies back from a ``backup`` file: every table is replaced by the backup's (trials
        added since are lost), owned by the administrator, with the student's rights set again."""
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise PgServerError(f"backup file {path} does not exist: give a file written by: python -m dlopt_kit "
                                "tune server backup PATH")
        if path.read_bytes()[:5] != b"PGDMP":
            raise PgServerError(f"{path} is not a backup written by tune server backup (no pg_dump header)")
        self._client("pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                     f"--dbname={DATABASE}", stdin=path.read_bytes())
        self._least_privilege()

    def reset_password(self) -> None:
        """Give ``student`` a new password (after it leaked, or a student changed it): the old URL stops working
        and ``url()`` gives the new one."""
        from psycopg import sql

        password = secrets.token_urlsafe(18)
        with self._admin() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))
        self._save(student=password)

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

    def _secrets(self) -> dict:
        return json.loads(self.secrets_file.read_text())

    def _save(self, **values: object) -> None:
        _private_file(self.secrets_file, json.dumps({**self._secrets(), **values}))

    def _admin(self, database: str = "postgres") -> object:
        import psycopg

        url = self.url("127.0.0.1", ADMIN).replace("postgresql+psycopg://", "postgresql://")
        return psycopg.connect(url.rsplit("/", 1)[0] + "/" + database, autocommit=True, connect_timeout=10)

    def _least_privilege(self) -> None:
        """The administrator owns the database and Optuna's tables (created here, as the administrator, where
        missing); ``student`` may connect, read, add and update rows, and nothing else: no CREATE, ALTER, DROP,
        DELETE or TRUNCATE. Run on every start, so a server made by an older version is brought in line."""
        import optuna
        from psycopg import sql

        admin, student, database = (sql.Identifier(n) for n in (ADMIN, ROLE, DATABASE))
        with self._admin() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, admin))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC, {}").format(database, student))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, student))
        with self._admin(DATABASE) as conn:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(student, admin))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC, {}").format(student))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(student))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        url = self.url("127.0.0.1", ADMIN).rsplit("/", 1)[0] + "/" + DATABASE
        optuna.storages.RDBStorage(url, engine_kwargs={"poolclass": _null_pool()}).engine.dispose()  # the tables
        with self._admin(DATABASE) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {}").format(student))
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {}").format(student))
            conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(student))

    def _client(self, program: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        """Run PostgreSQL's ``program`` (pg_dump, pg_restore) as the administrator over loopback; the password goes
        in its environment, never on its command line."""
        binaries = pg_bin()
        if binaries is None or not (binaries / program).exists():
            raise PgServerError(f"PostgreSQL's {program} was not found: {INSTALL_HINT}")
        if not self.running:
            raise PgServerError(f"the server in {self.folder} is not running: start it with: python -m dlopt_kit "
                                "tune server start")
        env = {**os.environ, "PGPASSWORD": self._secrets()["admin"], "PGHOST": "127.0.0.1",
               "PGPORT": str(self.port), "PGUSER": ADMIN, "PGCONNECT_TIMEOUT": "10"}
        done = subprocess.run([str(binaries / program), *args], input=stdin, capture_output=True, env=env, cwd="/")
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()
            raise PgServerError(f"{program} failed: {message[0] if message else 'no message'}")
        return done

    def _init(self) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise PgServerError(f"PostgreSQL's programs (initdb, pg_ctl) were not found: {INSTALL_HINT}")
        if self.data.exists():
            shutil.rmtree(self.data)  # an earlier init that did not finish
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o711)  # the server's user (root runs it as "postgres") must reach data/; nobody lists it
        _private_file(self.secrets_file, json.dumps({"admin": secrets.token_urlsafe(18),
                                                     "student": secrets.token_urlsafe(18)}))
        self.data.mkdir(mode=0o700)
        handover = Path(tempfile.mkdtemp(prefix=".initdb-", dir=self.folder))  # 0700 from the start
        pwfile = handover / "password"
        _private_file(pwfile, self._secrets()["admin"])
        self._own(self.data, handover, pwfile)
        try:
            done = self._run([str(binaries / "initdb"), "-D", str(self.data), "-U", ADMIN, f"--pwfile={pwfile}",
                              "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"], check=False)
        finally:
            shutil.rmtree(handover, ignore_errors=True)
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
        if self.subnet:  # checked to be a network in __post_init__: nothing else can reach the rule
            rules.append(f"host {DATABASE} {ROLE} {check_subnet(self.subnet)} scram-sha-256")
        assert all(rule.split()[-1] == "scram-sha-256" and len(rule.split()) == 5 for rule in rules)
        (self.data / "pg_hba.conf").write_text("# written by dlopt_kit.classroom.server: password logins only\n"
                                               + "\n".join(rules) + "\n")
        self._own(self.data / "postgresql.auto.conf", self.data / "pg_hba.conf")

    def _create_role_and_database(self) -> None:
        from psycopg import sql

        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(self._secrets()["student"])))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE),
                                                                       sql.Identifier(ADMIN)))

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


def _null_pool() -> type:
    from sqlalchemy.pool import NullPool

    return NullPool
