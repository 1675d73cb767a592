-- Re-evaluations of their own purpose: `final` (the end-of-run re-evaluation of the top
-- candidates on the validation papers, `autodata evolve --final-repeats`) and `evaluate`
-- (`autodata evaluate`, on any papers). Neither counts in candidate_scores, which decisions and
-- parent selection read (purpose = 'validation' only). DuckDB cannot change a CHECK constraint
-- in place, so episodes and evaluations are rebuilt with every row copied unchanged.

CREATE TABLE episodes_002 (
    episode_id VARCHAR PRIMARY KEY,
    candidate_id VARCHAR NOT NULL,
    iteration INTEGER NOT NULL,
    paper_id VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL CHECK (purpose IN ('validation', 'minibatch', 'smoke', 'final', 'evaluate')),
    repeat INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    accepted BOOLEAN NOT NULL,
    rounds INTEGER NOT NULL,
    record_blob VARCHAR NOT NULL,
    cost_usd DOUBLE NOT NULL,
    duration_ms DOUBLE NOT NULL,
    error VARCHAR,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO episodes_002 SELECT * FROM episodes;
DROP TABLE episodes;
ALTER TABLE episodes_002 RENAME TO episodes;
COMMENT ON TABLE episodes IS 'One episode: one candidate harness run on one paper (the full EpisodeRecord JSON is in record_blob).';
COMMENT ON COLUMN episodes.episode_id IS 'sha256 of (candidate_id, purpose, repeat, canonical record JSON): the same episode recorded twice is one row';
COMMENT ON COLUMN episodes.iteration IS 'the iteration that paid for the episode (final: the iteration budget + 1; evaluate: -1)';
COMMENT ON COLUMN episodes.purpose IS 'validation (counts in scores), minibatch, smoke, final (end-of-run re-evaluation), evaluate (autodata evaluate); only validation counts in candidate_scores';
COMMENT ON COLUMN episodes.status IS 'the episode status from its record (e.g. accepted, exhausted, harness_error)';
COMMENT ON COLUMN episodes.rounds IS 'number of rounds (challenger calls) the episode used';

CREATE TABLE evaluations_002 (
    candidate_id VARCHAR NOT NULL,
    paper_id VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL CHECK (purpose IN ('validation', 'minibatch', 'smoke', 'final', 'evaluate')),
    repeat INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    accepted BOOLEAN NOT NULL,
    rounds INTEGER NOT NULL,
    episode_id VARCHAR NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (candidate_id, paper_id, purpose, repeat)
);
INSERT INTO evaluations_002 SELECT * FROM evaluations;
DROP TABLE evaluations;
ALTER TABLE evaluations_002 RENAME TO evaluations;
COMMENT ON TABLE evaluations IS 'One scoring of a candidate on one paper (one repeat): whether its episode produced an accepted example.';
COMMENT ON COLUMN evaluations.iteration IS 'the iteration that paid for this evaluation (re-sampled parents gather evaluations from several; final: the iteration budget + 1; evaluate: -1)';
COMMENT ON COLUMN evaluations.repeat IS '0, 1, ..: distinguishes repeated evaluations of the same candidate on the same paper (final from 100000, evaluate from 150000: sample indices the run never uses)';
COMMENT ON COLUMN evaluations.purpose IS 'validation (the tally decisions and selection read), minibatch, smoke, final, evaluate';

CREATE VIEW final_scores AS
SELECT candidate_id, avg(CASE WHEN accepted THEN 1.0 ELSE 0.0 END) AS pass_rate,
    count(*) AS n_evaluations, count(DISTINCT paper_id) AS n_papers
FROM evaluations WHERE purpose = 'final'
GROUP BY candidate_id;
COMMENT ON VIEW final_scores IS 'One row per candidate re-evaluated at the end of the run (purpose final): pass rate over its fresh repeats on the validation papers; never read by decisions or selection.';
