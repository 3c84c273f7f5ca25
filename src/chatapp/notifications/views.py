from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chatapp import wire
from chatapp.accounts.views import page_user
from chatapp.core.api import read_form, read_query
from chatapp.core.errors import BadInput
from chatapp.notifications import selectors, services


@login_required
async def notifications(request: HttpRequest) -> HttpResponse:
    before = read_query(request, wire.NotificationsQuery).before
    rows, has_more = await sync_to_async(selectors.notifications_page)(
        user=page_user(request), before=before
    )
    context = {
        "notifications": rows,
        "has_more": has_more,
        "next_before": rows[-1].pk if rows else None,
    }
    return render(request, "notifications/list.html", context)


@login_required
@require_POST
async def mark_read(request: HttpRequest) -> HttpResponse:
    try:
        up_to = read_form(request, wire.NotificationsReadForm).up_to
    except BadInput:
        up_to = None  # not from our form: nothing to mark
    if up_to is not None:
        await sync_to_async(services.notifications_mark_read)(user=page_user(request), up_to=up_to)
    return redirect("notifications:list")
