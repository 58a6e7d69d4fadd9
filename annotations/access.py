"""Who may reach the annotation pages, and which objects.

Every page and endpoint needs a staff account with one of the two
permissions (granted by the groups "annotators" and "reviewers"):

- ``annotations.annotate``: open and work on one's *own* assignments;
- ``annotations.review``: build queues, assign, see agreement figures,
  adjudicate, export.

Objects are checked per request: an assignment is found only among the
requesting user's own (another's answers 404, so ids leak nothing).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotations.models import Assignment

ANNOTATE = "annotations.annotate"
REVIEW = "annotations.review"


def is_annotator(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(ANNOTATE))


def is_reviewer(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(REVIEW))


def has_access(user: Any) -> bool:
    return is_annotator(user) or is_reviewer(user)


def check_access(user: Any) -> None:
    if not has_access(user):
        raise PermissionDenied("annotation work needs a staff account in the annotators or reviewers group")


def check_reviewer(user: Any) -> None:
    if not is_reviewer(user):
        raise PermissionDenied("this needs the reviewer permission")


def check_own_assignment(user: Any, assignment_id: int) -> Assignment:
    """The user's own assignment (and its item and episode), or 404."""
    if not is_annotator(user):
        raise PermissionDenied("this needs the annotator permission")
    try:
        return Assignment.objects.select_related("item__episode", "item__queue").get(pk=assignment_id, annotator=user)
    except Assignment.DoesNotExist:
        raise Http404("no such assignment of yours") from None
