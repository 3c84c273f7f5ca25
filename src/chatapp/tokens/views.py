"""The Tokens page: a user's API tokens, made, shown once and revoked."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from chatapp.accounts.views import page_user
from chatapp.tokens import services
from chatapp.tokens.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=services.NAME_MAX,
        help_text="What the token is for: a bot, a load test.",
    )


@login_required
@require_http_methods(["GET", "POST"])
async def tokens(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    form = TokenForm(request.POST if request.method == "POST" else None)
    new: services.NewToken | None = None
    if form.is_bound and form.is_valid():
        try:
            new = await sync_to_async(services.token_create)(
                user=user, name=form.cleaned_data["name"]
            )
        except services.TokenError as exc:
            form.add_error("name", exc.detail)
        else:
            form = TokenForm()
    found = [token async for token in ApiToken.objects.filter(user=user)]
    return render(request, "tokens/tokens.html", {"form": form, "tokens": found, "new": new})


@login_required
@require_POST
async def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = page_user(request)
    if await sync_to_async(services.token_revoke)(user=user, token_id=token_id):
        messages.success(request, "The token was revoked; programs using it are logged out.")
    return redirect("tokens:tokens")
