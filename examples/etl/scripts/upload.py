"""upload_to_warehouse: load the joined orders into the SQLite warehouse, replacing it."""

import csv
import os
import sqlite3
import sys

USAGE = "usage: python3 scripts/upload.py JOINED.csv WAREHOUSE.db"
SCHEMA = """
CREATE TABLE orders (
    order_id    INTEGER PRIMARY KEY,
    order_date  TEXT NOT NULL,
    amount      REAL NOT NULL,
    status      TEXT NOT NULL,
    user_id     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    country     TEXT NOT NULL,
    signup_date TEXT NOT NULL
)
"""
COLUMNS = [
    "order_id",
    "order_date",
    "amount",
    "status",
    "user_id",
    "name",
    "email",
    "country",
    "signup_date",
]


def main(src, dst):
    with open(src, newline="", encoding="utf-8") as f:
        rows = [[row[col] for col in COLUMNS] for row in csv.DictReader(f)]

    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    # Build a fresh database beside dst and swap it in: the table is recreated on every
    # load, and readers of dst never see a half-loaded warehouse.
    tmp = dst + ".tmp"
    for leftover in (tmp, tmp + "-journal"):  # from a run that was killed mid-load
        if os.path.exists(leftover):
            os.remove(leftover)
    try:
        db = sqlite3.connect(tmp)
        try:
            with db:
                db.execute(SCHEMA)
                db.executemany(f"INSERT INTO orders VALUES ({', '.join('?' * len(COLUMNS))})", rows)
            (count,) = db.execute("SELECT count(*) FROM orders").fetchone()
        finally:
            db.close()
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    print(f"upload_to_warehouse: loaded {count} rows into {dst} (table orders)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(USAGE)
    main(*sys.argv[1:])
