"""Versions keep the text a search matches (the template, or the chat messages' texts), so
the home page's search reads words, not the messages' JSON. Existing versions are filled in
here; versions are append-only, so on PostgreSQL the backfill runs with their protecting
trigger ignored for this one transaction."""

import contextlib

import pgtrigger
from django.db import migrations, models


def _search_text(version) -> str:
    if version.messages:
        return "\n\n".join(
            message.get("content", "")
            for message in version.messages
            if isinstance(message, dict) and isinstance(message.get("content"), str)
        )
    return version.template or ""


def backfill(apps, schema_editor):
    PromptVersion = apps.get_model("prompts", "PromptVersion")
    ignoring = (
        pgtrigger.ignore("prompts.PromptVersion:prompt_version_append_only")
        if schema_editor.connection.vendor == "postgresql"
        else contextlib.nullcontext()
    )
    with ignoring:
        for version in PromptVersion.objects.only("pk", "template", "messages").iterator():
            PromptVersion.objects.filter(pk=version.pk).update(search_text=_search_text(version))


class Migration(migrations.Migration):
    dependencies = [
        ("prompts", "0003_description_size"),
    ]

    operations = [
        migrations.AddField(
            model_name="promptversion",
            name="search_text",
            field=models.TextField(
                blank=True,
                editable=False,
                help_text="The template, or the messages' texts: searched.",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
