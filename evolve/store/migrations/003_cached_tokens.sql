-- Cached prompt tokens: of a call's input_tokens, how many the endpoint served from its prefix
-- cache (OpenAI and vLLM report `usage.prompt_tokens_details.cached_tokens`, Moonshot
-- `usage.cached_tokens`; inner_loop/llm/openai_backend.py reads both). They are billed at the
-- role's `price_cached_input_per_mtok`. Rows written before this migration read 0 (their
-- endpoint's cache, if any, was not recorded).

ALTER TABLE llm_calls ADD COLUMN cached_tokens BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN llm_calls.cached_tokens IS 'of input_tokens, the prompt tokens the endpoint served from its prefix cache (billed at price_cached_input_per_mtok); 0 when it reported none';

CREATE OR REPLACE VIEW cost_by_role AS
SELECT role, count(*) AS calls,
    count(*) FILTER (WHERE cached) AS cached_calls,
    count(*) FILTER (WHERE error IS NOT NULL) AS failed_calls,
    sum(input_tokens) AS input_tokens, sum(cached_tokens) AS cached_tokens,
    sum(output_tokens) AS output_tokens,
    sum(input_tokens + output_tokens) AS tokens, sum(cost_usd) AS usd
FROM llm_calls GROUP BY role;
COMMENT ON VIEW cost_by_role IS 'One row per role: LLM calls, tokens (cached_tokens: input tokens served from the endpoint''s prefix cache) and USD spent.';
