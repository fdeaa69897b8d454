"""What an import found and did: every problem located in its file, counts and a preview.

A problem reads ``<file>:<row>: column <column>: "<value>": <reason>``, e.g.
``data/ind-200.csv:12: column valeur: "abc": not a number``. Rows are numbered as a
spreadsheet shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SAMPLE_SHOWN = 10
COUNT_KEYS = ("created", "updated", "unchanged", "erased", "skipped_empty")


@dataclass(frozen=True)
class Problem:
    """One reason to refuse the import, with where it is."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        parts = [where]
        if self.column:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f'"{self.value}"')
        parts.append(self.reason)
        return ": ".join(parts)


@dataclass
class ImportReport:
    """The outcome of an import (or of its dry run, or of its refusal).

    ``counts`` holds totals (rows read, values, placeholder rows skipped…, and after
    validation created/updated/unchanged/erased/skipped_empty); ``preview`` the same five
    counts per indicator code; ``metadata`` per kind of object (``policy_group``, ``policy``,
    ``indicator``) how many are created, updated or unchanged (baromètre); ``sample`` the
    first rows as they will be written, with what will happen to each (for a preview table).
    """

    format: str
    filename: str
    file_hash: str = ""
    dry_run: bool = False
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    preview: dict[str, dict[str, int]] = field(default_factory=dict)
    metadata: dict[str, dict[str, int]] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    batch_id: int | None = None
    applied: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, file: str, row: int | None, column: str | None, value: Any,
                reason: str) -> None:
        self.problems.append(Problem(file, row, column, None if value is None else str(value), reason))

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def totals(self) -> dict[str, int]:
        """created/updated/unchanged/erased/skipped_empty summed over the preview."""
        return {k: sum(v.get(k, 0) for v in self.preview.values()) for k in COUNT_KEYS}

    def render(self) -> str:
        """Human text: a summary, then one line per problem (all of them) or the preview."""
        lines = []
        head = f"Import {self.format} of {self.filename}"
        if self.file_hash:
            head += f" (sha256 {self.file_hash[:12]}…)"
        lines.append(head)
        for key, value in self.counts.items():
            lines.append(f"  {key}: {value}")
        for kind, counts in self.metadata.items():
            lines.append(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s); nothing was written:")
            lines.extend(str(p) for p in self.problems)
            return "\n".join(lines)
        if self.preview:
            lines.append("per indicator: " + " / ".join(COUNT_KEYS))
            for code, counts in sorted(self.preview.items()):
                lines.append(f"  {code}: " + " / ".join(str(counts.get(k, 0)) for k in COUNT_KEYS))
        if self.dry_run:
            if self.sample:
                lines.append(f"first {min(len(self.sample), SAMPLE_SHOWN)} rows:")
                for r in self.sample[:SAMPLE_SHOWN]:
                    value = "(empty)" if r["value"] is None else r["value"]
                    lines.append(f"  {r['file']}:{r['row']}: {r['indicator']} {r['territory']} "
                                 f"{r['kind']} {r['date']} = {value} → {r['outcome']}")
            lines.append("Dry run: nothing was written.")
        elif self.applied and self.format == "revert":
            lines.append(f"Import #{self.batch_id} reverted.")
        elif self.applied:
            lines.append(f"Applied as import #{self.batch_id}.")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data
