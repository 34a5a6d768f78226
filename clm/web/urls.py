from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from clm.web import playbook_views, token_views, views, work_views

app_name = "web"

auth = [
    path("login/", auth_views.LoginView.as_view(template_name="web/auth/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(
        template_name="web/auth/password_reset.html",
        email_template_name="web/auth/password_reset_email.txt",
        subject_template_name="web/auth/password_reset_subject.txt",
        success_url=reverse_lazy("web:password_reset_done"),
    ), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="web/auth/password_reset_done.html"), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="web/auth/password_reset_confirm.html",
        success_url=reverse_lazy("web:password_reset_complete"),
    ), name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="web/auth/password_reset_complete.html"), name="password_reset_complete"),
]

urlpatterns = auth + [
    path("", views.home, name="home"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/bulk/", views.account_bulk, name="accounts_bulk"),
    path("accounts/export.csv", views.account_export, name="accounts_export"),
    path("accounts/views/", views.saved_view_create, name="saved_view_create"),
    path("accounts/views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/timeline/", views.account_timeline, name="account_timeline"),
    path("accounts/<int:pk>/log/", views.account_log, name="account_log"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact"),
    path("tasks/new/", work_views.task_create, name="task_create"),
    path("tasks/<int:pk>/<slug:action>/", work_views.task_action, name="task_action"),
    path("accounts/<int:pk>/cases/new/", work_views.case_create, name="case_create"),
    path("cases/<int:pk>/", work_views.case_detail, name="case"),
    path("cases/<int:pk>/close/", work_views.case_close, name="case_close"),
    path("playbooks/", playbook_views.playbook_list, name="playbooks"),
    path("playbooks/enable/", playbook_views.playbook_enable, name="playbook_enable"),
    path("playbooks/<int:pk>/", playbook_views.playbook_detail, name="playbook"),
    path("playbooks/<int:pk>/active/", playbook_views.playbook_active, name="playbook_active"),
    path("playbooks/<int:pk>/steps/<slug:action>/", playbook_views.playbook_step, name="playbook_step"),
    path("playbooks/enrollments/<int:pk>/", playbook_views.enrollment_detail, name="playbook_enrollment"),
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/tokens/", token_views.token_list, name="tokens"),
    path("preferences/tokens/<int:pk>/revoke/", token_views.token_revoke, name="token_revoke"),
    path("language/", views.set_language, name="set_language"),
]
