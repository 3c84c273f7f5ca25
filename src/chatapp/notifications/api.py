from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp.accounts.api import current_user
from chatapp.core.api import api_view, parse_fields, read_json
from chatapp.core.errors import ApiError
from chatapp.notifications import selectors, services
from chatapp.notifications.serializers import notification_json


@api_view("GET")
async def notifications(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    raw = request.GET.get("before", "")
    try:
        before = int(raw) if raw else None
    except ValueError as exc:
        raise ApiError("invalid", "before must be a whole number.") from exc

    def page() -> tuple[list[dict[str, object]], bool, int]:
        rows, has_more = selectors.notifications_page(user=user, before=before)
        return (
            [notification_json(n) for n in rows],
            has_more,
            selectors.unread_count(user_id=user.pk),
        )

    results, has_more, unread = await sync_to_async(page)()
    return JsonResponse({"results": results, "unread": unread, "has_more": has_more})


@api_view("POST")
async def notifications_read(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    data = parse_fields(read_json(request), {"up_to": int})
    unread = await sync_to_async(services.notifications_mark_read)(user=user, up_to=data["up_to"])
    return JsonResponse({"unread": unread})
