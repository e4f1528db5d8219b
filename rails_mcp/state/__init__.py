"""The server's own durable, shared state: one store, SQLite by default, Postgres for replicas.

It holds only what must outlive a process and be seen by every replica: the approval states
already answered (single use across restarts and replicas), the writes announced and not yet
closed (recovered at the next start-up), the orders a person approved, the spend ledger
(budgets) and idempotency keys. ``RAILS_STATE_URL`` picks the store: unset, a SQLite file in
``RAILS_STATE_DIR`` (one host); ``postgresql://…``, a database every replica shares.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import TypeGuard

from rails_mcp.config import ConfigError, Settings

from .ledger import BudgetRule, Ledger, Period, Refused
from .sqlite import SQLiteStateStore
from .store import (
    IDEMPOTENCY_SECONDS,
    RUN_ID,
    Idempotency,
    OpenIntent,
    OverBudget,
    Reservation,
    StateStore,
    StateVersionError,
)

__all__ = [
    "IDEMPOTENCY_SECONDS",
    "RUN_ID",
    "STATE_FILE_NAME",
    "BudgetRule",
    "Idempotency",
    "Ledger",
    "OpenIntent",
    "OverBudget",
    "Period",
    "Refused",
    "Reservation",
    "SQLiteStateStore",
    "StateStore",
    "StateVersionError",
    "is_postgres",
    "ledger_of",
    "open_state_store",
    "state_errors",
    "state_store_of",
]

#: The file inside ``RAILS_STATE_DIR`` when no ``RAILS_STATE_URL`` is set.
STATE_FILE_NAME = "state.sqlite3"


def is_postgres(location: str | Path) -> TypeGuard[str]:
    """Whether a store location names a Postgres database (shared by replicas), not a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_state_store(location: str | Path, *, pool_size: int = 4) -> StateStore:
    """A new store: a ``postgresql://`` URL (up to ``pool_size`` connections), else a SQLite
    path (or ``":memory:"``)."""
    if is_postgres(location):
        from .postgres import PostgresStateStore  # psycopg is loaded only for Postgres

        return PostgresStateStore(location, pool_size=pool_size)
    return SQLiteStateStore(location)


def state_errors() -> tuple[type[Exception], ...]:
    """What a store's read or write may raise: a caller that can carry on without the store
    catches these (psycopg's only once Postgres is in use; it is never imported otherwise)."""
    errors: tuple[type[Exception], ...] = (OSError, sqlite3.Error)
    psycopg = sys.modules.get("psycopg")
    return (*errors, psycopg.Error) if psycopg is not None else errors


def state_store_of(settings: Settings) -> StateStore:
    """The deployment's state store, opened (and migrated) once per process."""
    location: str | Path = (
        settings.state_url.get_secret_value()
        if settings.state_url is not None
        else settings.resolved_state_dir().expanduser() / STATE_FILE_NAME
    )
    store = _STORES.get(location)
    if store is None:
        try:
            store = _STORES[location] = open_state_store(location, pool_size=settings.state_pool_size)
        except StateVersionError as exc:
            raise ConfigError(str(exc)) from None
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the state store {location} ({exc}); set RAILS_STATE_DIR to a writable place"
            ) from None
        except Exception as exc:  # psycopg's errors: the message never repeats the URL's password
            raise ConfigError(
                f"cannot open the state store named by RAILS_STATE_URL ({type(exc).__name__}); "
                "check the URL, that the database exists and that it accepts connections"
            ) from None
    return store


def ledger_of(settings: Settings) -> Ledger:
    """Budgets and idempotency keys for this deployment's tenant, on its state store."""
    parts = settings.budget_parts()
    return Ledger(
        state_store_of(settings),
        tenant=f"{settings.target}|{settings.tenant or ''}",
        budget=BudgetRule(parts[0], parts[2], parts[1]) if parts is not None else None,
        per_principal=settings.budget_scope == "principal",
    )


_STORES: dict[str | Path, StateStore] = {}
