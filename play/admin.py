from django.contrib import admin

from play.models import PlayRecord


@admin.register(PlayRecord)
class PlayRecordAdmin(admin.ModelAdmin):
    list_display = ("episode", "owner", "env", "task", "live", "baseline_override", "created_at")
    list_filter = ("env", "live", "baseline_override")
    search_fields = ("owner", "task")
    raw_id_fields = ("episode", "seed_from")
