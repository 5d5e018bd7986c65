"""The fault suite's summary table: one row per fault (recovered, records lost, duplicates, budget overrun, 429s),
printed at the end of the run and written to ``var/fault-summary.txt``. Rows are filled by the fault tests
(``summary_row`` fixture); under pytest-xdist they come back to the controller from the worker that ran them
(``tests/conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    fault: str
    recovered: bool = False
    lost: int | None = None
    duplicates: int | None = None
    overrun: int | None = None
    rejected_429: int | None = None
    max_per_hour: int | None = None
    limit_hour: int | None = None
    notes: list[str] = field(default_factory=list)


ROWS: list[Row] = []


def write_summary(terminalreporter: Any, path: Path) -> None:
    if not ROWS:
        return
    header = ("fault", "recovered", "records lost", "duplicates", "budget overrun", "429s", "max/hour", "limit")
    lines = [header] + [
        (r.fault, "yes" if r.recovered else "NO", _n(r.lost), _n(r.duplicates), _n(r.overrun), _n(r.rejected_429),
         _n(r.max_per_hour), _n(r.limit_hour))
        for r in ROWS
    ]  # fmt: skip
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = "\n".join("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines)
    notes = "\n".join(f"- {r.fault}: {note}" for r in ROWS for note in r.notes)
    out = f"{text}\n{notes}\n" if notes else f"{text}\n"
    terminalreporter.write_sep("=", "fault suite summary")
    terminalreporter.write(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out)


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)
