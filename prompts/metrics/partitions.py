"""Monthly partitions of the event table on PostgreSQL (elsewhere the table is plain and
retention deletes rows). A partition `metrics_callevent_pYYYYMM` holds [month start, next month
start) in UTC. Beat creates them ahead and drops whole ones past the retention window."""

import datetime as dt
import re

from django.db import connection, transaction

TABLE = "metrics_callevent"
NAME = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")
MONTHS_AHEAD = 2


def month_start(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(dt.UTC)
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)


def next_month(month: dt.datetime) -> dt.datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def partition_name(month: dt.datetime) -> str:
    return f"{TABLE}_p{month:%Y%m}"


def is_partitioned(using=connection) -> bool:
    return using.vendor == "postgresql"


def partitions_existing(using=connection) -> list[dt.datetime]:
    """The months that have a partition, oldest first."""
    with using.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
            " WHERE parent.relname = %s",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = []
    for name in names:
        match = NAME.match(name)
        if match:
            months.append(dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC))
    return sorted(months)


def partitions_create(*, start: dt.datetime, end: dt.datetime, using=connection) -> list[str]:
    """Create the missing partitions of every month from `start`'s to `end`'s (inclusive)."""
    existing = set(partitions_existing(using))
    created = []
    month = month_start(start)
    while month <= end:
        following = next_month(month)
        if month not in existing:
            with transaction.atomic(using=using.alias), using.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF {TABLE}"
                    f" FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
                )
            created.append(partition_name(month))
        month = following
    return created


def partitions_drop(*, before: dt.datetime, using=connection) -> list[str]:
    """Drop the partitions that end at or before `before` (every row in them is older)."""
    dropped = []
    for month in partitions_existing(using):
        if next_month(month) <= before:
            with using.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {partition_name(month)}")
            dropped.append(partition_name(month))
    return dropped
