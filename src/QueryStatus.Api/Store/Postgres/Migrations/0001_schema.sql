-- The durable store's tables (issue #12). Times are timestamptz written from the service's clock (statement
-- parameters), never now(): tests move that clock. Until the PostgreSQL store ships, this script may still change
-- in place; from its first release on, changes go into new scripts.

-- A license's place in the round-robin across licenses (rotation ascending goes first): NULL while it is out of the
-- rotation; a license whose queue goes from empty to non-empty, or that was just served, takes the next rotation_seq
-- (the back of the rotation), as the in-memory store's rotation list. The row is locked while a lease serves it.
CREATE SEQUENCE rotation_seq;
CREATE TABLE licenses (
    license_id text PRIMARY KEY,
    rotation   bigint
);
CREATE INDEX licenses_rotation ON licenses (rotation) WHERE rotation IS NOT NULL;

-- One run per (license, schedule ID); a submit after a finished run replaces it (a new run_id).
CREATE TABLE runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    license_id      text NOT NULL REFERENCES licenses,
    schedule_id     text NOT NULL,
    status          text NOT NULL CHECK (status IN ('SCHEDULED', 'QUEUED', 'RUNNING', 'SUCCESS', 'FAILURE', 'STOPPED')),
    not_before      timestamptz,
    queued_at       timestamptz,
    finished_at     timestamptz,
    -- finished_at + retention: a read answers 404 from this instant on, swept or not.
    expires_at      timestamptz,
    -- The run's next time step (its start, its timeout or its removal), as the in-memory store's run timeline.
    deadline        timestamptz,
    failure_code    text,
    failure_message text,
    total_rows      bigint NOT NULL DEFAULT 0,
    row_bytes       bigint NOT NULL DEFAULT 0,
    -- Rows staged or kept for the run (row_chunks of live attempts and completed tasks), kept beside the chunks so
    -- that the Scheduler:MaxRowsPerRun check of every batch reads one value instead of summing the run's chunks.
    held_rows       bigint NOT NULL DEFAULT 0,
    UNIQUE (license_id, schedule_id)
);
CREATE INDEX runs_deadline ON runs (deadline) WHERE deadline IS NOT NULL;

-- Sub-query tasks. queue_seq orders a license's queue (FIFO: nextval at the back; a task whose attempt ended goes back
-- in front with -nextval).
CREATE SEQUENCE queue_seq;
CREATE TABLE tasks (
    task_id          text PRIMARY KEY,
    run_id           bigint NOT NULL REFERENCES runs ON DELETE CASCADE,
    license_id       text NOT NULL,
    ordinal          int NOT NULL,
    payload          bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('PENDING', 'QUEUED', 'RUNNING', 'DONE', 'DROPPED')),
    queue_seq        bigint,
    attempt          int NOT NULL DEFAULT 0,
    lease_token      text,
    lease_expires_at timestamptz,
    completed_token  text,
    UNIQUE (run_id, ordinal)
);
CREATE INDEX tasks_queue ON tasks (license_id, queue_seq) WHERE state = 'QUEUED';
CREATE INDEX tasks_running ON tasks (license_id) WHERE state = 'RUNNING';
CREATE INDEX tasks_lease_expiry ON tasks (lease_expires_at) WHERE state = 'RUNNING';

-- Row batches of a task attempt, each stored once: the key is what makes a repeated batch a duplicate.
CREATE TABLE batches (
    task_id   text NOT NULL REFERENCES tasks ON DELETE CASCADE,
    attempt   int NOT NULL,
    batch     bigint NOT NULL,
    row_count int NOT NULL,
    row_bytes bigint NOT NULL,
    PRIMARY KEY (task_id, attempt, batch)
);

-- Rows in chunks of bounded size (a complete call's own rows are staged as batch -1, after every numbered batch): the bytes of JSON array elements (row,row,...,row) exactly as received, and each
-- row's start offset in them. Staged under (task, attempt, batch, seq); numbered (first_row) when the run succeeds,
-- in sub-query order and then batch order, so that a page reads the few chunks around its window, whatever its
-- offset, and writes their bytes as they are.
CREATE TABLE row_chunks (
    run_id    bigint NOT NULL REFERENCES runs ON DELETE CASCADE,
    task_id   text NOT NULL,
    attempt   int NOT NULL,
    batch     bigint NOT NULL,
    seq       int NOT NULL,
    row_count int NOT NULL,
    bytes     bytea NOT NULL,
    offsets   int[] NOT NULL,
    first_row bigint,
    PRIMARY KEY (task_id, attempt, batch, seq)
);
CREATE INDEX row_chunks_page ON row_chunks (run_id, first_row) WHERE first_row IS NOT NULL;
-- Out of line and uncompressed: a page's substring of a chunk reads only the stored pieces it covers. (Compressed
-- with lz4 since 0005_row_chunks_lz4.sql.)
ALTER TABLE row_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
