"""The model `local`: the offline echo provider (its output is the rendered prompt, as
promptfoo's `echo`), so the embedded mode and the demo evaluate without any key."""

from django.db import migrations

NOTES = "Offline echo, not a language model: the output is the rendered prompt."


def forwards(apps, schema_editor):
    Model = apps.get_model("evaluations", "Model")
    Model.objects.get_or_create(
        name="local", defaults={"provider": "echo", "family": "local", "notes": NOTES}
    )


class Migration(migrations.Migration):
    dependencies = [("evaluations", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
