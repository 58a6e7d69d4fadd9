# EvaluationRun.published / published_at and the agents.publish_evaluationrun
# permission. Runs that had already finished when this migration ran are
# published (at their finished_at), so the leaderboards that showed them keep
# showing them; every run created afterwards starts unpublished.

from typing import Any

from django.db import migrations, models
from django.utils import timezone


def publish_finished_runs(apps: Any, schema_editor: Any) -> None:
    EvaluationRun = apps.get_model("agents", "EvaluationRun")
    for run in EvaluationRun.objects.filter(status="finished").only("pk", "finished_at"):
        EvaluationRun.objects.filter(pk=run.pk).update(published=True, published_at=run.finished_at or timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_evaluationrun_manage_permission"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="evaluationrun",
            options={
                "permissions": [
                    ("manage_evaluationrun", "Can start, cancel and resume evaluation runs"),
                    ("publish_evaluationrun", "Can publish an evaluation run on the public leaderboard"),
                ]
            },
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="published",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="published_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(publish_finished_runs, migrations.RunPython.noop),
    ]
