"""The prompt and version forms of the portal: what they create, and how refusals show."""

import json

import pytest
from django import forms
from django.urls import reverse

from portal.errors import Conflict, Invalid, PermissionDenied
from portal.web import apply_domain_error, error_status
from prompts.models import Prompt, PromptVersion
from prompts.services import version_create
from tests.factories import PromptFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, author):
    """The maintainer `author` of the `support` namespace's team, signed in."""
    client.force_login(author)
    return client


def _new_version_url(prompt: Prompt) -> str:
    return reverse("prompts:version_create", args=[prompt.namespace.slug, prompt.name])


def _text_version(**overrides) -> dict:
    return {
        "template": "Hello {{name}}",
        "template_format": "mustache",
        "variables": "name",
        "model_config": "",
        "message": "A change",  # the portal requires a commit message
        **overrides,
    }


# --- Prompt creation --------------------------------------------------------------------------


def test_creating_a_prompt_redirects_to_its_page(signed_in, namespace):
    response = signed_in.post(
        reverse("prompts:create"),
        {
            "namespace": "support",
            "name": "greeting",
            "kind": "chat",
            "description": "Says hello",
            "tags": "onboarding, email,",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("prompts:detail", args=["support", "greeting"])
    prompt = Prompt.objects.get(namespace=namespace, name="greeting")
    assert (prompt.kind, prompt.description) == ("chat", "Says hello")
    assert sorted(prompt.tags.values_list("slug", flat=True)) == ["email", "onboarding"]
    page = signed_in.get(response["Location"]).content.decode()
    assert "Created support/greeting" in page


def test_the_namespace_can_be_preset(signed_in, namespace):
    response = signed_in.get(reverse("prompts:create"), {"namespace": "support"})

    assert '<option value="support" selected>' in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "Bad Name"}, "name", "Enter a valid slug"),
        ({"name": "-starts-with-dash"}, "name", "Enter a valid slug"),
        ({"tags": "fine, Not A Tag"}, "tags", "Invalid tag"),
        ({"kind": "poem"}, "kind", "Select a valid choice"),
        ({"namespace": "no-such-namespace"}, "namespace", "Select a valid choice"),
    ],
    ids=["slug-with-space", "slug-with-dash", "bad-tag", "bad-kind", "unknown-namespace"],
)
def test_bad_prompt_input_is_shown_on_its_field_and_nothing_is_written(
    signed_in, namespace, data, field, message
):
    response = signed_in.post(
        reverse("prompts:create"),
        {"namespace": "support", "name": "fine-name", "kind": "text", **data},
    )

    assert response.status_code == 422
    assert any(message in error for error in response.context["form"].errors[field])
    assert message in response.content.decode()
    assert not Prompt.objects.exists()


def test_a_duplicate_prompt_name_is_a_form_error(signed_in, prompt):
    response = signed_in.post(
        reverse("prompts:create"), {"namespace": "support", "name": prompt.name, "kind": "text"}
    )

    assert response.status_code == 422
    assert "already exists" in " ".join(response.context["form"].non_field_errors())
    assert Prompt.objects.count() == 1


# --- Version creation -------------------------------------------------------------------------


def test_the_form_starts_from_the_latest_version(signed_in, prompt, make_version):
    make_version(prompt, text="First {{name}}")
    make_version(prompt, text="Second {{name}}", model_config={"temperature": 0.3})

    response = signed_in.get(_new_version_url(prompt))

    form = response.context["form"]
    assert "messages" not in form.fields
    assert form["template"].value() == "Second {{name}}"
    assert form["variables"].value() == "name"
    assert json.loads(form["model_config"].value()) == {"temperature": 0.3}
    assert "the new version will be v3" in response.content.decode()


def test_creating_versions_shows_the_diff_against_the_parent(signed_in, prompt, author):
    first = signed_in.post(_new_version_url(prompt), _text_version(message="first cut"))
    second = signed_in.post(
        _new_version_url(prompt),
        _text_version(
            template="Hello {{name}},\r\nthanks for writing.",
            model_config='{"temperature": 0.2}',
            message="friendlier",
        ),
    )

    assert first.status_code == 302
    assert second.status_code == 302
    assert second["Location"] == reverse(
        "prompts:version", args=[prompt.namespace.slug, prompt.name, 2]
    )
    version = PromptVersion.objects.get(prompt=prompt, number=2)
    assert version.template == "Hello {{name}},\nthanks for writing."
    assert version.model_config == {"temperature": 0.2}
    assert (version.author, version.message, version.parent.number) == (author, "friendlier", 1)
    page = signed_in.get(second["Location"])
    assert page.context["against"].number == 1
    assert "<del>Hello {{name}}</del>" not in page.content.decode()  # a word-level change
    assert "Hello {{name}}<ins>,</ins>" in page.content.decode()
    assert "Created version 2 of support/refund-reply." in page.content.decode()


def test_an_undeclared_variable_is_named_on_the_page(signed_in, prompt):
    response = signed_in.post(
        _new_version_url(prompt), _text_version(template="Hello {{name}}, order {{order_id}}")
    )

    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["variables"] == [
        "used in the template but not declared: order_id",
        "The field now lists the variables the template uses (name, order_id): "
        "check them and save again.",
    ]
    assert "used in the template but not declared: order_id" in response.content.decode()
    assert form["variables"].value() == "name, order_id"
    assert not PromptVersion.objects.exists()

    again = signed_in.post(
        _new_version_url(prompt),
        _text_version(template="Hello {{name}}, order {{order_id}}", variables="name, order_id"),
    )
    assert again.status_code == 302
    assert PromptVersion.objects.get().variables == ["name", "order_id"]


def test_a_version_identical_to_its_parent_is_refused(signed_in, prompt, make_version):
    make_version(prompt, text="Hello {{name}}")

    response = signed_in.post(_new_version_url(prompt), _text_version(message="no change"))

    assert response.status_code == 422
    assert "identical to version 1" in " ".join(response.context["form"].non_field_errors())
    assert "identical to version 1" in response.content.decode()
    assert PromptVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("model_config", "message"),
    [
        ("{temperature: 0.2}", "This is not valid JSON"),
        ('["a list"]', "model_config must be a JSON object."),
        ('{"temperature": 7}', "&#x27;temperature&#x27; must be a number from 0.0 to 2.0."),
    ],
    ids=["not-json", "not-an-object", "out-of-range"],
)
def test_bad_model_config_is_shown_on_its_field(signed_in, prompt, model_config, message):
    response = signed_in.post(_new_version_url(prompt), _text_version(model_config=model_config))

    assert response.status_code == 422
    assert "model_config" in response.context["form"].errors
    assert message in response.content.decode()
    assert not PromptVersion.objects.exists()


def test_an_empty_template_and_a_bad_format_are_refused(signed_in, prompt):
    empty = signed_in.post(_new_version_url(prompt), _text_version(template="  ", variables=""))
    bad_format = signed_in.post(_new_version_url(prompt), _text_version(template_format="erb"))

    assert empty.status_code == 422
    assert empty.context["form"].errors["template"] == ["A text prompt needs a non-empty template."]
    assert bad_format.status_code == 422
    assert "template_format" in bad_format.context["form"].errors
    assert not PromptVersion.objects.exists()


def _chat_version(messages, *, spare=0, initial=None, **overrides) -> dict:
    """The chat editor's rows as a browser posts them: `messages-N-role`, `-content`, `-ORDER`
    (the position) and, ticked, `-DELETE`; `spare` empty rows follow, as offered without
    JavaScript. Keys of a message other than role and content are posted as is."""
    data = {
        "messages-TOTAL_FORMS": str(len(messages) + spare),
        "messages-INITIAL_FORMS": str(len(messages) if initial is None else initial),
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "200",
        "template_format": "mustache",
        "variables": "",
        "message": "A change",
    }
    for index, message in enumerate(messages):
        fields = {"ORDER": str(index + 1), **message}
        data.update({f"messages-{index}-{name}": value for name, value in fields.items()})
    for index in range(len(messages), len(messages) + spare):
        data.update({f"messages-{index}-role": "user", f"messages-{index}-content": ""})
    return {**data, **overrides}


def _row_errors(response) -> list[dict]:
    return [dict(row.errors) for row in response.context["form"].message_rows.forms]


CHAT = [
    {"role": "system", "content": "You help with {{product}}."},
    {"role": "user", "content": "{{question}}"},
]


def test_chat_versions_take_messages_row_by_row(signed_in, namespace):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")

    form_page = signed_in.get(_new_version_url(chat))
    created = signed_in.post(
        _new_version_url(chat), _chat_version(CHAT, variables="question, product")
    )

    assert "template" not in form_page.context["form"].fields
    assert 'name="messages-0-role"' in form_page.content.decode()
    assert created.status_code == 302
    version = PromptVersion.objects.get(prompt=chat)
    assert version.messages == CHAT
    assert version.variables == ["product", "question"]
    rows = signed_in.get(_new_version_url(chat)).context["form"].message_rows
    prefilled = [{"role": r["role"].value(), "content": r["content"].value()} for r in rows]
    assert prefilled[:2] == CHAT
    assert [row["content"].value() for row in rows.forms[2:]] == [None, None]  # two spare rows


def test_the_editor_shows_one_labelled_row_per_message(signed_in, namespace, author):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")
    version_create(prompt=chat, author=author, messages=CHAT, variables=["product", "question"])

    page = signed_in.get(_new_version_url(chat)).content.decode()

    for number in (1, 2, 3, 4):
        for label in ("Role of message", "Content of message", "Remove message"):
            assert f"{label} <span data-chat-number>{number}</span>" in page
    assert "Move message <span data-chat-number>2</span> up" in page
    assert page.count("data-chat-spare") == 2
    assert "portal/chat-editor.js" in page
    assert "portal/chat-editor.css" in page
    assert '"role": "system"' not in page  # no raw JSON box


def test_rows_are_saved_in_the_order_of_their_positions_without_the_removed_ones(
    signed_in, namespace
):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")
    rows = [
        {"role": "system", "content": "Be brief.", "ORDER": "2"},
        {"role": "user", "content": "Dropped", "DELETE": "on"},
        {"role": "assistant", "content": "Hello!", "ORDER": "1"},
    ]

    response = signed_in.post(_new_version_url(chat), _chat_version(rows, spare=2))

    assert response.status_code == 302
    assert PromptVersion.objects.get(prompt=chat).messages == [
        {"role": "assistant", "content": "Hello!"},
        {"role": "system", "content": "Be brief."},
    ]


def test_a_filled_in_spare_row_is_added_and_empty_ones_are_skipped(signed_in, namespace):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")
    data = _chat_version(CHAT, spare=2, variables="product, question")
    data.update({"messages-2-role": "assistant", "messages-2-content": "Line one\r\nline two"})

    response = signed_in.post(_new_version_url(chat), data)

    assert response.status_code == 302
    assert PromptVersion.objects.get(prompt=chat).messages == [
        *CHAT,
        {"role": "assistant", "content": "Line one\nline two"},
    ]


def test_a_removed_row_needs_no_content(signed_in, namespace):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")
    rows = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "", "DELETE": "on"}]

    response = signed_in.post(_new_version_url(chat), _chat_version(rows))

    assert response.status_code == 302
    assert PromptVersion.objects.get(prompt=chat).messages == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("rows", "row_errors"),
    [
        (
            [{"role": "user", "content": "Hi"}, {"role": "wizard", "content": "Abracadabra"}],
            [{}, {"role": ["Choose a role: system, user, assistant, tool."]}],
        ),
        (
            [{"role": "system", "content": "  \r\n "}, {"role": "user", "content": "Hi"}],
            [{"content": ["Write this message's content, or remove the message."]}, {}],
        ),
        (
            [{"role": "user", "content": "Hi\x00"}],
            [{"content": ["Null characters are not allowed."]}],
        ),
    ],
    ids=["bad-role", "blank-content", "nul"],
)
def test_a_bad_message_is_shown_on_its_row(signed_in, namespace, rows, row_errors):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")

    response = signed_in.post(_new_version_url(chat), _chat_version(rows))

    assert response.status_code == 422
    assert response.context["form"].errors["messages"] == ["A message below needs fixing."]
    assert _row_errors(response) == row_errors
    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert "A message below needs fixing." in page
    assert not PromptVersion.objects.exists()


def test_a_changed_spare_row_without_content_is_an_error(signed_in, namespace):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")
    data = _chat_version(CHAT, spare=1, **{"messages-2-role": "assistant"})

    response = signed_in.post(_new_version_url(chat), data)

    assert response.status_code == 422
    assert _row_errors(response)[2] == {
        "content": ["Write this message's content, or remove the message."]
    }


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_chat_version([], spare=2), "A chat prompt needs a non-empty list of messages."),
        (
            _chat_version([{"role": "user", "content": "Hi"}] * 201),
            "At most 200 messages are allowed.",
        ),
        (
            {"messages": json.dumps(CHAT), "template_format": "mustache", "message": "Raw"},
            "ManagementForm data is missing or has been tampered with",
        ),
        (_chat_version(CHAT, **{"messages-TOTAL_FORMS": "lots"}), "ManagementForm data"),
    ],
    ids=["no-messages", "too-many", "raw-json", "tampered"],
)
def test_bad_message_lists_are_shown_on_the_messages_field(signed_in, namespace, data, error):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")

    response = signed_in.post(_new_version_url(chat), data)

    assert response.status_code == 422
    assert any(error in message for message in response.context["form"].errors["messages"])
    assert not PromptVersion.objects.exists()


def test_the_services_size_limit_is_shown_on_the_messages_field(signed_in, namespace, settings):
    settings.MAX_TEMPLATE_BYTES = 100
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")
    rows = [{"role": "user", "content": "x" * 80}, {"role": "assistant", "content": "y" * 80}]

    response = signed_in.post(_new_version_url(chat), _chat_version(rows))

    assert response.status_code == 422
    assert response.context["form"].errors["messages"] == [
        "The messages are 160 bytes; at most 100 are allowed."
    ]
    assert not PromptVersion.objects.exists()


def test_a_retired_prompt_takes_no_versions(signed_in, prompt):
    Prompt.objects.filter(pk=prompt.pk).update(state=Prompt.State.RETIRED)

    response = signed_in.post(_new_version_url(prompt), _text_version())

    assert response.status_code == 422
    assert "retired" in " ".join(response.context["form"].non_field_errors())
    assert not PromptVersion.objects.exists()


# --- Mapping domain errors onto forms ---------------------------------------------------------


class _Form(forms.Form):
    name = forms.CharField()


def _valid_form() -> _Form:
    form = _Form({"name": "x"})
    assert form.is_valid()
    return form


def test_invalid_lands_on_known_fields_and_the_rest_on_the_form():
    form = _valid_form()

    apply_domain_error(
        form, Invalid("bad", errors={"name": ["Bad name."], "elsewhere": ["Somewhere else."]})
    )

    assert form.errors["name"] == ["Bad name."]
    assert form.non_field_errors() == ["Somewhere else."]
    assert error_status(form) == 422


@pytest.mark.parametrize(
    ("error", "status"),
    [(Conflict("Taken."), 422), (PermissionDenied("Not yours."), 403), (Invalid("Odd."), 422)],
)
def test_other_domain_errors_are_non_field_errors(error, status):
    form = _valid_form()

    apply_domain_error(form, error)

    assert form.non_field_errors() == [error.detail]
    assert error_status(form) == status


# --- Input no text column can hold ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_of", "data"),
    [
        (lambda p: reverse("prompts:create"), {"namespace": "sup\x00port", "name": "x"}),
        (lambda p: reverse("prompts:create"), {"namespace": "support", "name": "x\x00y"}),
        (lambda p: _new_version_url(p), _text_version(template="Hi\x00")),
        (lambda p: _new_version_url(p), _text_version(model_config='{"model": "a\\u0000"}')),
        (
            lambda p: reverse("approvals:right_grant", args=["support"]),
            {"environment": "stag\x00ing", "username": "author"},
        ),
        (
            lambda p: reverse("teams:member_add", args=[p.namespace.team.slug]),
            {"username": "auth\x00or", "role": "viewer"},
        ),
        (lambda p: reverse("teams:tokens"), {"name": "lap\x00top"}),
    ],
    ids=["namespace", "name", "template", "model-config", "environment", "username", "token"],
)
def test_nul_characters_are_form_errors_not_server_errors(client, staff, prompt, url_of, data):
    client.force_login(staff)

    response = client.post(url_of(prompt), {"kind": "text", **data})

    assert response.status_code == 422
    assert not PromptVersion.objects.exists()
    assert Prompt.objects.count() == 1


@pytest.mark.parametrize("against", ["²", "abc", "99999999999"])
def test_an_odd_against_parameter_shows_the_diff_against_the_parent(signed_in, prompt, against):
    signed_in.post(_new_version_url(prompt), _text_version(message="first cut"))
    signed_in.post(_new_version_url(prompt), _text_version(template="Bye {{name}}"))

    page = signed_in.get(
        reverse("prompts:version", args=[prompt.namespace.slug, prompt.name, 2]),
        {"against": against},
    )

    assert page.status_code == 200
    assert page.context["against"].number == 1
    assert "<ins>Bye</ins> {{name}}" in page.content.decode()


# --- Editing: the parent's model config, detected variables, a required commit message -------


def test_the_new_version_form_starts_from_the_parents_model_config(signed_in, prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "gpt-4o"})

    page = signed_in.get(_new_version_url(prompt))

    assert json.loads(page.context["form"]["model_config"].value()) == {"model": "gpt-4o"}
    assert "gpt-4o" in page.content.decode()


def test_the_parents_model_config_submitted_unchanged_is_kept(signed_in, prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "gpt-4o"})

    response = signed_in.post(
        _new_version_url(prompt),
        _text_version(template="Hi {{name}}", model_config='{\n  "model": "gpt-4o"\n}'),
    )

    assert response.status_code == 302
    assert PromptVersion.objects.get(number=2).model_config == {"model": "gpt-4o"}


def test_an_emptied_model_config_textarea_clears_it(signed_in, prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "gpt-4o"})

    response = signed_in.post(
        _new_version_url(prompt), _text_version(template="Hi {{name}}", model_config="")
    )

    assert response.status_code == 302
    assert PromptVersion.objects.get(number=2).model_config == {}


def test_a_submission_without_the_model_config_field_keeps_the_parents(
    signed_in, prompt, make_version
):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "gpt-4o"})
    data = _text_version(template="Hi {{name}}")
    del data["model_config"]

    response = signed_in.post(_new_version_url(prompt), data)

    assert response.status_code == 302
    assert PromptVersion.objects.get(number=2).model_config == {"model": "gpt-4o"}


def test_empty_variables_declare_the_templates_placeholders(signed_in, prompt):
    response = signed_in.post(
        _new_version_url(prompt),
        _text_version(template="Hello {{name}}, order {{order_id}} {{name}}", variables=""),
    )

    assert response.status_code == 302
    assert PromptVersion.objects.get().variables == ["name", "order_id"]


def test_empty_variables_declare_a_chat_prompts_placeholders(signed_in, namespace):
    chat = PromptFactory(namespace=namespace, name="assistant", kind="chat")

    response = signed_in.post(_new_version_url(chat), _chat_version(CHAT, spare=2))

    assert response.status_code == 302
    assert PromptVersion.objects.get().variables == ["product", "question"]


def test_empty_variables_declare_a_jinja2_templates_placeholders(signed_in, prompt):
    response = signed_in.post(
        _new_version_url(prompt),
        _text_version(
            template="Hello {{ name }}{% if vip %}, welcome back{% endif %}",
            template_format="jinja2",
            variables="",
        ),
    )

    assert response.status_code == 302, response.context["form"].errors
    assert PromptVersion.objects.get().variables == ["name", "vip"]


def test_declared_variables_are_still_checked(signed_in, prompt):
    response = signed_in.post(
        _new_version_url(prompt), _text_version(template="Hello {{name}}", variables="name, extra")
    )

    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["variables"][0] == "declared but not used in the template: extra"
    assert form["variables"].value() == "name"  # offered, not saved
    assert not PromptVersion.objects.exists()


@pytest.mark.parametrize("message", ["", "   "], ids=["empty", "blank"])
def test_the_commit_message_is_required_in_the_portal(signed_in, prompt, message):
    response = signed_in.post(_new_version_url(prompt), _text_version(message=message))

    assert response.status_code == 422
    assert response.context["form"].errors["message"] == ["This field is required."]
    assert not PromptVersion.objects.exists()
    assert "the API accepts a version without one" in response.content.decode()
