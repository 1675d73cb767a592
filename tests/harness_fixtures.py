"""Shared test helpers: the manifest of a one-prompt harness and a CallRecord recorder."""

MINIMAL_MANIFEST = """\
[harness]
entry = "agent.py"
editable = ["prompts/*.md", "*.py"]

[prompts.challenger]
file = "prompts/challenger.md"
role = "challenger"
variables = ["paper"]
"""


class Calls:
    """A recorder: the LLM client hands it one CallRecord per finished call."""

    def __init__(self):
        self.records = []

    def __call__(self, record):
        self.records.append(record)

    def of(self, role):
        return [r for r in self.records if r.role == role]
