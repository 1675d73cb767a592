-- 001_init: the schema of one run's database. Facts are append-only: no row is ever updated or
-- deleted. A candidate's progress is a sequence of candidate_events; the facts learned along the
-- way (selection, proposal, decision, commit) are each one row in their own table, written once.

CREATE TABLE blobs (
    sha256 VARCHAR PRIMARY KEY,
    text VARCHAR NOT NULL,
    n_chars BIGINT NOT NULL
);
COMMENT ON TABLE blobs IS 'One long text (diff, diagnosis, episode record, prompt, response), stored once under its sha256.';
COMMENT ON COLUMN blobs.sha256 IS 'hex sha256 of the UTF-8 text: the content address other tables hold in *_blob columns';

CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    config_json VARCHAR NOT NULL,
    seed_harness_digest VARCHAR NOT NULL,
    simulated BOOLEAN NOT NULL
);
COMMENT ON TABLE runs IS 'The run this database belongs to (one row): its resolved config and seed harness.';
COMMENT ON COLUMN runs.config_json IS 'the resolved configuration (thresholds included) as JSON; never holds an API key, only env var names';
COMMENT ON COLUMN runs.seed_harness_digest IS 'git tree sha of the seed harness commit';
COMMENT ON COLUMN runs.simulated IS 'true when any role answered from the simulated model world';

CREATE TABLE run_events (
    run_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('created', 'running', 'resumed', 'stopped', 'finished', 'failed')),
    detail VARCHAR NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, seq)
);
COMMENT ON TABLE run_events IS 'One change of the run status (created, running, resumed, stopped, finished, failed); the latest row is the status.';
COMMENT ON COLUMN run_events.detail IS 'why: e.g. the budget that stopped the run';

CREATE TABLE candidates (
    candidate_id VARCHAR PRIMARY KEY,
    iteration INTEGER NOT NULL UNIQUE,
    parent_id VARCHAR,
    created_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE candidates IS 'One attempt: the candidate of one iteration and the parent it was selected from (written at selection).';
COMMENT ON COLUMN candidates.iteration IS '0 for the seed harness, 1.. for the iterations of the outer loop';
COMMENT ON COLUMN candidates.parent_id IS 'the accepted candidate it edits; NULL only for the seed';

CREATE TABLE candidate_events (
    candidate_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    state VARCHAR NOT NULL CHECK (state IN ('selected', 'proposing', 'proposed', 'validating', 'invalid',
        'scoring', 'scored', 'committing', 'accepted', 'rejected')),
    occurred_at TIMESTAMPTZ NOT NULL,
    detail VARCHAR NOT NULL DEFAULT '',
    PRIMARY KEY (candidate_id, seq)
);
COMMENT ON TABLE candidate_events IS 'One state transition of an attempt; the row with the highest seq is the state it reached.';
COMMENT ON COLUMN candidate_events.seq IS '0, 1, 2.. per candidate, in order of the transitions';

CREATE TABLE proposals (
    candidate_id VARCHAR PRIMARY KEY,
    diagnosis_blob VARCHAR,
    diff_blob VARCHAR,
    summary VARCHAR NOT NULL DEFAULT '',
    changed_paths_json VARCHAR NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE proposals IS 'What the analyzer and implementer produced for one attempt: diagnosis, git diff against the parent, summary.';
COMMENT ON COLUMN proposals.diff_blob IS 'blob of `git diff --cached <parent>` taken in the scratch worktree; NULL when the implementer changed nothing';
COMMENT ON COLUMN proposals.changed_paths_json IS 'JSON list of the changed paths git reports (status, modes, symlink, binary)';

CREATE TABLE decisions (
    candidate_id VARCHAR PRIMARY KEY,
    status VARCHAR NOT NULL CHECK (status IN ('invalid', 'rejected', 'accepted')),
    reason VARCHAR NOT NULL DEFAULT '',
    policy VARCHAR,
    child_mean DOUBLE,
    parent_mean DOUBLE,
    decided_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE decisions IS 'The outcome of one attempt: invalid (never scored), rejected, or accepted (its commit follows in commits).';
COMMENT ON COLUMN decisions.policy IS 'acceptance policy that decided: strict or confident; NULL for invalid and the seed';
COMMENT ON COLUMN decisions.child_mean IS 'validation pass rate of the child at decision time';
COMMENT ON COLUMN decisions.parent_mean IS 'validation pass rate of the parent at decision time (all its evaluations so far)';

CREATE TABLE commits (
    candidate_id VARCHAR PRIMARY KEY,
    commit_sha VARCHAR NOT NULL UNIQUE,
    committed_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE commits IS 'The git commit of one accepted candidate in the harness repo (ref refs/autodata/candidates/<candidate_id>).';

CREATE TABLE episodes (
    episode_id VARCHAR PRIMARY KEY,
    candidate_id VARCHAR NOT NULL,
    iteration INTEGER NOT NULL,
    paper_id VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL CHECK (purpose IN ('validation', 'minibatch', 'smoke')),
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
COMMENT ON TABLE episodes IS 'One episode: one candidate harness run on one paper (the full EpisodeRecord JSON is in record_blob).';
COMMENT ON COLUMN episodes.episode_id IS 'sha256 of (candidate_id, purpose, repeat, canonical record JSON): the same episode recorded twice is one row';
COMMENT ON COLUMN episodes.iteration IS 'the iteration that paid for the episode';
COMMENT ON COLUMN episodes.status IS 'the episode status from its record (e.g. accepted, exhausted, harness_error)';
COMMENT ON COLUMN episodes.rounds IS 'number of rounds (challenger calls) the episode used';

CREATE TABLE episode_rounds (
    episode_id VARCHAR NOT NULL,
    round INTEGER NOT NULL,
    outcome VARCHAR NOT NULL,
    failed_rule VARCHAR,
    weak_avg DOUBLE,
    strong_avg DOUBLE,
    PRIMARY KEY (episode_id, round)
);
COMMENT ON TABLE episode_rounds IS 'One round of one episode: its outcome and, when solvers ran, the weak and strong average scores.';
COMMENT ON COLUMN episode_rounds.failed_rule IS 'the first acceptance rule the round failed (weak_avg, gap, ...); NULL when none';
COMMENT ON COLUMN episode_rounds.strong_avg IS 'NULL when the strong solver did not run (the weak check failed first)';

CREATE TABLE evaluations (
    candidate_id VARCHAR NOT NULL,
    paper_id VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL CHECK (purpose IN ('validation', 'minibatch', 'smoke')),
    repeat INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    accepted BOOLEAN NOT NULL,
    rounds INTEGER NOT NULL,
    episode_id VARCHAR NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (candidate_id, paper_id, purpose, repeat)
);
COMMENT ON TABLE evaluations IS 'One scoring of a candidate on one paper (one repeat): whether its episode produced an accepted example.';
COMMENT ON COLUMN evaluations.iteration IS 'the iteration that paid for this evaluation (re-sampled parents gather evaluations from several)';
COMMENT ON COLUMN evaluations.repeat IS '0, 1, ..: distinguishes repeated evaluations of the same candidate on the same paper';

CREATE TABLE llm_calls (
    call_id VARCHAR PRIMARY KEY,
    run_id VARCHAR,
    iteration INTEGER,
    candidate_id VARCHAR,
    role VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    endpoint VARCHAR NOT NULL,
    tag VARCHAR NOT NULL DEFAULT '',
    sample_index INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    duration_ms DOUBLE NOT NULL,
    attempts INTEGER NOT NULL,
    error_kinds VARCHAR[] NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_usd DOUBLE NOT NULL,
    cached BOOLEAN NOT NULL,
    simulated BOOLEAN NOT NULL,
    request_blob VARCHAR NOT NULL,
    response_blob VARCHAR,
    error VARCHAR
);
COMMENT ON TABLE llm_calls IS 'One finished LLM call (success, cache hit or final failure) with its tokens and cost; never an API key.';
COMMENT ON COLUMN llm_calls.endpoint IS '"sim" or "openai:<base_url>"';
COMMENT ON COLUMN llm_calls.error_kinds IS 'kind of each failed attempt, in order (429, timeout, ...)';
COMMENT ON COLUMN llm_calls.request_blob IS 'blob of the request messages as JSON';
COMMENT ON COLUMN llm_calls.response_blob IS 'blob of the LLMResponse JSON; NULL when the call failed';

CREATE TABLE iterations (
    iteration INTEGER PRIMARY KEY,
    candidate_id VARCHAR NOT NULL,
    parent_id VARCHAR,
    status VARCHAR NOT NULL CHECK (status IN ('invalid', 'rejected', 'accepted')),
    summary VARCHAR NOT NULL,
    parent_score DOUBLE,
    child_score DOUBLE,
    finished_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE iterations IS 'One finished iteration: the one-line outcome later analyzers read as history.';

-- Views: the questions users ask.

CREATE VIEW run_status AS
SELECT r.run_id, r.created_at, r.simulated, e.status, e.detail, e.occurred_at AS status_at
FROM runs r
LEFT JOIN (SELECT * FROM run_events QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY seq DESC) = 1) e
    USING (run_id);
COMMENT ON VIEW run_status IS 'One row per run with its latest status.';

CREATE VIEW candidate_scores AS
SELECT candidate_id, avg(CASE WHEN accepted THEN 1.0 ELSE 0.0 END) AS pass_rate, count(*) AS n_evaluations
FROM evaluations WHERE purpose = 'validation'
GROUP BY candidate_id;
COMMENT ON VIEW candidate_scores IS 'One row per candidate with validation evaluations: pass rate averaged over all of them.';

CREATE VIEW candidate_status AS
SELECT c.candidate_id, c.iteration, c.parent_id, c.created_at, e.state,
    CASE WHEN d.status = 'accepted' AND m.commit_sha IS NULL THEN 'committing'
         WHEN d.status IS NULL THEN 'in_progress' ELSE d.status END AS status,
    d.reason, d.policy, d.child_mean, d.parent_mean, m.commit_sha,
    p.summary, p.diff_blob, p.diagnosis_blob
FROM candidates c
LEFT JOIN (SELECT * FROM candidate_events QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY seq DESC) = 1) e
    USING (candidate_id)
LEFT JOIN proposals p USING (candidate_id)
LEFT JOIN decisions d USING (candidate_id)
LEFT JOIN commits m USING (candidate_id);
COMMENT ON VIEW candidate_status IS 'One row per attempt: last state, final status (in_progress, invalid, rejected, committing, accepted), reason, commit.';

CREATE VIEW pass_rate_trajectory AS
SELECT s.iteration, s.candidate_id, s.parent_id, s.commit_sha, s.status,
    sc.pass_rate, coalesce(sc.n_evaluations, 0) AS n_evaluations,
    max(CASE WHEN s.status = 'accepted' THEN sc.pass_rate END)
        OVER (ORDER BY s.iteration ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS best_so_far
FROM candidate_status s LEFT JOIN candidate_scores sc USING (candidate_id);
COMMENT ON VIEW pass_rate_trajectory IS 'One row per attempt in iteration order: its validation pass rate now and the best accepted pass rate up to it.';

CREATE VIEW failure_reasons AS
SELECT e.iteration, e.purpose, r.outcome, count(*) AS n
FROM episode_rounds r JOIN episodes e USING (episode_id)
WHERE r.outcome <> 'accepted'
GROUP BY e.iteration, e.purpose, r.outcome;
COMMENT ON VIEW failure_reasons IS 'One row per (iteration, purpose, round outcome): how many rounds failed that way in episodes that iteration paid for.';

CREATE VIEW cost_by_role AS
SELECT role, count(*) AS calls,
    count(*) FILTER (WHERE cached) AS cached_calls,
    count(*) FILTER (WHERE error IS NOT NULL) AS failed_calls,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(input_tokens + output_tokens) AS tokens, sum(cost_usd) AS usd
FROM llm_calls GROUP BY role;
COMMENT ON VIEW cost_by_role IS 'One row per role: LLM calls, tokens and USD spent.';

CREATE VIEW lineage AS
WITH RECURSIVE tree(candidate_id, parent_id, depth) AS (
    SELECT candidate_id, parent_id, 0 FROM candidates WHERE parent_id IS NULL
    UNION ALL
    SELECT c.candidate_id, c.parent_id, t.depth + 1
    FROM candidates c JOIN tree t ON c.parent_id = t.candidate_id
)
SELECT t.candidate_id, t.parent_id, t.depth, s.status, s.commit_sha, sc.pass_rate AS score
FROM tree t JOIN candidate_status s USING (candidate_id) LEFT JOIN candidate_scores sc USING (candidate_id);
COMMENT ON VIEW lineage IS 'One row per attempt: its parent, depth below the seed, status, commit and validation pass rate.';
