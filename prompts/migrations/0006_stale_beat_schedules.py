"""The stale-prompt tasks' Celery beat schedules, as rows of django-celery-beat (the
DatabaseScheduler reads them; unlike the entries of CELERY_BEAT_SCHEDULE, which beat rewrites
from the setting at every start, a change made to these rows stays). Idempotent: an existing
task of the same name is left as it is. Reverse removes the tasks (and their schedules when no
other task uses them)."""

from django.db import migrations
from django.utils import timezone

INTERVALS = {
    # name: (task, every, period)
    "prompts-flush-resolve-counts": ("prompts.tasks.flush_resolve_counts", 10, "minutes"),
    "prompts-retire-past-sunset": ("prompts.tasks.retire_past_sunset", 1, "hours"),
}
CRONTABS = {
    # name: (task, minute, hour): the daily digest, in the morning UTC
    "prompts-stale-digest": ("prompts.tasks.stale_digest", "0", "6"),
}
DESCRIPTIONS = {
    "prompts-flush-resolve-counts": "Move today's Redis counts of deprecated-prompt resolves "
    "into ResolveCount (absolute day totals: safe to run twice).",
    "prompts-retire-past-sunset": "Retire deprecated prompts past their sunset in namespaces "
    "with auto_retire on.",
    "prompts-stale-digest": "One digest per team: stale prompts, deprecated prompts still "
    "resolved, sunsets passed; not sent again when nothing is new.",
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
        ("prompts", "0005_resolve_counts_stale_digests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
