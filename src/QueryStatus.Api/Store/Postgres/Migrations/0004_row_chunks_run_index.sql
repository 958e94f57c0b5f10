-- Every chunk of a run in the run's index, numbered or not (issue #12). The index for pages covered numbered chunks
-- only (WHERE first_row IS NOT NULL), so nothing that looks for a run's chunks by run alone could use it: removing a
-- run (its cascade to row_chunks), failing one (its staged chunks deleted) and every batch of the sweeper's deletion of
-- expired rows each read the whole table. Pages use this index as they used the other (it holds the same order).
-- Built under a write lock on row_chunks: on a large store, apply it at a quiet time (README: running migrations
-- separately, Store:Postgres:Migrate=false).
CREATE INDEX row_chunks_run ON row_chunks (run_id, first_row);
DROP INDEX row_chunks_page;
