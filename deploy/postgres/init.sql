-- Runs once, on the first start of an empty data volume (postgres image: docker-entrypoint-initdb.d).
-- One role for the platform and one database per service: a service owns its data and no
-- service reads another's tables, exactly as with SQLite files on the local stack.
-- Several instances of one service share its database (relay lease, per-order serialisation).
CREATE ROLE saga LOGIN PASSWORD 'saga';

-- "order" is a reserved word in SQL, hence the quotes; in DATABASE_URL it is just /order.
CREATE DATABASE "order" OWNER saga;
CREATE DATABASE inventory OWNER saga;
CREATE DATABASE payment OWNER saga;
-- Last on purpose: the compose healthcheck probes this database.
CREATE DATABASE notification OWNER saga;
