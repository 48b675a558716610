"""The database-side guards of the ledger, as the current schema revision installs them.

One definition, used twice: the migration that installs the guards
(``migrations/versions/0001_ledger_initial.py``) executes these statements, and the checker
(``immutability-enforced``) compares what the database holds with them, text for text, so a
guard that was replaced by a look-alike (same name, no effect) is caught. A later revision that
changes a guard must first freeze a copy of the old text into the revision that installed it.

What the guards refuse, whatever client or code issues the statement:

both backends
    ``UPDATE`` and ``DELETE`` of every append-only table (and ``TRUNCATE`` on PostgreSQL).
SQLite
    ``INSERT OR REPLACE`` (and ``REPLACE``) over an existing row of an append-only table: the
    replace would delete the old row without firing its ``DELETE`` trigger. A ``BEFORE INSERT``
    trigger refuses any insert whose primary or unique key exists (``ABORT``; for accounts and
    grant events, whose inserts use ``ON CONFLICT DO NOTHING``, the new row is skipped with
    ``IGNORE``, which keeps the existing row just the same). Postings must also arrive in entry
    order: a posting for an entry older than the newest posted entry is refused, so postings
    cannot be added to an old entry. (The newest entry itself cannot be told apart from one
    still being written; extra postings on it are caught by the checker's ``entry-balances``
    and ``entry-unchanged``.)
PostgreSQL
    postings added to an entry of an earlier transaction: a statement-level trigger (one
    query per ``INSERT`` statement, over its transition table) refuses postings whose entry
    row was not created by the current transaction (its ``xmin`` is not
    ``pg_current_xact_id()``; the journal writes an entry and its postings in one transaction,
    and no savepoint in between). Whether a new entry balances is checked by the journal before
    it writes and by the checker afterwards, not at commit: a per-row deferred trigger would
    cost a query per posting.
"""

from __future__ import annotations

__all__ = [
    "IMMUTABLE_TABLES",
    "PG_FUNCTIONS",
    "pg_statements",
    "pg_triggers",
    "sqlite_triggers",
]

IMMUTABLE_TABLES = (
    "ledger_account",
    "ledger_entry",
    "ledger_posting",
    "ledger_grant",
    "ledger_grant_use_type",
    "ledger_grant_work",
)
"""Tables whose rows may be inserted, never updated or deleted (enforced by triggers)."""

_IMMUTABLE = "posted rows are immutable (post a reversal instead)"

# table -> (condition on NEW that means "this key exists already", RAISE action, what clashes)
_SQLITE_KEYS: dict[str, tuple[str, str, str]] = {
    "ledger_account": (
        "EXISTS (SELECT 1 FROM ledger_account WHERE id = NEW.id OR (party = NEW.party "
        "AND kind = NEW.kind AND currency = NEW.currency AND licence_id = NEW.licence_id))",
        "IGNORE",
        "",
    ),
    "ledger_entry": (
        "EXISTS (SELECT 1 FROM ledger_entry WHERE id = NEW.id "
        "OR idempotency_key = NEW.idempotency_key OR reverses_entry_id = NEW.reverses_entry_id)",
        "ABORT",
        "an entry with the same id, idempotency_key or reverses_entry_id exists",
    ),
    "ledger_posting": (
        "EXISTS (SELECT 1 FROM ledger_posting WHERE id = NEW.id) "
        "OR NEW.entry_id < (SELECT MAX(entry_id) FROM ledger_posting)",
        "ABORT",
        "a posting with the same id exists, or its entry is older than the newest posted one",
    ),
    "ledger_grant": (
        "EXISTS (SELECT 1 FROM ledger_grant WHERE id = NEW.id "
        "OR source_message_id = NEW.source_message_id)",
        "IGNORE",
        "",
    ),
    "ledger_grant_use_type": (
        "EXISTS (SELECT 1 FROM ledger_grant_use_type WHERE grant_id = NEW.grant_id "
        "AND use_type = NEW.use_type)",
        "ABORT",
        "the row exists",
    ),
    "ledger_grant_work": (
        "EXISTS (SELECT 1 FROM ledger_grant_work WHERE grant_id = NEW.grant_id "
        "AND work_id = NEW.work_id)",
        "ABORT",
        "the row exists",
    ),
}


def sqlite_triggers() -> dict[str, tuple[str, str]]:
    """``trigger name -> (table, CREATE TRIGGER statement)`` on SQLite."""
    triggers: dict[str, tuple[str, str]] = {}
    for name in IMMUTABLE_TABLES:
        for operation in ("UPDATE", "DELETE"):
            triggers[f"{name}_no_{operation.lower()}"] = (
                name,
                f"CREATE TRIGGER {name}_no_{operation.lower()} BEFORE {operation} ON {name} "
                f"BEGIN SELECT RAISE(ABORT, 'airex ledger: {operation} on {name} refused: "
                f"{_IMMUTABLE}'); END",
            )
        condition, action, clash = _SQLITE_KEYS[name]
        if action == "IGNORE":
            body = "SELECT RAISE(IGNORE);"
        else:
            body = (
                f"SELECT RAISE(ABORT, 'airex ledger: INSERT into {name} refused: {clash}; "
                f"{_IMMUTABLE}');"
            )
        triggers[f"{name}_no_replace"] = (
            name,
            f"CREATE TRIGGER {name}_no_replace BEFORE INSERT ON {name} WHEN {condition} "
            f"BEGIN {body} END",
        )
    return triggers


PG_FUNCTIONS: dict[str, str] = {
    "ledger_refuse_change": (
        "\nBEGIN\n"
        f"    RAISE EXCEPTION 'airex ledger: % on % refused: {_IMMUTABLE}', TG_OP, TG_TABLE_NAME "
        "USING ERRCODE = 'restrict_violation';\n"
        "END\n"
    ),
    "ledger_posting_whole_entries": (
        "\nDECLARE\n"
        "    bad bigint;\n"
        "BEGIN\n"
        "    SELECT e.id INTO bad\n"
        "        FROM (SELECT DISTINCT entry_id FROM ledger_new_postings) n\n"
        "        JOIN ledger_entry e ON e.id = n.entry_id\n"
        "        WHERE NOT (e.xmin = pg_current_xact_id()::xid)\n"
        "        LIMIT 1;\n"
        "    IF FOUND THEN\n"
        "        RAISE EXCEPTION 'airex ledger: entry % was posted by an earlier transaction: "
        "postings cannot be added to it', bad USING ERRCODE = 'restrict_violation';\n"
        "    END IF;\n"
        "    RETURN NULL;\n"
        "END\n"
    ),
}
"""``function name -> body`` (what ``pg_proc.prosrc`` holds) of the PL/pgSQL functions."""


def pg_triggers() -> dict[str, tuple[str, str]]:
    """``trigger name -> (table, definition)`` on PostgreSQL, in the form
    ``pg_get_triggerdef`` returns it (without schema qualification)."""
    triggers: dict[str, tuple[str, str]] = {}
    for name in IMMUTABLE_TABLES:
        triggers[f"{name}_immutable"] = (
            name,
            f"CREATE TRIGGER {name}_immutable BEFORE DELETE OR UPDATE ON {name} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
        )
        triggers[f"{name}_no_truncate"] = (
            name,
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
        )
    triggers["ledger_posting_whole_entries"] = (
        "ledger_posting",
        "CREATE TRIGGER ledger_posting_whole_entries AFTER INSERT ON ledger_posting "
        "REFERENCING NEW TABLE AS ledger_new_postings "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_posting_whole_entries()",
    )
    return triggers


def pg_statements() -> list[str]:
    """The statements that install every guard on PostgreSQL, in order."""
    statements = [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger\nLANGUAGE plpgsql AS $${body}$$"
        for name, body in PG_FUNCTIONS.items()
    ]
    return statements + [definition for _, definition in pg_triggers().values()]
