"""clean_orders: validate and normalise the raw orders, dropping rows that cannot be fixed."""

import csv
import os
import sys
from collections import Counter
from datetime import datetime
from decimal import Decimal, InvalidOperation

USAGE = "usage: python3 scripts/clean_orders.py RAW_ORDERS.csv OUT.csv"
HEADER = ["order_id", "user_id", "order_date", "amount", "status"]
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d")  # what the source system is known to emit
STATUSES = {"paid", "shipped", "refunded", "cancelled"}


def parse_date(text):
    """Return text as an ISO date (YYYY-MM-DD), or None if it is not a real date."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            pass
    return None


def parse_amount(text):
    """Return a positive amount as "12.50", or None."""
    try:
        # some rows use a decimal comma ("12,50"); no export has thousands separators
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None
    return f"{amount:.2f}" if amount.is_finite() and amount > 0 else None


def clean_row(raw):
    """Return (row, None) for a usable row, or (None, reason) for one to drop."""
    row = {key: (value or "").strip() for key, value in raw.items()}
    if not row["order_id"].isdigit():
        return None, "bad order_id"
    if not row["user_id"].isdigit():
        return None, "bad user_id"
    row["order_date"] = parse_date(row["order_date"])
    if row["order_date"] is None:
        return None, "bad order_date"
    row["amount"] = parse_amount(row["amount"])
    if row["amount"] is None:
        return None, "bad amount"
    row["status"] = row["status"].lower()
    if row["status"] not in STATUSES:
        return None, "bad status"
    return row, None


def main(src, dst):
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kept, seen, dropped = [], set(), Counter()
    for raw in rows:
        row, reason = clean_row(raw)
        if row is not None and row["order_id"] in seen:
            reason = "duplicate order_id"  # re-exported rows: the first one wins
        if reason:
            dropped[reason] += 1
            continue
        seen.add(row["order_id"])
        kept.append(row)

    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    tmp = dst + ".tmp"
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, dst)  # atomic: dst is either the old file or the complete new one
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    why = ", ".join(f"{n} {reason}" for reason, n in dropped.most_common())
    dropped_text = f"{len(rows) - len(kept)} dropped" + (f": {why}" if why else "")
    print(f"clean_orders: kept {len(kept)} of {len(rows)} rows ({dropped_text})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(USAGE)
    main(*sys.argv[1:])
