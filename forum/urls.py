from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from threads import views as thread_views
from threads.forms import LoginForm

from . import media

admin.site.site_header = "Forum moderation"
# The change lists need the width at 1280 px more than a menu of three models does.
admin.site.enable_nav_sidebar = False
admin.site.site_title = "Forum moderation"

urlpatterns = [
    path("", include("threads.urls")),
    path("accounts/signup/", thread_views.signup, name="signup"),
    path("accounts/login/", LoginView.as_view(authentication_form=LoginForm), name="login"),
    path(
        "accounts/password_reset/",
        thread_views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password_change/",
        thread_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

if media.served_here():
    urlpatterns.append(path(f"{settings.MEDIA_URL[1:]}<path:path>", media.serve, name="media"))
