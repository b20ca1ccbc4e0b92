"""The documentation a user reads: the protocol the code cites is in the repository (and the same
as the project's shared copy where one is beside the checkout), every section the code cites
exists, the README stays short and its links resolve."""

import csv
import re
from pathlib import Path

from tests.conftest import REPO

PROTOCOL = REPO / "docs" / "protocol.md"
SHARED = REPO.parent / "shared" / "PROTOCOL.md"


def cited_sections() -> set[int]:
    found = set()
    for path in [
        *REPO.glob("ffmodels/**/*.py"),
        *REPO.glob("workflow/**/*.smk"),
        *REPO.glob("*.yaml"),
        *REPO.glob("presets/*.yaml"),
    ]:
        found |= {int(n) for n in re.findall(r"PROTOCOL (?:section |§)?(\d+)", path.read_text())}
    return found


def test_every_protocol_section_the_code_cites_is_in_docs_protocol():
    headings = {int(n) for n in re.findall(r"^## (\d+)\.", PROTOCOL.read_text(), flags=re.M)}
    cited = cited_sections()
    assert cited and cited <= headings, sorted(cited - headings)
    if SHARED.is_file():  # the project's copy, where the checkout has one beside it: kept in step
        assert PROTOCOL.read_text() == SHARED.read_text(), "docs/protocol.md differs from ../shared/PROTOCOL.md"


def test_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text()
    # 12 kB: the prose, the two commands, and three generated tables (14 conclusions, the
    # hypothesis test's 13 quantities, 5 gap ladders)
    assert len(readme.encode()) <= 12_000
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links and all((REPO / link).exists() for link in links), [l for l in links if not (REPO / l).exists()]


def test_readme_shows_the_answer_first_and_the_two_commands_within_60_lines():
    lines = (REPO / "README.md").read_text().splitlines()
    assert lines.index("## The answer") < 10
    assert any(line.startswith("make reproduce") for line in lines[:60])
    assert any(line.startswith("make test") for line in lines[:60])


def published_numbers(folder: Path) -> set[str]:
    """Every number a published run's tables and ledger hold, as the README would print it (two
    decimals, with and without sign), and every number written in their text cells."""
    found = set()
    for path in folder.glob("*.csv"):
        with open(path) as fh:
            for row in csv.DictReader(fh):
                for cell in row.values():
                    try:
                        x = float(cell)
                    except (TypeError, ValueError):
                        found |= set(re.findall(r"-?\d+\.\d+", cell or ""))
                        continue
                    found |= {f"{x:.2f}", f"{abs(x):.2f}"}
    return found


def test_every_number_in_the_readme_prose_is_a_published_one():
    """The hand-written answer quotes numbers; each must be in the full run's published tables or
    ledger, or in a published gap ladder (the generated blocks are checked by
    tests/tools/test_publish.py). Slide numbers are quoted as the claims file prints them."""
    from tools.readme import ladder_folders

    readme = (REPO / "README.md").read_text()
    prose = re.sub(r"<!-- (\w+):.*?<!-- /\1 -->", "", readme, flags=re.S)
    prose = re.sub(r"```.*?```", "", prose, flags=re.S)
    prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets
    quoted = set(re.findall(r"(?<![\w.])\d+\.\d+", prose))
    slides = set(re.findall(r"\d+\.\d+", (REPO / "claims.yaml").read_text()))
    published = published_numbers(REPO / "results" / "published" / "full")
    for ladders in ladder_folders(REPO / "results" / "published"):
        published |= published_numbers(ladders)
    assert quoted, "the answer quotes its numbers"
    assert quoted <= published | slides, sorted(quoted - published - slides)
