"""`autodata compare`: Table 1 numbers from two generate output directories."""

import json
from pathlib import Path

import pytest

from evolve.cli import main
from inner_loop.thresholds import PRESETS
from inner_loop.compare import run_stats
from inner_loop.errors import UserError
from inner_loop.evaluation import JudgedSample, SolverEval, summarise
from inner_loop.example import Example, RubricItem
from inner_loop.scoring import score

TH = PRESETS["deployed"]
WEIGHTS = [5, 3, 2, -2]  # positive sum 10


def judged(verdict_rows: list[list[bool]]) -> list[JudgedSample]:
    return [
        JudgedSample(sample_index=i, answer=f"answer {i}", judgments=v,
                     score=score(WEIGHTS, v), judge_attempts=1)
        for i, v in enumerate(verdict_rows)
    ]


def make_example(words_q: int, words_c: int) -> Example:
    return Example(
        question_type="mechanism", reasoning_skills=["causal reasoning"],
        context=" ".join(["ctx"] * words_c), question=" ".join(["why"] * words_q),
        reference_answer="because",
        rubric=[RubricItem(criterion=f"criterion {i}", weight=w) for i, w in enumerate(WEIGHTS)],
    )


# weak: [T,F,F,F]=0.5, [F,T,T,F]=0.5, [T,F,F,T]=0.3 -> avg 13/30; strong: 1.0, 0.8, 0.7 -> avg 5/6
WEAK_ROWS = [[True, False, False, False], [False, True, True, False], [True, False, False, True]]
STRONG_ROWS = [[True, True, True, False], [True, True, False, False], [True, False, True, False]]


def accepted_line(paper_id: str, words_q: int, words_c: int, rounds: int) -> dict:
    weak = summarise("weak", judged(WEAK_ROWS), TH)
    strong = summarise("strong", judged(STRONG_ROWS), TH, weak_eval=weak)
    assert weak.passed and strong.passed
    return {"paper_id": paper_id, "example": make_example(words_q, words_c).model_dump(),
            "weak": weak.model_dump(), "strong": strong.model_dump(), "rounds_used": rounds}


def write_run(path: Path, accepted: list[dict], rounds: list[list[str]], *, simulated: bool,
              calls: int, cost: float) -> Path:
    path.mkdir()
    (path / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in accepted))
    episodes = [{"paper_id": f"p{i}", "rounds": [{"round": k + 1, "outcome": o}
                                                 for k, o in enumerate(outs)]}
                for i, outs in enumerate(rounds)]
    (path / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    usage = {"roles": {"judge": {"calls": calls - 1, "cost_usd": cost},
                       "weak_solver": {"calls": 1, "cost_usd": 0.0}},
             "total": {"calls": calls, "cost_usd": cost}}
    (path / "summary.json").write_text(json.dumps({"simulated": simulated, "usage": usage}))
    return path


@pytest.fixture
def runs(tmp_path):
    a = write_run(
        tmp_path / "agentic",
        [accepted_line("p0", 10, 40, 3), accepted_line("p1", 20, 60, 1)],
        [["too_easy", "too_easy", "accepted"], ["accepted"], ["too_easy", "parse_error", "abandoned"]],
        simulated=True, calls=120, cost=0.5,
    )
    b = write_run(tmp_path / "cot", [accepted_line("p2", 8, 20, 1)],
                  [["accepted"], ["too_easy"], ["failed_on_strong"], ["failed_quality_check"]],
                  simulated=False, calls=30, cost=0.0)
    return a, b


def test_run_stats_computes_table_one_from_the_records(runs):
    a = run_stats(runs[0])
    assert (a.papers, a.accepted) == (3, 2)
    assert a.acceptance_rate == pytest.approx(2 / 3)
    assert a.weak_avg == pytest.approx(13 / 30)
    assert a.strong_avg == pytest.approx(5 / 6)
    assert a.gap == pytest.approx(5 / 6 - 13 / 30)
    assert a.rounds_per_accepted == pytest.approx(2.0)
    assert (a.question_words, a.context_words, a.rubric_items) == (15.0, 50.0, 4.0)
    assert a.failure_reasons == {"too_easy": 3, "abandoned": 1, "parse_error": 1}
    assert (a.calls, a.cost_usd, a.simulated) == (120, 0.5, True)


def test_compare_json_prints_both_runs(runs, capsys):
    assert main(["compare", str(runs[0]), str(runs[1]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["simulated"] is True
    assert data["a"]["accepted"] == 2 and data["b"]["accepted"] == 1
    assert data["b"]["acceptance_rate"] == pytest.approx(0.25)
    assert data["b"]["failure_reasons"] == {
        "failed_on_strong": 1, "failed_quality_check": 1, "too_easy": 1}


def test_compare_table_is_labelled_simulated(runs, capsys):
    assert main(["compare", str(runs[0]), str(runs[1])]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out
    assert "acceptance rate" in out and "66.7%" in out and "25.0%" in out
    assert "rounds too_easy" in out


def test_compare_table_without_simulated_runs_has_no_label(runs, capsys):
    b = runs[1]
    assert main(["compare", str(b), str(b)]) == 0
    assert "SIMULATED" not in capsys.readouterr().out


def test_run_with_no_accepted_example_shows_dashes(tmp_path, capsys):
    empty = write_run(tmp_path / "empty", [], [["too_easy"]], simulated=False, calls=3, cost=0.0)
    stats = run_stats(empty)
    assert stats.accepted == 0 and stats.weak_avg is None and stats.acceptance_rate == 0.0
    assert main(["compare", str(empty), str(empty)]) == 0
    assert "—" in capsys.readouterr().out


def test_missing_files_are_a_user_error(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    with pytest.raises(UserError, match="missing examples.jsonl"):
        run_stats(tmp_path / "x")
    assert main(["compare", str(tmp_path / "x"), str(tmp_path / "nope")]) == 1
    assert "autodata: error:" in capsys.readouterr().err


def test_malformed_example_line_names_file_and_field(runs):
    path = runs[0] / "examples.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["weak"]["avg"] = "high"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match="example 2: weak.avg"):
        run_stats(runs[0])


def test_solver_eval_dump_round_trips():
    weak = summarise("weak", judged(WEAK_ROWS), TH)
    assert SolverEval.model_validate(weak.model_dump()) == weak
