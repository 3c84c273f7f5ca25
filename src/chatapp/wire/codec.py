"""The one serializer of every wire type, and the one way in for what clients
send: socket frames, JSON bodies and query strings (or form fields).

Whatever a client sends, decoding either returns a value of the type asked
for, with every constraint of ``scalars`` met, or raises ``WireError`` with a
detail for people and the ``fields`` map of the Error shape. JSON nested too
deep for the parser is a ``WireError`` too (msgspec stops at the interpreter's
recursion limit and raises RecursionError, which is caught here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

import msgspec
import msgspec.inspect

from chatapp.wire.frames import AnyClientFrame, ClientFrame, Send
from chatapp.wire.scalars import CLIENT_ID_MAX, INT64_MAX, INT64_MIN

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_client_frames = msgspec.json.Decoder(AnyClientFrame)


def encode(value: Any) -> bytes:
    """JSON as UTF-8 bytes: HTTP bodies."""
    return _encoder.encode(value)


def encode_text(value: Any) -> str:
    """JSON text: socket frames. Encode once, send the same str to every socket."""
    return _encoder.encode(value).decode()


def to_builtins(value: Any) -> Any:
    """Dicts and lists of the same shape, for templates and ``json_script``."""
    return msgspec.to_builtins(value)


class WireError(ValueError):
    """Input that does not fit its wire type."""

    def __init__(self, detail: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}


# --- socket frames -----------------------------------------------------------------


def decode_frame(text: str | None) -> AnyClientFrame:
    """A client frame; raises ``WireError`` (the ``invalid`` error frame)."""
    if text is None:
        raise WireError("Frames are JSON text.")
    try:
        return _client_frames.decode(text)
    except msgspec.ValidationError as exc:
        field, message = _explain(str(exc))
        if field == "type":
            raise WireError(_type_problem(message)) from None
        if field is None:
            detail = "A frame is a JSON object." if _not_object(message) else message
            raise WireError(detail) from None
        raise WireError(f'"{field}": {message}', {field: [message]}) from None
    except (msgspec.DecodeError, UnicodeEncodeError):  # also a lone surrogate, escaped or not
        raise WireError("The frame is not valid JSON.") from None
    except RecursionError:
        raise WireError("The frame is nested too deeply.") from None


def _type_problem(message: str) -> str:
    unknown = re.match(r"Unknown value (.*)", message)
    if unknown:
        return f"Unknown frame type {unknown.group(1)[:40]}."
    return 'A frame needs a string "type".'


class _Refs(msgspec.Struct):
    client_id: Any = None
    ref: Any = None


def frame_ref(frame: ClientFrame) -> str | None:
    """What an error frame about ``frame`` names it by."""
    if isinstance(frame, Send):
        return frame.client_id
    return _clean_ref(frame.ref)


def ref_of_text(text: str | None) -> str | None:
    """The ``client_id`` (or ``ref``) of a frame that did not decode, if clean,
    so that its client can tell which send failed. Lone surrogates elsewhere
    in the frame (a JSON.stringify of a cut emoji) do not hide it."""
    if text is None:
        return None
    try:
        refs = msgspec.json.decode(_without_surrogates(text), type=_Refs)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):
        return None
    return _clean_ref(refs.client_id) or _clean_ref(refs.ref)


def _clean_ref(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= CLIENT_ID_MAX and "\x00" not in value:
        return value
    return None


_ESCAPE = re.compile(r"\\(u[dD][89a-fA-F][0-9a-fA-F]{2}|.)", re.S)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(text: str) -> str:
    """Each surrogate escape becomes ``\\u0000``, so a string that held one is
    still refused as a ref, and the rest of the frame parses."""
    text = _SURROGATE.sub(lambda _: "\\u0000", text)
    return _ESCAPE.sub(lambda m: "\\u0000" if len(m.group(1)) == 5 else m.group(0), text)


# --- HTTP: JSON bodies, query strings, form fields -----------------------------------


def decode_json(body: bytes, kind: type[T]) -> T:
    """A JSON object of type ``kind``; every field's problem is reported at once."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError:
        pass  # again, field by field, below
    except msgspec.DecodeError:
        raise WireError("The body is not valid JSON.") from None
    except RecursionError:
        raise WireError("The body is nested too deeply.") from None
    # The typed decode stops at the first field that does not fit, so the
    # rest of the body may still be malformed: the second pass must say so.
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise WireError("The body is not valid JSON.") from None
    except RecursionError:
        raise WireError("The body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise WireError("The body must be a JSON object.")
    _check_fields(data, kind, strict=True)


def decode_strings(data: Mapping[str, str], kind: type[T]) -> T:
    """Query-string or form values as type ``kind``: numbers in decimal,
    booleans as true/false/1/0; an empty value counts as absent."""
    present = {name: value for name, value in data.items() if value != ""}
    # msgspec's lax mode would also read "null" as None and "1e3" as 1000.
    not_decimal = {
        info.encode_name: ["Expected an integer written in decimal digits."]
        for info in msgspec.structs.fields(kind)  # type: ignore[arg-type]
        if info.encode_name in present
        and _takes_int(info.type)
        and not _DECIMAL.fullmatch(present[info.encode_name])
    }
    if not_decimal:
        raise WireError("Some fields are missing or invalid.", not_decimal)
    try:
        return msgspec.convert(present, kind, strict=False)
    except msgspec.ValidationError:
        _check_fields(present, kind, strict=False)


_DECIMAL = re.compile("-?[0-9]+")


def _takes_int(kind: Any) -> bool:
    info = msgspec.inspect.type_info(kind)
    options = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    return any(isinstance(option, msgspec.inspect.IntType) for option in options)


def _check_fields(data: Mapping[str, Any], kind: type[Any], *, strict: bool) -> NoReturn:
    """Raise ``WireError`` naming every field of ``data`` that does not fit ``kind``."""
    fields: dict[str, list[str]] = {}
    for info in msgspec.structs.fields(kind):
        name = info.encode_name
        if name not in data or (data[name] is None and info.required):
            if info.required:
                fields[name] = ["This field is required."]
            continue
        try:
            msgspec.convert(data[name], info.type, strict=strict)
        except msgspec.ValidationError as exc:
            inner, message = _explain(str(exc))
            fields[f"{name}.{inner}" if inner else name] = [message]
    if not fields:  # a failure no single field explains
        try:
            msgspec.convert(data, kind, strict=strict)
        except msgspec.ValidationError as exc:
            field, message = _explain(str(exc))
            fields[field or "non_field"] = [message]
    raise WireError("Some fields are missing or invalid.", fields)


# --- msgspec's messages, for people ---------------------------------------------------

_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_TYPE_NAMES = {
    "int": "an integer",
    "str": "a string",
    "bool": "a boolean",
    "float": "a number",
    "object": "a JSON object",
    "array": "a list",
    "null": "null",
}


def _type_name(spelled: str) -> str:
    names = [part.strip() for part in spelled.split("|") if part.strip() != "null"]
    return " or ".join(_TYPE_NAMES.get(name, name) for name in names) or "null"


def _explain(raw: str) -> tuple[str | None, str]:
    """msgspec's ``message - at `$.path``` as (the field, a sentence for people)."""
    match = _AT.match(raw)
    what, path = (match.group("what"), match.group("path")) if match else (raw, None)
    field = path.lstrip(".") if path else None
    missing = re.match(r"Object missing required field `(.+)`", what)
    if missing:
        name = missing.group(1)
        return (f"{field}.{name}" if field else name), "This field is required."
    return field, _sentence(what)


def _sentence(what: str) -> str:
    if m := re.match(r"Expected `[^`]+`, got `null`", what):
        return "This field is required."
    if m := re.match(r"Expected `([^`]+)`, got `([^`]+)`", what):
        return f"Expected {_type_name(m.group(1))}, got {_type_name(m.group(2))}."
    if m := re.match(r"Expected `int` ([<>]=) (-?\d+)", what):
        bound = int(m.group(2))
        if bound in (INT64_MIN, INT64_MAX):
            return "Must be a 64-bit integer."
        return f"Must be at least {bound}." if m.group(1) == ">=" else f"Must be at most {bound}."
    if "out of range" in what:
        return "Must be a 64-bit integer."
    if m := re.match(r"Expected `str` of length ([<>]=) (\d+)", what):
        size = int(m.group(2))
        if m.group(1) == ">=":
            return "Must not be empty." if size == 1 else f"Must be at least {size} characters."
        return f"Must be at most {size} characters."
    if what.startswith("Expected `str` matching regex"):
        return "Must not contain NUL characters or lone surrogates."
    if m := re.match(r"Invalid (?:enum )?value (.*)", what):
        return f"Unknown value {m.group(1)}"
    if m := re.match(r"Expected `([^`]+)`$", what):
        return f"Expected {_type_name(m.group(1))}."
    return what


def _not_object(message: str) -> bool:
    return message.startswith("Expected a JSON object")
