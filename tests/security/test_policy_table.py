"""The README's roles table states the policy table exactly (so the documented rules are the enforced ones)."""

from pathlib import Path

from apps.tenancy.policy import LABELS, POLICY, Can, Principal

README = Path(__file__).resolve().parents[2] / "README.md"
COLUMNS = [Principal.OWNER, Principal.ADMIN, Principal.STAFF, Principal.CLIENT, Principal.VIEWING_AS,
           Principal.OPERATOR]  # fmt: skip


def documented() -> dict[str, list[str]]:
    text = README.read_text()
    table = text.split("<!-- policy-table")[1].split("<!-- /policy-table -->")[0]
    rows = [line.strip().strip("|").split("|") for line in table.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


def enforced(can: Can) -> list[str]:
    out = []
    for who in COLUMNS:
        grant = next((g for g in POLICY[who] if g.can == can), None)
        out.append("–" if grant is None else ("if allowed" if grant.if_agency else "✓"))
    return out


def test_the_readme_states_the_policy_table():
    table = documented()
    assert set(table) == set(LABELS.values())
    for can in Can:
        assert table[LABELS[can]] == enforced(can), can
