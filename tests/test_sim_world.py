"""The simulated world rewards a harness for the right reasons: behaviour tests of each role."""

from __future__ import annotations

import json
import statistics

import pytest

from inner_loop.llm.types import LLMRequest, Message
from inner_loop.papers import select_papers
from inner_loop.sim import edits, respond
from inner_loop.sim.challenger import write_example
from inner_loop.sim.facts import facts_of
from inner_loop.sim.verifier import leaks
from inner_loop.generate import default_harness_dir

SEED_CHALLENGER = (default_harness_dir() / "prompts" / "challenger.md").read_text()


@pytest.fixture(scope="module")
def paper():
    return select_papers(subset="validation", limit=1)[0]


def challenger_prompt(paper, extra: str = "", template: str = SEED_CHALLENGER) -> str:
    text = template.replace("$title", paper.title).replace("$paper", paper.full_text).replace("$feedback", "")
    return edits.before_paper(extra)(text) if extra else text


def examples(prompt: str, n: int = 30) -> list[dict]:
    return [json.loads(write_example(prompt, seed, json_mode=True)) for seed in range(n)]


def spec_of(paper, example: dict) -> float:
    by_text = {f.text: f.spec for f in facts_of(paper.full_text)}
    specs = [v for t, v in by_text.items() if t in example["reference_answer"]]
    return statistics.mean(specs)


def ask(role: str, content: str, seed: int = 0) -> str:
    req = LLMRequest(role=role, model=f"sim-{role}", messages=[Message(role="user", content=content)], seed=seed)
    return respond(req).content or ""


def test_same_request_same_answer_and_label(paper):
    req = LLMRequest(role="challenger", model="sim-challenger",
                     messages=[Message(role="user", content=challenger_prompt(paper))], seed=3)
    a, b = respond(req), respond(req)
    assert a.content == b.content and a.simulated and a.usage.input_tokens > 1000


def test_challenger_examples_are_the_papers_own_sentences(paper):
    ex = examples(challenger_prompt(paper), 5)[0]
    assert ex["reference_answer"].split(". ")[0] in paper.full_text
    assert all(isinstance(i["weight"], (int, str)) for i in ex["rubric"])


def test_changing_the_paper_text_changes_the_example(paper):
    other = select_papers(subset="validation", limit=2)[1]
    assert examples(challenger_prompt(paper), 1) != examples(challenger_prompt(other), 1)


def test_self_test_instruction_moves_questions_to_specific_facts(paper):
    plain = statistics.mean(spec_of(paper, e) for e in examples(challenger_prompt(paper)))
    tested = statistics.mean(spec_of(paper, e) for e in examples(challenger_prompt(paper, edits.SELF_TEST)))
    assert tested > plain + 0.2


def test_leak_rule_keeps_answers_out_of_the_context(paper):
    plain = sum(leaks(e) for e in examples(challenger_prompt(paper), 40))
    ruled = sum(leaks(e) for e in examples(challenger_prompt(paper, edits.LEAK_RULE), 40))
    assert plain >= 10 and ruled <= plain // 3


def test_rubric_rule_removes_negative_items_and_caps_weights(paper):
    prompt = challenger_prompt(paper).replace("3-5 negative items", "no negative items") \
        .replace("+1..+10", "1..7").replace("weighted -1..-10 for common mistakes.", edits.INT_RULE)
    weights = [i["weight"] for e in examples(prompt, 20) for i in e["rubric"]]
    assert all(isinstance(w, int) and 1 <= w <= 7 for w in weights)
    seed_weights = [i["weight"] for e in examples(challenger_prompt(paper), 20) for i in e["rubric"]]
    assert any(isinstance(w, int) and w < 0 for w in seed_weights)


def test_strict_json_instruction_removes_slips(paper):
    def bad(prompt):
        outs = [write_example(prompt, s, json_mode=False) for s in range(40)]
        return sum(not o.lstrip().startswith("{") or o.rstrip().endswith(",\n}") for o in outs)
    assert bad(challenger_prompt(paper)) >= 5
    assert bad(challenger_prompt(paper, edits.JSON_RULE)) == 0


def solver_scores(ex: dict, solver: str) -> float:
    from inner_loop.prompting import format_rubric
    from inner_loop.scoring import score
    scores = []
    for k in range(6):
        answer = ask(f"{solver}_solver", f"## Context\n{ex['context']}\n\n## Question\n{ex['question']}", seed=k)
        verdict = json.loads(ask("judge", f"## Rubric\n{format_rubric(ex['rubric'])}\n\n## Question\n"
                                          f"{ex['question']}\n\n## Answer\n{answer}", seed=k))
        met = [v["met"] for v in verdict["judgments"]]
        scores.append(score([i["weight"] for i in ex["rubric"]], met))
    return statistics.mean(scores)


def test_strong_solver_beats_weak_on_paper_specific_questions(paper):
    prompt = challenger_prompt(paper, edits.SELF_TEST + "\n" + edits.LEAK_RULE + "\n" + edits.INT_RULE)
    exs = [e for e in examples(prompt, 8) if not leaks(e)][:4]
    gap = statistics.mean(solver_scores(e, "strong") - solver_scores(e, "weak") for e in exs)
    assert gap > 0.1  # negative items (still required by the seed rules) misfire on strong answers


def test_leaked_context_lifts_the_weak_solver_towards_the_strong(paper):
    """Common random numbers: the same prompt with and without the leak rule writes the same
    example except for the context, so the pair isolates what the leak does."""
    base = edits.SELF_TEST + "\n" + edits.INT_RULE
    pairs = [(a, b) for a, b in zip(examples(challenger_prompt(paper, base), 40),
                                    examples(challenger_prompt(paper, base + "\n" + edits.LEAK_RULE), 40))
             if leaks(a) and not leaks(b)][:3]
    assert pairs
    for leaked, clean in pairs:
        assert leaked["question"] == clean["question"] and leaked["rubric"] == clean["rubric"]
        weak_leaked, weak_clean = solver_scores(leaked, "weak"), solver_scores(clean, "weak")
        assert weak_leaked > weak_clean + 0.2
        assert weak_leaked >= 0.5 * solver_scores(leaked, "strong")


def test_judge_meets_items_an_answer_covers_and_not_others():
    rubric = "1. [weight +5] States that the encoder uses sparse attention over 512 tokens\n" \
             "2. [weight +3] States that dropout of 0.3 stabilises training"
    full = json.loads(ask("judge", f"## Rubric\n{rubric}\n\n## Question\nq\n\n## Answer\n"
                                   "The encoder uses sparse attention over 512 tokens."))
    met = [j["met"] for j in full["judgments"]]
    assert met == [True, False]


def test_answers_do_not_depend_on_the_process_hash_seed(paper):
    """Pure across processes: the same solver request under two hash seeds gives one answer."""
    import os
    import subprocess
    import sys
    ex = examples(challenger_prompt(paper, edits.SELF_TEST + "\n" + edits.INT_RULE), 1)[0]
    prompt = f"## Context\n{ex['context']}\n\n## Question\n{ex['question']}"
    code = ("import sys; from inner_loop.llm.types import LLMRequest, Message; from inner_loop.sim import respond; "
            "print(respond(LLMRequest(role='strong_solver', model='sim-strong_solver', seed=5, "
            "messages=[Message(role='user', content=sys.stdin.read())])).content)")
    outs = {subprocess.run([sys.executable, "-c", code], input=prompt, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": hs}).stdout for hs in ("1", "2")}
    assert len(outs) == 1 and outs.pop().strip() == ask("strong_solver", prompt, seed=5).strip()
