from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from clm.web import channel_views, import_views, playbook_views, record_views, token_views, views, work_views
from clm.web import leads as lead_views

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
    path("work/", views.my_work, name="my_work"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.csv", views.dashboard_export, {"fmt": "csv"}, name="dashboard_export_csv"),
    path("dashboard/export.xlsx", views.dashboard_export, {"fmt": "xlsx"}, name="dashboard_export_xlsx"),
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
    path("records/<slug:kind>/new/", record_views.record_new, name="record_new"),
    path("records/<slug:kind>/<int:pk>/edit/", record_views.record_edit, name="record_edit"),
    path("records/contacts/options/", record_views.contact_options, name="record_contacts"),
    path("import/", import_views.import_start, name="import"),
    path("import/columns/", import_views.import_mapping, name="import_mapping"),
    path("import/jobs/<int:pk>/", import_views.import_job, name="import_job"),
    path("import/jobs/<int:pk>/status/", import_views.import_job_status, name="import_job_status"),
    path("import/jobs/<int:pk>/rejected.csv", import_views.import_rejected, name="import_rejected"),
    path("channels/", channel_views.channel_list, name="channels"),
    path("channels/templates/new/", channel_views.template_edit, name="channel_template_new"),
    path("channels/templates/<int:pk>/", channel_views.template_edit, name="channel_template"),
    path("channels/templates/<int:pk>/delete/", channel_views.template_delete, name="channel_template_delete"),
    path("channels/webhooks/new/", channel_views.webhook_edit, name="channel_webhook_new"),
    path("channels/webhooks/<int:pk>/", channel_views.webhook_edit, name="channel_webhook"),
    path("channels/webhooks/<int:pk>/rotate/", channel_views.webhook_rotate, name="channel_webhook_rotate"),
    path("channels/robots/new/", channel_views.robot_edit, name="channel_robot_new"),
    path("channels/robots/<int:pk>/", channel_views.robot_edit, name="channel_robot"),
    path("channels/<slug:kind>/<int:pk>/active/", channel_views.channel_active, name="channel_active"),
    path("channels/<slug:kind>/<int:pk>/test/", channel_views.channel_test, name="channel_test"),
    path("channels/<slug:kind>/<int:pk>/delete/", channel_views.channel_delete, name="channel_delete"),
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/tokens/", token_views.token_list, name="tokens"),
    path("preferences/tokens/<int:pk>/revoke/", token_views.token_revoke, name="token_revoke"),
    path("language/", views.set_language, name="set_language"),
    path("leads/", lead_views.lead_list, name="leads"),
    path("leads/bulk/", lead_views.lead_bulk, name="lead_bulk"),
    path("leads/funnel/", lead_views.lead_funnel, name="lead_funnel"),
    path("leads/fit/", lead_views.lead_fit, name="lead_fit"),
    path("leads/<int:pk>/", lead_views.lead_detail, name="lead"),
    path("leads/<int:pk>/move/", lead_views.lead_move, name="lead_move"),
    path("leads/<int:pk>/actions/", lead_views.lead_actions, name="lead_actions"),
    path("leads/<int:pk>/convert/", lead_views.lead_convert, name="lead_convert"),
]
