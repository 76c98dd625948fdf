"""Extract a source-system export into data/raw: the columns we use, renamed, values verbatim."""

import csv
import os
import sys

USAGE = "usage: python3 scripts/extract.py {users|orders} EXPORT.csv OUT.csv"
# export column -> raw column; anything not listed (CRM notes, IPs, internal refs) is left behind
COLUMNS = {
    "users": {
        "Id": "user_id",
        "Full Name": "name",
        "Email Address": "email",
        "Country": "country",
        "Signed Up": "signup_date",
    },
    "orders": {
        "Order No": "order_id",
        "Customer Id": "user_id",
        "Order Date": "order_date",
        "Total (EUR)": "amount",
        "Status": "status",
    },
}


def main(table, src, dst):
    columns = COLUMNS[table]
    # utf-8-sig: the source system starts some exports with a byte-order mark
    with open(src, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = set(columns) - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"extract: {src} lacks column(s): {', '.join(sorted(missing))}")
        rows = [[row[col] for col in columns] for row in reader]

    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    tmp = dst + ".tmp"
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns.values())
            writer.writerows(rows)
        os.replace(tmp, dst)  # atomic: dst is either the old file or the complete new one
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    print(f"extract_{table}: {len(rows)} rows from {src}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in COLUMNS:
        sys.exit(USAGE)
    main(*sys.argv[1:])
