from django.contrib import admin
from django.urls import include, path

from threads import views as thread_views

admin.site.site_header = "Forum moderation"
admin.site.site_title = "Forum moderation"

urlpatterns = [
    path("", include("threads.urls")),
    path("accounts/signup/", thread_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
