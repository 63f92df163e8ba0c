"""Diffs people can read: prompts.diffs (plain data) and the pages that render it."""

import pytest
from django.urls import reverse

from approvals.services import promotion_request
from prompts.content import VersionContent
from prompts.diffs import KeyChange, Segment, mapping_diff, messages_diff, text_diff, version_diff
from prompts.services import deployment_set, prompt_create, version_create
from tests.factories import UserFactory, system_actor


def _content(**fields) -> VersionContent:
    defaults = {
        "kind": "text",
        "template_format": "mustache",
        "template": "Hello {{name}}",
        "messages": None,
        "variables": ["name"],
        "model_config": {},
    }
    return VersionContent(**(defaults | fields))


def _diff(old: VersionContent, new: VersionContent):
    return version_diff(old=old, new=new, old_number=1, new_number=2, name="support/reply")


# --- Text ------------------------------------------------------------------------------------


def test_a_one_word_change_marks_only_that_word():
    diff = text_diff("Hello {{name}}, thanks for waiting.", "Hello {{name}}, thanks for calling.")

    (row,) = diff.rows
    assert row.kind == "changed"
    assert row.old.segments == (
        Segment("Hello {{name}}, thanks for "),
        Segment("waiting", changed=True),
        Segment("."),
    )
    assert row.new.segments == (
        Segment("Hello {{name}}, thanks for "),
        Segment("calling", changed=True),
        Segment("."),
    )


def test_inline_lists_old_lines_then_new_ones_and_long_unchanged_stretches_are_cut():
    old = "\n".join(["Intro"] + [f"line {n}" for n in range(1, 11)] + ["Bye", "Thanks"])
    new = old.replace("Intro", "Welcome").replace("Bye\nThanks", "See you\nThanks\nP.S.")

    diff = text_diff(old, new)

    kinds = [row.kind for row in diff.rows]
    assert kinds[0] == "changed"
    assert "gap" in kinds
    gap = next(row for row in diff.rows if row.kind == "gap")
    assert gap.skipped == 4  # lines 4 to 7: 3 lines of context kept on either side
    assert kinds[-2:] == ["same", "added"]
    inline = diff.inline
    assert [(line.kind, line.old_number, line.new_number) for line in inline[:3]] == [
        ("removed", 1, None),
        ("added", None, 1),
        ("same", 2, 2),
    ]
    assert inline[-1].kind == "added"
    assert inline[-1].segments == (Segment("P.S.", changed=True),)


def test_unrelated_lines_are_replaced_whole_not_word_by_word():
    (row,) = text_diff("Be brief and kind.", "Answer in French only!").rows

    assert row.old.segments == (Segment("Be brief and kind.", changed=True),)
    assert row.new.segments == (Segment("Answer in French only!", changed=True),)


def test_a_word_changed_in_a_long_paragraph_is_found_and_runaway_lines_are_replaced_whole():
    paragraph = "Answer the customer politely and briefly. " * 300
    changed = paragraph.replace("briefly", "warmly", 1)

    (row,) = text_diff(paragraph, changed).rows
    assert [part.text for part in row.new.segments if part.changed] == ["warmly"]

    (row,) = text_diff("a b " * 500, "a c " * 500).rows  # no common start or end to cut
    assert row.new.segments == (Segment("a c " * 500, changed=True),)


def test_an_unchanged_text_has_no_rows():
    assert text_diff("same", "same").rows == ()


# --- Chat messages ---------------------------------------------------------------------------


def test_chat_messages_are_compared_one_by_one_with_their_roles():
    old = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "Soon."},
    ]
    new = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Where is my order?"},
    ]

    system, user, assistant = messages_diff(old, new)

    assert (system.status, system.old_role, system.new_role) == ("changed", "system", "system")
    assert not system.role_changed
    assert system.text.rows[0].new.segments == (Segment("Be "), Segment("kind", True), Segment("."))
    assert (user.status, user.old_position, user.new_position) == ("same", 2, 2)
    assert (assistant.status, assistant.old_position) == ("removed", 3)
    assert assistant.new_position is None
    assert assistant.text.rows[0].kind == "removed"


def test_an_inserted_message_is_added_and_shifts_nothing_else():
    old = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}]
    new = [old[0], {"role": "assistant", "content": "Hello!"}, old[1]]

    diffs = messages_diff(old, new)

    assert [(d.status, d.old_position, d.new_position) for d in diffs] == [
        ("same", 1, 1),
        ("added", None, 2),
        ("same", 2, 3),
    ]
    assert diffs[1].role == "assistant"
    assert diffs[1].text.rows[0].new.segments == (Segment("Hello!", changed=True),)


def test_an_edited_message_pairs_with_one_of_its_role_not_with_a_new_neighbour():
    old = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}]
    new = [
        old[0],
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Q: {{q}}"},
    ]

    diffs = messages_diff(old, new)

    assert [(d.status, d.old_role, d.new_role) for d in diffs] == [
        ("same", "system", "system"),
        ("added", None, "assistant"),
        ("changed", "user", "user"),
    ]
    assert (diffs[2].old_position, diffs[2].new_position) == (2, 3)


def test_a_role_change_is_shown_as_such():
    (message,) = messages_diff(
        [{"role": "user", "content": "Hi"}], [{"role": "assistant", "content": "Hi"}]
    )

    assert message.status == "changed"
    assert message.role_changed
    assert (message.old_role, message.new_role) == ("user", "assistant")
    assert message.text.rows == ()


# --- Settings --------------------------------------------------------------------------------


def test_model_config_is_compared_key_by_key_as_compact_json():
    changes = mapping_diff(
        {"model": "gpt-4o", "temperature": 0.2, "stop": ["\n\n"], "top_p": 1},
        {"model": "gpt-4o", "temperature": 0.7, "max_tokens": 300, "top_p": 1.0},
    )

    assert changes == (
        KeyChange("max_tokens", "added", new="300"),
        KeyChange("stop", "removed", old='["\\n\\n"]'),
        KeyChange("temperature", "changed", old="0.2", new="0.7"),
        KeyChange("top_p", "changed", old="1", new="1.0"),
    )


def test_format_and_variables_changes_are_listed():
    diff = _diff(
        _content(template="Hi {{name}}", variables=["name"]),
        _content(template_format="jinja2", template="Hi {{ who }}", variables=["who"]),
    )

    assert diff.template_format == KeyChange("format", "changed", old="mustache", new="jinja2")
    assert diff.variables == (KeyChange("name", "removed"), KeyChange("who", "added"))
    assert diff.settings_changed
    assert diff.model_config == ()


def test_the_unified_text_stays_what_the_api_answers():
    diff = _diff(_content(), _content(template="Hello dear {{name}}"))

    assert diff.content.startswith("--- support/reply@1\n+++ support/reply@2\n")
    assert "-Hello {{name}}\n+Hello dear {{name}}\n" in diff.content
    assert diff.settings == ""
    assert diff.unified == diff.content
    assert not diff.identical
    assert _diff(_content(), _content()).identical


# --- Pages -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_version_page_escapes_the_template_and_marks_the_changed_word(client, prompt, author):
    version_create(prompt=prompt, author=author, template="<script>alert(1)</script> old")
    version_create(prompt=prompt, author=author, template="<script>alert(1)</script> new")
    client.force_login(UserFactory())
    url = reverse("prompts:version", args=[prompt.namespace.slug, prompt.name, 2])

    body = client.get(url).content.decode()

    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <del>old</del>" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <ins>new</ins>" in body
    assert "diff-side" in body
    assert 'href="?against=1&amp;view=inline#diff-heading"' in body
    inline = client.get(url, {"view": "inline"}).content.decode()
    assert "diff-inline" in inline
    assert "diff-side" not in inline
    assert 'name="view" value="inline"' in inline  # "Compare with" keeps the view


@pytest.mark.django_db
def test_version_page_of_a_chat_prompt_shows_messages_roles_and_settings(client, namespace, author):
    chat = prompt_create(actor=system_actor(), namespace=namespace, name="chat", kind="chat")
    version_create(
        prompt=chat,
        author=author,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        model_config={"temperature": 0.2},
    )
    version_create(
        prompt=chat,
        author=author,
        messages=[
            {"role": "system", "content": "Be kind."},
            {"role": "assistant", "content": "Hi"},
        ],
        model_config={"temperature": 0.7, "model": "gpt-4o"},
    )
    client.force_login(UserFactory())

    body = client.get(reverse("prompts:version", args=["support", "chat", 2])).content.decode()

    assert "Be <del>brief</del>." in body
    assert "Be <ins>kind</ins>." in body
    assert "<del>user</del> → <ins>assistant</ins>" in body
    assert "role changed" in body
    assert "<del><code>0.2</code></del> → <ins><code>0.7</code></ins>" in body
    assert "<ins><code>&quot;gpt-4o&quot;</code></ins>" in body


@pytest.mark.django_db
def test_request_page_shows_the_changes_above_the_decision(
    client, prompt, make_version, member_of, environments
):
    v1 = make_version(prompt, text="Hello {{name}}")
    v2 = make_version(prompt, text="Hello dear {{name}}")
    deployment_set(
        action="deployment.seeded",
        prompt=prompt,
        environment=environments["staging"],
        version=v1,
        actor=None,
    )
    maintainer = member_of(prompt.namespace, role="maintainer")
    request = promotion_request(
        actor=maintainer,
        prompt=prompt,
        version=v2,
        environment=environments["staging"],
        justification="Warmer",
    )
    client.force_login(maintainer)

    body = client.get(reverse("approvals:request", args=[request.pk])).content.decode()

    assert "Compared with v1, which Staging runs now" in body
    assert "Hello <ins>dear </ins>{{name}}" in body
    assert body.index('id="changes-heading"') < body.index('id="decision"')
    assert 'href="?view=inline#changes-heading"' in body


@pytest.mark.parametrize(
    ("old", "new", "note"),
    [
        ("a\nb", "a\nb\n", "Adds a line break at the end."),
        ("a\nb\n", "a\nb", "Removes the line break at the end."),
        ("a\r\nb", "a\nb", "Only the line endings differ."),
        ("a\nb", "a\nc\n", "Adds a line break at the end."),
    ],
)
def test_a_change_no_line_shows_is_said(old, new, note):
    rows = text_diff(old, new).rows

    assert rows[-1].kind == "note"
    assert rows[-1].note == note
    assert [line.note for line in text_diff(old, new).inline if line.kind == "note"] == [note]
    if old.splitlines() == new.splitlines():
        assert len(rows) == 1  # no "unchanged lines" standing for a change


def test_a_long_diff_is_cut_with_a_note_saying_how_much_is_left_out():
    old = "\n".join(f"line {n}" for n in range(3000))
    new = "\n".join(f"LINE {n}" for n in range(3000))

    rows = text_diff(old, new).rows

    assert len(rows) == 2001
    assert rows[-1].kind == "note"
    assert rows[-1].note.startswith("1000 more lines differ")


def test_an_unchanged_message_keeps_its_text_for_context():
    old = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    new = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]

    same, changed = messages_diff(old, new)

    assert (same.status, same.content) == ("same", "Be brief.")
    assert (changed.status, changed.content) == ("changed", "")
