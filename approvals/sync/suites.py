"""A prompt file's evaluation suites: each promptfoo file becomes (or keeps) a suite of the
prompt with that name. A new suite goes through the suite import; an existing one is brought
to the file's cases one case service call at a time, and only where a case differs, so a
suite whose file is unchanged is not rewritten (and leaves no audit entry)."""

import itertools
from dataclasses import dataclass, field

from portal.errors import Invalid
from prompts.evaluations import promptfoo
from prompts.evaluations import suites as suite_services
from prompts.evaluations.models import Case, Suite
from prompts.models import Prompt
from teams.permissions import Principal

DESCRIPTION_CHARS = 1000  # what the suite import keeps of a file's description


@dataclass(frozen=True)
class SuiteResult:
    name: str
    path: str
    status: str  # created | updated | unchanged
    cases: int
    warnings: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "cases": self.cases,
            "warnings": self.warnings,
        }


def _case_input(case: promptfoo.ParsedCase) -> suite_services.CaseInput:
    return suite_services.CaseInput(
        description=case.description,
        variables=case.variables,
        assertions=case.assertions,
        threshold=case.threshold,
    )


def _same(stored: Case, wanted: suite_services.CaseInput) -> bool:
    return (
        stored.description == (wanted.description or "").strip()
        and stored.variables == (wanted.variables or {})
        and stored.assertions == (wanted.assertions or [])
        and stored.threshold == wanted.threshold
    )


def suite_sync(
    *, actor: Principal, prompt: Prompt, name: str, path: str, content: str
) -> SuiteResult:
    """The suite `name` of `prompt` holds exactly the cases of this promptfoo file."""
    try:
        parsed = promptfoo.parse(format="promptfoo", content=content)
    except RecursionError as exc:
        raise Invalid.field("content", f"{path} nests too deeply to be read.") from exc
    suite = Suite.objects.filter(prompt=prompt, name=name).first()
    if suite is None:
        imported = suite_services.suite_import(
            actor=actor, prompt=prompt, name=name, format="promptfoo", content=content
        )
        return SuiteResult(
            name=name,
            path=path,
            status="created",
            cases=len(parsed.cases),
            warnings=imported.warnings,
        )
    changed = False
    description = parsed.description[:DESCRIPTION_CHARS]
    if suite.description != description:
        suite_services.suite_update(actor=actor, suite=suite, description=description)
        changed = True
    stored = list(suite.cases.order_by("position"))
    wanted = [_case_input(case) for case in parsed.cases]
    for old, new in itertools.zip_longest(stored, wanted):
        if new is None:
            suite_services.case_delete(actor=actor, case=old)
        elif old is None:
            suite_services.case_create(actor=actor, suite=suite, data=new)
        elif not _same(old, new):
            suite_services.case_update(actor=actor, case=old, data=new)
        else:
            continue
        changed = True
    return SuiteResult(
        name=name, path=path, status="updated" if changed else "unchanged", cases=len(wanted)
    )
