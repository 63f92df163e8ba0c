"""The metrics tasks' Celery beat schedules as django-celery-beat rows (like prompts 0006: a
change made to the rows stays). Idempotent: an existing task of the same name is left as it is.
Reverse removes the tasks (and their schedules when no other task uses them)."""

from django.db import migrations
from django.utils import timezone

INTERVALS = {
    # name: (task, every, period)
    "metrics-rollup": ("prompts.metrics.tasks.rollup_dirty_hours", 1, "minutes"),
    "metrics-guardrails": ("prompts.metrics.tasks.evaluate_guardrails", 1, "minutes"),
}
CRONTABS = {
    # name: (task, minute, hour): at night UTC
    "metrics-partitions-retention": ("prompts.metrics.tasks.maintain_partitions", "15", "2"),
}
DESCRIPTIONS = {
    "metrics-rollup": "Recompute the hourly rollups of the prompt-hours that got events since "
    "the last run, from the raw events (safe to run twice).",
    "metrics-guardrails": "Evaluate the guardrails of running experiments; a breach stops the "
    "experiment.",
    "metrics-partitions-retention": "Create the event partitions ahead (this month and two "
    "more), drop those past METRICS_RETENTION_DAYS, prune old idempotency keys and rollups.",
}


def _touch(apps) -> None:
    """Tell a running beat that the schedule changed (the model's signals do not fire here)."""
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, every, period) in INTERVALS.items():
        schedule = IntervalSchedule.objects.filter(every=every, period=period).first()
        if schedule is None:
            schedule = IntervalSchedule.objects.create(every=every, period=period)
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "interval": schedule, "description": DESCRIPTIONS[name]},
        )
    for name, (task, minute, hour) in CRONTABS.items():
        fields = {
            "minute": minute,
            "hour": hour,
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": "UTC",
        }
        schedule = CrontabSchedule.objects.filter(**fields).first()
        if schedule is None:
            schedule = CrontabSchedule.objects.create(**fields)
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "crontab": schedule, "description": DESCRIPTIONS[name]},
        )
    _touch(apps)


def backwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[*INTERVALS, *CRONTABS]).delete()
    for _, every, period in INTERVALS.values():
        IntervalSchedule.objects.filter(
            every=every, period=period, periodictask__isnull=True
        ).delete()
    for _, minute, hour in CRONTABS.values():
        CrontabSchedule.objects.filter(minute=minute, hour=hour, periodictask__isnull=True).delete()
    _touch(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
