from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import invitation_views, sso_views, views
from accounts.forms import LoginForm

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(authentication_form=LoginForm), name="login"),
    path("sso/", sso_views.sso_choose, name="sso_choose"),
    path("sso/<slug:slug>/", sso_views.sso_login, name="sso_login"),
    path("sso/<slug:slug>/callback/", sso_views.sso_callback, name="sso_callback"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html", success_url="/accounts/password/done/"
        ),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_done.html"),
        name="password_change_done",
    ),
    path("language/", views.language_set, name="language"),
    path("profile/", views.profile, name="profile"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/revoke/", views.token_revoke, name="token_revoke"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("invitations/case/<str:number>/", invitation_views.invitation_new, name="invitation_new"),
    path("invitations/<int:pk>/revoke/", invitation_views.invitation_revoke, name="invitation_revoke"),
    path("invitations/accept/<str:token>/", invitation_views.invitation_accept, name="invitation_accept"),
]
