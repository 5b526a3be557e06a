-- simkms' database, schema and roles on the cluster's PostgreSQL 15. Run once,
-- on the primary, as the postgres superuser, after Patroni's bootstrap:
--     psql -v ON_ERROR_STOP=1 -f roles.sql
-- then give each login role its password with psql's \password (the client
-- computes the SCRAM verifier; the password never reaches the server or a log):
--     psql -d simkms -c '\password simkms_owner'   (kept by the custodians)
--     psql -d simkms -c '\password simkms_kmsd'    (into each kmsd node's passfile)
--
-- Two roles, least privilege each:
--   simkms_owner  owns the simkms schema and everything in it: `kmsctl db
--                 migrate` connects as it to create and alter the tables (the
--                 column families' k/v tables, the audit tables, nodes,
--                 schema_migrations). Nothing runs as it day to day.
--   simkms_kmsd   what kmsd connects as: SELECT, INSERT, UPDATE, DELETE on the
--                 tables the owner creates, nothing else (no CREATE, ALTER,
--                 DROP, TRUNCATE, no other schema). pg_try_advisory_lock needs
--                 no privilege. The audit table is append-only: migration 2
--                 (`kmsctl db migrate`) revokes UPDATE and DELETE on it again
--                 from every role but the owner, whatever its name.
-- Checked by tests/deploy/cluster_deploy_test.cc on a real PostgreSQL 15.
\set ON_ERROR_STOP 1

CREATE ROLE simkms_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE simkms_kmsd LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;

CREATE DATABASE simkms OWNER postgres ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE simkms FROM PUBLIC;
GRANT CONNECT ON DATABASE simkms TO simkms_owner, simkms_kmsd;

\connect simkms
-- Nothing in public, for anyone (PostgreSQL 15 already denies CREATE there).
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA simkms AUTHORIZATION simkms_owner;
GRANT USAGE ON SCHEMA simkms TO simkms_kmsd;
-- Every table and sequence the owner creates from now on (the migrations):
ALTER DEFAULT PRIVILEGES FOR ROLE simkms_owner IN SCHEMA simkms
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO simkms_kmsd;
ALTER DEFAULT PRIVILEGES FOR ROLE simkms_owner IN SCHEMA simkms
    GRANT USAGE, SELECT ON SEQUENCES TO simkms_kmsd;

ALTER ROLE simkms_owner IN DATABASE simkms SET search_path = simkms;
ALTER ROLE simkms_kmsd IN DATABASE simkms SET search_path = simkms;
-- kmsd never waits long on a lock: a request blocked behind another node's row
-- lock fails after 10 s and is retried, rather than piling up.
ALTER ROLE simkms_kmsd IN DATABASE simkms SET lock_timeout = '10s';
