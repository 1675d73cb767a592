"""Exports as Hugging Face's own clients read them: every format through `datasets.load_dataset`,
the formats concatenated, the card through `huggingface_hub.DatasetCard` (both libraries are in
the `test` extra; nothing here reaches a network: the loads are of local folders)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before the imports: never look anything up online
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets  # noqa: E402
import pytest  # noqa: E402
from huggingface_hub import DatasetCard  # noqa: E402

from evolve.cli import main  # noqa: E402
from evolve.reports.card import data_card  # noqa: E402
from evolve.reports.export import COLUMNS, PARQUET_FILE  # noqa: E402
from test_export import write_generate_dir  # noqa: E402
from recorded_run import PAPERS, copy_of_run, episode  # noqa: E402

datasets.disable_progress_bars()


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """One evolve run and one generate folder, each exported in all three formats."""
    base = tmp_path_factory.mktemp("clients")
    run = copy_of_run(tmp_path_factory, base / "results" / "rtest")
    gen = write_generate_dir(base / "gen", [episode(PAPERS[0], True, "g"), episode(PAPERS[2], True, "g")])
    out = {}
    for name, source in (("evolve", run["run_dir"]), ("generate", gen)):
        for fmt in ("jsonl", "parquet", "hf"):
            target = base / f"{name}-{fmt}"
            assert main(["export", str(source), "--format", fmt, "-o", str(target)]) == 0
            out[name, fmt] = target
    return out


def _load(folder, cache):
    return datasets.load_dataset(str(folder), split="train", cache_dir=str(cache))


@pytest.mark.parametrize("source", ["evolve", "generate"])
def test_every_format_loads_with_the_cards_features_and_they_concatenate(exports, tmp_path, source):
    loaded = {fmt: _load(exports[source, fmt], tmp_path / fmt) for fmt in ("jsonl", "parquet", "hf")}
    card = DatasetCard.load(exports[source, "parquet"] / "README.md")
    declared = datasets.Features._from_yaml_list(card.data.dataset_info["features"])
    assert list(declared) == list(COLUMNS)
    for fmt, ds in loaded.items():
        assert ds.features == declared, fmt
        assert ds.num_rows == 2
    joined = datasets.concatenate_datasets([loaded["jsonl"], loaded["parquet"]])
    assert joined.num_rows == 4 and joined[0] == joined[2]  # same row, same values, either format


def test_the_cards_features_are_the_parquet_files_own_types(exports, tmp_path):
    """The declared types are not a cast over something else: they are what DuckDB wrote."""
    for source in ("evolve", "generate"):
        folder = exports[source, "parquet"]
        raw = datasets.load_dataset("parquet", data_files=str(folder / PARQUET_FILE), split="train",
                                    cache_dir=str(tmp_path / source))
        card = DatasetCard.load(folder / "README.md")
        assert raw.features == datasets.Features._from_yaml_list(card.data.dataset_info["features"])


def test_a_generate_export_types_its_null_columns(exports, tmp_path):
    ds = _load(exports["generate", "jsonl"], tmp_path)
    assert {c: ds.features[c].dtype for c in ("run_id", "candidate_id", "iteration", "repeat")} == {
        "run_id": "string", "candidate_id": "string", "iteration": "int64", "repeat": "int64"}
    assert ds[0]["harness_commit"] is None and ds[0]["harness_digest"] == "g"


def test_plain_json_and_parquet_loads_of_a_run_export_concatenate(exports, tmp_path):
    """Without the card (`load_dataset("json")`): integers are int64 in both files."""
    plain_json = datasets.load_dataset("json", data_files=str(exports["evolve", "jsonl"] / "data" / "train.jsonl"),
                                       split="train", cache_dir=str(tmp_path / "j"))
    plain_parquet = datasets.load_dataset("parquet", data_files=str(exports["evolve", "parquet"] / PARQUET_FILE),
                                          split="train", cache_dir=str(tmp_path / "p"))
    assert datasets.concatenate_datasets([plain_json, plain_parquet]).num_rows == 4


def test_the_card_has_licence_size_task_and_counts_fields(exports):
    folder = exports["evolve", "hf"]
    data = DatasetCard.load(folder / "README.md").data.to_dict()
    assert (data["license"], data["license_name"]) == ("other", "source-paper-licences")
    assert (folder / data["license_link"]).is_file()
    assert PAPERS[0] in (folder / data["license_link"]).read_text()
    assert data["size_categories"] == ["n<1K"]
    assert data["task_categories"] == ["question-answering", "text-generation"]
    assert "simulated" in data["tags"] and data["pretty_name"] == "Autodata examples (rtest)"
    [split] = data["dataset_info"]["splits"]
    assert split == {"name": "train", "num_examples": 2,
                     "num_bytes": (folder / PARQUET_FILE).stat().st_size}
    assert data["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": PARQUET_FILE}]}]


def test_a_hostile_run_id_cannot_break_the_cards_yaml(tmp_path):
    meta = {"source": "generate", "run_id": 'x"\n---\nlicense: mit\n#', "path": "p", "simulated": False,
            "data_file": "data/train.jsonl", "final_filter": False, "format": "jsonl",
            "harness_digest": "h", "pass_rate": None, "n_evaluations": 0, "preset": "deployed",
            "thresholds": {}, "method": "agentic"}
    (tmp_path / "README.md").write_text(data_card([], meta, COLUMNS))
    data = DatasetCard.load(tmp_path / "README.md").data.to_dict()
    assert data["license"] == "other" and data["pretty_name"] == 'Autodata examples (x"\n---\nlicense: mit\n#)'
