from django.contrib import admin
from django.urls import include, path

from chatapp.chat import views as chat_views
from chatapp.core import views as core_views
from chatapp.realtime import drain

urlpatterns = [
    path("", chat_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", drain.readyz, name="readyz"),
    path("accounts/", include("chatapp.accounts.urls")),
    path("friends/", include("chatapp.friends.urls")),
    path("notifications/", include("chatapp.notifications.urls")),
    path("chat/", include("chatapp.chat.urls")),
    path("tokens/", include("chatapp.tokens.urls")),
    path("api/", include("chatapp.accounts.api_urls")),
    path("api/", include("chatapp.chat.api_urls")),
    path("api/", include("chatapp.friends.api_urls")),
    path("api/", include("chatapp.notifications.api_urls")),
    path("api/", include("chatapp.tokens.api_urls")),
    path("api/openapi.json", core_views.openapi_json, name="api-openapi"),
    path("media/<path:path>", core_views.media, name="media"),
    path("admin/", admin.site.urls),
]

handler400 = "chatapp.core.errors.bad_request"
handler403 = "chatapp.core.errors.permission_denied"
handler404 = "chatapp.core.errors.page_not_found"
handler500 = "chatapp.core.errors.server_error"
