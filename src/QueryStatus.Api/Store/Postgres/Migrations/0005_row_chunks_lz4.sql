-- Chunks compressed with lz4 (issue #12). Stored uncompressed, a chunk's bytes were most of what ingest cost
-- PostgreSQL: every 64 KB chunk written as about 33 TOAST pieces and their WAL. The bench's JSON rows compress about
-- fourfold, and reading a page costs the same either way: its chunks are built whole to be sent, and decompressing one
-- costs about what fetching its extra pieces did (bench/RESULTS.md, eighth session). New chunks only: those stored
-- already stay as they are until their results expire, and both kinds read alike. A server built without lz4 keeps
-- storing them uncompressed (pglz would make every page read cost more than it saves) and says so with a WARNING in
-- its own log. Catalog changes only, nothing is rewritten, but SET COMPRESSION takes row_chunks' ACCESS EXCLUSIVE lock
-- for a moment: it waits for statements reading the table (the sweeper's gauges scan it) and page reads and ingest
-- queue behind it meanwhile; on a busy store, apply it at a quiet time (README: running migrations separately).
DO $$
BEGIN
    ALTER TABLE row_chunks ALTER COLUMN bytes SET COMPRESSION lz4;
    ALTER TABLE row_chunks ALTER COLUMN bytes SET STORAGE EXTENDED;
EXCEPTION WHEN feature_not_supported THEN
    RAISE WARNING 'row_chunks.bytes stays uncompressed: this server has no lz4 (%)', SQLERRM;
END $$;
