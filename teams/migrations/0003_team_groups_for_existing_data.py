"""Give teams created before access control their groups and object permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_GROUPS = {
    "viewer": ("members_group",),
    "maintainer": ("members_group", "maintainers_group"),
    "owner": ("members_group", "maintainers_group", "owners_group"),
}
GROUP_PERMS = {
    "members_group": ("view_namespace",),
    "maintainers_group": ("change_prompts", "request_promotion"),
    "owners_group": ("manage_namespace",),
}


def forwards(apps, schema_editor):
    # Permissions are normally created after migrations; these rows need them now.
    teams_config = apps.get_app_config("teams")
    teams_config.models_module = True
    create_permissions(teams_config, apps=apps, verbosity=0)
    teams_config.models_module = None

    Team = apps.get_model("teams", "Team")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    GroupObjectPermission = apps.get_model("guardian", "GroupObjectPermission")
    namespace_type = ContentType.objects.get(app_label="teams", model="namespace")
    perms = {perm.codename: perm for perm in Permission.objects.filter(content_type=namespace_type)}
    for team in Team.objects.all():
        for attribute in GROUP_PERMS:
            if getattr(team, f"{attribute}_id") is None:
                suffix = attribute.removesuffix("_group")
                group, _ = Group.objects.get_or_create(name=f"team:{team.slug}:{suffix}")
                setattr(team, attribute, group)
        team.save(update_fields=list(GROUP_PERMS))
        for membership in team.memberships.all():
            for attribute in ROLE_GROUPS[membership.role]:
                getattr(team, attribute).user_set.add(membership.user_id)
        for namespace in team.namespaces.all():
            for attribute, codenames in GROUP_PERMS.items():
                for codename in codenames:
                    GroupObjectPermission.objects.get_or_create(
                        group=getattr(team, attribute),
                        permission=perms[codename],
                        content_type=namespace_type,
                        object_pk=str(namespace.pk),
                    )


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0002_access_control"),
        ("guardian", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
