-- The store's change events (issue #13): a transaction that changes what a query's status shows notifies channel
-- querystatus_status with the query's ["license_id","schedule_id"], delivered to every instance when it commits; each
-- instance wakes its long-polls of that query (ScheduleChanges). In triggers, so that no write path can forget one:
-- a run inserted, removed, or changed in what its status shows (not its bookkeeping: held_rows, deadline, queued_at),
-- and its progress (a task added, a task done). PostgreSQL sends one copy of a repeated payload per transaction.

CREATE FUNCTION querystatus_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed runs;
BEGIN
    changed := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    PERFORM pg_notify('querystatus_status', json_build_array(changed.license_id, changed.schedule_id)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER runs_inserted_or_removed AFTER INSERT OR DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION querystatus_run_changed();

CREATE TRIGGER runs_changed AFTER UPDATE ON runs
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status
        OR OLD.total_rows IS DISTINCT FROM NEW.total_rows
        OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
        OR OLD.failure_code IS DISTINCT FROM NEW.failure_code
        OR OLD.failure_message IS DISTINCT FROM NEW.failure_message)
    EXECUTE FUNCTION querystatus_run_changed();

CREATE FUNCTION querystatus_tasks_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('querystatus_status', json_build_array(r.license_id, r.schedule_id)::text)
    FROM runs r WHERE r.run_id IN (SELECT run_id FROM added);
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_added AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION querystatus_tasks_added();

-- Only tasks that became DONE: leases and heartbeats update tasks all the time without changing any status.
CREATE FUNCTION querystatus_tasks_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('querystatus_status', json_build_array(r.license_id, r.schedule_id)::text)
    FROM runs r WHERE r.run_id IN (
        SELECT a.run_id FROM after a JOIN before b ON b.task_id = a.task_id
        WHERE a.state = 'DONE' AND b.state <> 'DONE');
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_done AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS before NEW TABLE AS after
    FOR EACH STATEMENT EXECUTE FUNCTION querystatus_tasks_done();
