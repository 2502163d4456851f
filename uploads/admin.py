from django.contrib import admin

from uploads.models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin[Upload]):
    list_display = ["filename", "case", "size", "state", "kind", "uploaded_by", "created_at"]
    list_filter = ["state", "kind"]
    search_fields = ["filename", "sha256", "case__number"]
    raw_id_fields = ["case", "uploaded_by", "parent"]
    readonly_fields = [field.name for field in Upload._meta.fields]
