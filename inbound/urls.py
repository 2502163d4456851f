from django.urls import path

from inbound import views

app_name = "inbound"

urlpatterns = [
    path("mail/", views.mail_queue, name="queue"),
    path("mail/<int:message_id>/", views.mail_detail, name="detail"),
    path("mail/<int:message_id>/original.eml", views.mail_original, name="original"),
    path("mail/<int:message_id>/attach/", views.mail_attach, name="attach"),
    path("mail/<int:message_id>/open-case/", views.mail_open_case, name="open_case"),
    path("mail/<int:message_id>/discard/", views.mail_discard, name="discard"),
    path("mail/entry/<int:entry_id>/original.eml", views.mail_entry_original, name="entry_original"),
]
