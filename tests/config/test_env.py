"""The strict reads of the environment (config.env)."""

from __future__ import annotations

import pytest

from config.env import Env, SettingError


def env_with(**values: str) -> Env:
    env = Env()
    env.ENVIRON = values
    return env


@pytest.mark.parametrize("word", ["true", "TRUE", "yes", "Y", "on", "1", " True "])
def test_true_spellings(word: str) -> None:
    assert env_with(X=word).bool("X", default=False) is True


@pytest.mark.parametrize("word", ["false", "No", "off", "OFF", "0", "f"])
def test_false_spellings(word: str) -> None:
    assert env_with(X=word).bool("X", default=True) is False


@pytest.mark.parametrize("word", ["flase", "2", "enabled", "-"])
def test_other_words_are_not_booleans(word: str) -> None:
    with pytest.raises(SettingError, match=r"^X=.* is not accepted: use true or false"):
        env_with(X=word).bool("X", default=False)


def test_blank_means_the_default() -> None:
    env = env_with(A="", B="  ")
    assert env.int("A", default=3) == 3
    assert env.bool("B", default=True) is True
    assert env.log_level("A", default="INFO") == "INFO"


@pytest.mark.parametrize(
    ("raw", "level"), [("info", "INFO"), ("Debug", "DEBUG"), ("warn", "WARNING")]
)
def test_log_levels_in_any_case(raw: str, level: str) -> None:
    assert env_with(LOG_LEVEL=raw).log_level("LOG_LEVEL", default="INFO") == level


def test_an_unknown_log_level_names_the_choices() -> None:
    with pytest.raises(SettingError, match=r"LOG_LEVEL='verbose' .* DEBUG, INFO, WARNING"):
        env_with(LOG_LEVEL="verbose").log_level("LOG_LEVEL", default="INFO")


@pytest.mark.parametrize(("raw", "value"), [("10", 10), (" 1_000 ", 1000), ("+5", 5)])
def test_whole_numbers(raw: str, value: int) -> None:
    assert env_with(N=raw).int("N", default=0, minimum=0) == value


@pytest.mark.parametrize("raw", ["ten", "1.5", "5/s", "-1", "70000"])
def test_bad_whole_numbers(raw: str) -> None:
    with pytest.raises(SettingError, match=r"^N=.* a whole number from 0 to 65535$"):
        env_with(N=raw).int("N", default=0, minimum=0, maximum=65535)


@pytest.mark.parametrize("raw", ["fast", "5/s", "nan", "inf", "1e999", "-0.5"])
def test_bad_numbers(raw: str) -> None:
    with pytest.raises(SettingError, match=r"^R=.* a number of at least 0$"):
        env_with(R=raw).float("R", default=1.0, minimum=0)


def test_lists_ignore_spaces_and_empty_items() -> None:
    hosts = env_with(H=" chat.example.com, ,localhost ").list("H", default=[])
    assert hosts == ["chat.example.com", "localhost"]


def test_origins_need_their_scheme() -> None:
    assert env_with(O="https://a.example").origins("O", default=[]) == ["https://a.example"]
    with pytest.raises(SettingError, match=r"O='a.example'"):
        env_with(O="https://b.example,a.example").origins("O", default=[])


@pytest.mark.parametrize(
    "raw", ["banana", "mysql://u@h/db", "postgres://u@h:notaport/db", "postgres://u@h"]
)
def test_database_urls_are_postgresql(raw: str) -> None:
    with pytest.raises(SettingError, match=r"DATABASE_URL=.* a PostgreSQL URL"):
        env_with(DATABASE_URL=raw).db("DATABASE_URL")


def test_a_database_url() -> None:
    config = env_with(DATABASE_URL="postgresql://u:p@db:5433/chat").db("DATABASE_URL")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db", 5433, "chat")


@pytest.mark.parametrize("raw", ["banana", "http://r:6379", "redis://r:port/0"])
def test_bad_redis_urls(raw: str) -> None:
    with pytest.raises(SettingError, match=r"REDIS_URL=.* a Redis URL"):
        env_with(REDIS_URL=raw).redis_url("REDIS_URL")


def test_mail_urls() -> None:
    assert env_with(E="smtp+tls://u:p@mail:587").email_url("E")["EMAIL_PORT"] == 587
    with pytest.raises(SettingError, match=r"E='banana' .* a mail URL"):
        env_with(E="banana").email_url("E")


@pytest.mark.parametrize(("raw", "value"), [("20/minute", "20/minute"), ("OFF", "off")])
def test_rates(raw: str, value: str) -> None:
    assert env_with(T=raw).rates("T", default="1/second") == value


@pytest.mark.parametrize("raw", ["fast", "20", "0/minute", "20/fortnight"])
def test_bad_rates(raw: str) -> None:
    with pytest.raises(SettingError, match=r"T=.* N/second, N/minute"):
        env_with(T=raw).rates("T", default="1/second")


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(SettingError) as caught:
        env_with(X="y" * 500).bool("X", default=False)
    assert len(str(caught.value)) < 200


def test_redis_url_lists() -> None:
    raw = "redis://a:6379/0, rediss://b:6380/1,unix:///run/redis.sock"
    assert env_with(R=raw).redis_urls("R") == [
        "redis://a:6379/0",
        "rediss://b:6380/1",
        "unix:///run/redis.sock",
    ]
    assert env_with().redis_urls("R") == []


@pytest.mark.parametrize("raw", ["banana", "redis://a:6379/0,http://b", "redis://a:port/0"])
def test_bad_redis_url_lists_name_the_bad_item(raw: str) -> None:
    with pytest.raises(SettingError, match=r"R=.* Redis URLs joined by commas"):
        env_with(R=raw).redis_urls("R")


def test_host_ports() -> None:
    raw = "10.0.0.1:26379, sentinel-b:26380,[::1]:26381"
    assert env_with(S=raw).host_ports("S") == [
        ("10.0.0.1", 26379),
        ("sentinel-b", 26380),
        ("::1", 26381),
    ]


@pytest.mark.parametrize("raw", ["banana", "a:b", "a:0", "a:70000", "a:1/x", "u@a:1", ":26379"])
def test_bad_host_ports(raw: str) -> None:
    with pytest.raises(SettingError, match=r"S=.* host:port pairs"):
        env_with(S=raw).host_ports("S")


def test_no_media_storage_url_means_the_local_disk() -> None:
    assert env_with().media_storage("MEDIA_STORAGE_URL") is None
    assert env_with(MEDIA_STORAGE_URL=" ").media_storage("MEDIA_STORAGE_URL") is None


def test_a_media_storage_url_gives_the_s3_storage_options() -> None:
    raw = (
        "s3://chat-media/prod/uploads?endpoint_url=https://s3.example.com:9000"
        "&region_name=eu-west-1&addressing_style=path"
    )
    assert env_with(MEDIA_STORAGE_URL=raw).media_storage("MEDIA_STORAGE_URL") == {
        "bucket_name": "chat-media",
        "location": "prod/uploads",
        "endpoint_url": "https://s3.example.com:9000",
        "region_name": "eu-west-1",
        "addressing_style": "path",
    }
    assert env_with(MEDIA_STORAGE_URL="s3://chat.media").media_storage("MEDIA_STORAGE_URL") == {
        "bucket_name": "chat.media"
    }


@pytest.mark.parametrize(
    "raw",
    [
        "banana",
        "/var/media",
        "file:///var/media",
        "s3://",
        "s3://Chat-Media",  # S3 bucket names are lowercase
        "s3://ab",
        "s3://chat media",
        "s3://chat-media:9000",
        "s3://chat-media/../other",
        "s3://chat-media?endpoint=https://s3.example.com",  # not a known option
        "s3://chat-media?endpoint_url=s3.example.com",  # no scheme
        "s3://chat-media?endpoint_url=https://s3.example.com:port",
        "s3://chat-media?addressing_style=sideways",
        "s3://chat-media?region_name=EU West",
        "s3://chat-media?region_name=a&region_name=b",
        "s3://chat-media?bucket_name=other",
    ],
)
def test_bad_media_storage_urls(raw: str) -> None:
    with pytest.raises(SettingError, match=r"^MEDIA_STORAGE_URL=.* is not accepted: use "):
        env_with(MEDIA_STORAGE_URL=raw).media_storage("MEDIA_STORAGE_URL")


def test_credentials_in_a_media_storage_url_are_refused_and_never_shown() -> None:
    raw = "s3://AKIAEXAMPLE:wJalrXUtnFEMIsecret@chat-media?region_name=eu-west-1"
    with pytest.raises(SettingError) as caught:
        env_with(MEDIA_STORAGE_URL=raw).media_storage("MEDIA_STORAGE_URL")
    message = str(caught.value)
    assert "wJalrXUtnFEMIsecret" not in message and "AKIAEXAMPLE" not in message
    assert "AWS_ACCESS_KEY_ID" in message
