"""A throwaway PostgreSQL server for tests: a temporary data directory on a loopback port.

The server binaries come from the system (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<version>/bin``; ``$GUARDRAIL_PG_BIN`` overrides). PostgreSQL refuses to
run as root, so under root the server runs as the ``postgres`` system user when there is one,
else as ``nobody``. The server trusts local connections (it listens on 127.0.0.1 only, no Unix
socket) and runs without ``fsync``: a test server survives a client's ``SIGKILL`` and a clean
restart, not a power cut.

>>> with PostgresServer.start_new() as server:            # doctest: +SKIP
...     url = server.create_database("review")
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

from guardrail.errors import GuardrailRuntimeError

__all__ = ["PostgresServer", "PostgresUnavailable", "find_postgres_bin"]

ShutdownMode = Literal["smart", "fast", "immediate"]
_SUPERUSER = "guardrail"


class PostgresUnavailable(GuardrailRuntimeError):
    """No PostgreSQL server binaries here (install Debian's ``postgresql`` package)."""


def find_postgres_bin() -> Path:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres`` (newest installed version)."""
    configured = os.environ.get("GUARDRAIL_PG_BIN", "").strip()
    candidates = [configured] if configured else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    for candidate in candidates:
        folder = Path(candidate)
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or "
        "on PATH: apt-get install postgresql (`make test` does it when run as root)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and there is no 'postgres' or 'nobody' user")


class PostgresServer:
    """A PostgreSQL server of its own in ``root`` (created), listening on ``127.0.0.1:port``."""

    def __init__(self, root: Path, *, bin_dir: Path | None = None, port: int | None = None) -> None:
        self.root = root
        self.bin_dir = bin_dir or find_postgres_bin()
        self.port = port or _free_port()
        self.data = root / "data"
        self.log = root / "server.log"
        self._user = _unprivileged_user()

    @classmethod
    def start_new(cls, *, timeout_s: float = 120.0) -> PostgresServer:
        """Initialise and start a server in a new temporary folder."""
        root = Path(tempfile.mkdtemp(prefix="guardrail-pg-"))
        server = cls(root)
        try:
            server.init()
            server.start(timeout_s=timeout_s)
        except BaseException:
            server.remove()
            raise
        return server

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.remove()

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database as the superuser."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """The URL of ``database`` on this server."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout_s: float = 120.0) -> None:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
            env["HOME"] = str(self.root)
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=timeout_s,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}\n{log}"
            )

    def init(self) -> None:
        """``initdb`` the data directory, owned by the unprivileged user when run as root."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "fsync": "off",
            "synchronous_commit": "on",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "timezone": "'UTC'",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# guardrail.testing.postgres\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self, *, timeout_s: float = 120.0) -> None:
        """``pg_ctl start`` and wait until the server accepts connections."""
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(timeout_s)),
            timeout_s=timeout_s + 10,
        )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=5):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: ShutdownMode = "fast") -> None:
        """``pg_ctl stop -m mode`` (nothing when the server is not running)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w")

    def restart(self, mode: ShutdownMode = "fast") -> None:
        """Stop with ``mode`` (``fast`` ends every session and checkpoints) and start again."""
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        """Delete the data directory (stop first)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, prefix: str = "test") -> str:
        """Create a new, empty database and return its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url_for(name)
