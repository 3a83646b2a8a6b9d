-- Roles and schemas of the suite, one of each per service, in the database the admin URL names.
-- Idempotent: run again, it sets the passwords from the services' Secrets and changes nothing
-- else. Each service's role owns its schema alone; nobody else may even connect.
\set ON_ERROR_STOP on
\getenv gateway_password GATEWAY_DB_PASSWORD
\getenv ledger_password LEDGER_DB_PASSWORD
\getenv identity_password IDENTITY_DB_PASSWORD
\getenv recon_password RECON_DB_PASSWORD

-- Roles are cluster-wide: another provisioner (make run, a second Job) may race.
SELECT pg_advisory_lock(hashtext('paysuite-provision'));

CREATE TEMP TABLE paysuite_service (service text PRIMARY KEY, password text NOT NULL);
INSERT INTO paysuite_service VALUES
    ('gateway', :'gateway_password'),
    ('ledger', :'ledger_password'),
    ('identity', :'identity_password'),
    ('recon', :'recon_password');

SELECT format('CREATE ROLE %I', 'paysuite_' || service)
FROM paysuite_service
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'paysuite_' || service) \gexec

SELECT format(
    'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
    'paysuite_' || service, password
) FROM paysuite_service \gexec

SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
REVOKE ALL ON SCHEMA public FROM PUBLIC;

SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), 'paysuite_' || service)
FROM paysuite_service \gexec

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', service, 'paysuite_' || service)
FROM paysuite_service \gexec

SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', service) FROM paysuite_service \gexec

SELECT pg_advisory_unlock(hashtext('paysuite-provision'));
