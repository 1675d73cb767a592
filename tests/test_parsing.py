"""Lenient about where the JSON is, strict about what it is: nothing is repaired."""

import json

import pytest

from inner_loop.example import Example
from inner_loop.parsing import (
    ParseFailure,
    extract_json_object,
    parse_example,
    parse_judgments,
    parse_verifier_reply,
)

EXAMPLE = {
    "question_type": "mechanism",
    "reasoning_skills": ["causal reasoning", "comparison"],
    "context": "A paper studies sparse attention.",
    "question": "Why does the block size trade recall for speed?",
    "reference_answer": "Larger blocks skip more tokens.",
    "rubric": [
        {"criterion": "Mentions skipped tokens", "weight": 5, "category": "core"},
        {"criterion": "Links block size to speed", "weight": 3, "category": "core"},
        {"criterion": "Claims recall improves", "weight": -2, "category": "error"},
    ],
}


def test_plain_object_parses():
    assert extract_json_object('{"a": 1}') == {"a": 1}


def test_prose_around_the_object_is_tolerated():
    assert extract_json_object('Here it is:\n{"a": {"b": 2}}\nHope this helps.') == {"a": {"b": 2}}


def test_json_fence_is_stripped():
    assert extract_json_object('```json\n{"a": [1, 2]}\n```') == {"a": [1, 2]}


def test_bare_fence_is_stripped():
    assert extract_json_object('Sure.\n```\n{"a": 1}\n```\nDone.') == {"a": 1}


def test_first_top_level_object_wins():
    assert extract_json_object('{"first": 1} and {"second": 2}') == {"first": 1}


def test_braces_inside_strings_do_not_unbalance():
    text = '{"q": "what does {x} mean \\" }", "n": 1} trailing'
    assert extract_json_object(text) == {"q": 'what does {x} mean " }', "n": 1}


def test_trailing_comma_is_a_parse_failure_not_repaired():
    with pytest.raises(ParseFailure, match="invalid JSON"):
        extract_json_object('{"a": 1, "b": [1, 2,],}')


def test_truncated_object_is_a_parse_failure():
    with pytest.raises(ParseFailure, match="never closed"):
        extract_json_object('{"a": {"b": 1}')


def test_no_object_is_a_parse_failure():
    with pytest.raises(ParseFailure, match="no JSON object"):
        extract_json_object("I cannot answer that.")


def test_empty_reply_is_a_parse_failure():
    for text in (None, "", "   \n"):
        with pytest.raises(ParseFailure, match="empty reply"):
            extract_json_object(text)


def test_single_quotes_are_a_parse_failure():
    with pytest.raises(ParseFailure):
        extract_json_object("{'a': 1}")


def test_parse_failure_reason_is_one_line():
    with pytest.raises(ParseFailure) as info:
        extract_json_object('{"a": 1,\n}')
    assert "\n" not in info.value.reason


def test_parse_example_from_text_with_fence():
    text = "My example:\n```json\n" + json.dumps(EXAMPLE, indent=2) + "\n```"
    example = parse_example(text)
    assert isinstance(example, Example)
    assert [item.weight for item in example.rubric] == [5, 3, -2]


def test_parse_example_from_dict():
    assert parse_example(EXAMPLE).question == EXAMPLE["question"]


def test_parse_example_string_weight_names_the_item():
    bad = json.loads(json.dumps(EXAMPLE))
    bad["rubric"][2]["weight"] = "+8"
    with pytest.raises(ParseFailure) as info:
        parse_example(json.dumps(bad))
    assert info.value.reason == "rubric.2.weight: Input should be a valid integer"


def test_parse_example_missing_field_is_reported():
    bad = {k: v for k, v in EXAMPLE.items() if k != "question"}
    with pytest.raises(ParseFailure, match="^question: Field required"):
        parse_example(bad)


def test_parse_example_unknown_field_is_reported():
    with pytest.raises(ParseFailure, match="^answer: Extra inputs"):
        parse_example({**EXAMPLE, "answer": "x"})


def test_parse_example_with_trailing_comma_fails():
    text = json.dumps(EXAMPLE)[:-1] + ",}"
    with pytest.raises(ParseFailure, match="invalid JSON"):
        parse_example(text)


def test_judgments_are_ordered_by_item():
    text = '{"judgments": [{"item": 2, "met": false}, {"item": 1, "met": true}]}'
    assert parse_judgments(text, 2) == [True, False]


def test_judgments_with_wrong_item_count_fail():
    text = '{"judgments": [{"item": 1, "met": true}]}'
    with pytest.raises(ParseFailure, match="expected each of 1..2"):
        parse_judgments(text, 2)


def test_judgments_with_duplicate_item_fail():
    text = '{"judgments": [{"item": 1, "met": true}, {"item": 1, "met": false}]}'
    with pytest.raises(ParseFailure, match="exactly once"):
        parse_judgments(text, 2)


def test_judgment_met_must_be_a_boolean():
    text = '{"judgments": [{"item": 1, "met": "yes"}]}'
    with pytest.raises(ParseFailure, match="judgments.0.met"):
        parse_judgments(text, 1)


def test_verifier_reply_verdict_case_is_normalised():
    reply = parse_verifier_reply('{"verdict": "fail", "problems": ["leak"]}')
    assert reply.verdict == "FAIL" and reply.problems == ["leak"]


def test_verifier_reply_unknown_verdict_fails():
    with pytest.raises(ParseFailure, match="verdict"):
        parse_verifier_reply('{"verdict": "MAYBE", "problems": []}')


def test_judgment_extra_fields_such_as_a_reason_are_ignored():
    text = '{"judgments": [{"item": 1, "met": true, "reason": "stated"}], "note": "ok"}'
    assert parse_judgments(text, 1) == [True]


def test_judgment_item_as_string_fails():
    with pytest.raises(ParseFailure, match="judgments.0.item"):
        parse_judgments('{"judgments": [{"item": "1", "met": true}]}', 1)
