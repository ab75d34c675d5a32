#!/usr/bin/env python3
"""Batch-SQL baseline for vbp-watch: the six SPEC §6 alert sets with DuckDB.

What a provincial analyst would write instead of a streaming engine: load the
three NDJSON event files and the reference CSVs into DuckDB in one process,
validate and de-duplicate the events, and compute, for a single as-of instant
T, every alert of SPEC §6 with its severity. It exists to compare against
`vbp-watch replay --as-of T` for speed (events/s, MB/s) and for the answer
(the firing set must be the same).

    python bench/duckdb_baseline.py --reference DIR \\
        --events orders.ndjson deliveries.ndjson payments.ndjson \\
        --as-of 2026-02-01T00:00:00+08:00 [--firing-out FILE] [--threads N]

Prints one JSON object on stdout: `events` (lines read), `valid` (lines that
pass validation, duplicates included), `duplicates` (valid lines whose
event_id came before), `seconds` (wall time since process start, interpreter
and import included), `events_per_s` and `mb_per_s` (lines and bytes read per
wall second), `firing` (firing alerts counted by "AlertName/severity"), plus
the rejections by reason code and the sizes of the intermediate tables.
`--firing-out` writes one JSON object per firing alert: alertname, severity
and its key labels. `--verbose` prints stage timings on stderr.

Semantics follow SPEC §§2-6 and the engine's DataFusion rules
(detectors/src/rules/*.rs, tables in detectors/src/tables.rs):
- a line is rejected when it is larger than 64 KiB, not one JSON object
  (truncated, trailing text, not UTF-8, a repeated known key), of an unknown
  `type`, missing a required field, or has a bad value (a negative, zero or
  non-numeric quantity, money with more than 2 decimal places, a value beyond
  1e9, a non-boolean `special_service`, an `occurred_at` that is not RFC 3339
  with an explicit offset), or names an unknown institution or product;
- a repeated `event_id` keeps its first occurrence in event order;
- only events with occurred_at <= T count;
- events that refer to an order or delivery that never arrived (orphans) drop
  out through the joins, as do a second order.placed for the same order_id,
  a second delivery.received for the same delivery_id, a second acceptance,
  an acceptance of more packs than were received or for another order, and a
  payment by another institution than the one the delivery was made to.

Not reproduced (order-dependent checks of the engine's state, which a batch
query has no natural order for): over_cancel, a delivery of more packs than
are outstanding, over_payment, and the 7-day orphan timeout for an event that
arrives more than 7 days of event time before what it refers to. JSON numbers
(as opposed to decimal strings) go through DuckDB's JSON parser as doubles, so
a JSON number with more than 17 significant digits is not exact.

All thresholds are the SPEC defaults. Money and units stay DECIMAL; every
threshold comparison is cross-multiplied, as in the engine, so no division or
float rounding can move a value across a threshold.
"""

import time

_T0 = time.time()


def _process_start() -> float:
    """Wall-clock instant this process started (Linux), else the import time."""
    try:
        import os

        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of proc(5): starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _T0


_START = min(_process_start(), _T0)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

import duckdb  # noqa: E402

CST = timezone(timedelta(hours=8))

# SPEC §6 defaults (detectors/src/config.rs).
MIN_ELAPSED_DAYS = 30
SCHEDULE_CRITICAL = "0.5"
SCHEDULE_WARNING = "0.8"
NOT_ENTERED_AFTER_MONTHS = 2
SHARE_CRITICAL = "0.5"
SHARE_WARNING = "0.3"
SHARE_MIN_TOTAL_UNITS = "100"
DRUG_DEADLINE_HOURS = 48
CONSUMABLE_DEADLINE_HOURS = 48
UNDELIVERED_CRITICAL_WORKING_DAYS = 5
SUPPLY_BREAK_INSTITUTIONS = 3
PAYMENT_CRITICAL_DAYS = 30

# SPEC §4 limits (schemas/src/decode.rs, detectors/src/state/mod.rs).
MAX_MESSAGE_BYTES = 65_536
MAX_VALUE = "1000000000"

# Every field any event type uses, in the order json_extract returns them.
FIELDS = [
    "event_id", "type", "occurred_at", "order_id", "institution_code",
    "product_code", "quantity_packs", "unit_price", "special_service",
    "delivery_id", "distributor", "accepted_quantity_packs", "amount",
    "payment_id",
]
F = {name: i + 1 for i, name in enumerate(FIELDS)}  # 1-based list index

EVENT_TYPES = ["order.placed", "order.cancelled", "delivery.received",
               "delivery.accepted", "payment.made"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reference", required=True, help="directory of the reference CSVs")
    p.add_argument("--events", required=True, nargs="+", help="NDJSON event files")
    p.add_argument("--as-of", required=True, help="evaluation instant T, RFC 3339")
    p.add_argument("--firing-out", help="write the firing alerts here, one JSON object a line")
    p.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    p.add_argument("--verbose", action="store_true", help="stage timings on stderr")
    return p.parse_args(argv)


def parse_as_of(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        sys.exit("--as-of needs an explicit UTC offset, e.g. 2026-02-01T00:00:00+08:00")
    return t


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------------------
# Reference data (SPEC §3).

def load_reference(con, ref_dir: str) -> None:
    def csv(name, columns):
        path = os.path.join(ref_dir, name)
        if not os.path.exists(path):
            sys.exit(f"missing reference file {path}")
        cols = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
        return (f"read_csv({sql_str(path)}, header=true, auto_detect=false, "
                f"delim=',', quote='\"', columns={{{cols}}})")

    con.execute(f"""
        CREATE TABLE institutions AS
        SELECT trim(institution_code) AS institution_code, name, trim(division_code) AS division_code,
               left(trim(division_code), 4) || '00' AS city_code,
               left(trim(division_code), 2) || '0000' AS province_code
        FROM {csv('institutions.csv', dict(institution_code='VARCHAR', name='VARCHAR',
                                           division_code='VARCHAR', level='VARCHAR'))}""")
    con.execute(f"""
        CREATE TABLE products AS
        SELECT trim(product_code) AS product_code, enterprise, category,
               trim(group_id) AS group_id, nullif(trim(family_id), '') AS family_id,
               lower(trim(selected)) = 'true' AS selected,
               lower(trim(backup_supplier)) = 'true' AS backup_supplier,
               CAST(base_units_per_pack AS DECIMAL(18, 6)) AS bupp,
               CAST(nullif(trim(selected_price_per_base_unit), '') AS DECIMAL(18, 6)) AS selected_price
        FROM {csv('products.csv', dict(product_code='VARCHAR', generic_name='VARCHAR', dosage_form='VARCHAR',
                                       spec='VARCHAR', enterprise='VARCHAR', category='VARCHAR', batch='VARCHAR',
                                       group_id='VARCHAR', family_id='VARCHAR', selected='VARCHAR',
                                       backup_supplier='VARCHAR', base_units_per_pack='VARCHAR',
                                       selected_price_per_base_unit='VARCHAR'))}""")
    # A family belongs to the group of its products; the lowest selected price
    # per base unit of a group is over its selected products (SPEC 6.2).
    con.execute("""
        CREATE TABLE families AS
        SELECT family_id, min(group_id) AS group_id FROM products
        WHERE family_id IS NOT NULL GROUP BY family_id""")
    con.execute("""
        CREATE TABLE group_floor AS
        SELECT group_id, min(selected_price) AS lowest_selected_price
        FROM products WHERE selected AND selected_price IS NOT NULL GROUP BY group_id""")
    con.execute(f"""
        CREATE TABLE agreements AS
        SELECT trim(a.agreement_id) AS agreement_id, trim(a.institution_code) AS institution_code,
               trim(a.family_id) AS family_id, f.group_id,
               CAST(a.period_start AS DATE) AS period_start, CAST(a.period_end AS DATE) AS period_end,
               CAST(a.agreed_base_units AS DECIMAL(38, 6)) AS agreed_base_units
        FROM {csv('agreements.csv', dict(agreement_id='VARCHAR', institution_code='VARCHAR', family_id='VARCHAR',
                                         period_start='VARCHAR', period_end='VARCHAR',
                                         agreed_base_units='VARCHAR'))} a
        JOIN families f ON f.family_id = trim(a.family_id)""")
    con.execute(f"""
        CREATE TABLE calendar AS
        SELECT CAST(date AS DATE) AS date, trim(kind) AS kind
        FROM {csv('calendar.csv', dict(date='VARCHAR', kind='VARCHAR'))}""")
    con.execute(f"""
        CREATE TABLE exemptions AS
        SELECT trim(institution_code) AS institution_code, trim(group_id) AS group_id,
               CAST(valid_from AS DATE) AS valid_from, CAST(valid_to AS DATE) AS valid_to
        FROM {csv('exemptions.csv', dict(exemption_id='VARCHAR', institution_code='VARCHAR', group_id='VARCHAR',
                                         valid_from='VARCHAR', valid_to='VARCHAR', reason='VARCHAR'))}""")


# ---------------------------------------------------------------------------
# Events (SPEC §4): read, validate, type.

MACROS = r"""
-- The text of a JSON string token (json_extract returns tokens), NULL when
-- the token is not a string.
CREATE MACRO jstr(v) AS CASE
    WHEN NOT starts_with(v, '"') THEN NULL
    WHEN contains(v, '\') THEN json_extract_string(v, '$')
    ELSE substring(v, 2, length(v) - 2) END;
-- A required non-empty string.
CREATE MACRO jtext(v) AS nullif(jstr(v), '');
-- A string that only has to be there and not be empty (distributor, payment_id).
CREATE MACRO jpresent(v) AS CASE WHEN starts_with(v, '"') AND v <> '""' THEN true END;
-- A quantity: a string in plain notation ("12.5", no sign) or a JSON number;
-- NULL for anything else. A negative number stays negative so that the
-- caller's sign check refuses it.
CREATE MACRO jqty(v) AS CASE
    WHEN starts_with(v, '"') THEN CASE WHEN regexp_full_match(v, '"[0-9]+(\.[0-9]+)?"')
                                       THEN TRY_CAST(substring(v, 2, length(v) - 2) AS DECIMAL(38, 12)) END
    -- any other token is a JSON number (DuckDB's JSON syntax) or not a number at all
    ELSE TRY_CAST(v AS DECIMAL(38, 12)) END;
-- Money: as a quantity, with at most 2 decimal places of value (12.500 is
-- 12.50 yuan, 12.345 is refused), in yuan to the fen.
CREATE MACRO jmoney(v) AS CASE
    WHEN starts_with(v, '"') THEN CASE WHEN regexp_full_match(v, '"[0-9]+(\.[0-9]{1,2}0*)?"')
                                       THEN TRY_CAST(substring(v, 2, length(v) - 2) AS DECIMAL(18, 2)) END
    WHEN TRY_CAST(v AS DECIMAL(38, 12)) = round(TRY_CAST(v AS DECIMAL(38, 12)), 2)
    THEN TRY_CAST(v AS DECIMAL(18, 2)) END;
-- RFC 3339 with an explicit offset, as schemas/src/decode/timestamp.rs:
-- T or t, optional 1-9 fraction digits, Z/z or +-hh:mm but not -00:00; the
-- cast then refuses days that do not exist (2026-02-30).
CREATE MACRO jinstant(v) AS CASE
    WHEN regexp_full_match(v, '"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"')
         AND NOT ends_with(v, '-00:00"')
    THEN CAST(TRY_CAST(upper(substring(v, 2, length(v) - 2)) AS TIMESTAMPTZ) AS TIMESTAMP) END;
"""

# A known key written twice at the top level makes serde refuse the object
# (malformed_json). json_keys lists the top-level keys, repeats included; it
# is only called on the rare lines that have more colons than known keys
# besides the 2 or 3 of a valid occurred_at: a line with a repeated key
# always has (and one whose occurred_at is not valid is refused anyway).
KNOWN_KEYS = "[" + ", ".join(f"'{k}'" for k in FIELDS) + "]"
REPEATED_KEY_MACRO = f"""
CREATE MACRO known_keys(line) AS list_filter(json_keys(line), lambda k: list_contains({KNOWN_KEYS}, k));
CREATE MACRO repeated_known_key(line) AS len(known_keys(line)) > len(list_distinct(known_keys(line)));
"""


def load_events(con, files):
    """Creates `parsed`: one row per line read, typed, with `reason` NULL when valid."""
    con.execute(MACROS + REPEATED_KEY_MACRO)
    # In the engine's order of types (event order: occurred_at, type, event_id).
    con.execute(f"CREATE TYPE event_type AS ENUM ({', '.join(sql_str(t) for t in EVENT_TYPES)})")
    reads = []
    for n, path in enumerate(files):
        reads.append(
            f"SELECT {n} AS file_no, line FROM read_csv({sql_str(path)}, columns={{'line': 'VARCHAR'}}, "
            f"header=false, auto_detect=false, delim=chr(1), quote='', escape='', strict_mode=false, "
            f"max_line_size=16777216, ignore_errors=true, store_rejects=true)")
    paths = "[" + ", ".join(f"'$.{k}'" for k in FIELDS) + "]"

    def f(name):
        return f"j[{F[name]}]"

    # The fields each type requires, in the order the engine checks them
    # (SPEC §4): (JSON token, parsed value). The first that is absent or null
    # is a missing_field; the first whose value does not parse, a bad_value.
    required = {
        "order.placed": ["order_id", "institution_code", "product_code",
                         ("quantity_packs", "qty"), ("unit_price", "money"), ("special_service", "special")],
        "order.cancelled": ["order_id", ("quantity_packs", "qty")],
        "delivery.received": ["delivery_id", "order_id", ("quantity_packs", "qty"), "distributor"],
        "delivery.accepted": ["delivery_id", "order_id", ("accepted_quantity_packs", "qty"), ("amount", "money")],
        "payment.made": ["payment_id", "institution_code", "delivery_id", ("amount", "money")],
    }
    checks = []
    for etype, fields in required.items():
        for field in fields:
            token, value = field if isinstance(field, tuple) else (field, field)
            if token != "special_service":  # optional, false when absent
                checks.append(f"WHEN etype = '{etype}' AND ({f(token)} IS NULL OR {f(token)} = 'null') "
                              f"THEN 'missing_field'")
            checks.append(f"WHEN etype = '{etype}' AND {value} IS NULL THEN 'bad_value'")
    checks = "\n                    ".join(checks)

    con.execute(f"""
        CREATE TABLE parsed AS
        WITH lines AS (
            -- blank lines carry no event and are skipped, as the engine does
            SELECT * FROM ({' UNION ALL '.join(reads)})
            WHERE line IS NOT NULL
              AND CASE WHEN starts_with(line, '{{') THEN true
                       ELSE NOT regexp_full_match(line, '\\s*') END
        ),
        tokens AS (
            SELECT file_no,
                   strlen(line) > {MAX_MESSAGE_BYTES} AS too_large,
                   CASE WHEN strlen(line) <= {MAX_MESSAGE_BYTES} AND starts_with(ltrim(line), '{{')
                             AND json_valid(line)
                        THEN json_extract(line, {paths}) END AS j,
                   line
            FROM lines
        ),
        keyed AS (
            SELECT file_no, too_large, j,
                   CASE WHEN strlen(line) - strlen(replace(line, ':', ''))
                             - CASE WHEN ends_with(j[3], 'Z"') OR ends_with(j[3], 'z"') THEN 2 ELSE 3 END
                             > list_aggregate(j, 'count')
                        THEN repeated_known_key(line) ELSE false END AS repeated_key
            FROM tokens
        ),
        fields AS (
            SELECT file_no, too_large, j, repeated_key,
                   TRY_CAST(jstr({f('type')}) AS event_type) AS etype,
                   jtext({f('event_id')}) AS event_id,
                   jinstant({f('occurred_at')}) AS ts,
                   jtext({f('order_id')}) AS order_id,
                   jtext({f('institution_code')}) AS institution_code,
                   jtext({f('product_code')}) AS product_code,
                   jtext({f('delivery_id')}) AS delivery_id,
                   jpresent({f('distributor')}) AS distributor,
                   jpresent({f('payment_id')}) AS payment_id,
                   -- quantity_packs > 0, or accepted_quantity_packs >= 0
                   CASE WHEN {f('type')} = '"delivery.accepted"'
                        THEN jqty({f('accepted_quantity_packs')})
                        ELSE jqty({f('quantity_packs')}) END AS qty_raw,
                   -- unit_price >= 0 (order.placed), amount >= 0 / > 0
                   CASE WHEN {f('type')} = '"order.placed"' THEN jmoney({f('unit_price')})
                        ELSE jmoney({f('amount')}) END AS money_raw,
                   CASE WHEN {f('special_service')} IS NULL OR {f('special_service')} = 'null' THEN false
                        WHEN {f('special_service')} = 'true' THEN true
                        WHEN {f('special_service')} = 'false' THEN false END AS special
            FROM keyed
        ),
        checked AS (
            SELECT *,
                   CASE WHEN qty_raw > 0 OR (etype = 'delivery.accepted' AND qty_raw = 0)
                        THEN CASE WHEN qty_raw <= {MAX_VALUE} THEN qty_raw END END AS qty,
                   CASE WHEN money_raw > 0 OR (etype <> 'payment.made' AND money_raw = 0)
                        THEN CASE WHEN money_raw <= {MAX_VALUE} THEN money_raw END END AS money
            FROM fields
        )
        SELECT file_no, etype, event_id, ts, order_id, institution_code, product_code, delivery_id,
               qty, money, special,
               CASE WHEN too_large THEN 'too_large'
                    WHEN j IS NULL OR repeated_key THEN 'malformed_json'
                    WHEN {f('type')} IS NULL OR {f('type')} = 'null' THEN 'missing_field'
                    WHEN etype IS NULL THEN 'unknown_type'
                    WHEN {f('event_id')} IS NULL OR {f('event_id')} = 'null' THEN 'missing_field'
                    WHEN event_id IS NULL THEN 'bad_value'
                    WHEN {f('occurred_at')} IS NULL OR {f('occurred_at')} = 'null' THEN 'missing_field'
                    WHEN ts IS NULL THEN 'bad_value'
                    {checks}
               END AS reason
        FROM checked""")
    # Lines read_csv itself refused (not UTF-8): counted, and malformed.
    not_read = con.execute("SELECT count(*) FROM reject_errors").fetchall()[0][0]
    return not_read


# ---------------------------------------------------------------------------
# The pipeline from valid lines to the tables the detectors read.

def first_wins(rows_sql: str, key: str, order: str) -> str:
    """The rows of `rows_sql` whose `key` comes first in `order`.

    Repeated keys are rare, so they are found by a 64-bit hash of the key
    first and only their rows are ranked; the rest pass through unsorted.
    """
    return f"""
        WITH src AS MATERIALIZED ({rows_sql}),
        repeated AS (SELECT hash({key}) AS h FROM src GROUP BY h HAVING count(*) > 1)
        SELECT * FROM src WHERE hash({key}) NOT IN (SELECT h FROM repeated)
        UNION ALL
        (SELECT * FROM src WHERE hash({key}) IN (SELECT h FROM repeated)
         QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1)"""


def build_state(con, t_sql: str, today: str) -> dict:
    # Unknown institution / product codes (SPEC §4): rejected after decoding.
    con.execute("""
        UPDATE parsed SET reason = 'unknown_institution'
        WHERE reason IS NULL AND etype IN ('order.placed', 'payment.made')
          AND institution_code NOT IN (SELECT institution_code FROM institutions)""")
    con.execute("""
        UPDATE parsed SET reason = 'unknown_product'
        WHERE reason IS NULL AND etype = 'order.placed'
          AND product_code NOT IN (SELECT product_code FROM products)""")

    # De-duplicate by event_id among the events up to T: the first in event
    # order (occurred_at, type, then position in the input, as the engine's
    # stable sort) wins; `dropped` holds the row ids of the others.
    con.execute(f"""
        CREATE TABLE dropped AS
        WITH repeated AS (
            SELECT hash(event_id) AS h FROM parsed WHERE reason IS NULL AND ts <= {t_sql}
            GROUP BY h HAVING count(*) > 1
        )
        SELECT rid FROM (
            SELECT rowid AS rid,
                   row_number() OVER (PARTITION BY event_id
                                      ORDER BY ts, etype, file_no, rowid) AS rn
            FROM parsed
            WHERE reason IS NULL AND ts <= {t_sql} AND hash(event_id) IN (SELECT h FROM repeated))
        WHERE rn > 1""")
    con.execute(f"""
        CREATE VIEW events AS
        SELECT *, CAST(ts + INTERVAL 8 HOUR AS DATE) AS local_date FROM parsed
        WHERE reason IS NULL AND ts <= {t_sql} AND rowid NOT IN (SELECT rid FROM dropped)""")

    # order.placed; a second event placing the same order_id is refused
    # (first in the engine's event order: occurred_at, then event_id).
    placed = """
        SELECT order_id, institution_code, product_code, ts AS placed_at, local_date AS placed_on,
               qty AS packs, money AS unit_price, special, event_id
        FROM events WHERE etype = 'order.placed'"""
    con.execute(f"CREATE TABLE orders AS {first_wins(placed, 'order_id', 'placed_at, event_id')}")
    # delivery.received; a second one of the same delivery_id is refused.
    # One whose order never came (an orphan) joins nothing further on.
    received = """
        SELECT delivery_id, order_id, qty AS packs, ts, event_id
        FROM events WHERE etype = 'delivery.received'"""
    con.execute(f"CREATE TABLE receipts AS {first_wins(received, 'delivery_id', 'ts, event_id')}")
    con.execute("""
        CREATE TABLE cancels AS
        SELECT order_id, sum(qty) AS packs FROM events WHERE etype = 'order.cancelled' GROUP BY order_id""")

    # Order lines with the product's attributes, their net base units
    # (packs - cancelled) x base_units_per_pack for 6.1-6.2 and their
    # outstanding packs (ordered - cancelled - received) for 6.3. Orders for
    # special (特需) services count nowhere in 6.1-6.3, so they are left out.
    con.execute("""
        CREATE TABLE order_lines AS
        WITH delivered AS (SELECT order_id, sum(packs) AS packs FROM receipts GROUP BY order_id)
        SELECT o.institution_code, o.product_code, o.placed_at, o.placed_on, o.unit_price,
               p.group_id, p.family_id, p.selected, p.backup_supplier, p.bupp, p.category,
               (o.packs - coalesce(c.packs, 0)) * p.bupp AS units,
               o.packs - coalesce(c.packs, 0) - coalesce(d.packs, 0) AS outstanding_packs
        FROM orders o
        JOIN products p USING (product_code)
        LEFT JOIN cancels c USING (order_id)
        LEFT JOIN delivered d USING (order_id)
        WHERE NOT o.special""")

    # delivery.accepted of a received delivery of the same order, for at
    # most the packs received; the first acceptance wins. Only deliveries
    # whose 次月底 has passed by date(T) can be overdue (SPEC 6.4), so only
    # those are kept: overdue from the 1st of the second month after
    # acceptance.
    accepted = f"""
        SELECT e.delivery_id, o.institution_code, e.local_date AS accepted_on, e.money AS amount,
               CAST(date_trunc('month', e.local_date) + INTERVAL 2 MONTH AS DATE) AS overdue_from,
               e.ts, e.event_id
        FROM events e
        JOIN receipts r ON r.delivery_id = e.delivery_id AND r.order_id = e.order_id
        JOIN orders o ON o.order_id = r.order_id
        WHERE e.etype = 'delivery.accepted' AND e.qty <= r.packs
          AND CAST(date_trunc('month', e.local_date) + INTERVAL 2 MONTH AS DATE) <= DATE {today}"""
    con.execute(f"CREATE TABLE payable AS {first_wins(accepted, 'delivery_id', 'ts, event_id')}")
    # payment.made for such a delivery, by the institution it was made to.
    con.execute("""
        CREATE TABLE paid AS
        SELECT e.delivery_id, sum(e.money) AS paid
        FROM events e JOIN payable a ON a.delivery_id = e.delivery_id AND a.institution_code = e.institution_code
        WHERE e.etype = 'payment.made' GROUP BY e.delivery_id""")
    return {name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            for name in ("orders", "receipts", "cancels", "payable", "paid")}


# ---------------------------------------------------------------------------
# The six detectors of SPEC §6, each one SQL query returning
# (alertname, severity, key labels as a JSON-able struct).

def detectors(today: str, t_sql: str) -> dict:
    d = {}

    # SPEC 6.1 — SelectedProductNotEntered and ProcurementBehindSchedule
    # (rules/schedule.rs). Active agreements on date(T); purchased = net units
    # of the institution's non-special orders for the family placed within
    # the period; not entered when nothing was bought by period_start + 2
    # months (clamped); else from 30 elapsed days progress < 0.5 / 0.8 x
    # schedule, cross-multiplied: purchased x total < r x agreed x elapsed.
    d["schedule"] = f"""
        WITH active AS (
            SELECT rowid AS agreement_no, agreement_id, institution_code, family_id,
                   period_start, period_end, agreed_base_units,
                   DATE {today} - period_start + 1 AS elapsed_days,
                   period_end - period_start + 1 AS total_days,
                   CAST(period_start + INTERVAL {NOT_ENTERED_AFTER_MONTHS} MONTH AS DATE) AS not_entered_from
            FROM agreements WHERE period_start <= DATE {today} AND DATE {today} <= period_end
        ),
        purchased AS (
            SELECT a.agreement_no, sum(l.units) AS units
            FROM order_lines l
            JOIN active a ON a.institution_code = l.institution_code AND a.family_id = l.family_id
            WHERE l.placed_on BETWEEN a.period_start AND a.period_end
            GROUP BY a.agreement_no
        ),
        progress AS (
            SELECT a.*, CAST(coalesce(p.units, 0) AS DECIMAL(38, 6)) AS purchased
            FROM active a LEFT JOIN purchased p USING (agreement_no)
        ),
        judged AS (
            SELECT *, CASE
                WHEN purchased = 0 AND DATE {today} >= not_entered_from THEN 'not_entered'
                WHEN elapsed_days >= {MIN_ELAPSED_DAYS}
                     AND purchased * total_days < {SCHEDULE_CRITICAL} * agreed_base_units * elapsed_days THEN 'critical'
                WHEN elapsed_days >= {MIN_ELAPSED_DAYS}
                     AND purchased * total_days < {SCHEDULE_WARNING} * agreed_base_units * elapsed_days THEN 'warning'
            END AS verdict
            FROM progress
        )
        SELECT CASE verdict WHEN 'not_entered' THEN 'SelectedProductNotEntered' ELSE 'ProcurementBehindSchedule' END,
               CASE verdict WHEN 'not_entered' THEN 'critical' ELSE verdict END,
               {{'institution_code': institution_code, 'family_id': family_id, 'agreement_id': agreement_id}}
        FROM judged WHERE verdict IS NOT NULL"""

    # SPEC 6.2 — NonSelectedShareHigh (rules/non_selected.rs, state/purchases.rs).
    # Window per institution x group from the earliest period_start of its
    # active agreements in the group to T. Non-selected units leave out
    # backup suppliers, orders no dearer per base unit than the group's
    # lowest selected price (unit_price <= lowest x base_units_per_pack),
    # and orders placed on a day an exemption of the institution for the
    # group covers. share > 0.5 critical, > 0.3 warning, total >= 100 units.
    d["non_selected"] = f"""
        WITH windows AS (
            SELECT institution_code, group_id, min(period_start) AS window_start
            FROM agreements WHERE period_start <= DATE {today} AND DATE {today} <= period_end
            GROUP BY ALL
        ),
        exempt_days AS (
            SELECT DISTINCT institution_code, group_id, CAST(unnest(generate_series(valid_from, valid_to,
                   INTERVAL 1 DAY)) AS DATE) AS day
            FROM exemptions
        ),
        shares AS (
            SELECT l.institution_code, l.group_id,
                   sum(l.units) FILTER (WHERE l.selected) AS selected_units,
                   sum(l.units) FILTER (
                       WHERE NOT l.selected AND NOT l.backup_supplier
                         AND (g.lowest_selected_price IS NULL OR l.unit_price > g.lowest_selected_price * l.bupp)
                         AND x.day IS NULL) AS non_selected_units
            FROM order_lines l
            JOIN windows w ON w.institution_code = l.institution_code AND w.group_id = l.group_id
            LEFT JOIN group_floor g ON g.group_id = l.group_id
            LEFT JOIN exempt_days x ON x.institution_code = l.institution_code AND x.group_id = l.group_id
                                   AND x.day = l.placed_on
            WHERE l.placed_on >= w.window_start
            GROUP BY l.institution_code, l.group_id
        ),
        totals AS (
            SELECT institution_code, group_id, coalesce(non_selected_units, 0) AS non_selected,
                   coalesce(selected_units, 0) + coalesce(non_selected_units, 0) AS total
            FROM shares
        )
        SELECT 'NonSelectedShareHigh',
               CASE WHEN non_selected > {SHARE_CRITICAL} * total THEN 'critical' ELSE 'warning' END,
               {{'institution_code': institution_code, 'group_id': group_id}}
        FROM totals
        WHERE total >= {SHARE_MIN_TOTAL_UNITS} AND non_selected > {SHARE_WARNING} * total"""

    # SPEC 6.3 — overdue order lines, shared by the next two detectors
    # (tables.rs open_order_lines): non-special lines with packs outstanding
    # (ordered - cancelled - received) whose deadline (order + 48 h) < T.
    overdue = f"""
        overdue AS (
            SELECT l.institution_code, i.city_code, l.product_code, l.outstanding_packs,
                   l.placed_at + CASE l.category WHEN 'consumable' THEN INTERVAL {CONSUMABLE_DEADLINE_HOURS} HOUR
                                                 ELSE INTERVAL {DRUG_DEADLINE_HOURS} HOUR END AS deadline
            FROM order_lines l JOIN institutions i USING (institution_code)
            WHERE l.outstanding_packs > 0
        ),
        late AS (SELECT * FROM overdue WHERE deadline < {t_sql})"""

    # SPEC 6.3 — OrderUndelivered per institution x product: critical when the
    # oldest overdue deadline's date is 5 or more working days before date(T),
    # counted as working days d with date(deadline) < d <= date(T); a working
    # day is Mon-Fri not listed as holiday, or a date listed as workday.
    d["undelivered"] = f"""
        WITH {overdue},
        per_product AS (
            SELECT institution_code, product_code,
                   CAST(min(deadline) + INTERVAL 8 HOUR AS DATE) AS oldest_deadline_date
            FROM late GROUP BY ALL
        ),
        days AS (
            SELECT CAST(d AS DATE) AS d,
                   CASE WHEN c.kind = 'workday' THEN true WHEN c.kind = 'holiday' THEN false
                        ELSE isodow(d) <= 5 END AS working
            FROM generate_series((SELECT min(oldest_deadline_date) FROM per_product), DATE {today},
                                 INTERVAL 1 DAY) s(d)
            LEFT JOIN calendar c ON c.date = CAST(s.d AS DATE)
        )
        SELECT 'OrderUndelivered',
               CASE WHEN (SELECT count(*) FROM days WHERE working AND d > p.oldest_deadline_date)
                         >= {UNDELIVERED_CRITICAL_WORKING_DAYS} THEN 'critical' ELSE 'warning' END,
               {{'institution_code': institution_code, 'product_code': product_code}}
        FROM per_product p"""

    # SPEC 6.3 — SupplyBreak per city x product: 3 or more distinct
    # institutions of the city with an overdue line for the product.
    d["supply_break"] = f"""
        WITH {overdue}
        SELECT 'SupplyBreak', 'critical', {{'city_code': city_code, 'product_code': product_code}}
        FROM late GROUP BY city_code, product_code
        HAVING count(DISTINCT institution_code) >= {SUPPLY_BREAK_INSTITUTIONS}"""

    # SPEC 6.4 — PaymentOverdue per institution (rules/payment.rs). An accepted
    # delivery owes amount - payments; its deadline is the end of the month
    # after the month of acceptance (次月底), overdue from the 1st of the month
    # after that. Critical when the oldest is overdue >= 30 days.
    d["payment"] = f"""
        WITH owed AS (
            SELECT a.institution_code, a.overdue_from, a.amount - coalesce(p.paid, 0) AS outstanding
            FROM payable a LEFT JOIN paid p USING (delivery_id)
        )
        SELECT 'PaymentOverdue',
               CASE WHEN DATE {today} - min(overdue_from) >= {PAYMENT_CRITICAL_DAYS} THEN 'critical' ELSE 'warning' END,
               {{'institution_code': institution_code}}
        FROM owed WHERE outstanding > 0
        GROUP BY institution_code"""
    return d


def main(argv=None) -> int:
    args = parse_args(argv)

    def log(what: str) -> None:
        """Stage timings on stderr with --verbose."""
        if args.verbose:
            print(f"{time.time() - _START:8.2f} s  {what}", file=sys.stderr, flush=True)

    t = parse_as_of(args.as_of)
    t_utc = t.astimezone(timezone.utc).replace(tzinfo=None)
    t_sql = f"TIMESTAMP '{t_utc.isoformat(sep=' ')}'"  # instants are naive UTC in this script
    today = "'" + t.astimezone(CST).date().isoformat() + "'"
    for path in args.events:
        if not os.path.exists(path):
            sys.exit(f"missing event file {path}")

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")

    load_reference(con, args.reference)
    log("reference loaded")
    not_read = load_events(con, args.events)
    log("events read and validated")
    state = build_state(con, t_sql, today)
    log("state built")
    counts = dict(con.execute("SELECT coalesce(reason, 'valid'), count(*) FROM parsed GROUP BY ALL").fetchall())
    after_as_of = con.execute(f"SELECT count(*) FROM parsed WHERE reason IS NULL AND ts > {t_sql}").fetchall()[0][0]
    duplicates = con.execute("SELECT count(*) FROM dropped").fetchall()[0][0]

    firing = []
    for rule, sql in detectors(today, t_sql).items():
        for name, severity, key in con.execute(sql).fetchall():
            firing.append({"alertname": name, "severity": severity, "labels": key})
        log(f"detector {rule}")
    firing.sort(key=lambda a: (a["alertname"], a["severity"], sorted(a["labels"].items())))

    lines_read = sum(counts.values()) + not_read
    valid = counts.get("valid", 0)
    seconds = time.time() - _START
    size = sum(os.path.getsize(p) for p in args.events)
    rejected = {k: v for k, v in counts.items() if k != "valid"}
    if not_read:
        rejected["malformed_json"] = rejected.get("malformed_json", 0) + not_read
    by_severity = {}
    for a in firing:
        k = f"{a['alertname']}/{a['severity']}"
        by_severity[k] = by_severity.get(k, 0) + 1
    summary = {
        "events": lines_read,
        "valid": valid,
        "duplicates": duplicates,
        "after_as_of": after_as_of,
        "rejected": dict(sorted(rejected.items())),
        "state_rows": state,
        "seconds": round(seconds, 2),
        "events_per_s": round(lines_read / seconds),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "firing_total": len(firing),
        "firing": dict(sorted(by_severity.items())),
    }
    if args.firing_out:
        with open(args.firing_out, "w") as out:
            for a in firing:
                out.write(json.dumps(a, ensure_ascii=False, sort_keys=True) + "\n")
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
