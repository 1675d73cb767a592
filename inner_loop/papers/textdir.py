"""A directory of `.md` / `.txt` files, one paper each (files sorted by name; other files ignored).

- `id` = the file stem (`arxiv:2212.11808.md` -> "arxiv:2212.11808"); `source` = the file path.
- `title` = the first non-blank line, without its Markdown `#` marker (normally a `# Title` line).
- After the title, every Markdown heading line (`#` to `######` followed by a space) starts a new
  section. Text before the first heading is a section with heading "". A heading followed by no
  text yields no section. Section text is stripped of surrounding blank lines and spaces.
- If the first section is headed `Abstract` (any case, any level), it becomes `abstract`.
This reads back what `Paper.full_text` writes; the one loss is a body line that itself looks like
a Markdown heading (code comments, `# of params` in tables), which starts a new section.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from inner_loop.papers.detect import open_text
from inner_loop.papers.model import (
    EMPTY_TEXT,
    INVALID_FIELD,
    Paper,
    PaperError,
    Problem,
    Section,
    build_paper,
)

SUFFIXES = (".md", ".txt")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.*\S)[ \t]*$")


def iter_textdir(folder: Path) -> Iterator[tuple[str, Paper | Problem]]:
    """Yield ("file:1", Paper or Problem) for each `.md`/`.txt` file of `folder`, one file at a time."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise PaperError(f"{folder}: no {' or '.join(SUFFIXES)} files, so no papers")
    for file in files:
        where = f"{file}:1"
        try:
            title, sections = _parse(file)
        except UnicodeDecodeError as exc:
            message = f"not UTF-8 text ({exc.reason})"
            yield where, Problem(kind=INVALID_FIELD, where=where, message=message)
            continue
        if not title and not sections:
            yield where, Problem(kind=EMPTY_TEXT, where=where, message="empty file")
            continue
        abstract = ""
        if sections and sections[0].heading.lower() == "abstract":
            abstract = sections.pop(0).text
        fields = {"id": file.stem, "title": title, "abstract": abstract, "sections": sections,
                  "source": str(file)}
        yield where, build_paper(where, fields)


def _parse(file: Path) -> tuple[str, list[Section]]:
    """Stream the file: the title line, then (heading, lines) blocks."""
    title = ""
    blocks: list[tuple[str, list[str]]] = [("", [])]
    with open_text(file) as handle:
        for line in handle:
            if not title:
                title = _title(line)
                continue
            match = _HEADING.match(line)
            if match:
                blocks.append((match.group(1), []))
            else:
                blocks[-1][1].append(line)
    sections = [Section(heading=h, text="".join(lines).strip()) for h, lines in blocks]
    return title, [s for s in sections if s.text]


def _title(line: str) -> str:
    match = _HEADING.match(line)
    return match.group(1) if match else line.strip()
