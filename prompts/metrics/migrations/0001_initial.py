"""Call events (partitioned by month on PostgreSQL), idempotency keys, dirty marks, rollups."""

import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from prompts.metrics.partitions import MONTHS_AHEAD, partitions_create

# PostgreSQL: partitioned by month on occurred_at, so the primary key includes it. bigserial,
# not an identity column: PostgreSQL 15 has no identity columns on partitioned tables.
CREATE_PARTITIONED = """
CREATE TABLE metrics_callevent (
    id bigserial NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    prompt_id bigint NOT NULL,
    version_id bigint NOT NULL,
    environment_id bigint NOT NULL,
    experiment_id bigint NULL,
    arm varchar(1) NOT NULL,
    model varchar(200) NOT NULL,
    subject varchar(200) NOT NULL,
    latency_ms double precision NOT NULL,
    input_tokens integer NOT NULL CHECK (input_tokens >= 0),
    output_tokens integer NOT NULL CHECK (output_tokens >= 0),
    cost_usd double precision NOT NULL,
    quality_score double precision NULL,
    feedback smallint NOT NULL,
    error boolean NOT NULL,
    idempotency_key varchar(100) NOT NULL,
    metadata jsonb NULL,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at)
"""


def create_events(apps, schema_editor):
    model = apps.get_model("metrics", "CallEvent")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.create_model(model)
        return
    schema_editor.execute(CREATE_PARTITIONED)
    for index in model._meta.indexes:
        schema_editor.add_index(model, index)
    # A fresh database takes events at once, before beat first runs: the retention window
    # back to MONTHS_AHEAD months ahead.
    now = timezone.now()
    start = now - dt.timedelta(days=settings.METRICS_RETENTION_DAYS)
    end = now + dt.timedelta(days=31 * MONTHS_AHEAD)
    partitions_create(start=start, end=end, using=schema_editor.connection)


def drop_events(apps, schema_editor):
    schema_editor.delete_model(apps.get_model("metrics", "CallEvent"))


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("prompts", "0008_experiments"),
    ]

    operations = [
        # The event table: Django's state as usual; the database's comes from create_events.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CallEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("occurred_at", models.DateTimeField()),
                        ("received_at", models.DateTimeField()),
                        ("arm", models.CharField(blank=True, max_length=1)),
                        ("model", models.CharField(blank=True, max_length=200)),
                        ("subject", models.CharField(blank=True, max_length=200)),
                        ("latency_ms", models.FloatField()),
                        ("input_tokens", models.PositiveIntegerField(default=0)),
                        ("output_tokens", models.PositiveIntegerField(default=0)),
                        ("cost_usd", models.FloatField(default=0)),
                        ("quality_score", models.FloatField(blank=True, null=True)),
                        ("feedback", models.SmallIntegerField(default=0)),
                        ("error", models.BooleanField(default=False)),
                        ("idempotency_key", models.CharField(max_length=100)),
                        ("metadata", models.JSONField(blank=True, null=True)),
                        (
                            "environment",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="prompts.environment",
                            ),
                        ),
                        (
                            "experiment",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="prompts.experiment",
                            ),
                        ),
                        (
                            "prompt",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="prompts.prompt",
                            ),
                        ),
                        (
                            "version",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="prompts.promptversion",
                            ),
                        ),
                    ],
                    options={
                        "indexes": [
                            models.Index(
                                fields=["prompt", "environment", "occurred_at"],
                                name="callevent_prompt_env_at",
                            ),
                            models.Index(
                                fields=["prompt", "occurred_at"], name="callevent_prompt_at"
                            ),
                            models.Index(
                                condition=models.Q(("experiment__isnull", False)),
                                fields=["experiment", "occurred_at"],
                                name="callevent_experiment_at",
                            ),
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(create_events, drop_events),
        migrations.CreateModel(
            name="DirtyHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField()),
                ("marked_at", models.DateTimeField()),
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
                "constraints": [
                    models.UniqueConstraint(fields=("prompt", "hour"), name="dirty_hour_once")
                ],
            },
        ),
        migrations.CreateModel(
            name="EventKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("idempotency_key", models.CharField(max_length=100)),
                ("occurred_at", models.DateTimeField()),
                (
                    "prompt",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="prompts.prompt",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["occurred_at"], name="eventkey_occurred_at")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("prompt", "idempotency_key"), name="event_key_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="HourlyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("arm", models.CharField(blank=True, max_length=1)),
                ("model", models.CharField(blank=True, max_length=200)),
                ("hour", models.DateTimeField()),
                ("count", models.PositiveBigIntegerField()),
                ("latency_sum", models.FloatField()),
                ("latency_sumsq", models.FloatField()),
                ("cost_sum", models.FloatField()),
                ("cost_sumsq", models.FloatField()),
                ("quality_count", models.PositiveBigIntegerField()),
                ("quality_sum", models.FloatField()),
                ("quality_sumsq", models.FloatField()),
                ("feedback_positive", models.PositiveBigIntegerField()),
                ("feedback_negative", models.PositiveBigIntegerField()),
                ("errors", models.PositiveBigIntegerField()),
                ("input_tokens_sum", models.PositiveBigIntegerField()),
                ("output_tokens_sum", models.PositiveBigIntegerField()),
                ("latency_histogram", models.JSONField(default=dict)),
                (
                    "environment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="prompts.environment",
                    ),
                ),
                (
                    "experiment",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="prompts.experiment",
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
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="prompts.promptversion",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["prompt", "hour"], name="rollup_prompt_hour"),
                    models.Index(fields=["experiment", "hour"], name="rollup_experiment_hour"),
                ],
            },
        ),
    ]
