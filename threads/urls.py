from django.urls import path
from django.views.generic import TemplateView

from . import rendering, views

app_name = "threads"

urlpatterns = [
    path("", views.index, name="index"),
    path("feed/", views.forum_feed, name="feed"),
    path("sitemap.xml", views.sitemap_index, name="sitemap"),
    path("sitemap-<slug:section>.xml", views.sitemap_section, name="sitemap_section"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("c/<slug:slug>/feed/", views.category_feed, name="category_feed"),
    path("c/<slug:slug>/read/", views.all_read, name="category_read"),
    path("c/<slug:slug>/watch/", views.category_watch, name="category_watch"),
    path("read/", views.all_read, name="all_read"),
    path("notifications/", views.inbox, name="notifications"),
    path("search/", views.search, name="search"),
    path("moderation/", views.moderation_log, name="moderation_log"),
    path("moderation/feed/", views.moderation_feed, name="moderation_feed"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("t/new/", views.topic_create, name="topic_create"),
    path("t/<int:pk>/", views.topic_detail, name="topic_detail_short"),
    path("t/<int:pk>-<slug:slug>/", views.topic_detail, name="topic_detail"),
    path("t/<int:topic_pk>/reply/", views.reply, name="topic_reply"),
    path("t/<int:pk>/download.md", views.topic_download, name="topic_download"),
    path("t/<int:pk>/watch/", views.topic_watch, name="topic_watch"),
    path("t/<int:pk>/feed/", views.topic_feed, name="topic_feed"),
    path("p/<int:pk>/", views.post_permalink, name="post_permalink"),
    path("p/<int:pk>/thread/", views.post_thread, name="post_thread"),
    path("p/<int:post_pk>/reply/", views.reply, name="post_reply"),
    path("p/<int:pk>/edit/", views.post_edit, name="post_edit"),
    path("p/<int:pk>/delete/", views.post_delete, name="post_delete"),
    path("u/<str:username>/", views.profile, name="profile"),
    path("u/<str:username>/ignore/", views.ignore, name="ignore"),
    path("u/<str:username>/feed/", views.member_feed, name="member_feed"),
    path("settings/", views.settings_profile, name="settings"),
    path("settings/email/", views.settings_email, name="settings_email"),
    path("settings/email/confirm/<str:token>/", views.email_confirm, name="email_confirm"),
    path("settings/avatar/", views.settings_avatar, name="settings_avatar"),
    path("settings/notifications/", views.settings_notifications, name="settings_notifications"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("pending/", views.pending_list, name="pending_list"),
    path("pending/<int:pk>/", views.pending_detail, name="pending"),
    path(
        "help/formatting/",
        TemplateView.as_view(
            template_name="threads/formatting_help.html",
            extra_context={"allowed_tags": sorted(rendering.ALLOWED_TAGS)},
        ),
        name="formatting_help",
    ),
    path("p/<int:pk>/history/", views.post_history, name="post_history"),
    path("p/<int:pk>/history/<int:revision_pk>/", views.revision_hidden, name="revision_hidden"),
    path("p/<int:pk>/report/", views.post_report, name="post_report"),
]
