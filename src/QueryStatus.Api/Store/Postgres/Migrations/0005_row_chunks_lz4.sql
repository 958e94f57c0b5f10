-- Chunks compressed with lz4 (issue #12). Stored uncompressed, a chunk's bytes were most of what ingest cost
-- PostgreSQL: every 64 KB chunk written as about 33 TOAST pieces and their WAL. JSON rows compress about fourfold, and
-- reading a page costs the same either way: a chunk is read whole to send it, and decompressing it costs about what
-- fetching the extra pieces did (bench/RESULTS.md, eighth session). New chunks only: those stored already stay as
-- they are, and both kinds read alike. A server built without lz4 keeps storing them uncompressed: pglz would make
-- every page read cost more than it saves.
DO $$
BEGIN
    ALTER TABLE row_chunks ALTER COLUMN bytes SET COMPRESSION lz4;
    ALTER TABLE row_chunks ALTER COLUMN bytes SET STORAGE EXTENDED;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'row_chunks.bytes stays uncompressed: this server has no lz4 (%)', SQLERRM;
END $$;
