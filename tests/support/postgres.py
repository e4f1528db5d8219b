"""A throwaway PostgreSQL cluster for the state-store tests: initdb'd in a temp dir, on a free port.

As root, the cluster runs as the ``postgres`` user (``runuser -u postgres --``), which owns its
data dir; Postgres refuses to run as root. Without ``initdb`` the tests skip with the reason,
except in CI (``CI`` set), where they fail: the Postgres backend is never silently untested.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.process_support import free_port

__all__ = ["fresh_database", "postgres_cluster", "postgres_or_skip"]


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def postgres_or_skip() -> tuple[str, str]:
    """``initdb`` and ``pg_ctl``; a skip locally without them, a failure under CI."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        reason = "PostgreSQL (initdb, pg_ctl) is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Postgres tests")
        pytest.skip(reason)
    return initdb, pg_ctl


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster; yield the URL of its ``postgres`` database; stop and delete it."""
    initdb, pg_ctl = postgres_or_skip()
    root = Path(tempfile.mkdtemp(prefix="rails-mcp-pg-"))
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    data, port = root / "data", free_port()
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(cluster_url: str) -> str:
    """A new, empty database on the cluster: each test starts from nothing."""
    import psycopg
    import psycopg.sql

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(cluster_url, autocommit=True) as db:
        db.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    return cluster_url.rsplit("/", 1)[0] + "/" + name
