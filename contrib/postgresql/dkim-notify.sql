-- dkim-notify.sql: tell dkim-milter at once when a row of its KeyTable or SigningTable changes, so
-- that it forgets what it cached for that key instead of waiting for the cache to expire.
--
-- Each INSERT, UPDATE or DELETE sends NOTIFY on the channel dkim_milter with the row's key (the
-- value of the key column the milter's DSN names with keycol=): the old key and, when it changed,
-- the new one. A TRUNCATE sends an empty payload: everything changed. Notifications are sent when
-- the transaction commits, once per distinct key (PostgreSQL 15, NOTIFY). dkim-milter listens on a
-- connection of its own (PostgresListener); whatever changed while it was not connected it learns
-- by forgetting everything when it connects again.
--
-- Install once per database, as the owner of the tables:
--
--     psql -d keys -f /usr/share/doc/dkim-milter/contrib/postgresql/dkim-notify.sql
--
-- then one pair of triggers per table, naming its key column(s). For a KeyTable key_table keyed by
-- name and a SigningTable signing_table keyed by pattern:
--
--     CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON key_table
--         FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('name');
--     CREATE TRIGGER dkim_milter_notify_all AFTER TRUNCATE ON key_table
--         FOR EACH STATEMENT EXECUTE FUNCTION dkim_milter_notify_all();
--     CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON signing_table
--         FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('pattern');
--     CREATE TRIGGER dkim_milter_notify_all AFTER TRUNCATE ON signing_table
--         FOR EACH STATEMENT EXECUTE FUNCTION dkim_milter_notify_all();
--
-- A view cannot have these triggers; put them on the table under it, naming every column the view
-- shows as a key. Modoboa's view dkim (id, domain_name, …) over admin_domain is the KeyTable keyed
-- by id and the SigningTable keyed by domain_name (admin_domain.name):
--
--     CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON admin_domain
--         FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('id', 'name');
--
-- Safe to run again (CREATE OR REPLACE). To remove: DROP FUNCTION dkim_milter_notify() CASCADE;
-- DROP FUNCTION dkim_milter_notify_all() CASCADE;

CREATE OR REPLACE FUNCTION dkim_milter_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key_column text;
    old_key text;
    new_key text;
BEGIN
    IF TG_NARGS = 0 THEN
        RAISE EXCEPTION 'dkim_milter_notify() on %: name the key column, e.g. dkim_milter_notify(''name'')',
            TG_TABLE_NAME;
    END IF;
    FOREACH key_column IN ARRAY TG_ARGV LOOP
        old_key := NULL;
        new_key := NULL;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            EXECUTE format('SELECT ($1).%I::text', key_column) INTO old_key USING OLD;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            EXECUTE format('SELECT ($1).%I::text', key_column) INTO new_key USING NEW;
        END IF;
        IF old_key IS NOT NULL THEN
            PERFORM pg_notify('dkim_milter', old_key);
        END IF;
        IF new_key IS NOT NULL AND new_key IS DISTINCT FROM old_key THEN
            PERFORM pg_notify('dkim_milter', new_key);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION dkim_milter_notify_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dkim_milter', '');
    RETURN NULL;
END
$$;
