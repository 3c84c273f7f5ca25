"""The wire codec alone: what clients send decodes into its type or fails with
a detail for people and the field at fault; what the server sends encodes to
the JSON of PROTOCOL.md."""

from __future__ import annotations

import json

import pytest

from chatapp import wire


def test_each_client_frame_decodes_into_its_type() -> None:
    frames = {
        '{"type":"subscribe","room":1,"after_seq":null}': wire.Subscribe(room=1),
        '{"type":"subscribe","room":1,"after_seq":2}': wire.Subscribe(room=1, after_seq=2),
        '{"type":"unsubscribe","room":1}': wire.Unsubscribe(room=1),
        '{"type":"send","room":1,"body":" hi ","client_id":"c"}': wire.Send(
            room=1, body=" hi ", client_id="c"
        ),
        '{"type":"history","room":1,"before_seq":4,"limit":2}': wire.History(
            room=1, before_seq=4, limit=2
        ),
        '{"type":"typing","room":1}': wire.Typing(room=1),
        '{"type":"read","room":1,"seq":3}': wire.Read(room=1, seq=3),
        '{"type":"ping","ref":"r1","unknown":[1,2]}': wire.Ping(ref="r1"),
    }
    for text, expected in frames.items():
        assert wire.decode_frame(text) == expected


@pytest.mark.parametrize(
    ("text", "detail", "field"),
    [
        (None, "Frames are JSON text.", None),
        ("{not json", "The frame is not valid JSON.", None),
        ("[1]", "A frame is a JSON object.", None),
        ('{"type":"explode"}', "Unknown frame type 'explode'.", None),
        ('{"type":5}', 'A frame needs a string "type".', None),
        ('{"room":1}', 'A frame needs a string "type".', None),
        ('{"type":"subscribe"}', '"room": This field is required.', "room"),
        ('{"type":"subscribe","room":true}', '"room": Expected an integer, got a boolean.', "room"),
        ('{"type":"subscribe","room":18446744073709551616}', None, "room"),
        ('{"type":"subscribe","room":-9223372036854775809}', None, "room"),
        ('{"type":"subscribe","room":1e400}', None, "room"),
        ('{"type":"subscribe","room":1,"after_seq":-1}', '"after_seq": Must be at least 0.', None),
        ('{"type":"history","room":1,"limit":101}', '"limit": Must be at most 100.', "limit"),
        ('{"type":"send","room":1,"body":"a\\u0000","client_id":"c"}', None, "body"),
        ('{"type":"send","room":1,"body":"x","client_id":""}', None, "client_id"),
        ('{"type":"send","room":1,"body":"x","client_id":"' + "c" * 65 + '"}', None, "client_id"),
        ('{"type":"send","room":1,"body":"\\ud800","client_id":"c"}', None, None),
        ('{"type":"send","room":1,"body":"\ud800","client_id":"c"}', None, None),
        ("[" * 50_000 + "]" * 50_000, "A frame is a JSON object.", None),
        ('{"type":"ping","x":' + "[" * 50_000 + "]" * 50_000 + "}", None, None),
        ('{"type":"ping","x":' + "{" * 1_000_000, None, None),
    ],
)
def test_bad_frames_fail_with_a_detail_for_people(
    text: str | None, detail: str | None, field: str | None
) -> None:
    with pytest.raises(wire.WireError) as caught:
        wire.decode_frame(text)
    assert caught.value.detail
    assert "`" not in caught.value.detail  # msgspec's own wording is translated
    if detail is not None:
        assert caught.value.detail == detail
    if field is not None:
        assert list(caught.value.fields) == [field]
        if "9223372036854775" in str(text) or "e400" in str(text):
            assert caught.value.fields[field] == ["Must be a 64-bit integer."]


def test_the_ref_of_a_frame_that_failed_is_found_if_clean() -> None:
    cases = {
        '{"type":"send","room":1,"body":5,"client_id":"e"}': "e",
        '{"type":"send","room":1,"body":"\\ud800 \\\\ud800","client_id":"e"}': "e",
        '{"type":"send","room":1,"body":"\ud800","client_id":"e"}': "e",
        '{"type":"ping","ref":"r","x":true,"room":"x"}': "r",
        '{"type":"send","room":1,"body":"x","client_id":"\\udfff"}': None,
        '{"type":"send","room":1,"body":"x","client_id":"a\\u0000"}': None,
        '{"type":"send","room":1,"body":"x","client_id":"' + "c" * 65 + '"}': None,
        '{"type":"send","client_id":' + "[" * 50_000: None,
        "{not json": None,
    }
    for text, ref in cases.items():
        assert wire.ref_of_text(text) == ref, text


def test_json_bodies_report_every_field_at_fault() -> None:
    with pytest.raises(wire.WireError) as caught:
        wire.decode_json(b'{"login": 1, "password": null, "x": 2}', wire.LoginBody)
    assert caught.value.fields == {
        "login": ["Expected a string, got an integer."],
        "password": ["This field is required."],
    }
    with pytest.raises(wire.WireError) as caught:
        body = json.dumps({"login": "a" * 10_000, "password": "\x00"}).encode()
        wire.decode_json(body, wire.LoginBody)
    assert caught.value.fields == {
        "login": ["Must be at most 254 characters."],
        "password": ["Must not contain NUL characters or lone surrogates."],
    }
    for raw, detail in [
        (b"[1]", "The body must be a JSON object."),
        (b"{", "The body is not valid JSON."),
        (b"\xff", "The body is not valid JSON."),
        (b'{"login": "\\ud800", "password": "x"}', "The body is not valid JSON."),
        # A field that does not fit before the malformed part (found by tests/core/test_fuzz.py).
        (b'{"login": 1, "password": "x", "\\ud800": 1}', "The body is not valid JSON."),
        (b'{"login": 1, "password": "x", "a": ' + b"[" * 50_000, "The body is nested too deeply."),
        (b'{"login": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "The body is nested too deeply."),
    ]:
        with pytest.raises(wire.WireError) as caught:
            wire.decode_json(raw, wire.LoginBody)
        assert caught.value.detail == detail
    assert wire.decode_json(b'{"up_to": 5}', wire.NotificationsReadBody).up_to == 5


def test_strings_are_numbers_only_in_ascii_decimal_and_empty_is_absent() -> None:
    assert wire.decode_strings({"before_seq": "5", "limit": ""}, wire.MessagesQuery) == (
        wire.MessagesQuery(before_seq=5)
    )
    for bad in ["²", "١٢", "1.5", "abc", "1\x00", "0x10", str(2**63), "9" * 5000, "-1", "0"]:
        with pytest.raises(wire.WireError) as caught:
            wire.decode_strings({"before_seq": bad}, wire.MessagesQuery)
        assert list(caught.value.fields) == ["before_seq"], bad
    with pytest.raises(wire.WireError) as caught:
        wire.decode_strings({"q": "a\x00"}, wire.UserSearchQuery)
    assert caught.value.fields == {"q": ["Must not contain NUL characters or lone surrogates."]}


def test_server_frames_encode_as_the_contract_spells_them() -> None:
    author = wire.User(id=2, username="bob", avatar="/a.png")
    message = wire.Message(
        id=9,
        room=1,
        seq=3,
        author=author,
        body="hé",
        created_at="2026-01-01T00:00:00Z",
        client_id=None,
    )
    assert json.loads(wire.encode_text(wire.MessageFrame(message=message))) == {
        "type": "message",
        "message": {
            "id": 9,
            "room": 1,
            "seq": 3,
            "author": {"id": 2, "username": "bob", "avatar": "/a.png"},
            "body": "hé",
            "created_at": "2026-01-01T00:00:00Z",
            "client_id": None,
            # Version 2: every field always present.
            "rev": 0,
            "edited_at": None,
            "deleted": False,
            "reply_to": None,
            "mentions": [],
            "reactions": [],
        },
    }
    assert wire.encode_text(wire.PongFrame()) == '{"type":"pong"}'
    assert wire.encode_text(wire.ErrorFrame(code="invalid", detail="x")) == (
        '{"type":"error","code":"invalid","detail":"x","ref":null}'
    )
    request = wire.FriendRequest(id=1, from_user=author, to_user=author, status="pending")
    assert set(json.loads(wire.encode(request))) == {"id", "from", "to", "status"}


def test_the_error_shape_has_fields_only_when_there_are_some() -> None:
    bare = wire.Error(wire.ErrorDetail(code="invalid", detail="x"))
    assert wire.encode(bare) == b'{"error":{"code":"invalid","detail":"x"}}'
    with_fields = wire.Error(wire.ErrorDetail(code="invalid", detail="x", fields={"a": ["b"]}))
    assert json.loads(wire.encode(with_fields))["error"]["fields"] == {"a": ["b"]}
