from django.db import migrations

DEFAULTS = [
    # slug, name, order, requires_approval, min_approvals, protected
    ("development", "Development", 10, False, 0, False),
    ("staging", "Staging", 20, True, 1, False),
    ("production", "Production", 30, True, 2, True),
]


def create_environments(apps, schema_editor):
    Environment = apps.get_model("prompts", "Environment")
    for slug, name, order, requires_approval, min_approvals, protected in DEFAULTS:
        Environment.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "order": order,
                "requires_approval": requires_approval,
                "min_approvals": min_approvals,
                "protected": protected,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("prompts", "0001_initial")]

    operations = [migrations.RunPython(create_environments, migrations.RunPython.noop)]
