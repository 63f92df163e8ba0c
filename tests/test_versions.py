"""Creating versions: numbering, validation of content and variables, sha256, diff."""

import hashlib
import json

import pytest

from portal.errors import Conflict, Invalid
from prompts.models import Prompt, PromptVersion
from prompts.selectors import version_diff
from prompts.services import prompt_create, version_create
from tests.factories import PromptFactory, system_actor

pytestmark = pytest.mark.django_db


def test_versions_are_numbered_from_one_with_parents(prompt, make_version):
    first = make_version(prompt, text="Hello {{name}}")
    second = make_version(prompt, text="Hi {{name}}")
    third = make_version(prompt, text="Hey {{name}}")

    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert (first.parent, second.parent, third.parent) == (None, first, second)


def test_numbering_is_per_prompt(namespace, make_version):
    a, b = PromptFactory(namespace=namespace), PromptFactory(namespace=namespace)
    make_version(a)
    make_version(a, text="Bye {{name}}")

    assert make_version(b).number == 1


def test_sha256_is_of_the_canonical_content(prompt, make_version):
    version = make_version(
        prompt,
        text="Hello {{name}}",
        variables=["name"],
        model_config={"temperature": 0.5, "model": "m"},
        message="commit message not hashed",
    )

    canonical = {
        "kind": "text",
        "template_format": "mustache",
        "template": "Hello {{name}}",
        "variables": ["name"],
        "model_config": {"model": "m", "temperature": 0.5},
    }
    expected = hashlib.sha256(
        json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert version.sha256 == expected


def test_a_version_identical_to_its_parent_is_refused(prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"temperature": 0.2})

    with pytest.raises(Conflict) as excinfo:
        make_version(
            prompt,
            text="Hello {{name}}",
            model_config={"temperature": 0.2},
            message="only the message differs",
        )

    assert excinfo.value.code == "unchanged"
    assert "identical to version 1" in excinfo.value.detail
    assert prompt.versions.count() == 1


def test_a_config_only_change_is_a_new_version(prompt, make_version):
    make_version(prompt, model_config={"temperature": 0.2})

    second = make_version(prompt, model_config={"temperature": 0.7})

    assert second.number == 2


def test_returning_to_older_content_is_allowed(prompt, make_version):
    first = make_version(prompt, text="A {{name}}")
    make_version(prompt, text="B {{name}}")

    third = make_version(prompt, text="A {{name}}")

    assert third.number == 3
    assert third.sha256 == first.sha256


class TestVariables:
    def test_undeclared_and_unused_variables_are_named(self, prompt, make_version):
        with pytest.raises(Invalid) as excinfo:
            make_version(
                prompt, text="Dear {{name}}, order {{order_id}}", variables=["name", "tone"]
            )

        error = excinfo.value
        assert error.code == "variables_mismatch"
        assert "not declared: order_id" in error.detail
        assert "not used in the template: tone" in error.detail
        assert "variables" in error.errors
        assert not PromptVersion.objects.filter(prompt=prompt).exists()

    def test_declared_variables_are_stored_sorted(self, prompt, make_version):
        version = make_version(prompt, text="{{b}} {{a}} {{b}}", variables=["b", "a"])

        assert version.variables == ["a", "b"]

    def test_whitespace_inside_braces_is_allowed(self, prompt, make_version):
        assert make_version(prompt, text="Hi {{ name }}", variables=["name"]).number == 1

    @pytest.mark.parametrize(
        "text", ["Hi {{first name}}", "Hi {{#items}}x{{/items}}", "Hi {{{name}}}", "Hi {{name"]
    )
    def test_mustache_beyond_substitution_is_a_syntax_error(self, prompt, make_version, text):
        with pytest.raises(Invalid) as excinfo:
            make_version(prompt, text=text, variables=["name"])

        assert excinfo.value.code == "template_syntax"

    @pytest.mark.parametrize("variables", [["bad-name"], ["1st"], ["a", "a"], "name"])
    def test_bad_variable_declarations(self, prompt, author, variables):
        with pytest.raises(Invalid) as excinfo:
            version_create(prompt=prompt, author=author, template="Hi", variables=variables)

        assert "variables" in excinfo.value.errors

    def test_jinja2_variables_are_found_in_expressions_and_blocks(self, namespace, author):
        prompt = prompt_create(actor=system_actor(), namespace=namespace, name="jinja")

        version = version_create(
            prompt=prompt,
            author=author,
            template_format="jinja2",
            template="{% for item in items %}{{ item | upper }}{% endfor %} for {{ user }}",
            variables=["items", "user"],
        )

        assert version.variables == ["items", "user"]

    def test_jinja2_syntax_errors_name_the_line(self, namespace, author):
        prompt = prompt_create(actor=system_actor(), namespace=namespace, name="jinja")

        with pytest.raises(Invalid) as excinfo:
            version_create(
                prompt=prompt,
                author=author,
                template_format="jinja2",
                template="ok\n{% if x %}unclosed",
                variables=["x"],
            )

        assert "line 2" in excinfo.value.detail


class TestChat:
    @pytest.fixture
    def chat(self, namespace):
        return prompt_create(
            actor=system_actor(), namespace=namespace, name="chatty", kind=Prompt.Kind.CHAT
        )

    def test_variables_are_collected_across_messages(self, chat, author):
        version = version_create(
            prompt=chat,
            author=author,
            messages=[
                {"role": "system", "content": "You help {{company}}."},
                {"role": "user", "content": "{{question}}"},
            ],
            variables=["company", "question"],
        )

        assert version.messages[1] == {"role": "user", "content": "{{question}}"}
        assert version.template == ""

    @pytest.mark.parametrize(
        ("messages", "fragment"),
        [
            ([], "non-empty list"),
            ([{"role": "wizard", "content": "x"}], "role 'wizard'"),
            ([{"role": "user"}], "exactly 'role' and 'content'"),
            ([{"role": "user", "content": "  "}], "non-empty text"),
            ("hello", "non-empty list"),
        ],
    )
    def test_bad_messages_are_refused(self, chat, author, messages, fragment):
        with pytest.raises(Invalid) as excinfo:
            version_create(prompt=chat, author=author, messages=messages)

        assert fragment in excinfo.value.detail
        assert "messages" in excinfo.value.errors

    def test_chat_prompt_refuses_a_template(self, chat, author):
        with pytest.raises(Invalid) as excinfo:
            version_create(prompt=chat, author=author, template="Hi")

        assert "template" in excinfo.value.errors

    def test_text_prompt_refuses_messages(self, prompt, author):
        with pytest.raises(Invalid) as excinfo:
            version_create(
                prompt=prompt,
                author=author,
                template="Hi",
                messages=[{"role": "user", "content": "Hi"}],
            )

        assert "messages" in excinfo.value.errors


@pytest.mark.parametrize(
    "model_config",
    [
        {"temperature": 3},
        {"temperature": "hot"},
        {"top_p": -0.1},
        {"max_tokens": 0},
        {"max_tokens": True},
        {"model": ""},
        ["not", "an", "object"],
        {"temperature": float("nan")},
    ],
)
def test_bad_model_config_is_refused(prompt, make_version, model_config):
    with pytest.raises(Invalid) as excinfo:
        make_version(prompt, model_config=model_config)

    assert "model_config" in excinfo.value.errors


def test_retired_prompt_takes_no_new_versions(prompt, make_version):
    make_version(prompt)
    Prompt.objects.filter(pk=prompt.pk).update(state=Prompt.State.RETIRED)

    with pytest.raises(Conflict):
        make_version(prompt, text="Bye {{name}}")


class TestDiff:
    def test_diff_shows_content_and_config_changes(self, prompt, make_version):
        old = make_version(
            prompt, text="Hello {{name}}\nHow are you?", model_config={"temperature": 0.2}
        )
        new = make_version(
            prompt, text="Hello {{name}}\nHow can I help?", model_config={"temperature": 0.7}
        )

        diff = version_diff(old=old, new=new)

        assert f"--- {prompt.full_name}@1" in diff.content
        assert f"+++ {prompt.full_name}@2" in diff.content
        assert "-How are you?" in diff.content
        assert "+How can I help?" in diff.content
        assert " Hello {{name}}" in diff.content
        assert '-    "temperature": 0.2' in diff.settings
        assert '+    "temperature": 0.7' in diff.settings
        assert diff.unified == diff.content + diff.settings

    def test_diff_of_chat_messages(self, namespace, author):
        chat = prompt_create(actor=system_actor(), namespace=namespace, name="chat", kind="chat")
        old = version_create(
            prompt=chat, author=author, messages=[{"role": "system", "content": "Be brief."}]
        )
        new = version_create(
            prompt=chat,
            author=author,
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "{{q}}"},
            ],
            variables=["q"],
        )

        diff = version_diff(old=old, new=new)

        assert "+[user]" in diff.content
        assert "+{{q}}" in diff.content
        assert '+    "q"' in diff.settings

    def test_diff_of_a_version_with_itself_is_empty(self, prompt, make_version):
        version = make_version(prompt)

        assert version_diff(old=version, new=version).identical


# --- Model configuration: a new version keeps the parent's unless changed ---------------------


def test_a_version_without_model_config_keeps_the_parents(prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "m", "temperature": 0.3})

    second = make_version(prompt, text="Hi {{name}}")

    assert second.model_config == {"model": "m", "temperature": 0.3}
    explicit = make_version(
        PromptFactory(namespace=prompt.namespace),
        text="Hi {{name}}",
        model_config={"model": "m", "temperature": 0.3},
    )
    assert second.sha256 == explicit.sha256


def test_an_empty_model_config_clears_the_parents(prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "m"})

    second = make_version(prompt, text="Hi {{name}}", model_config={})

    assert second.model_config == {}


def test_a_given_model_config_replaces_the_parents(prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "m", "temperature": 0.3})

    second = make_version(prompt, text="Hi {{name}}", model_config={"model": "n"})

    assert second.model_config == {"model": "n"}


def test_an_inherited_model_config_counts_for_unchanged(prompt, make_version):
    make_version(prompt, text="Hello {{name}}", model_config={"model": "m"})

    with pytest.raises(Conflict):
        make_version(prompt, text="Hello {{name}}")
    assert make_version(prompt, text="Hello {{name}}", model_config={}).number == 2
