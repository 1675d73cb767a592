"""One real GRPO step: TRL's GRPOTrainer on our `export --format hf` output with RubricReward as
its reward, a tiny model built from a config and a tokenizer built from the data (no download),
the simulated judge. Off by default (`pytest -m trl tests/test_grpo_trl.py`); it needs
`pip install torch trl` (neither is part of the install)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything below is local: never look online
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

pytestmark = pytest.mark.trl
torch = pytest.importorskip("torch", reason="pip install torch trl")
trl = pytest.importorskip("trl", reason="pip install torch trl")

import datasets  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402

from evolve.cli import main  # noqa: E402
from inner_loop.config import Config  # noqa: E402
from inner_loop.reward import RubricReward  # noqa: E402
from recorded_run import copy_of_run  # noqa: E402

CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")


def tiny_tokenizer(texts):
    """A word-level tokenizer trained on the dataset's own text (no vocabulary file to fetch)."""
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[EOS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   eos_token="[EOS]")
    fast.chat_template = CHAT_TEMPLATE
    return fast


class CountingReward(RubricReward):
    """RubricReward as it is, counting the completions it scored."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scored: list[float] = []

    def __call__(self, prompts, completions, **kwargs):
        out = super().__call__(prompts, completions, **kwargs)
        self.scored.extend(out)
        return out


def test_one_grpo_step_on_the_export_with_the_rubric_reward(tmp_path_factory, tmp_path):
    run = copy_of_run(tmp_path_factory, tmp_path / "results" / "rtest")
    assert main(["export", str(run["run_dir"]), "--format", "hf", "-o", str(tmp_path / "dataset")]) == 0
    train = datasets.load_dataset(str(tmp_path / "dataset"), split="train", cache_dir=str(tmp_path / "cache"))
    texts = [m["content"] for row in train["prompt"] for m in row] + ["user", "assistant", "system", ":"]
    tokenizer = tiny_tokenizer(texts)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=2048, n_embd=32,
                                       n_layer=1, n_head=2, pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=tokenizer.eos_token_id,
                                       bos_token_id=tokenizer.eos_token_id))
    reward = CountingReward(Config())
    args = trl.GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=1, per_device_train_batch_size=2,
                          num_generations=2, max_completion_length=8, learning_rate=1e-3,
                          logging_steps=1, report_to="none", save_strategy="no", use_cpu=True,
                          bf16=False)
    trainer = trl.GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=train,
                              processing_class=tokenizer)
    trainer.train()
    assert trainer.state.global_step == 1
    assert len(reward.scored) >= 2 and all(0.0 <= r <= 1.0 for r in reward.scored)
    logged = [h for h in trainer.state.log_history if "rewards/rubric_reward/mean" in h]
    assert logged and 0.0 <= logged[0]["rewards/rubric_reward/mean"] <= 1.0
