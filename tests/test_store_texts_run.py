"""Lighter records on real sim episodes and a real evolve run: nothing a reader needs is lost.

A real episode record round-trips through the store field for field (and renders the same
analyzer transcript); `log --calls` and `export` read the same from a run stored in the old
layout (every blob whole, migrations 001-003) as from the same run stored as segments; a run
stopped by its call budget and resumed pays no call again for the episodes it had recorded.
"""

import json
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

from evolve.jobs import Job, load_record
from evolve.reports import export as export_mod
from evolve.reports import log as log_mod
from evolve.run import RunSettings, read_run_config, resume_run, start_run, write_json
from evolve.store import Store, StoreReader
from evolve.store import texts
from evolve.store.migrate import MIGRATIONS_DIR, migrate
from evolve.transcripts import render_transcripts
from inner_loop.config import load_config
from inner_loop.episode import EpisodeRecord
from inner_loop.llm.client import LLMClient
from inner_loop.papers import select_papers
from inner_loop.runner import run_episode

REPO = Path(__file__).resolve().parents[1]
SETS = ["seed=2", "evolve.iterations=1", "evolve.minibatch=1", "inner_loop.max_rounds=3",
        "evolve.final_repeats=0", "evolve.concurrency=1"]
SETTINGS = RunSettings(validation_limit=3)


@pytest.fixture(scope="module")
def episodes() -> list[EpisodeRecord]:
    config = load_config(None, ["inner_loop.max_rounds=3"])
    client = LLMClient(config)
    with tempfile.TemporaryDirectory() as work:
        return [run_episode(p, REPO / "harness", config=config, client=client, workdir_root=Path(work))
                for p in select_papers(subset="validation", limit=2)]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("texts") / "run"
    start_run(load_config(None, SETS), SETTINGS, path, show_progress=False)
    return path


def test_a_real_episode_record_round_trips_field_for_field(tmp_path, episodes):
    with Store.open(tmp_path, create=True) as store:
        store.record_run("r", "{}", "t", True)
        ids = [store.record_episode(r.model_dump(mode="json"), "seed", "validation", 0, 1) for r in episodes]
        rows = {r["episode_id"]: r["record_blob"] for r in store.query("SELECT episode_id, record_blob FROM episodes")}
        back = [EpisodeRecord.model_validate(json.loads(store.get_blob(rows[i]))) for i in ids]
        assert back == episodes
        assert [b.model_dump(mode="json") for b in back] == [r.model_dump(mode="json") for r in episodes]
        assert render_transcripts(back) == render_transcripts(episodes)  # the analyzer reads the same bytes
        assert [store.record_episode(r.model_dump(mode="json"), "seed", "validation", 0, 1)
                for r in episodes] == ids  # the same episode_id: nothing recorded twice
        seen = texts.footprint(store._con)
        assert seen["stored_bytes"] < seen["logical_bytes"]


def test_a_record_quoting_a_lone_surrogate_is_read_back_exactly_for_the_analyzer(tmp_path, episodes):
    paper = select_papers(subset="validation", limit=1)[0]
    record = episodes[0].model_copy(deep=True)
    assert record.paper_id == paper.id and record.rounds
    record.rounds[0].challenger_raw = "reply \ud800 with a lone surrogate " * 40
    record.transcript.append({"op": "log", "args": {"message": "\udfff"}})
    with Store.open(tmp_path, create=True) as store:
        store.record_run("r", "{}", "t", True)
        store.record_episode(record.model_dump(mode="json"), "seed", "validation", 0, 1)
        back = load_record(store, Job("seed", REPO / "harness", paper, 0), "validation")
    assert back == record and render_transcripts([back]) == render_transcripts([record])


def old_layout_copy(run: Path, dest: Path) -> Path:
    """The same run as migration 003 stored it: every blob whole in the table `blobs`."""
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("autodata.duckdb", "autodata.read.duckdb*"))
    mig = dest.parent / "mig003"
    mig.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("00[123]_*.sql")):
        (mig / path.name).write_text(path.read_text())
    con = duckdb.connect(str(dest / "autodata.duckdb"))
    migrate(con, "old", mig)
    con.execute(f"ATTACH '{run / 'autodata.duckdb'}' AS new (READ_ONLY)")
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                        "current_database() AND table_name <> 'migrations'").fetchall()]
    for table in tables:  # blobs: the view of the new layout, reassembled
        con.execute(f"INSERT INTO {table} SELECT * FROM new.{table}")
    con.close()
    with Store.open(dest):  # a writer migrates it to 004: the old blobs stay whole
        pass
    return dest


def test_log_calls_and_export_read_the_same_from_the_old_layout(real_run, tmp_path):
    old = old_layout_copy(real_run, tmp_path / "old")
    with StoreReader.open(old) as r:
        assert r.query("SELECT count(*) AS n FROM stored_blobs WHERE parts IS NOT NULL")[0]["n"] == 0
    with StoreReader.open(real_run) as r:
        assert r.query("SELECT count(*) AS n FROM stored_blobs WHERE parts IS NOT NULL")[0]["n"] > 0
    outputs = []
    for run in (real_run, old):
        with StoreReader.open(run) as reader:
            calls = log_mod.calls(reader, n=None)
            text = log_mod.calls_text(calls, full=True)
        out = tmp_path / f"export-{run.name}"
        export_mod.export(run, out, "jsonl", harness="seed")
        outputs.append((calls, text, (out / "data/train.jsonl").read_bytes(), (out / "README.md").read_text()))
    assert outputs[0][0] == outputs[1][0] and outputs[0][1] == outputs[1][1]
    assert len(outputs[0][0]) > 50
    assert outputs[0][2] and outputs[0][2] == outputs[1][2]  # at least one accepted example
    assert outputs[0][3].replace(str(real_run), "RUN") == outputs[1][3].replace(str(old), "RUN")


def test_the_run_stores_each_paper_once_and_reads_back_whole(real_run):
    with StoreReader.open(real_run) as r:
        f = r.footprint()
        assert f["file_bytes"] == (real_run / "autodata.duckdb").stat().st_size
        assert f["episodes"] > 0 and f["stored_bytes"] < f["logical_bytes"] / 3
        view = {x["sha256"]: x["text"] for x in r.query("SELECT sha256, text FROM blobs")}
        assert r.get_blobs(list(view)) == view
        assert all(texts.sha256_hex(t) == s for s, t in view.items())


def test_resume_after_a_stop_pays_no_call_again(tmp_path):
    full = tmp_path / "full"
    start_run(load_config(None, SETS), SETTINGS, full, show_progress=False)
    with StoreReader.open(full) as r:
        total = r.query("SELECT count(*) AS n FROM llm_calls")[0]["n"]
        lineage = r.query("SELECT candidate_id, status FROM lineage ORDER BY candidate_id")
    cut = tmp_path / "cut"
    start_run(load_config(None, SETS + [f"budget.max_calls={total // 2}"]), SETTINGS, cut, show_progress=False)
    with StoreReader.open(cut) as r:
        before = {x["call_id"] for x in r.query("SELECT call_id FROM llm_calls")}
        done = [f"it{x['iteration']}/{x['candidate_id']}/{x['purpose']}/{x['paper_id']}/r{x['repeat']}"
                for x in r.query("SELECT * FROM evaluations")]
    assert done and len(before) < total
    rc = read_run_config(cut)
    budget = rc.config.budget.model_copy(update={"max_calls": None})
    write_json(cut / "config.json", rc.model_copy(update={"config": rc.config.model_copy(
        update={"budget": budget})}).model_dump(mode="json"))
    resume_run(cut, show_progress=False)
    with StoreReader.open(cut) as r:
        after = r.query("SELECT call_id, tag FROM llm_calls WHERE NOT cached")
        assert r.query("SELECT candidate_id, status FROM lineage ORDER BY candidate_id") == lineage
    new = [x for x in after if x["call_id"] not in before]
    assert new and not [x for x in new if any(x["tag"].startswith(d) for d in done)]
