"""clean_users: validate and normalise the raw users, dropping rows that cannot be fixed."""

import re
from collections import Counter
from datetime import datetime

from pipeline.files import read_csv, write_csv

HEADER = ["user_id", "name", "email", "country", "signup_date"]
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d")  # what the source system is known to emit
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def parse_date(text):
    """Return text as an ISO date (YYYY-MM-DD), or None if it is not a real date."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            pass
    return None


def clean_row(raw):
    """Return (row, None) for a usable row, or (None, reason) for one to drop."""
    row = {key: " ".join((value or "").split()) for key, value in raw.items()}
    if not row["user_id"].isdigit():
        return None, "bad user_id"
    row["email"] = row["email"].lower()
    if not EMAIL.fullmatch(row["email"]):
        return None, "bad email"
    row["signup_date"] = parse_date(row["signup_date"])
    if row["signup_date"] is None:
        return None, "bad signup_date"
    row["country"] = row["country"].upper()
    return row, None


def clean_users(inputs, outputs):
    # inputs[0] is the data; the rest are this module's own files, listed so edits rerun it.
    rows = read_csv(inputs[0])
    kept, seen, dropped = [], set(), Counter()
    for raw in rows:
        row, reason = clean_row(raw)
        if row is not None and row["user_id"] in seen:
            reason = "duplicate user_id"  # re-exported rows: the first one wins
        if reason:
            dropped[reason] += 1
            continue
        seen.add(row["user_id"])
        kept.append(row)
    write_csv(outputs[0], HEADER, kept)
    why = ", ".join(f"{n} {reason}" for reason, n in dropped.most_common())
    dropped_text = f"{len(rows) - len(kept)} dropped" + (f": {why}" if why else "")
    print(f"clean_users: kept {len(kept)} of {len(rows)} rows ({dropped_text})")
