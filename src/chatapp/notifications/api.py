"""JSON API of notifications (PROTOCOL.md)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from chatapp import wire
from chatapp.accounts.api import current_user
from chatapp.core.api import api_view, read_body, read_query
from chatapp.core.apidoc import operation
from chatapp.core.errors import json_response
from chatapp.notifications import selectors, services
from chatapp.notifications.serializers import notification_shape


@operation(
    "GET",
    "A page of the caller's notifications, newest first",
    query=wire.NotificationsQuery,
    answers={200: wire.NotificationsPage},
    description="`before` is the smallest id already shown.",
)
@api_view("GET")
async def notifications(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    before = read_query(request, wire.NotificationsQuery).before

    def page() -> wire.NotificationsPage:
        rows, has_more = selectors.notifications_page(user=user, before=before)
        return wire.NotificationsPage(
            results=[notification_shape(n) for n in rows],
            unread=selectors.unread_count(user_id=user.pk),
            has_more=has_more,
        )

    return json_response(await sync_to_async(page)())


@operation(
    "POST",
    "Mark the caller's notifications read up to an id",
    body=wire.NotificationsReadBody,
    answers={200: wire.Unread},
)
@api_view("POST")
async def notifications_read(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    up_to = read_body(request, wire.NotificationsReadBody).up_to
    unread = await sync_to_async(services.notifications_mark_read)(user=user, up_to=up_to)
    return json_response(wire.Unread(unread=unread))
