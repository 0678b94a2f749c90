-- A read-only group role for dashboards (Grafana) and analysts: SELECT on every object of
-- the schema, now and later (default privileges of the role running the migrations).
-- Log-in roles join it: CREATE ROLE grafana LOGIN PASSWORD '…' IN ROLE kuzet_reader;
-- Roles are cluster-wide, so several Kuzet databases on one server share it. Without the
-- CREATEROLE privilege the role is not created and a NOTICE says so; the grants then apply
-- only if an administrator created it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kuzet_reader') THEN
        BEGIN
            CREATE ROLE kuzet_reader NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by a migration of another database
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'role kuzet_reader not created: % lacks CREATEROLE', current_user;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kuzet_reader') THEN
        GRANT USAGE ON SCHEMA kuzet TO kuzet_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA kuzet TO kuzet_reader;
        ALTER DEFAULT PRIVILEGES IN SCHEMA kuzet GRANT SELECT ON TABLES TO kuzet_reader;
    END IF;
END
$$;
