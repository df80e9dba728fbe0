#!/usr/bin/env python3
"""The PostgreSQL floor's SQL (deploy/bench/pg-floor.sh): setup and one pgbench script per service.

    pg_floor.py --batch K --out DIR

Writes DIR/<service>-setup.sql (the services' real tables, final PostgreSQL DDL of
Shared/Messaging/MessagingSchema.swift and Services/*/Service/*Schema.swift, plus seeds),
DIR/<service>.pgbench (one pgbench transaction = the minimal SQL of K orders in that service, as
the runtime batches it) and DIR/counts.json (per service and batch: database transactions and
statements, BEGIN and COMMIT included as pg_stat_statements counts them; the id-generating helper
SELECT, marked pgfloor_gen, is not counted).

The floor is the best case of the runtime's design: one consumer transaction per K orders' worth
of events, every per-order statement of the handlers replaced by one set-based multi-row
statement, no reads before writes except the ones the runtime needs for its locks, and pipelining
wherever no result is needed before the next statement (pgbench cannot pipeline a statement
whose result it keeps, hence the outbox inserts and the id SELECT are round trips of their own).
"""
import argparse
import json
import os
import sys

PARTITIONS = 12          # TopicCatalog.defaultPartitions
SKUS = 10                # stocked SKUs of deploy/seed.json (SCARCE-01 is never ordered here)
CUSTOMERS = 20           # paying customers
LINES = 2                # lines per order (the load generator draws 1...3)
MAX_ARGS = 255           # pgbench: at most 255 variables per SQL command

MESSAGING_DDL = """
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic TEXT NOT NULL,
    key BYTEA,
    headers BYTEA NOT NULL,
    payload BYTEA,
    created_at_us BIGINT NOT NULL
);
CREATE TABLE outbox_sequences (
    topic TEXT NOT NULL,
    order_id TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
    PRIMARY KEY (topic, order_id)
);
CREATE TABLE inbox (
    consumer_group TEXT NOT NULL,
    event_id BYTEA NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (consumer_group, event_id)
);
CREATE INDEX inbox_received_at ON inbox (received_at_ms);
CREATE TABLE consumer_offsets (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    last_offset BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition_id)
);
CREATE TABLE outbox_relay_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
ALTER TABLE outbox_sequences ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_sequences_updated_at ON outbox_sequences (updated_at_ms);
INSERT INTO outbox_relay_lease (name, holder, epoch, expires_at_ms) VALUES ('outbox-relay', 'pgfloor', 1, 9223372036854775807);
-- Time-ordered event ids (EventIdentifier .timeOrdered: 48-bit ms, then random), as the inbox receives them.
CREATE FUNCTION pgfloor_event_id() RETURNS bytea LANGUAGE sql VOLATILE AS $$
    SELECT overlay(uuid_send(gen_random_uuid())
                   PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3 FOR 6) FROM 1 FOR 6)
$$;
"""

SERVICE_DDL = {
    "order": """
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    lines TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    placed_at_ms BIGINT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    cancel_reason TEXT,
    payment_failure INTEGER,
    payment_id TEXT,
    detail TEXT NOT NULL DEFAULT '',
    closed_at_ms BIGINT
);
CREATE INDEX orders_status_deadline ON orders (status, deadline_ms);
CREATE TABLE order_events (
    order_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    event_type TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (order_id, event_id)
);
ALTER TABLE orders ADD COLUMN correlation_id TEXT;
ALTER TABLE orders ADD COLUMN traceparent TEXT;
CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at_ms);
CREATE INDEX orders_customer ON orders (customer_id, order_id);
""",
    "inventory": """
CREATE TABLE stock (
    sku TEXT PRIMARY KEY,
    initial BIGINT NOT NULL,
    available BIGINT NOT NULL CHECK (available >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0),
    sold BIGINT NOT NULL CHECK (sold >= 0)
);
CREATE TABLE reservations (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    state TEXT NOT NULL,
    lines TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
INSERT INTO stock (sku, initial, available, reserved, sold)
SELECT 'SKU-' || lpad(n::text, 4, '0'), 1000000000000, 1000000000000, 0, 0 FROM generate_series(1, %(skus)d) n;
INSERT INTO stock (sku, initial, available, reserved, sold) VALUES ('SCARCE-01', 0, 0, 0, 0);
""" % {"skus": SKUS},
    "payment": """
CREATE TABLE accounts (
    customer_id TEXT PRIMARY KEY,
    currency TEXT NOT NULL,
    initial_balance BIGINT NOT NULL,
    balance BIGINT NOT NULL CHECK (balance >= 0),
    blocked INTEGER NOT NULL
);
CREATE TABLE payments (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    state TEXT NOT NULL,
    amount_minor BIGINT,
    currency TEXT,
    payment_id TEXT,
    refund_id TEXT,
    failure_reason INTEGER,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX payments_customer ON payments (customer_id, order_id);
INSERT INTO accounts (customer_id, currency, initial_balance, balance, blocked)
SELECT 'C-' || lpad(n::text, 5, '0'), 'EUR', 1000000000000000, 1000000000000000, 0 FROM generate_series(1, %(customers)d) n;
""" % {"customers": CUSTOMERS},
    "notification": """
CREATE TABLE notifications (
    notification_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    sent_at_ms BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at_ms BIGINT NOT NULL,
    UNIQUE (order_id, kind)
);
CREATE INDEX notifications_state_created ON notifications (state, created_at_ms);
ALTER TABLE notifications ADD COLUMN cause_event_id TEXT;
ALTER TABLE notifications ADD COLUMN correlation_id TEXT;
ALTER TABLE notifications ADD COLUMN traceparent TEXT;
CREATE INDEX notifications_customer ON notifications (customer_id, notification_id);
""",
}

# Consumed topics per service (TopicCatalog readers) and events per K orders on each topic:
# orders.v1 carries OrderPlaced and OrderConfirmed, inventory.v1 StockReserved, payments.v1 PaymentCharged.
CONSUMED = {
    "order": [("inventory.v1", 1), ("payments.v1", 1)],
    "inventory": [("orders.v1", 2), ("payments.v1", 1)],
    "payment": [("orders.v1", 2), ("inventory.v1", 1)],
    "notification": [("orders.v1", 2)],
}
EMITS = {"order": "orders.v1", "inventory": "inventory.v1", "payment": "payments.v1", "notification": "notifications.v1"}
GROUP = {s: f"{s}-service" for s in CONSUMED}


def distinct_partitions(events):
    """Expected distinct partitions among `events` records spread over PARTITIONS by key."""
    return max(1, round(PARTITIONS * (1 - (1 - 1 / PARTITIONS) ** events)))


class Script:
    def __init__(self, service, k):
        self.service, self.k = service, k
        self.lines = [f"-- pgfloor: {service}, one batch of {k} orders (generated by deploy/bench/pg_floor.py)"]
        self.statements = 0
        self.transactions = 0
        self.widest = 0

    def meta(self, text):
        self.lines.append(text)

    def sql(self, text, counted=True, gset=None):
        text = " ".join(text.split())
        args = text.count(":") - 2 * text.count("::")
        self.widest = max(self.widest, args)
        if args > MAX_ARGS:
            sys.exit(f"pg_floor: --batch {self.k} is too large for pgbench ({args} variables in one {self.service} statement, at most {MAX_ARGS})")
        if counted:
            self.statements += 1
            if text.startswith("BEGIN"):
                self.transactions += 1
        self.lines.append(text + (f" \\gset {gset}".rstrip() if gset is not None else ";"))

    def text(self):
        return "\n".join(self.lines) + "\n"


def gen(script, columns):
    """One SELECT producing this batch's ids and timestamps into variables (not counted: a pgbench helper)."""
    cols = ", ".join(f"{expr} AS {name}" for name, expr in columns)
    script.sql(f"SELECT 'pgfloor_gen' AS pgfloor_gen, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms, "
               f"(extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now_us, {cols}", counted=False, gset="")


def draw_lines(script, k):
    """Two distinct SKUs per order with quantities 1...3, and the order's total."""
    for i in range(1, k + 1):
        script.meta(f"\\set s{i}_1 random(1, {SKUS})")
        script.meta(f"\\set s{i}_2 1 + (:s{i}_1 + random(0, {SKUS - 2})) % {SKUS}")
        script.meta(f"\\set q{i}_1 random(1, 3)")
        script.meta(f"\\set q{i}_2 random(1, 3)")
        script.meta(f"\\set total{i} (500 + 250 * :s{i}_1) * :q{i}_1 + (500 + 250 * :s{i}_2) * :q{i}_2")


def lines_json(i):
    return (f"format('[{{\"quantity\":%s,\"sku\":\"SKU-%s\"}},{{\"quantity\":%s,\"sku\":\"SKU-%s\"}}]', "
            f":q{i}_1::int, lpad(:s{i}_1::text, 4, '0'), :q{i}_2::int, lpad(:s{i}_2::text, 4, '0'))")


def customer():
    return f"'C-' || lpad((1 + floor(random() * {CUSTOMERS}))::int::text, 5, '0')"


UUID = "gen_random_uuid()::text"
EVENT_ID = "pgfloor_event_id()"


def partitions(script, service, k):
    """Per-client partition numbers (so clients are separate consumers, never fenced by each other)."""
    rows = []
    for topic, per_order in CONSUMED[service]:
        for p in range(distinct_partitions(per_order * k)):
            rows.append((topic, p))
    for p in sorted({p for _, p in rows}):
        script.meta(f"\\set part{p} :client_id * {PARTITIONS} + {p}")
    return rows


def offsets_lock(script, service, rows):
    values = ", ".join(f"('{GROUP[service]}', '{t}', :part{p}, -1, :now_ms)" for t, p in rows)
    script.sql(f"""INSERT INTO consumer_offsets (consumer_group, topic, partition_id, last_offset, updated_at_ms) VALUES {values}
        ON CONFLICT (consumer_group, topic, partition_id) DO UPDATE SET last_offset = consumer_offsets.last_offset
        RETURNING topic, partition_id, last_offset""")


def offsets_store(script, service, rows):
    values = ", ".join(f"('{GROUP[service]}', '{t}', :part{p}, :now_us, :now_ms)" for t, p in rows)
    script.sql(f"""INSERT INTO consumer_offsets (consumer_group, topic, partition_id, last_offset, updated_at_ms) VALUES {values}
        ON CONFLICT (consumer_group, topic, partition_id) DO UPDATE
        SET last_offset = excluded.last_offset, updated_at_ms = excluded.updated_at_ms
        WHERE consumer_offsets.last_offset < excluded.last_offset""")


def inbox(script, service, ids):
    values = ", ".join(f"('{GROUP[service]}', :{v}, :now_ms)" for v in ids)
    script.sql(f"INSERT INTO inbox (consumer_group, event_id, received_at_ms) VALUES {values} "
               "ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING event_id")


def sequences_lock(script, service, k):
    values = ", ".join(f"('{EMITS[service]}', :o{i}, 0, :now_ms)" for i in range(1, k + 1))
    script.sql(f"""INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms) VALUES {values}
        ON CONFLICT (topic, order_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence
        RETURNING order_id, last_sequence""")


def sequences_store(script, service, k, last):
    values = ", ".join(f"('{EMITS[service]}', :o{i}, {last}, :now_ms)" for i in range(1, k + 1))
    script.sql(f"""INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms) VALUES {values}
        ON CONFLICT (topic, order_id) DO UPDATE SET last_sequence = excluded.last_sequence, updated_at_ms = excluded.updated_at_ms""")


def outbox_many(script, service, k, prefix):
    """The flush: K rows in one INSERT ... RETURNING id (wrapped so that pgbench keeps the ids for the relay)."""
    values = ", ".join(f"('{EMITS[service]}', :o{i}, :headers, :payload, :now_us)" for i in range(1, k + 1))
    picks = ", ".join(f"a[{i}] AS id{i}" for i in range(1, k + 1))
    script.sql(f"""WITH r AS (INSERT INTO outbox (topic, key, headers, payload, created_at_us) VALUES {values} RETURNING id)
        SELECT {picks} FROM (SELECT array_agg(id ORDER BY id) AS a FROM r) s""", gset=prefix)
    return [f"{prefix}id{i}" for i in range(1, k + 1)]


def relay(script, ids):
    """A scan of the oldest rows in id order (a read-only transaction), then the fenced delete of the acknowledged ones."""
    script.meta("\\startpipeline")
    script.sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    script.sql("SELECT id, topic, key, headers, payload, created_at_us FROM outbox WHERE id > :zero ORDER BY id LIMIT :relay_batch")
    script.sql("COMMIT")
    script.meta("\\endpipeline")
    script.meta("\\startpipeline")
    script.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    in_list = ", ".join(f":{v}" for v in sorted(ids))
    script.sql("DELETE FROM outbox WHERE EXISTS (SELECT 1 FROM outbox_relay_lease WHERE name = :lease AND holder = :holder "
               f"AND epoch = :epoch) AND id IN ({in_list})")
    script.meta("\\endpipeline")
    script.sql("COMMIT")


def order_script(k):
    s = Script("order", k)
    draw_lines(s, k)
    rows = partitions(s, "order", k)
    columns = []
    for i in range(1, k + 1):
        columns += [(f"o{i}", UUID), (f"c{i}", customer()), (f"lines{i}", lines_json(i)), (f"corr{i}", UUID),
                    (f"key{i}", UUID), (f"fp{i}", "md5(random()::text) || md5(random()::text)"), (f"pay{i}", UUID),
                    (f"ep{i}", UUID), (f"esr{i}", UUID), (f"epc{i}", UUID), (f"eoc{i}", UUID),
                    (f"ibsr{i}", EVENT_ID), (f"ibpc{i}", EVENT_ID)]
    ids = []
    # POST /orders: one transaction per order (no batching at the edge).
    for i in range(1, k + 1):
        if i == 1:
            s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
            gen(s, columns)
            s.meta("\\startpipeline")
        else:
            s.meta("\\startpipeline")
            s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
        s.sql(f"""INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms) VALUES ('orders.v1', :o{i}, 1, :now_ms)
            ON CONFLICT (topic, order_id) DO UPDATE
            SET last_sequence = outbox_sequences.last_sequence + 1, updated_at_ms = excluded.updated_at_ms
            RETURNING last_sequence""")
        s.sql(f"""INSERT INTO orders (order_id, customer_id, lines, total_minor, currency, placed_at_ms, deadline_ms, status, detail,
                                correlation_id, traceparent)
            VALUES (:o{i}, :c{i}, :lines{i}, :total{i}, 'EUR', :now_ms, :now_ms, 'PENDING', '', :corr{i}, :traceparent)""")
        s.sql(f"""INSERT INTO order_events (order_id, event_id, topic, event_type, sequence, at_ms)
            VALUES (:o{i}, :ep{i}, 'orders.v1', 'OrderPlaced', 1, :now_ms) ON CONFLICT (order_id, event_id) DO NOTHING""")
        s.sql(f"""INSERT INTO idempotency_keys (principal, idempotency_key, request_fingerprint, order_id, created_at_ms)
            VALUES (:c{i}, :key{i}, :fp{i}, :o{i}, :now_ms)""")
        s.meta("\\endpipeline")
        s.sql(f"INSERT INTO outbox (topic, key, headers, payload, created_at_us) VALUES ('orders.v1', :o{i}, :headers, :payload, :now_us) "
              "RETURNING id", gset=f"placed{i}_")
        ids.append(f"placed{i}_id")
        s.sql("COMMIT")
    # The consumer's batch: StockReserved (history only) and PaymentCharged (CONFIRMED, OrderConfirmed) of the K orders.
    s.meta("\\startpipeline")
    s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    offsets_lock(s, "order", rows)
    inbox(s, "order", [f"ibsr{i}" for i in range(1, k + 1)] + [f"ibpc{i}" for i in range(1, k + 1)])
    sequences_lock(s, "order", k)
    values = ", ".join(f"(:o{i}, :pay{i}, :detail, :now_ms{'::bigint' if i == 1 else ''})" for i in range(1, k + 1))
    s.sql(f"""UPDATE orders o SET status = 'CONFIRMED', cancel_reason = NULL, payment_failure = NULL, payment_id = v.payment_id,
            detail = v.detail, closed_at_ms = v.closed_at
        FROM (VALUES {values}) AS v (order_id, payment_id, detail, closed_at)
        WHERE o.order_id = v.order_id AND o.status = 'PENDING'""")
    history = []
    for i in range(1, k + 1):
        history += [f"(:o{i}, :esr{i}, 'inventory.v1', 'StockReserved', 1, :now_ms)",
                    f"(:o{i}, :eoc{i}, 'orders.v1', 'OrderConfirmed', 2, :now_ms)",
                    f"(:o{i}, :epc{i}, 'payments.v1', 'PaymentCharged', 1, :now_ms)"]
    s.sql(f"""INSERT INTO order_events (order_id, event_id, topic, event_type, sequence, at_ms) VALUES {", ".join(history)}
        ON CONFLICT (order_id, event_id) DO NOTHING""")
    s.meta("\\endpipeline")
    ids += outbox_many(s, "order", k, "confirmed_")
    s.meta("\\startpipeline")
    sequences_store(s, "order", k, 2)
    offsets_store(s, "order", rows)
    s.sql("COMMIT")
    s.meta("\\endpipeline")
    relay(s, ids)
    return s


def inventory_script(k):
    s = Script("inventory", k)
    draw_lines(s, k)
    rows = partitions(s, "inventory", k)
    columns = []
    for i in range(1, k + 1):
        columns += [(f"o{i}", UUID), (f"c{i}", customer()), (f"lines{i}", lines_json(i)),
                    (f"sku{i}_1", f"'SKU-' || lpad(:s{i}_1::text, 4, '0')"), (f"sku{i}_2", f"'SKU-' || lpad(:s{i}_2::text, 4, '0')"),
                    (f"ibop{i}", EVENT_ID), (f"iboc{i}", EVENT_ID)]
    s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    gen(s, columns)
    s.meta("\\startpipeline")
    offsets_lock(s, "inventory", rows)
    inbox(s, "inventory", [f"ibop{i}" for i in range(1, k + 1)] + [f"iboc{i}" for i in range(1, k + 1)])
    sequences_lock(s, "inventory", k)
    # The prelude: the SKUs of the confirmed orders' reservations, then every SKU of the batch locked in order.
    s.sql("SELECT lines FROM reservations WHERE order_id IN (" + ", ".join(f":o{i}" for i in range(1, k + 1)) + ")")
    skus = ", ".join(f":sku{i}_{j}" for i in range(1, k + 1) for j in (1, 2))
    s.sql(f"SELECT sku FROM stock WHERE sku IN ({skus}) ORDER BY sku FOR UPDATE")
    # OrderPlaced: the reservations, the stock reserved (only where available).
    values = ", ".join(f"(:o{i}, :c{i}, 'RESERVED', :lines{i}, :now_ms)" for i in range(1, k + 1))
    s.sql(f"INSERT INTO reservations (order_id, customer_id, state, lines, updated_at_ms) VALUES {values} ON CONFLICT (order_id) DO NOTHING")
    moves = ", ".join(f"(:sku{i}_{j}, :q{i}_{j}{'::bigint' if i == 1 and j == 1 else ''})" for i in range(1, k + 1) for j in (1, 2))
    s.sql(f"""UPDATE stock s SET available = s.available - v.q, reserved = s.reserved + v.q
        FROM (SELECT sku, sum(q) AS q FROM (VALUES {moves}) AS l (sku, q) GROUP BY sku) AS v
        WHERE s.sku = v.sku AND s.available >= v.q""")
    # OrderConfirmed: the reservations SOLD, the stock sold (only where reserved).
    values = ", ".join(f"(:o{i}, :lines{i}, :now_ms{'::bigint' if i == 1 else ''})" for i in range(1, k + 1))
    s.sql(f"""UPDATE reservations r SET state = 'SOLD', lines = v.lines, updated_at_ms = v.at
        FROM (VALUES {values}) AS v (order_id, lines, at) WHERE r.order_id = v.order_id AND r.state = 'RESERVED'""")
    s.sql(f"""UPDATE stock s SET reserved = s.reserved - v.q, sold = s.sold + v.q
        FROM (SELECT sku, sum(q) AS q FROM (VALUES {moves}) AS l (sku, q) GROUP BY sku) AS v
        WHERE s.sku = v.sku AND s.reserved >= v.q""")
    s.meta("\\endpipeline")
    ids = outbox_many(s, "inventory", k, "reserved_")
    s.meta("\\startpipeline")
    sequences_store(s, "inventory", k, 1)
    offsets_store(s, "inventory", rows)
    s.sql("COMMIT")
    s.meta("\\endpipeline")
    relay(s, ids)
    return s


def payment_script(k):
    s = Script("payment", k)
    for i in range(1, k + 1):
        s.meta(f"\\set total{i} random(500, 20000)")
    rows = partitions(s, "payment", k)
    columns = []
    for i in range(1, k + 1):
        columns += [(f"o{i}", UUID), (f"c{i}", customer()), (f"pay{i}", UUID), (f"ibsr{i}", EVENT_ID)]
    s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    gen(s, columns)
    s.meta("\\startpipeline")
    offsets_lock(s, "payment", rows)
    inbox(s, "payment", [f"ibsr{i}" for i in range(1, k + 1)])
    sequences_lock(s, "payment", k)
    s.sql("SELECT customer_id FROM accounts WHERE customer_id IN (" + ", ".join(f":c{i}" for i in range(1, k + 1))
          + ") ORDER BY customer_id FOR UPDATE")
    values = ", ".join(f"('CHARGED', :total{i}, 'EUR', :pay{i}, NULL, NULL, :now_ms, :o{i}, :c{i})" for i in range(1, k + 1))
    s.sql(f"""INSERT INTO payments (state, amount_minor, currency, payment_id, refund_id, failure_reason, updated_at_ms, order_id, customer_id)
        VALUES {values} ON CONFLICT (order_id) DO NOTHING""")
    moves = ", ".join(f"(:c{i}, :total{i}{'::bigint' if i == 1 else ''})" for i in range(1, k + 1))
    s.sql(f"""UPDATE accounts a SET balance = a.balance - v.amount
        FROM (SELECT customer_id, sum(amount) AS amount FROM (VALUES {moves}) AS m (customer_id, amount) GROUP BY customer_id) AS v
        WHERE a.customer_id = v.customer_id AND a.balance >= v.amount AND a.blocked = 0""")
    s.meta("\\endpipeline")
    ids = outbox_many(s, "payment", k, "charged_")
    s.meta("\\startpipeline")
    sequences_store(s, "payment", k, 1)
    offsets_store(s, "payment", rows)
    s.sql("COMMIT")
    s.meta("\\endpipeline")
    relay(s, ids)
    return s


def notification_script(k):
    s = Script("notification", k)
    rows = partitions(s, "notification", k)
    columns = []
    for i in range(1, k + 1):
        columns += [(f"o{i}", UUID), (f"c{i}", customer()), (f"nid{i}", UUID), (f"cause{i}", UUID), (f"corr{i}", UUID),
                    (f"iboc{i}", EVENT_ID)]
    # The consumer's batch: OrderConfirmed records one PENDING notification per order (OrderPlaced is not handled).
    s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    gen(s, columns)
    s.meta("\\startpipeline")
    offsets_lock(s, "notification", rows)
    inbox(s, "notification", [f"iboc{i}" for i in range(1, k + 1)])
    values = ", ".join(f"(:nid{i}, :o{i}, 'ORDER_CONFIRMED', :c{i}, 'log', :message, :now_ms, 'PENDING', 0, :now_ms, :cause{i}, :corr{i}, :traceparent)"
                       for i in range(1, k + 1))
    s.sql(f"""INSERT INTO notifications (notification_id, order_id, kind, customer_id, channel, message,
                                   created_at_ms, state, attempts, next_attempt_at_ms,
                                   cause_event_id, correlation_id, traceparent)
        VALUES {values} ON CONFLICT DO NOTHING""")
    offsets_store(s, "notification", rows)
    s.sql("COMMIT")
    s.meta("\\endpipeline")
    # The delivery worker: due rows (read-only), the claim, then SENT + NotificationSent in one transaction.
    s.meta("\\startpipeline")
    s.sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    s.sql("""SELECT * FROM notifications WHERE state = 'PENDING' AND next_attempt_at_ms <= :now_ms
        ORDER BY created_at_ms, notification_id LIMIT :due_batch""")
    s.sql("COMMIT")
    s.meta("\\endpipeline")
    s.meta("\\startpipeline")
    s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    values = ", ".join(f"(:nid{i}, :now_ms{'::bigint' if i == 1 else ''})" for i in range(1, k + 1))
    s.sql(f"""UPDATE notifications n SET next_attempt_at_ms = :claim_until
        FROM (VALUES {values}) AS v (notification_id, next_attempt)
        WHERE n.notification_id = v.notification_id AND n.state = 'PENDING' AND n.next_attempt_at_ms = v.next_attempt""")
    s.meta("\\endpipeline")
    s.sql("COMMIT")
    s.meta("\\startpipeline")
    s.sql("BEGIN ISOLATION LEVEL READ COMMITTED")
    values = ", ".join(f"(:nid{i}, :now_ms{'::bigint' if i == 1 else ''})" for i in range(1, k + 1))
    s.sql(f"""UPDATE notifications n SET state = 'SENT', sent_at_ms = v.sent_at, channel = 'log', attempts = n.attempts + 1, last_error = NULL
        FROM (VALUES {values}) AS v (notification_id, sent_at)
        WHERE n.notification_id = v.notification_id AND n.state = 'PENDING'""")
    seq = ", ".join(f"('notifications.v1', :o{i}, 1, :now_ms)" for i in range(1, k + 1))
    s.sql(f"""INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms) VALUES {seq}
        ON CONFLICT (topic, order_id) DO UPDATE
        SET last_sequence = outbox_sequences.last_sequence + 1, updated_at_ms = excluded.updated_at_ms
        RETURNING last_sequence""")
    s.meta("\\endpipeline")
    ids = outbox_many(s, "notification", k, "sent_")
    s.sql("COMMIT")
    relay(s, ids)
    return s


BUILDERS = {"order": order_script, "inventory": inventory_script, "payment": payment_script, "notification": notification_script}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.batch < 1:
        sys.exit("pg_floor: --batch must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    counts = {}
    for service, build in BUILDERS.items():
        with open(os.path.join(args.out, f"{service}-setup.sql"), "w") as f:
            f.write(MESSAGING_DDL + SERVICE_DDL[service])
        script = build(args.batch)
        with open(os.path.join(args.out, f"{service}.pgbench"), "w") as f:
            f.write(script.text())
        counts[service] = {"transactionsPerBatch": script.transactions, "statementsPerBatch": script.statements,
                           "widestStatementVariables": script.widest}
    json.dump({"batch": args.batch, "services": counts}, sys.stdout)


if __name__ == "__main__":
    main()
