"""``docs/threat-model.md`` names the tests and proofs that check each row: they must exist.

The table's *checked by* column cites ``path`` or ``path::name``; a rename or a
removed test would otherwise leave the page claiming a check that no longer
runs. Each cited file must exist under the repository, and each ``name`` must
be defined at the top level of that file (a function, a class, or an
assignment such as a proof's ``test_x = Machine.TestCase``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "threat-model.md"
REFERENCE = re.compile(r"`((?:tests|proofs)/[\w/.-]+\.py)(?:::(\w+))?`")
ACTORS = (
    "Camera thief",
    "Hacked camera",
    "Network attacker",
    "Records-server operator",
    "database stolen",
    "database backup leaked",
    "One custodian compromised",
    "custodians colluding",
    "Court key stolen",
    "Rogue officer",
    "Dispatcher compromised",
    "Hotlist officer abusing the list, alone",
    "Hotlist officer with the second approver",
    "Auditor / public",
    "Supply chain: a dependency",
    "Supply chain: a model file",
)


def _rows() -> list[list[str]]:
    """The threat table's rows, split into cells (header and rule lines dropped)."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| actor |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _defined(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_the_table_has_a_row_per_actor_each_with_five_cells() -> None:
    rows = _rows()
    assert all(len(row) == 5 for row in rows), [row[0] for row in rows if len(row) != 5]
    for actor in ACTORS:
        assert any(actor in row[0] for row in rows), f"no row for {actor!r}"


def test_every_row_names_a_check_or_says_plainly_that_none_exists() -> None:
    for actor, *_, checked in _rows():
        assert REFERENCE.search(checked) or "not checked" in checked, actor


def _references() -> list[tuple[str, str | None]]:
    found = {(m[1], m[2] or None) for row in _rows() for m in REFERENCE.finditer(row[4])}
    return sorted(found, key=lambda ref: (ref[0], ref[1] or ""))


def test_the_table_cites_tests_and_proofs() -> None:
    refs = _references()
    assert len(refs) >= 30
    assert any(path.startswith("proofs/") for path, _ in refs)


@pytest.mark.parametrize(("path", "name"), _references(), ids=lambda v: str(v))
def test_each_cited_test_exists(path: str, name: str | None) -> None:
    file = ROOT / path
    assert file.is_file(), f"docs/threat-model.md cites {path}, which does not exist"
    if name is not None:
        assert name in _defined(file), f"docs/threat-model.md cites {path}::{name}: not defined"


def test_the_gaps_section_lists_what_nothing_checks() -> None:
    text = DOC.read_text()
    gaps = text.split("## Gaps", 1)[1]
    assert len(re.findall(r"^\d+\. ", gaps, flags=re.MULTILINE)) >= 5
    assert "## Known limits" in text
