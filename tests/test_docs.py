"""The documentation a user reads: the protocol the code cites is in the repository (and the same
as the project's shared copy where one is beside the checkout), every section the code cites
exists, the README stays short and its links resolve."""

import re

from tests.conftest import REPO

PROTOCOL = REPO / "docs" / "protocol.md"
SHARED = REPO.parent / "shared" / "PROTOCOL.md"


def cited_sections() -> set[int]:
    found = set()
    for path in [*REPO.glob("ffmodels/**/*.py"), *REPO.glob("workflow/**/*.smk"), *REPO.glob("*.yaml"),
                 *REPO.glob("presets/*.yaml")]:
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
    assert len(readme.encode()) <= 20_000  # the Results section has one row per claim of the slides (46)
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links and all((REPO / link).exists() for link in links), [l for l in links if not (REPO / l).exists()]
