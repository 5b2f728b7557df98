"""`python -m store upgrade | verify-audit | current`: the store's CLI, on DATABASE_URL unless --database-url."""

from __future__ import annotations

import argparse
import sys

from store.api import Store
from store.db import make_engine
from store.migrate import current_revision, head_revision, upgrade


def _database_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    # The CLI's composition root: settings are parsed in one place for the whole project.
    from runtime.settings import from_env

    return from_env().database_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m store", description=__doc__)
    parser.add_argument("--database-url", help="default: DATABASE_URL (see README, Configuration)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade", help="migrate the database to the newest schema (safe to repeat)")
    commands.add_parser("verify-audit", help="recompute the audit hash chain; exit 1 and name the first broken link")
    commands.add_parser("current", help="print the schema revision of the database")
    args = parser.parse_args(argv)

    engine = make_engine(_database_url(args.database_url))
    try:
        if args.command == "upgrade":
            upgrade(engine)
            print(f"store: schema at revision {current_revision(engine)}")
            return 0
        if args.command == "current":
            current, head = current_revision(engine), head_revision()
            print(f"store: schema at revision {current or '(none)'}, newest is {head}")
            return 0 if current == head else 1
        result = Store(engine).verify_chain()
        if result.ok:
            print(f"audit trail OK: {result.checked} entries verified")
            return 0
        print(
            f"audit trail BROKEN at entry {result.first_broken_id}: {result.reason}"
            f" ({result.checked} entries verified before it)",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
