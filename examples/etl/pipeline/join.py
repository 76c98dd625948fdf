"""join_data: attach each clean order to its user; orders for unknown users are dropped."""

from pipeline.files import read_csv, write_csv

HEADER = [
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


def main(inputs, outputs):
    # inputs[0] and inputs[1] are the data; the rest are module files, listed so edits rerun it.
    users = {user["user_id"]: user for user in read_csv(inputs[0])}
    orders = read_csv(inputs[1])
    joined = [{**user, **order} for order in orders if (user := users.get(order["user_id"]))]
    joined.sort(key=lambda row: int(row["order_id"]))
    write_csv(outputs[0], HEADER, joined)
    print(
        f"join_data: joined {len(joined)} of {len(orders)} orders "
        f"({len(orders) - len(joined)} for unknown users dropped)"
    )
