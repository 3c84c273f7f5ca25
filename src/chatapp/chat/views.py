from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatapp.chat.selectors import lobby


@login_required
async def home(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/home.html", {"room": await lobby()})
