"""The nightly evaluations' Celery beat schedule, as a row of django-celery-beat (editable in
the admin; the DatabaseScheduler reads it). Idempotent: an existing task of the same name is
left as it is. Reverse removes the task (and its crontab when no other task uses it)."""

from django.db import migrations
from django.utils import timezone

NAME = "evaluations-nightly"
TASK = "prompts.evaluations.tasks.nightly_evaluations"
# 02:00 UTC: after the day's deployments, before the working day in Europe.
CRONTAB = {
    "minute": "0",
    "hour": "2",
    "day_of_week": "*",
    "day_of_month": "*",
    "month_of_year": "*",
    "timezone": "UTC",
}
DESCRIPTION = (
    "Every suite of every prompt deployed in production, on the model of its production "
    "version's model_config and on the owning team's watched models; once per night (a second "
    "run of the task starts nothing)."
)


def _touch(apps) -> None:
    """Tell a running beat that the schedule changed (the model's signals do not fire here)."""
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule = CrontabSchedule.objects.filter(**CRONTAB).first()
    if schedule is None:
        schedule = CrontabSchedule.objects.create(**CRONTAB)
    PeriodicTask.objects.get_or_create(
        name=NAME, defaults={"task": TASK, "crontab": schedule, "description": DESCRIPTION}
    )
    _touch(apps)


def backwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()
    CrontabSchedule.objects.filter(
        minute=CRONTAB["minute"], hour=CRONTAB["hour"], periodictask__isnull=True
    ).delete()
    _touch(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0002_local_model"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
