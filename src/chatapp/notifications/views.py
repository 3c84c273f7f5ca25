from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chatapp.accounts.views import page_user
from chatapp.notifications import selectors, services


@login_required
async def notifications(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("before", "")
    before = int(raw) if raw.isdigit() else None
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
    raw = request.POST.get("up_to", "")
    if raw.isdigit():
        await sync_to_async(services.notifications_mark_read)(
            user=page_user(request), up_to=int(raw)
        )
    return redirect("notifications:list")
