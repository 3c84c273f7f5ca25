"""Validation of account input, shared by the JSON API and the pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.files.uploadedfile import UploadedFile

from chatapp.accounts.avatars import avatar_from_upload
from chatapp.accounts.models import User, username_validator


class RegisterForm(forms.Form):
    username = forms.CharField(max_length=30, validators=[username_validator])
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, max_length=4096)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.", code="taken")
        return username

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("That email address is already registered.", code="taken")
        return email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password")
        if password:
            candidate = User(username=data.get("username", ""), email=data.get("email", ""))
            try:
                validate_password(password, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data

    def register(self) -> User:
        """Create the account from valid data; a lost race on the unique
        constraints becomes errors on this form (ValidationError is raised)."""
        from chatapp.accounts import services

        try:
            return services.user_register(
                username=self.cleaned_data["username"],
                email=self.cleaned_data["email"],
                password=self.cleaned_data["password"],
            )
        except forms.ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
            raise


class LoginForm(forms.Form):
    login = forms.CharField(label="Username or email", max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, max_length=4096)


class ProfileForm(forms.Form):
    email = forms.EmailField(max_length=254)
    hide_email = forms.BooleanField(required=False, label="Hide my email from other users")
    avatar = forms.FileField(
        required=False,
        label="Avatar",
        help_text="JPEG, PNG, GIF or WebP, up to 5 MB. It is cropped square.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self) -> str:
        # Whether another account has it is not said here (see docs/security.md,
        # "Account enumeration"): services.user_email_change_request mails the address.
        email: str = self.cleaned_data["email"].strip()
        return email

    def clean_avatar(self) -> Any:
        upload: UploadedFile | None = self.cleaned_data.get("avatar")
        if not upload:
            return None
        return avatar_from_upload(upload)
