"""Differences between two versions' content, as data a template renders (side by side or
inline) and as the unified text the API answers with. Plain Python: no Django, no HTML."""

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prompts.unified_diff import Content, content_text, settings_text, unified

CONTEXT_LINES = 3
# A page shows at most this many rows of one text's diff (a 64 KiB template can differ on
# every one of 30,000 lines); the API's unified diff has all.
MAX_ROWS = 2000
# Below this share of equal words two paired lines are shown as wholly replaced, not word
# by word: highlighting the odd common "the" helps nobody.
WORD_SIMILARITY = 0.4
# Word matching is quadratic or worse: a longer changed stretch of a line is shown replaced.
MAX_WORD_TOKENS = 400
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")

RowKind = Literal["same", "changed", "added", "removed", "gap", "note"]
ChangeStatus = Literal["same", "changed", "added", "removed"]


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool = False


@dataclass(frozen=True)
class Side:
    """One line of one version: its 1-based number and its words, changed or not."""

    number: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Row:
    """A side-by-side row. A gap stands for `skipped` unchanged lines left out."""

    kind: RowKind
    old: Side | None = None
    new: Side | None = None
    skipped: int = 0
    note: str = ""  # a "note" row: what differs that no line shows (line endings)


@dataclass(frozen=True)
class InlineLine:
    kind: RowKind
    old_number: int | None = None
    new_number: int | None = None
    segments: tuple[Segment, ...] = ()
    skipped: int = 0
    note: str = ""
    paired: bool = False  # one of a changed line's two halves, not a line added or removed whole


@dataclass(frozen=True)
class TextDiff:
    rows: tuple[Row, ...]

    @property
    def inline(self) -> tuple[InlineLine, ...]:
        """One column: in each run of changes, every old line, then every new one."""
        lines: list[InlineLine] = []
        run: list[Row] = []
        for row in (*self.rows, None):
            if row is not None and row.kind in ("changed", "added", "removed"):
                run.append(row)
                continue
            lines += [_inline("removed", r, old=True) for r in run if r.old]
            lines += [_inline("added", r, old=False) for r in run if r.new]
            run = []
            if row is None:
                break
            if row.kind == "gap":
                lines.append(InlineLine(kind="gap", skipped=row.skipped))
            elif row.kind == "note":
                lines.append(InlineLine(kind="note", note=row.note))
            elif row.old and row.new:
                lines.append(InlineLine("same", row.old.number, row.new.number, row.new.segments))
        return tuple(lines)


def _inline(kind: RowKind, row: Row, *, old: bool) -> InlineLine:
    side = row.old if old else row.new
    assert side is not None
    number = {"old_number" if old else "new_number": side.number}
    return InlineLine(kind=kind, segments=side.segments, paired=row.kind == "changed", **number)


@dataclass(frozen=True)
class MessageDiff:
    """One chat message: the same, changed (text or role), added or removed."""

    status: ChangeStatus
    old_position: int | None
    new_position: int | None
    old_role: str | None
    new_role: str | None
    text: TextDiff
    content: str = ""  # an unchanged message's text, for the reader's context

    @property
    def role_changed(self) -> bool:
        return self.status == "changed" and self.old_role != self.new_role

    @property
    def role(self) -> str:
        return self.new_role or self.old_role or ""


@dataclass(frozen=True)
class KeyChange:
    """A setting added, removed or changed; values are compact JSON (or plain names)."""

    key: str
    status: ChangeStatus
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True)
class VersionDiff:
    old_number: int
    new_number: int
    kind: str
    template: TextDiff
    messages: tuple[MessageDiff, ...]
    template_format: KeyChange | None
    variables: tuple[KeyChange, ...]
    model_config: tuple[KeyChange, ...]
    content: str  # unified diff of the template or messages
    settings: str  # unified diff of format, variables and model config

    @property
    def unified(self) -> str:
        return self.content + self.settings

    @property
    def identical(self) -> bool:
        return not self.content and not self.settings

    @property
    def settings_changed(self) -> bool:
        return bool(self.template_format or self.variables or self.model_config)


def text_diff(old: str, new: str) -> TextDiff:
    """Line by line, paired replaced lines word by word, unchanged stretches cut to context."""
    if old == new:
        return TextDiff(rows=())
    a, b = old.splitlines(), new.splitlines()
    if a == b:
        return TextDiff(rows=(Row(kind="note", note=_line_ending_note(old, new)),))
    # autojunk, as in difflib.unified_diff: very common lines (blank ones) do not anchor a match
    matcher = difflib.SequenceMatcher(None, a, b)
    rows: list[Row] = []
    shown_to = 0  # old lines before this index are shown or skipped already
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        if group[0][1] > shown_to:
            rows.append(Row(kind="gap", skipped=group[0][1] - shown_to))
        for tag, i1, i2, j1, j2 in group:
            rows += _rows(tag, a, b, i1, i2, j1, j2)
        shown_to = group[-1][2]
    if shown_to < len(a):
        rows.append(Row(kind="gap", skipped=len(a) - shown_to))
    if len(rows) > MAX_ROWS:
        left_out = sum(1 for row in rows[MAX_ROWS:] if row.kind != "gap")
        rows = [
            *rows[:MAX_ROWS],
            Row(
                kind="note",
                note=f"{left_out} more lines differ: the "
                "API's diff of these versions has them all.",
            ),
        ]
    elif note := _line_ending_note(old, new):
        rows.append(Row(kind="note", note=note))
    return TextDiff(rows=tuple(rows))


def _line_ending_note(old: str, new: str) -> str:
    """What lines cannot show: the line break at the end added or removed (else, when every
    line is the same, the other line endings differ)."""
    old_end, new_end = old.endswith(("\n", "\r")), new.endswith(("\n", "\r"))
    if old_end == new_end:
        return "" if old.splitlines() != new.splitlines() else "Only the line endings differ."
    return "Adds a line break at the end." if new_end else "Removes the line break at the end."


def _rows(tag: str, a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> list[Row]:
    if tag == "equal":
        return [
            Row(kind="same", old=_side(i + 1, a[i]), new=_side(j + 1, b[j]))
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
        ]
    rows = []
    paired = min(i2 - i1, j2 - j1)
    for offset in range(paired):
        i, j = i1 + offset, j1 + offset
        old_words, new_words = word_diff(a[i], b[j])
        rows.append(Row(kind="changed", old=Side(i + 1, old_words), new=Side(j + 1, new_words)))
    rows += [Row(kind="removed", old=_side(i + 1, a[i], True)) for i in range(i1 + paired, i2)]
    rows += [Row(kind="added", new=_side(j + 1, b[j], True)) for j in range(j1 + paired, j2)]
    return rows


def _side(number: int, line: str, changed: bool = False) -> Side:
    return Side(number, (Segment(line, changed),) if line else ())


def word_diff(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Both lines cut into segments, the words (and punctuation) that differ marked. The
    common start and end are cut off first, so a long paragraph costs little to compare."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle_a, middle_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if len(middle_a) + len(middle_b) > MAX_WORD_TOKENS:
        opcodes = [("replace", 0, len(middle_a), 0, len(middle_b))]
    else:
        matcher = difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=False)
        opcodes = matcher.get_opcodes()
    same = head + tail + sum(i2 - i1 for tag, i1, i2, _, _ in opcodes if tag == "equal")
    if 2 * same < WORD_SIMILARITY * (len(a) + len(b)):
        return _segments([(old, True)]), _segments([(new, True)])
    old_parts = [("".join(a[:head]), False)]
    new_parts = [("".join(b[:head]), False)]
    for tag, i1, i2, j1, j2 in opcodes:
        old_parts.append(("".join(middle_a[i1:i2]), tag != "equal"))
        new_parts.append(("".join(middle_b[j1:j2]), tag != "equal"))
    old_parts.append(("".join(a[len(a) - tail :]), False))
    new_parts.append(("".join(b[len(b) - tail :]), False))
    return _segments(old_parts), _segments(new_parts)


def _segments(parts: Sequence[tuple[str, bool]]) -> tuple[Segment, ...]:
    """Join neighbours alike; a lone space between two changes counts as changed."""
    parts = [(text, changed) for text, changed in parts if text]
    flagged = [
        (
            text,
            changed
            or (
                text.isspace()
                and 0 < index < len(parts) - 1
                and parts[index - 1][1]
                and parts[index + 1][1]
            ),
        )
        for index, (text, changed) in enumerate(parts)
    ]
    segments: list[Segment] = []
    for text, changed in flagged:
        if segments and segments[-1].changed == changed:
            segments[-1] = Segment(segments[-1].text + text, changed)
        else:
            segments.append(Segment(text, changed))
    return tuple(segments)


def messages_diff(
    old: Sequence[Mapping[str, str]], new: Sequence[Mapping[str, str]]
) -> tuple[MessageDiff, ...]:
    """Messages aligned as a sequence (an inserted message shifts nothing). In a changed
    stretch, messages of the same role pair up first, the others in order; what is left over
    is shown as added or removed."""
    keys = [(m["role"], m["content"]) for m in old], [(m["role"], m["content"]) for m in new]
    matcher = difflib.SequenceMatcher(None, *keys, autojunk=False)
    diffs: list[MessageDiff] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            diffs += [
                _message("same", i, j, old[i], new[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            continue
        roles = difflib.SequenceMatcher(
            None,
            [m["role"] for m in old[i1:i2]],
            [m["role"] for m in new[j1:j2]],
            autojunk=False,
        )
        for _, a1, a2, b1, b2 in roles.get_opcodes():
            diffs += _paired(old, new, range(i1 + a1, i1 + a2), range(j1 + b1, j1 + b2))
    return tuple(diffs)


def _paired(
    old: Sequence[Mapping[str, str]],
    new: Sequence[Mapping[str, str]],
    olds: range,
    news: range,
) -> list[MessageDiff]:
    paired = min(len(olds), len(news))
    pairs = zip(olds[:paired], news[:paired], strict=True)
    return [
        *(_message("changed", i, j, old[i], new[j]) for i, j in pairs),
        *(_message("removed", i, None, old[i], None) for i in olds[paired:]),
        *(_message("added", None, j, None, new[j]) for j in news[paired:]),
    ]


def _message(
    status: ChangeStatus,
    i: int | None,
    j: int | None,
    old: Mapping[str, str] | None,
    new: Mapping[str, str] | None,
) -> MessageDiff:
    return MessageDiff(
        status=status,
        old_position=None if i is None else i + 1,
        new_position=None if j is None else j + 1,
        old_role=old["role"] if old else None,
        new_role=new["role"] if new else None,
        text=text_diff(old["content"] if old else "", new["content"] if new else ""),
        content=new["content"] if new and status == "same" else "",
    )


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def mapping_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[KeyChange, ...]:
    """Key by key, in key order; values compared as JSON, so 1 and 1.0 differ as in the text."""
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append(KeyChange(key, "removed", old=compact_json(old[key])))
        elif key not in old:
            changes.append(KeyChange(key, "added", new=compact_json(new[key])))
        elif (before := compact_json(old[key])) != (after := compact_json(new[key])):
            changes.append(KeyChange(key, "changed", old=before, new=after))
    return tuple(changes)


def names_diff(old: Iterable[str], new: Iterable[str]) -> tuple[KeyChange, ...]:
    before, after = set(old), set(new)
    return tuple(
        KeyChange(name, "removed" if name in before else "added") for name in sorted(before ^ after)
    )


def version_diff(
    *, old: Content, new: Content, old_number: int, new_number: int, name: str
) -> VersionDiff:
    """Two versions of the prompt `name` compared: content, format, variables, model config."""
    old_label, new_label = f"{name}@{old_number}", f"{name}@{new_number}"
    chat = new.kind == "chat"
    return VersionDiff(
        old_number=old_number,
        new_number=new_number,
        kind=new.kind,
        template=TextDiff(rows=()) if chat else text_diff(old.template, new.template),
        messages=messages_diff(old.messages or [], new.messages or []) if chat else (),
        template_format=(
            KeyChange("format", "changed", old=old.template_format, new=new.template_format)
            if old.template_format != new.template_format
            else None
        ),
        variables=names_diff(old.variables, new.variables),
        model_config=mapping_diff(old.model_config, new.model_config),
        content=unified(content_text(old), content_text(new), old_label, new_label),
        settings=unified(
            settings_text(old),
            settings_text(new),
            f"{old_label} settings",
            f"{new_label} settings",
        ),
    )
