"""What an import did (or, in a dry run, would do): one result per source prompt, a summary,
and the lines the command prints."""

from dataclasses import dataclass, field

CREATED, UPDATED, UNCHANGED, FAILED = "created", "updated", "unchanged", "failed"
# Versions: created, exists (the content is already a version of the prompt), skipped
# (identical to the version before it in the source).
# Labels: deployed (moved now), requested (a promotion request opened), held (already there),
# pending (a request already waits), deferred (an earlier step is for people to take first),
# refused.
VERSION_STATES = ("created", "exists", "skipped")
LABEL_STATES = ("deployed", "requested", "held", "pending", "deferred", "refused")


@dataclass
class PromptResult:
    source: str
    target: str | None = None
    status: str = UNCHANGED
    versions: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def fail(self, error: str) -> "PromptResult":
        """Nothing of this prompt was kept: only what went wrong stays in its result."""
        self.status = FAILED
        self.versions, self.labels = [], []
        self.errors.append(error)
        return self

    def version(self, source: int, state: str, target: int | None, detail: str = "") -> None:
        self.versions.append({"source": source, "state": state, "target": target, "detail": detail})
        if state == "created" and self.status == UNCHANGED:
            self.status = UPDATED

    def label(self, label: str, state: str, version: int | None, detail: str = "", **extra):
        self.labels.append({"label": label, "state": state, "version": version, "detail": detail})
        self.labels[-1] |= extra
        if state in ("deployed", "requested") and self.status == UNCHANGED:
            self.status = UPDATED


@dataclass(frozen=True)
class ImportReport:
    origin: str
    dry_run: bool
    results: list[PromptResult]

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        prompts = dict.fromkeys((CREATED, UPDATED, UNCHANGED, FAILED), 0)
        versions = dict.fromkeys(VERSION_STATES, 0)
        labels = dict.fromkeys(LABEL_STATES, 0)
        for result in self.results:
            prompts[result.status] += 1
            for version in result.versions:
                versions[version["state"]] += 1
            for label in result.labels:
                labels[label["state"]] += 1
        return {"prompts": prompts, "versions": versions, "labels": labels}

    @property
    def ok(self) -> bool:
        summary = self.summary
        return summary["prompts"][FAILED] == 0 and summary["labels"]["refused"] == 0


def _version_line(version: dict) -> str:
    text = f"v{version['source']}: {version['state']}"
    if version["target"] is not None:
        text += f" as v{version['target']}"
    return text + (f" ({version['detail']})" if version["detail"] else "")


def _label_line(label: dict) -> str:
    text = f"label {label['label']}"
    if label["version"] is not None:
        text += f" → v{label['version']}"
    text += f": {label['state']}"
    if label.get("request"):
        text += f" (request #{label['request']}"
        if label.get("required_approvals"):
            text += f", {label['required_approvals']} approval(s) needed"
        text += ")"
    return text + (f": {label['detail']}" if label["detail"] else "")


def report_lines(report: ImportReport) -> list[str]:
    """One line per prompt (source → target), its versions, labels, notes and errors
    indented beneath it, then the summary."""
    lines = [
        f"{'Dry run (nothing changed) of an import' if report.dry_run else 'Import'}"
        f" from Langfuse ({report.origin})."
    ]
    for result in report.results:
        target = f" → {result.target}" if result.target else ""
        lines.append(f"{result.status:<9} {result.source}{target}")
        lines += [f"          {note}" for note in result.notes]
        lines += [f"          {_version_line(version)}" for version in result.versions]
        lines += [f"          {_label_line(label)}" for label in result.labels]
        lines += [f"          error: {error}" for error in result.errors]
    summary = report.summary
    lines.append(
        "; ".join(
            f"{group}: " + ", ".join(f"{count} {state}" for state, count in counts.items())
            for group, counts in summary.items()
        )
        + "."
    )
    return lines
