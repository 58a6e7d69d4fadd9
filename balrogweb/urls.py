from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, register_converter

from balrogweb.ids import IdConverter
from ops.static import serve_static

# A database outage answers 503 with Retry-After, not a bare 500 (ops.errors).
handler500 = "ops.errors.server_error"

# <id:...> for every id in a URL, registered before the apps' URLconfs load: an id beyond
# the database's range matches no route (404) instead of reaching a query (balrogweb/ids.py).
register_converter(IdConverter, "id")

urlpatterns = [
    path("", include("ops.urls")),  # /healthz, /readyz, /metrics (ops)
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("agents/", include("agents.urls")),
    path("annotations/", include("annotations.urls")),
    path("", include("leaderboard.urls")),
    path("", include("play.urls")),
]

if settings.BALROG_PLAY_SERVE_STATIC:
    # Static files straight from the finders (app, static/, crafter's textures):
    # works on a fresh clone with DEBUG off. A web server serving STATIC_ROOT
    # (after collectstatic) replaces this with BALROG_PLAY_SERVE_STATIC=0.
    prefix = settings.STATIC_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{prefix}(?P<path>.*)$", serve_static))
