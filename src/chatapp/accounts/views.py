"""Server-rendered account pages. Thin: forms validate, services write."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import aauthenticate, alogin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from chatapp.accounts import selectors, services
from chatapp.accounts.forms import LoginForm, ProfileForm, RegisterForm
from chatapp.accounts.models import User
from chatapp.core.throttle import throttle, throttled, throttled_response


def _next_url(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require_http_methods(["GET", "POST"])
@throttled("register")
async def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and await sync_to_async(form.is_valid)():
        try:
            user = await sync_to_async(form.register)()
        except ValidationError:
            pass  # the form now carries the errors
        else:
            await alogin(request, user, backend="chatapp.accounts.backends.UsernameOrEmailBackend")
            return redirect("home")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/register.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@throttled("login")
async def login(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = await aauthenticate(
            request,
            username=form.cleaned_data["login"],
            password=form.cleaned_data["password"],
        )
        if user is not None:
            await alogin(request, user)
            return redirect(_next_url(request))
        # On lockout AxesMiddleware replaces this answer with a 429 page.
        form.add_error(None, "Wrong username, email or password.")
    status = 400 if form.is_bound else 200
    context = {"form": form, "next": _next_url(request, default="")}
    return render(request, "accounts/login.html", context, status=status)


@require_POST
async def logout(request: HttpRequest) -> HttpResponse:
    await services.user_logout(request=request)
    return redirect("accounts:login")


@login_required
@require_POST
async def logout_all(request: HttpRequest) -> HttpResponse:
    """Log out of every browser and device, this one included."""
    user = await request.auser()
    if isinstance(user, User):  # login_required let only users through
        await sync_to_async(services.user_logout_everywhere)(user=user)
    await services.user_logout(request=request)
    messages.success(request, "You were logged out everywhere.")
    return redirect("accounts:login")


@login_required
async def profile(request: HttpRequest, username: str) -> HttpResponse:
    shown = await sync_to_async(selectors.user_by_username)(username)
    if shown is None:
        raise Http404("No such user.")
    viewer = await request.auser()
    own = viewer.pk == shown.pk
    context = {"shown": shown, "own": own, "show_email": own or not shown.hide_email}
    return render(request, "accounts/profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
async def profile_edit(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not isinstance(user, User):  # login_required let only users through
        return redirect("accounts:login")
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES, user=user)
        if await sync_to_async(form.is_valid)():
            email = form.cleaned_data["email"]
            changing = email.lower() not in {user.email.lower(), user.pending_email.lower()}
            if changing:
                # Each change mails the new address: a budget per account.
                wait = await sync_to_async(throttle().hit)("email_change", f"user:{user.pk}")
                if wait is not None:
                    return throttled_response(request, "email_change", wait)
            await sync_to_async(services.user_profile_update)(
                user=user,
                hide_email=form.cleaned_data["hide_email"],
                avatar=form.cleaned_data["avatar"],
            )
            if changing or email.lower() == user.email.lower():
                await sync_to_async(services.user_email_change_request)(
                    user=user, email=email, site_url=request.build_absolute_uri("/")[:-1]
                )
            messages.success(request, "Your profile was saved.")
            if changing:
                messages.info(
                    request,
                    f"We sent a message to {email}. Your email address changes "
                    "once you follow the link in it.",
                )
            return redirect("accounts:profile", username=user.username)
        status = 400
    else:
        form = ProfileForm(initial={"email": user.email, "hide_email": user.hide_email}, user=user)
        status = 200
    return render(request, "accounts/profile_edit.html", {"form": form}, status=status)


@require_http_methods(["GET"])
async def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link of a change of address, mailed to the new address."""
    try:
        user = await sync_to_async(services.user_email_confirm)(token=token)
    except services.EmailConfirmFailed as exc:
        return render(request, "accounts/email_confirm.html", {"detail": str(exc)}, status=400)
    return render(request, "accounts/email_confirm.html", {"confirmed": user})


def page_user(request: HttpRequest) -> User:
    """The logged-in user of a page behind login_required."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Log in first.")
    return user
