# Permissions only: agents.manage_evaluationrun (start, cancel, resume evaluation runs).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="evaluationrun",
            options={"permissions": [("manage_evaluationrun", "Can start, cancel and resume evaluation runs")]},
        ),
    ]
