"""Small harness trees for tests: the manifest of a one-prompt harness."""

MINIMAL_MANIFEST = """\
[harness]
entry = "agent.py"
editable = ["prompts/*.md", "*.py"]

[prompts.challenger]
file = "prompts/challenger.md"
role = "challenger"
variables = ["paper"]
"""
