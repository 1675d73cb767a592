-- 004_texts: long texts stored once per run (evolve/store/texts.py). A blob of 1,024 characters
-- or more is cut into content-defined segments; each segment is one `texts` row, however many
-- prompts, transcripts and records quote it, and the blob lists its segments in order. The
-- table that holds the blobs is now `stored_blobs` (whole `text`, or NULL and `parts`); the
-- view `blobs` keeps the old table's columns with every text reassembled, so SQL written for
-- it reads the same. Blobs written before this migration keep their whole text.

-- No key constraint on texts: the single writer keeps text_id unique in its transaction
-- (evolve/store/texts.py); an index would weigh more on disk than the texts it saves.
CREATE TABLE texts (
    text_id BIGINT NOT NULL,
    text_check BIGINT NOT NULL,
    text VARCHAR NOT NULL USING COMPRESSION zstd,
    n_chars BIGINT NOT NULL
);
COMMENT ON TABLE texts IS 'One segment of long blobs (paper text, a prompt part, a reply), stored once per run.';
COMMENT ON COLUMN texts.text_id IS 'bytes 0-7 of sha256(text) as a signed BIGINT, unique in the run: what stored_blobs.parts lists';
COMMENT ON COLUMN texts.text_check IS 'bytes 8-15 of sha256(text) as a signed BIGINT: a text_id shared by another segment is told apart';

ALTER TABLE blobs RENAME TO stored_blobs;
ALTER TABLE stored_blobs ADD COLUMN parts BIGINT[];
ALTER TABLE stored_blobs ALTER COLUMN text DROP NOT NULL;
COMMENT ON TABLE stored_blobs IS 'One long text (diff, diagnosis, episode record, prompt, response) under its sha256: whole in text, or as the texts listed in parts. Read it through the view blobs.';
COMMENT ON COLUMN stored_blobs.sha256 IS 'hex sha256 of the UTF-8 text: the content address other tables hold in *_blob columns';
COMMENT ON COLUMN stored_blobs.text IS 'the whole text; NULL when parts holds it';
COMMENT ON COLUMN stored_blobs.n_chars IS 'characters of the whole text';
COMMENT ON COLUMN stored_blobs.parts IS 'text_ids of its segments in order (texts); the text is their concatenation. NULL when text holds it';

CREATE VIEW blobs AS
SELECT b.sha256, coalesce(b.text, p.text) AS text, b.n_chars
FROM stored_blobs b LEFT JOIN (
    SELECT u.sha256, string_agg(t.text, '' ORDER BY u.i) AS text
    FROM (SELECT sha256, unnest(parts) AS text_id, generate_subscripts(parts, 1) AS i
          FROM stored_blobs WHERE parts IS NOT NULL) u
    JOIN texts t USING (text_id)
    GROUP BY u.sha256) p USING (sha256);
COMMENT ON VIEW blobs IS 'One long text under its sha256, whole (its segments reassembled): the blobs table of migrations 001-003.';
