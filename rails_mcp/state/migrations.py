"""The state schema as numbered SQL steps, applied in order, each once, at open.

Why plain versioned SQL and not Alembic: the schema is five small tables owned by one module,
the same statements run on SQLite and Postgres (``DOUBLE PRECISION``, ``TEXT``, ``INTEGER`` and
``ON CONFLICT`` mean the same in both; a database-assigned key is the one exception, written
:data:`IDENTITY`), and every process applies what is missing itself when
it opens the store, under one lock, in one transaction. Alembic would add SQLAlchemy, a
migration environment and a separate ``upgrade`` command for operators to forget, to do the
same ``CREATE TABLE`` statements; a step here is data (a version and its statements), so a
test can apply them twice on both backends and see nothing change.

Rules for a new step: append it with the next number; never edit a released one; make it
safe on a database that already has it partly (``IF NOT EXISTS``), since a file created
before ``schema_version`` existed starts at version 0 with the first tables present. A store
gets every step it has not recorded, so a step numbered below one already applied (two branches
merged in the other order) is still applied.
"""

from __future__ import annotations

from typing import Final

__all__ = ["IDENTITY", "LATEST", "MIGRATIONS", "Migration"]

#: The one column the dialects spell differently, as it appears in a statement: a key the
#: database assigns in insertion order. Each store replaces it with its own ``identity_key``
#: (SQL's identity column; SQLite's rowid alias, ``INTEGER PRIMARY KEY``).
IDENTITY: Final = "{identity}"

#: (version, statements): one transaction applies the statements and records the version.
Migration = tuple[int, tuple[str, ...]]

MIGRATIONS: Final[tuple[Migration, ...]] = (
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS used_approvals (
                nonce TEXT PRIMARY KEY,
                expires_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS open_intents (
                id TEXT PRIMARY KEY,
                tool TEXT NOT NULL,
                opened_at DOUBLE PRECISION NOT NULL,
                owner_run TEXT NOT NULL,
                owner_pid INTEGER NOT NULL,
                line TEXT NOT NULL
            )""",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE IF NOT EXISTS approved_orders (
                procurement_id TEXT PRIMARY KEY,
                body TEXT NOT NULL,
                recorded_at DOUBLE PRECISION NOT NULL
            )""",
            # One row per budget scope (tenant, or tenant and principal) and window: the row a
            # reservation locks, and the currency the window counts in.
            """CREATE TABLE IF NOT EXISTS budget_windows (
                scope TEXT NOT NULL,
                window_start DOUBLE PRECISION NOT NULL,
                currency TEXT,
                PRIMARY KEY (scope, window_start)
            )""",
            # Amounts as decimal strings: exact in both dialects.
            """CREATE TABLE IF NOT EXISTS budget_reservations (
                id TEXT PRIMARY KEY,
                scope TEXT NOT NULL,
                window_start DOUBLE PRECISION NOT NULL,
                amount TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE INDEX IF NOT EXISTS budget_reservations_window
                ON budget_reservations (scope, window_start)""",
            """CREATE TABLE IF NOT EXISTS idempotency_keys (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                digest TEXT NOT NULL,
                state TEXT NOT NULL,
                result TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
        ),
    ),
    (
        3,
        (
            # The audit trail every replica writes to: ``line`` is the redacted JSON line the
            # audit file gets, the other columns are what an export filters on. ``seq`` breaks
            # ties between lines of one millisecond, in the order the database took them.
            f"""CREATE TABLE IF NOT EXISTS audit_log (
                seq {IDENTITY},
                at TEXT NOT NULL,
                at_epoch DOUBLE PRECISION NOT NULL,
                tool TEXT NOT NULL,
                kind TEXT NOT NULL,
                outcome TEXT NOT NULL,
                principal TEXT,
                tenant TEXT,
                line TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_epoch, seq)",
        ),
    ),
    (
        4,
        (
            # Each procurement's event history (rails_mcp.state.events_table): a trail row per
            # procurement, the row every write for it locks first, and its kept events in order.
            """CREATE TABLE IF NOT EXISTS procurement_trails (
                scope TEXT NOT NULL,
                procurement_id TEXT NOT NULL,
                next_seq INTEGER NOT NULL,
                dropped INTEGER NOT NULL,
                changed_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (scope, procurement_id)
            )""",
            """CREATE INDEX IF NOT EXISTS procurement_trails_changed
                ON procurement_trails (scope, changed_at, procurement_id)""",
            # event_id is the webhook's (NULL for the server's own writes, which never repeat):
            # unique per procurement, so a delivery two replicas both receive is one row.
            """CREATE TABLE IF NOT EXISTS procurement_events (
                scope TEXT NOT NULL,
                procurement_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                event_id TEXT,
                deliveries INTEGER NOT NULL,
                body TEXT NOT NULL,
                size INTEGER NOT NULL,
                recorded_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (scope, procurement_id, seq),
                UNIQUE (scope, procurement_id, event_id)
            )""",
        ),
    ),
)

#: The version a store is at once it is open.
LATEST: Final = MIGRATIONS[-1][0]
