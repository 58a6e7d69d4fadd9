"""The taxonomy is edited here (reviewers may); queues are listed read-only.

Assignments and their labels are deliberately not in the admin: an
annotator's draft is private until submitted, and submitted work is read
through the review console and the exports.
"""

from __future__ import annotations

from django.contrib import admin

from annotations.models import Label, LabelOption, Queue


class LabelOptionInline(admin.TabularInline):
    model = LabelOption
    extra = 1
    fields = ("order", "code", "name", "description")


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "scope", "kind", "hotkey", "order", "required", "active")
    list_filter = ("scope", "kind", "active")
    list_editable = ("hotkey", "order", "active")
    search_fields = ("name", "code", "description")
    fields = ("code", "name", "description", "scope", "kind", "hotkey", "order", "required", "active",
              "rating_min", "rating_max")
    inlines = [LabelOptionInline]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "overlap", "created_by", "created_at")
    readonly_fields = ("name", "description", "filters", "overlap", "created_by", "created_at")

    def has_add_permission(self, request: object) -> bool:
        return False  # queues are built from a filter on the annotations pages
