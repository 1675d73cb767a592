"""Run the probe harness once and print its outcomes as JSON (for test_sandbox_hostile.py, which
starts this as an unprivileged user). argv: harness dir, probes (space-separated)."""
import json, os, sys, tempfile
from pathlib import Path
from inner_loop.config import load_config
from inner_loop.llm.client import LLMClient
from inner_loop.papers import Paper, Section
from inner_loop.runner import run_episode
tmp = Path(tempfile.mkdtemp())
paper = Paper(id="t:p", title="Probe", abstract=sys.argv[2], sections=[Section(heading="s", text="none")])
config = load_config(None, ["inner_loop.episode_timeout_s=30"])
rec = run_episode(paper, Path(sys.argv[1]), config=config, client=LLMClient(config), workdir_root=tmp / "work")
print(json.dumps({"uid": os.geteuid(), "status": rec.status, "confinement": rec.confinement, "error": rec.error,
                  "logs": [e["text"] for e in rec.transcript if e["op"] == "log"]}))
