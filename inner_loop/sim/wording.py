"""How the simulated implementer words an instruction: several phrasings per setting.

Variant 0 of each list is the canonical wording (the ablation's recipes); the implementer draws
the others from its seeded stream. Every variant is read by the lexicon as the setting it states
(tests/test_sim_meaning.py checks each one), so wording varies while meaning does not — except
the HEDGED prefixes, which a careful reader takes as optional: an edit written that way is
ineffective, as it would be for a real model.
"""

from __future__ import annotations

SENTENCES: dict[str, tuple[str, ...]] = {
    "self_test": (
        "Paper-specific self-test: before you finalise, ask whether a strong model could answer the question "
        "without reading this paper. If it could, replace it with a question about a detail only this paper states.",
        "Before you reply, check whether someone who has not read this paper could answer your question; if so, "
        "pick another detail.",
        "The question must not be answerable from general knowledge: only a reader who has read this paper "
        "should be able to answer it.",
        "Never finalise a question that a capable model could answer without reading the paper.",
        "Answering must require having read this paper; test each question against that before you reply.",
    ),
    "no_leak_strict": (
        "Context rule: none of the answer's key facts may appear in the context. Check each context sentence "
        "against the reference answer before you reply.",
        "Keep every key fact of the reference answer out of the context, and compare each context sentence "
        "with the answer before replying.",
        "The context must never state any of the answer's key facts.",
        "Go through the context sentence by sentence and remove anything the reference answer says.",
    ),
    "strict_json": (
        "Reply with only the JSON object: no prose before or after it, no trailing commas.",
        "Output nothing but the JSON object, with no text before or after it.",
        "Your reply must parse with json.loads: no code fences, no commentary, no trailing commas.",
        "Return strictly valid JSON and nothing else.",
    ),
    "integer_literal": (
        "Write every weight as plain JSON integers: no plus signs, never as strings.",
        "Weights are bare integers (no plus signs).",
        "Give each weight as an integer literal, never as a string.",
    ),
    "escalate": (
        "For TOO EASY failures, ask a harder question about details only this paper states (numbers, "
        "ablations, design choices).",
        "If earlier examples were too easy, go deeper: pick a more specific detail of this paper.",
        "When the weak solver did too well, raise the difficulty with facts unique to this paper.",
    ),
    "deescalate": (
        "If the strong solver also failed, move to more central, better-supported content.",
        "After a FAILED ON STRONG round, choose better-supported facts from the paper's core results.",
    ),
    "new_angle": (
        "Do not repeat earlier questions.",
        "Pick a completely different section of the paper each time.",
    ),
    "easy": (
        "Prefer simple, accessible questions about the main idea of the paper.",
        "Keep the questions approachable: ask about the overall message of the paper.",
    ),
    "verifier_leak": (
        "Compare each context sentence with the reference answer; any overlap is a leak.",
        "Check every sentence of the context: if it states a fact of the reference answer, the example leaks.",
    ),
}
QTYPE = ("Prefer {q} questions about what this paper reports.", "Ask {q} questions about this paper's results.")
ROUNDS = ("You have at most {n} rounds.", "Use no more than {n} rounds.", "Stop after {n} rounds at most.")
HEDGED = ("Optionally, ", "If you like, ", "You may also ")

# the challenger's rubric block, one clause per setting (";" keeps a negation out of the cap's clause)
RUBRIC_HEAD = ("  Rubric items: ", "  For the rubric: ", "  Rubric: ")
POSITIVES = ("{lo}-{hi} positive items for what a good answer contains", "{lo} to {hi} positive items")
PER_FACT = ("one item per fact a good answer contains", "one rubric item per fact of the reference answer")
CAP = ("weighted 1..{k}", "with weights from 1 to {k}", "weights between 1 and {k}", "each weight at most {k}")
POSITIVE_ONLY = ("no negative items", "only positive weights", "leave out negative items entirely")
NEGATIVES = ("{lo}-{hi} negative items weighted -1..-{k} for common mistakes", "{lo} to {hi} negative items for common mistakes")
INTEGER = ("weights written as plain JSON integers", "weights as bare integers, never as strings")
VERIFIER_HEAD = "3. Rubric rules: "
