"""Papers: the `Paper` model, streaming loaders for four input formats, splits and the bundled corpus."""

from inner_loop.papers.corpus import (
    default_corpus_path,
    default_split_path,
    load_split,
    select_papers,
)
from inner_loop.papers.detect import FORMATS, detect_format
from inner_loop.papers.loaders import iter_papers, load_papers
from inner_loop.papers.model import LoadReport, Paper, PaperError, Problem, Section
from inner_loop.papers.split import Split, make_split

__all__ = [
    "FORMATS",
    "LoadReport",
    "Paper",
    "PaperError",
    "Problem",
    "Section",
    "Split",
    "default_corpus_path",
    "default_split_path",
    "detect_format",
    "iter_papers",
    "load_papers",
    "load_split",
    "make_split",
    "select_papers",
]
