"""Stale-prompt detection: what the beat tasks of `prompts.tasks` find and tell each team.

The scans read; each is a constant number of queries whatever the number of prompts:

- `stale_prompts`: active prompts with no new version and no deployment change for their
  namespace's `stale_after_days` (a deployment's `deployed_at` is set on every change of it,
  and deployments are never deleted, so the newest `deployed_at` is the last change);
- `still_resolved`: deprecated prompts resolved in the last `STALE_RESOLVE_WINDOW_DAYS` days,
  per environment, with the callers (service-token names) and counts;
- `sunset_passed`: deprecated prompts past their sunset in namespaces that do not retire them
  automatically. `retire_due` retires the others through the lifecycle service, which tells
  the team itself (`prompt.retired`), so they are in no digest.

`digest_send` groups the findings into one digest per team and sends it unless it says
nothing new since the last one (a fingerprint of the findings per team, `StaleDigest`). Apps
above prompts add findings through the `digest_findings` hook.
"""

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse

from portal.errors import DomainError
from portal.hooks import Hook
from prompts.lifecycle import prompt_retire_at_sunset
from prompts.models import Deployment, Prompt, PromptVersion, ResolveCount, StaleDigest
from teams.models import Team
from teams.notifications import events
from teams.notifications.services import notify

logger = logging.getLogger(__name__)

STALE = "stale"
STILL_RESOLVED = "still_resolved"
SUNSET_PASSED = "sunset_passed"
PENDING_REQUEST = "pending_request"  # found above prompts, through `digest_findings`
HEADINGS = {
    STALE: "No new version and no deployment change for a while",
    STILL_RESOLVED: "Deprecated, still resolved",
    SUNSET_PASSED: "Sunset passed (retire them, or turn on auto-retire for the namespace)",
    PENDING_REQUEST: "Promotion requests pending for a while",
}

# Called with `now=`; each registered function returns a list of `Finding` (e.g. the
# approvals app: pending promotion requests older than N days).
digest_findings = Hook("prompts.stale.digest_findings")


@dataclass(frozen=True)
class Finding:
    team_id: int
    kind: str
    subject: str  # what it is about, e.g. "support/refund-reply"
    line: str  # one line of the digest
    identity: tuple = ()  # what makes it the same finding next time (not counts or ages)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> list:
        return [self.kind, self.subject, *map(str, self.identity)]


def resolve_window_days() -> int:
    return settings.STALE_RESOLVE_WINDOW_DAYS


# --- Scans ----------------------------------------------------------------------------------


def _last_activity():
    last_version = (
        PromptVersion.objects.filter(prompt=OuterRef("pk"))
        .order_by("-number")
        .values("created_at")[:1]
    )
    last_deployment = (
        Deployment.objects.filter(prompt=OuterRef("pk"))
        .order_by("-deployed_at")
        .values("deployed_at")[:1]
    )
    return Greatest(
        "created_at",
        Coalesce(Subquery(last_version), "created_at"),
        Coalesce(Subquery(last_deployment), "created_at"),
    )


def stale_prompts(*, now: dt.datetime) -> list[Finding]:
    """One query: every active prompt old enough to be stale anywhere, with its last
    activity (each correlated subquery evaluated once per row: an index lookup), compared
    here with its namespace's threshold."""
    oldest = now - dt.timedelta(days=1)  # the smallest threshold a namespace may have
    rows = (
        Prompt.objects.filter(state=Prompt.State.ACTIVE, created_at__lt=oldest)
        .annotate(last_activity=_last_activity())
        .order_by("namespace__slug", "name")
        .values_list(
            "namespace__team_id",
            "namespace__slug",
            "name",
            "namespace__stale_after_days",
            "last_activity",
        )
    )
    findings = []
    for team_id, namespace, name, threshold, last in rows:
        if last >= now - dt.timedelta(days=threshold):
            continue
        full_name = f"{namespace}/{name}"
        findings.append(
            Finding(
                team_id=team_id,
                kind=STALE,
                subject=full_name,
                line=f"{full_name}: unchanged for {(now - last).days} days "
                f"(since {last.date().isoformat()})",
                identity=(last.isoformat(),),
                data={"last_activity": last.isoformat()},
            )
        )
    return findings


def still_resolved(*, now: dt.datetime) -> list[Finding]:
    """One query: the flushed counts of the window's days for prompts deprecated now."""
    since = now.date() - dt.timedelta(days=resolve_window_days() - 1)
    rows = (
        ResolveCount.objects.filter(day__gte=since, prompt__state=Prompt.State.DEPRECATED)
        .order_by()
        .values_list(
            "prompt__namespace__team_id",
            "prompt__namespace__slug",
            "prompt__name",
            "environment__slug",
            "token_name",
            "count",
        )
    )
    calls: dict[tuple[int, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for team_id, namespace, name, environment, caller, count in rows:
        calls[team_id, f"{namespace}/{name}", environment][caller] += count
    findings = []
    for (team_id, full_name, environment), callers in sorted(calls.items()):
        names = sorted(caller or "people" for caller in callers)
        total = sum(callers.values())
        findings.append(
            Finding(
                team_id=team_id,
                kind=STILL_RESOLVED,
                subject=full_name,
                line=f"{full_name} in {environment}: resolved {total} times in the last "
                f"{resolve_window_days()} days by {', '.join(names)}",
                identity=(environment, *names),
                data={
                    "environment": environment,
                    "resolves": total,
                    "callers": {caller or "people": n for caller, n in sorted(callers.items())},
                },
            )
        )
    return findings


def _when(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _past_sunset(*, now: dt.datetime, auto_retire: bool):
    return Prompt.objects.filter(
        state=Prompt.State.DEPRECATED, sunset_at__lte=now, namespace__auto_retire=auto_retire
    )


def sunset_passed(*, now: dt.datetime) -> list[Finding]:
    """One query: deprecated prompts past their sunset that nothing retires automatically."""
    rows = (
        _past_sunset(now=now, auto_retire=False)
        .order_by("namespace__slug", "name")
        .values("namespace__team_id", "namespace__slug", "name", "sunset_at")
    )
    return [
        Finding(
            team_id=row["namespace__team_id"],
            kind=SUNSET_PASSED,
            subject=(full_name := f"{row['namespace__slug']}/{row['name']}"),
            line=f"{full_name}: its sunset ({_when(row['sunset_at'])}) has passed",
            identity=(row["sunset_at"].isoformat(),),
            data={"sunset_at": row["sunset_at"].isoformat()},
        )
        for row in rows
    ]


def scan(*, now: dt.datetime) -> list[Finding]:
    """Every finding of this run, prompts' own and those of the `digest_findings` hook."""
    findings = [
        *stale_prompts(now=now),
        *still_resolved(now=now),
        *sunset_passed(now=now),
    ]
    for found in digest_findings(now=now):
        findings.extend(found)
    return findings


# --- Writes ---------------------------------------------------------------------------------


def retire_due(*, now: dt.datetime) -> list[str]:
    """Retire the deprecated prompts past their sunset whose namespace opted in
    (`auto_retire`), each in its own transaction, through the lifecycle service's system
    retirement (audited as `system`). A prompt reactivated or given a later sunset meanwhile
    is left alone (checked under its lock). Safe to run twice: a retired prompt is no longer
    due. Returns the full names retired."""
    retired = []
    due = _past_sunset(now=now, auto_retire=True).select_related("namespace").order_by("pk")
    for prompt in due:
        try:
            done = prompt_retire_at_sunset(prompt=prompt, now=now)
        except DomainError as exc:
            logger.warning("could not retire %s at its sunset: %s", prompt.full_name, exc)
            continue
        if done is not None:
            retired.append(prompt.full_name)
    return retired


def finding_keys(findings: list[Finding]) -> list[str]:
    return sorted({json.dumps(finding.key, separators=(",", ":")) for finding in findings})


def fingerprint(findings: list[Finding]) -> str:
    return hashlib.sha256("\n".join(finding_keys(findings)).encode()).hexdigest()


def _digest_text(team: Team, findings: list[Finding]) -> tuple[str, str]:
    subject = f"Stale prompts digest for {team.slug}: {len(findings)} findings"
    sections = []
    for kind, heading in HEADINGS.items():
        lines = [f"- {f.line}" for f in findings if f.kind == kind]
        if lines:
            sections.append("\n".join([f"{heading}:", *lines]))
    others = [f"- {f.line}" for f in findings if f.kind not in HEADINGS]
    if others:
        sections.append("\n".join(["Other:", *others]))
    return subject, "\n\n".join(sections)


def digest_send(*, findings: list[Finding], now: dt.datetime) -> list[int]:
    """One digest per team with findings, unless its findings are those of the team's last
    scan. A team with none has its fingerprint cleared (the same findings coming back later
    are news). Returns the ids of the teams told."""
    by_team: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_team[finding.team_id].append(finding)
    StaleDigest.objects.exclude(team_id__in=list(by_team)).exclude(fingerprint="").update(
        fingerprint="", keys=[], findings=0, scanned_at=now
    )
    teams = Team.objects.in_bulk(list(by_team))
    told = []
    for team_id, found in sorted(by_team.items()):
        if team_id in teams and _send_one(teams[team_id], found, now):
            told.append(team_id)
    return told


def _send_one(team: Team, findings: list[Finding], now: dt.datetime) -> bool:
    new, keys = fingerprint(findings), finding_keys(findings)
    StaleDigest.objects.get_or_create(team=team, defaults={"scanned_at": now})
    with transaction.atomic():
        digest = StaleDigest.objects.select_for_update().get(team=team)
        news = set(keys) - set(digest.keys)
        digest.scanned_at, digest.findings = now, len(findings)
        digest.fingerprint, digest.keys = new, keys
        if not news:  # the same findings, or fewer (one went away): nothing new to say
            digest.save(update_fields=["scanned_at", "findings", "fingerprint", "keys"])
            return False
        subject, body = _digest_text(team, findings)
        notify(
            event=events.STALE_DIGEST,
            subject=subject,
            body=body,
            team=team,
            url=reverse("teams:team", args=[team.slug]),
            data={
                "team": team.slug,
                "findings": [
                    {"kind": f.kind, "prompt": f.subject, "text": f.line, **f.data}
                    for f in findings
                ],
            },
        )
        digest.fingerprint, digest.sent_at = new, now
        digest.save()
    return True
