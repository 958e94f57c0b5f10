-- A run's count of held rows in a row of its own (issue #12). Row batches of one run hold the run's row FOR KEY SHARE
-- side by side, and each then raised runs.held_rows, an update of that same row. When a stop, a finish or a batch
-- retried alone was already waiting FOR UPDATE on the run's row, a batch's update queued behind that waiter while the
-- waiter waited for the batch's share: a deadlock, rolled back and retried, and at times not through within the
-- retries (the store contract's eight concurrent batches hit it about one run in seven). Raising a row of another
-- table takes no further lock on the run's row; batches of one run still take turns on that one counter.
CREATE TABLE run_rows (
    run_id    bigint PRIMARY KEY REFERENCES runs ON DELETE CASCADE,
    held_rows bigint NOT NULL DEFAULT 0
);
INSERT INTO run_rows (run_id, held_rows) SELECT run_id, held_rows FROM runs;
ALTER TABLE runs DROP COLUMN held_rows;
