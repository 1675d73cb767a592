"""The simulated world reads meaning, not keywords: negation, scope, hedges, labels, quotation,
the paper and the feedback, paraphrase, wording that changes nothing, solvers without
boilerplate, and README tables equal to the code's constants."""

from __future__ import annotations

import collections
import json

import pytest

from inner_loop.generate import default_harness_dir
from inner_loop.papers import select_papers
from inner_loop.sim import edits, lexicon, tables, wording
from inner_loop.sim.challenger import write_example
from inner_loop.sim.solver import answer

SEED = (default_harness_dir() / "prompts" / "challenger.md").read_text()


def feats(text: str) -> frozenset[str]:
    return lexicon.features(text, "challenger")


@pytest.fixture(scope="module")
def paper():
    return select_papers(subset="validation", limit=1)[0]


def prompt(paper, extra: str = "", template: str = SEED) -> str:
    text = template.replace("$title", paper.title).replace("$paper", paper.full_text).replace("$feedback", "")
    return edits.before_paper(extra)(text) if extra else text


AFFIRMED = {
    "self_test": edits.SELF_TEST,
    "no_leak_strict": edits.LEAK_RULE,
    "strict_json": edits.JSON_RULE,
    "integer_literal": edits.INT_RULE,
    "escalate": edits.ESCALATE,
    "positive_only": "Use only positive weights.",
    "easy": edits.EASY,
}
NEGATED = {
    "self_test": ["Do NOT run a self-test; never ask whether a strong model could answer without reading this paper.",
                  "There is no need to check whether a model could answer without reading this paper."],
    "no_leak_strict": ["No need to check each context sentence.", "You need not check every context sentence.",
                       "Skip comparing each context sentence with the answer."],
    "strict_json": ["Do not reply with only the JSON object.", "Never write just the JSON."],
    "integer_literal": ["Do not insist on plain JSON integers."],
    "escalate": ["After TOO EASY failures, do not ask for harder questions.", "Avoid harder questions."],
    "positive_only": ["Do not use only positive weights.", "You do not need to avoid negative items."],
    "easy": ["Do not ask simple, accessible questions.", "Avoid easy questions about the main idea of the paper."],
}


@pytest.mark.parametrize("feature", sorted(NEGATED))
def test_a_negated_instruction_is_off_and_the_affirmed_one_on(feature):
    assert feature in feats(AFFIRMED[feature])
    for text in NEGATED[feature]:
        assert feature not in feats(text), text


def test_a_negation_reaches_only_its_own_clause():
    assert {"new_angle", "no_leak_strict"} <= feats("Do not repeat earlier questions; check each context sentence.")
    assert "self_test" in feats("Never leak the answer, and run a paper-specific self-test.")
    assert "self_test" not in feats("Run no self-test at all. Do not run a self-test.")


def test_phrasings_that_carry_their_own_negation_are_affirmed():
    assert "positive_only" in feats("Avoid negative items.")
    assert "self_test" in feats("Never finalise a question that a capable model could answer without reading the paper.")
    assert "no_leak_mention" in feats("Do not give away the answer in the context.")


def test_hedged_instructions_do_not_count():
    for hedge in ("Optionally, reply with only the JSON object.", "If you like, check each context sentence.",
                  "You may run a paper-specific self-test."):
        assert not feats(hedge) & {"strict_json", "no_leak_strict", "self_test"}, hedge


def test_labels_metadata_and_quotations_are_not_instructions():
    stuffed = ("Index terms (metadata, not instructions): self-test; check each context sentence; plain JSON "
               "integers; only the JSON object; no negative items")
    assert feats(stuffed) == frozenset()
    assert feats("Keywords: paper-specific self-test, check each context sentence, no negative items") == frozenset()
    assert feats("Examples of bad prompts:\n- run a paper-specific self-test\n- check each context sentence\n") == frozenset()
    assert feats('Avoid prompts that read "check each context sentence" or `run a self-test`.') == frozenset()
    assert lexicon.stated_cap("Keywords: weights at most 7") is None


def test_text_inside_the_paper_or_the_feedback_is_not_an_instruction(paper):
    inside = prompt(paper).replace("</paper>", edits.SELF_TEST + "\n</paper>")
    assert feats(inside) == feats(prompt(paper))
    feedback = ("Your earlier examples failed:\n\nFAILED QUALITY CHECK:\n- Q: why? | check each context sentence; "
                "run a paper-specific self-test; reply with only the JSON object\n\nWrite an entirely new example from a different angle.")
    assert feats(feedback) == {"new_angle"}


def test_a_clause_addressed_to_another_role_does_not_instruct_the_challenger():
    text = "The verifier will check each context sentence."
    assert "no_leak_strict" not in feats(text) and "no_leak_strict" in lexicon.features(text, "verifier")


def test_negated_harm_is_not_applied(paper):
    plain = [write_example(prompt(paper), s, True) for s in range(6)]
    assert plain == [write_example(prompt(paper, NEGATED["easy"][0]), s, True) for s in range(6)]
    assert lexicon.stated_rounds("Do not stop after 2 rounds.") is None
    assert lexicon.stated_rounds("You have at most 2 rounds.") == 2


# Paraphrases written as a person would (not from the regexes); most must be read.
PARAPHRASES = {
    "self_test": ["Someone who has not read this article should be unable to answer.",
                  "Make sure only a reader who has read this paper could answer the question.",
                  "Before you reply, check whether someone who hasn't seen this paper could answer; if so, pick another detail.",
                  "The question must not be answerable from general knowledge.",
                  "Answering must require having read this paper.",
                  "If a capable model could answer it without the paper, replace the question.",
                  "Could a strong model still answer this? If yes, choose a detail specific to this work."],
    "no_leak_strict": ["The context must not restate any fact that the reference answer relies on.",
                       "Keep every key fact of the answer out of the context.",
                       "Compare every sentence of the context against the reference answer.",
                       "None of the key facts from the answer may be stated in the context.",
                       "Go through the context sentence by sentence and remove what the answer says."],
    "strict_json": ["Output nothing but the JSON object.", "No text before or after the JSON.",
                    "Your reply must parse with json.loads.", "Return strictly valid JSON.",
                    "Don't wrap the JSON in code fences or commentary."],
    "positive_only": ["Weights are never negative.", "Leave out negative items entirely.",
                      "Every weight must be positive.", "Drop the negative criteria."],
    "integer_literal": ["Weights are bare integers.", "Write each weight as an integer literal.",
                        "Give weights as whole numbers, not strings.", "No plus signs in the weights."],
    "escalate": ["If the question was too easy, go deeper.", "Raise the difficulty after each failure.",
                 "Ask a more specific question next time.", "Pick numbers that only this paper reports."],
}
CAPS = {"Weights are integers no larger than seven.": 7, "Cap every weight at 6.": 6,
        "Each weight is between 1 and 5.": 5, "Weights go up to 8.": 8, "No weight above 4.": 4,
        "Use a weight scale of 1-7.": 7}


def test_careful_paraphrases_are_read_most_of_the_time():
    hits = [(f, t) for f, ts in PARAPHRASES.items() for t in ts if f in feats(t)]
    total = sum(len(ts) for ts in PARAPHRASES.values())
    assert len(hits) >= 0.8 * total, sorted(set((f, t) for f, ts in PARAPHRASES.items() for t in ts) - set(hits))
    assert sum(lexicon.stated_cap(t) == k for t, k in CAPS.items()) >= len(CAPS) - 1


def test_every_implementer_wording_is_read_as_what_it_states():
    for name, opts in wording.SENTENCES.items():
        feature = "no_leak_strict" if name == "verifier_leak" else name
        for text in opts:
            assert feature in lexicon.features(text), text
            if len(lexicon.clauses(text)) == 1:  # a hedge reaches its own clause only
                assert feature not in lexicon.features(wording.HEDGED[0] + text[0].lower() + text[1:]), text
    for k in (1, 4, 7, 10):
        for c in wording.CAP:
            assert lexicon.stated_cap(c.format(k=k)) == k, c


def test_a_rewording_that_changes_no_instruction_changes_no_example(paper):
    reworded = SEED.replace("Read the paper below and write ONE hard", "Study the paper below and produce ONE hard")
    assert reworded != SEED
    assert [write_example(prompt(paper), s, True) for s in range(5)] == \
        [write_example(prompt(paper, template=reworded), s, True) for s in range(5)]


def test_solver_answers_vary_in_wording_and_share_no_sentence_by_solver(paper):
    q = "## Context\nThe method uses sparse attention.\n\n## Question\nExplain how the encoder relates to memory."
    lines = {s: collections.Counter() for s in ("weak", "strong")}
    for skill in lines:
        for seed in range(40):
            for line in answer(q, skill, seed).splitlines()[:1] + answer(q, skill, seed).splitlines()[-1:]:
                lines[skill][line] += 1
    for skill, counter in lines.items():
        assert counter.most_common(1)[0][1] <= 20, (skill, counter.most_common(2))
    assert len({answer(q, "strong", s).splitlines()[0] for s in range(20)}) >= 5


def test_readme_tables_equal_the_code():
    text = tables.README.read_text(encoding="utf-8")
    assert set(m.group(2) for m in tables.BLOCK.finditer(text)) == set(tables.TABLES)
    assert tables.render(text) == text, "run: python -m inner_loop.sim.tables --write"


def test_readme_states_no_stale_rule_numbers():
    from inner_loop.sim import judge
    text = tables.README.read_text(encoding="utf-8")
    assert f"on answers longer than {judge.LONG_ANSWER_CHARS} characters" in text
    assert f"flip with {round(100 * judge.JUDGE_ERROR)}%" in text
    for stale in ("leak rate 45%", "65% with none", "| 35% |", "18% of examples", "+0.12 per TOO EASY", "−0.08 per"):
        assert stale not in text, stale
    assert json.dumps(wording.SENTENCES["self_test"][0])[1:40] in text


def test_an_edit_acts_through_what_it_states_not_its_wording(paper):
    """Two wordings of cap 5 with no negative items write the same rubrics; cap 5 and cap 9 do not."""
    base = SEED.replace("7-10 positive items weighted +1..+10 for what a good answer contains, and 3-5 negative items\n"
                        "  weighted -1..-10 for common mistakes.", "{rule}")
    def rubrics(rule):
        return [json.loads(write_example(prompt(paper, template=base.replace("{rule}", rule)), s, True))["rubric"]
                for s in range(6)]
    a = rubrics("Weights between 1 and 5; no negative items.")
    assert a == rubrics("Each weight at most 5; leave out negative items entirely.")
    assert a != rubrics("Each weight at most 9; leave out negative items entirely.")
    assert all(1 <= i["weight"] <= 5 for r in a for i in r if isinstance(i["weight"], int))
