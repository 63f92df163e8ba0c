"""Counts of resolves of deprecated prompts per day (flushed from Redis) and the fingerprint of
each team's last stale-prompt digest."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("prompts", "0004_version_search_text"),
        ("teams", "0002_description_size"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaleDigest",
            fields=[
                (
                    "team",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="teams.team",
                    ),
                ),
                ("fingerprint", models.CharField(blank=True, max_length=64)),
                ("findings", models.PositiveIntegerField(default=0)),
                ("scanned_at", models.DateTimeField()),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"ordering": ["team"]},
        ),
        migrations.CreateModel(
            name="ResolveCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("token_name", models.CharField(blank=True, max_length=200)),
                ("count", models.PositiveBigIntegerField(default=0)),
                (
                    "environment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="prompts.environment",
                    ),
                ),
                (
                    "prompt",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="prompts.prompt",
                    ),
                ),
            ],
            options={
                "ordering": ["-day", "prompt", "environment", "token_name"],
                "indexes": [models.Index(fields=["day"], name="prompts_res_day_c7cfd7_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("prompt", "environment", "day", "token_name"),
                        name="resolve_count_once_per_day",
                    )
                ],
            },
        ),
    ]
