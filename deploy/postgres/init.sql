-- Runs once, on the first start of an empty data volume (postgres image: docker-entrypoint-initdb.d).
-- One role per service, owning its database and nothing else: a service owns its data, and
-- no role can even connect to another service's database (REVOKE ... FROM PUBLIC here, and
-- pg_hba.conf's `sameuser`). The roles have no password: they log in with their client
-- certificates (pg_hba.conf: cert; pg_ident.conf maps certificates to roles).
-- Several instances of one service share its database and role (relay lease, per-order serialisation).

-- Each statement's calls and time, for the superuser (shared_preload_libraries in compose).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- "order" is a reserved word in SQL, hence the quotes; in DATABASE_URL it is just /order.
CREATE ROLE "order" LOGIN;
CREATE DATABASE "order" OWNER "order";
REVOKE ALL ON DATABASE "order" FROM PUBLIC;

CREATE ROLE inventory LOGIN;
CREATE DATABASE inventory OWNER inventory;
REVOKE ALL ON DATABASE inventory FROM PUBLIC;

CREATE ROLE payment LOGIN;
CREATE DATABASE payment OWNER payment;
REVOKE ALL ON DATABASE payment FROM PUBLIC;

-- Last on purpose: the compose healthcheck probes this database.
CREATE ROLE notification LOGIN;
CREATE DATABASE notification OWNER notification;
REVOKE ALL ON DATABASE notification FROM PUBLIC;
