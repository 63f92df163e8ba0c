from django.db import migrations, models


def mark_limited(apps, schema_editor):
    """Personal tokens that carry namespaces were limited to them (their namespaces were
    only ever set with a limit in mind); a limited token whose namespaces were all removed
    before this migration cannot be told apart from an unlimited one and stays as it was."""
    ApiToken = apps.get_model("teams", "ApiToken")
    ApiToken.objects.filter(kind="personal", namespaces__isnull=False).update(
        namespace_limited=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0004_token_scopes"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="namespace_limited",
            field=models.BooleanField(
                default=False, help_text="A personal token that may act only in its namespaces."
            ),
        ),
        migrations.RunPython(mark_limited, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("namespace_limited", False), ("kind", "personal"), _connector="OR"
                ),
                name="api_token_namespace_limit_personal",
            ),
        ),
    ]
