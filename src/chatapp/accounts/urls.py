from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from chatapp.accounts import views
from chatapp.core.throttle import throttled

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("logout-all/", views.logout_all, name="logout_all"),
    path("profile/", views.profile_edit, name="profile_edit"),
    path("email/confirm/<name:token>/", views.email_confirm, name="email_confirm"),
    path("u/<name:username>/", views.profile, name="profile"),
    # Django's own, well-audited password views (they run in a thread under ASGI).
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_form.html",
            extra_context={"title": "Change password", "button": "Change password"},
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        throttled("password_reset")(
            auth_views.PasswordResetView.as_view(
                template_name="accounts/password_form.html",
                extra_context={"title": "Reset your password", "button": "Send reset link"},
                email_template_name="accounts/password_reset_email.txt",
                subject_template_name="accounts/password_reset_subject.txt",
                success_url=reverse_lazy("accounts:password_reset_done"),
            )
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_form.html",
            extra_context={"title": "Choose a new password", "button": "Set password"},
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
