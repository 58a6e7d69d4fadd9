"""The groups "annotators" and "reviewers", and the default taxonomy.

Permissions are normally created after all migrations (post_migrate); they
are created here first so the groups can be given them. Both steps only add
what is missing, so re-running (or a taxonomy already edited in the admin)
is safe; reversing leaves the data in place.
"""

from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations

STEP_LABELS = [
    ("invalid-format", "Invalid answer / format error", "f",
     "The answer is not a valid action of the game or breaks the required output format, so the game "
     "executed its default action instead (the step shows 'invalid')."),
    ("repeated-loop", "Repeated action loop", "l",
     "Repeats an action or a short cycle of actions without making progress: bumping into a wall, "
     "turning in place, walking back and forth, re-issuing a command that already failed."),
    ("spatial-error", "Misread the map / spatial error", "m",
     "Misreads the observation: wrong position, direction or distance, confuses left and right, "
     "walks into something visible, or believes an object is where it is not."),
    ("ignored-rules", "Ignored the instruction or rules", "r",
     "Acts against the mission, the game's rules or the prompt's instructions: goes for the wrong "
     "object, breaks a Baba Is AI rule it needs, uses an action the game does not have."),
    ("menu-trap", "Menu or prompt trap", "t",
     "Caught by a modal prompt, menu or message it does not handle: NetHack's --More--, a yes/no "
     "question, an inventory or direction prompt, a TextWorld disambiguation question."),
    ("good-move", "Good move / key insight", "g",
     "A clearly good decision: a key insight, a correct step of a plan, recovering from a mistake."),
]

FAILURE_OPTIONS = [
    ("none", "None: succeeded or no clear failure", ""),
    ("invalid-actions", "Invalid answers / format errors", "Too many answers were not actions."),
    ("action-loop", "Stuck in an action loop", "Repeated actions or cycles ate the step budget."),
    ("spatial", "Spatial misreading", "Misread positions, directions or the map."),
    ("ignored-rules", "Ignored the instruction or rules", "Pursued the wrong goal or broke the rules."),
    ("prompt-trap", "Menu or prompt trap", "Stuck in a prompt, menu or message."),
    ("poor-exploration", "Poor exploration", "Wandered without a plan or never explored where the goal was."),
    ("lost-plan", "Lost track of the plan", "Started well but forgot the goal or sub-goals over a long horizon."),
    ("avoidable-death", "Avoidable death", "Died from a danger it could see and avoid."),
    ("other", "Other (explain in the note)", ""),
]

STUCK_OPTIONS = [
    ("none", "None", "No stuck pattern."),
    ("same-action", "Same action repeated", "One action over and over."),
    ("oscillation", "Oscillation", "Back and forth between two or three states."),
    ("wall-bumping", "Bumping into obstacles", "Moving into walls or closed doors without effect."),
    ("menu-loop", "Menu / prompt loop", "Re-entering or failing to leave a prompt or menu."),
    ("wandering", "Aimless wandering", "Moving a lot without getting closer to anything."),
    ("other", "Other (explain in the note)", ""),
]

EPISODE_LABELS = [
    ("failure-reason", "Main failure reason", "F", "choice",
     "The one reason that best explains why the episode did not succeed (or 'None').", FAILURE_OPTIONS),
    ("stuck-pattern", "Stuck pattern", "S", "choice",
     "The dominant way the player got stuck, if it did.", STUCK_OPTIONS),
    ("quality", "Quality rating (1-5)", "Q", "rating",
     "Overall quality of play: 1 hopeless, 2 poor, 3 sensible but flawed, 4 good, 5 near-expert.", []),
]

REVIEWER_PERMS = [
    "review",
    "add_label", "change_label", "delete_label", "view_label",
    "add_labeloption", "change_labeloption", "delete_labeloption", "view_labeloption",
    "view_queue",
]


def create_groups(apps, schema_editor):
    app_config = apps.get_app_config("annotations")
    if getattr(app_config, "models_module", None) is None:
        app_config.models_module = True  # a migration state's app config has none; create_* skip such apps
    create_contenttypes(app_config, apps=apps, verbosity=0)
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="annotations")
    annotators, _ = Group.objects.get_or_create(name="annotators")
    annotators.permissions.add(*perms.filter(codename="annotate"))
    reviewers, _ = Group.objects.get_or_create(name="reviewers")
    reviewers.permissions.add(*perms.filter(codename__in=REVIEWER_PERMS))


def create_taxonomy(apps, schema_editor):
    Label = apps.get_model("annotations", "Label")
    LabelOption = apps.get_model("annotations", "LabelOption")
    for order, (code, name, hotkey, description) in enumerate(STEP_LABELS, start=1):
        Label.objects.get_or_create(
            code=code,
            defaults={"name": name, "hotkey": hotkey, "description": description, "scope": "step",
                      "kind": "flag", "order": order},
        )
    for order, (code, name, hotkey, kind, description, options) in enumerate(EPISODE_LABELS, start=1):
        label, created = Label.objects.get_or_create(
            code=code,
            defaults={"name": name, "hotkey": hotkey, "description": description, "scope": "episode",
                      "kind": kind, "order": order, "required": True, "rating_min": 1, "rating_max": 5},
        )
        if created:
            for position, (option_code, option_name, option_description) in enumerate(options, start=1):
                LabelOption.objects.create(
                    label=label, code=option_code, name=option_name, description=option_description, order=position
                )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(create_taxonomy, migrations.RunPython.noop),
    ]
