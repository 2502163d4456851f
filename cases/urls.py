from django.urls import path

from cases import views

app_name = "cases"

urlpatterns = [
    path("cases/", views.case_list, name="list"),
    path("cases/new/", views.case_new, name="new"),
    path("cases/<str:number>/", views.case_detail, name="detail"),
    path("cases/<str:number>/scope/", views.case_scope_save, name="scope"),
    path("cases/<str:number>/scope/answer/", views.case_scope_answer, name="scope_answer"),
    path("cases/<str:number>/resolution/answer/", views.case_resolution_answer, name="resolution_answer"),
    path("cases/<str:number>/follow/", views.case_follow, name="follow"),
    path("cases/<str:number>/version/", views.case_version, name="version"),
    path("cases/<str:number>/message/", views.case_message, name="message"),
    path("cases/<str:number>/assign/", views.case_assign, name="assign"),
    path("cases/<str:number>/split/", views.case_split, name="split"),
    path("cases/<str:number>/close/", views.case_close, name="close"),
    path("cases/<str:number>/action/<str:action>/", views.case_action, name="action"),
]
