-- Chunks are now small enough (RowChunks.MaxChunkBytes) to stay in the table's own pages: PostgreSQL moves a value out
-- of line once its row passes toast_tuple_target (about 2 KB by default); at 8,160 bytes a chunk row stays whole in
-- one heap page, so a page read fetches a few heap rows instead of ~31 TOAST pieces (and their index) per 64 KB chunk.
-- Rows written before this keep their storage and read as before.
ALTER TABLE row_chunks SET (toast_tuple_target = 8160);
