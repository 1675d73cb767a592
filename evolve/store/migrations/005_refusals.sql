-- Implementer refusals as facts: every path the implementer tried to read or write and was
-- refused (an escape from the scratch worktree, or a protected path), in the order it tried
-- them. Written with the attempt's proposal (record_proposal); the loop reads the first one
-- when the implementer changed nothing ("implementer attempted protected path <p>").

CREATE TABLE refusals (
    candidate_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    tool VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('escape', 'protected')),
    path VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    PRIMARY KEY (candidate_id, seq)
);
COMMENT ON TABLE refusals IS 'One implementer tool call refused for its path (escape or protected), in the order of the calls; written with the proposal.';
COMMENT ON COLUMN refusals.path IS 'the path as the model wrote it (control characters and lone surrogates cleaned, at most 200 characters)';

-- Proposals recorded before this migration carry their first refusal only in the summary's
-- tail, ` [refused <kind> path <path>]`: kept as a fact too (tool and reason unknown), so that
-- an attempt resumed after the upgrade is validated as before.
INSERT INTO refusals
SELECT candidate_id, 0, 'unknown',
    regexp_extract(summary, '\[refused (escape|protected) path (.+)\]$', 1),
    regexp_extract(summary, '\[refused (escape|protected) path (.+)\]$', 2), ''
FROM proposals WHERE regexp_matches(summary, '\[refused (escape|protected) path (.+)\]$');
