"""Settings for chatapp. Every value comes from the environment through ``env``.

The README's configuration table lists each variable and its default. With
nothing configured the app runs on an embedded PostgreSQL and an in-memory
channel layer, which is what a laptop wants and what one worker can use.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from chatapp.core.files import static_file_headers
from config.embedded import embedded_database
from config.env import Env, SettingError

# Strict: a value its setting cannot take stops the program with one line.
env = Env()

# The checkout (or the folder the app is run from when installed elsewhere).
BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env.str("CHATAPP_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

DEBUG = env.bool("DEBUG", default=False)

# --- Database -------------------------------------------------------------------
if env.str("DATABASE_URL", default="").strip():
    DATABASES = {"default": env.db("DATABASE_URL")}
    DEPLOYED = True
else:
    DATABASES = {"default": embedded_database(DATA_DIR)}
    DEPLOYED = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Secret key ------------------------------------------------------------------
# A deployment (a real DATABASE_URL) must bring its own key. The embedded,
# single-machine mode keeps a generated one in the data folder.
_secret = env.str("SECRET_KEY", default="")
if not _secret:
    if DEPLOYED:
        raise SettingError.missing(
            "SECRET_KEY",
            "A deployment (DATABASE_URL is set) needs its own: 50+ random characters, "
            "for example from python -c 'import secrets; print(secrets.token_urlsafe(50))'",
        )
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    _secret = _key_file.read_text().strip()
SECRET_KEY = _secret

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.origins("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications ----------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "chatapp.core",
    "chatapp.accounts",
    "chatapp.chat",
    "chatapp.friends",
    "chatapp.notifications",
    "chatapp.tokens",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "chatapp.core.middleware.security_headers",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Bearer tokens on /api/: the token's user, instead of the session's.
    "chatapp.tokens.middleware.token_auth",
    "chatapp.core.middleware.resolve_user",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the lockout flag the auth backend sets.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chatapp.accounts.context_processors.me",
            ],
        },
    },
]

# --- Accounts --------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "chatapp.accounts.backends.AxesAsyncBackend",
    "chatapp.accounts.backends.UsernameOrEmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Avatars: real images only, at most this many bytes, stored square at this size.
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=5 * 1024 * 1024, minimum=1)
AVATAR_SIZE = env.int("AVATAR_SIZE", default=256, minimum=16, maximum=4096)
AVATAR_MAX_PIXELS = env.int("AVATAR_MAX_PIXELS", default=40_000_000, minimum=1)

# The login lock (django-axes): this many failures for one account lock it for
# the cool-off time, whatever spelling of its name or e-mail address they typed
# (chatapp.accounts.throttling); the API answers 429 with Retry-After.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_COOLOFF_SECONDS", default=900, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "chatapp.accounts.throttling.login_name"
AXES_LOCKOUT_CALLABLE = "chatapp.accounts.throttling.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
SILENCED_SYSTEM_CHECKS = [
    # Lockout is per account on purpose: "ten wrong passwords for one account".
    # Adding the IP would let an attacker who rotates addresses guess forever.
    "axes.W006",
]

# Per-client-address throttles of what costs the server (chatapp.core.throttle):
# attempts per address as "N/second|minute|hour|day", several joined by ";", or "off".
THROTTLE_LOGIN = env.rates("THROTTLE_LOGIN", default="20/minute")
THROTTLE_REGISTER = env.rates("THROTTLE_REGISTER", default="10/hour")
THROTTLE_PASSWORD_RESET = env.rates("THROTTLE_PASSWORD_RESET", default="10/hour")
# Changes of e-mail address per account (each mails the new address).
THROTTLE_EMAIL_CHANGE = env.rates("THROTTLE_EMAIL_CHANGE", default="5/hour")
# The first part of the throttles' keys, after REDIS_PREFIX (tests vary it).
THROTTLE_PREFIX = "throttle"

# --- Email -------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="chatapp <noreply@localhost>")

# --- Realtime ----------------------------------------------------------------------
# Redis: one server (REDIS_URL), or a master found through Redis Sentinel
# (REDIS_SENTINELS, REDIS_SENTINEL_MASTER); the channel layer alone may be
# sharded over several servers (REDIS_LAYER_URLS). chatapp.core.redis_servers
# says which client uses what.
REDIS_URL = env.redis_url("REDIS_URL")
REDIS_SENTINELS = env.host_ports("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="").strip()
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="")
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")
REDIS_LAYER_URLS = env.redis_urls("REDIS_LAYER_URLS")
if REDIS_SENTINELS and not REDIS_SENTINEL_MASTER:
    raise SettingError.missing(
        "REDIS_SENTINEL_MASTER",
        "REDIS_SENTINELS is set: name the master they watch (the name of their "
        "`sentinel monitor` line).",
    )
if REDIS_SENTINEL_MASTER and not REDIS_SENTINELS:
    raise SettingError.missing(
        "REDIS_SENTINELS",
        f"REDIS_SENTINEL_MASTER={REDIS_SENTINEL_MASTER!r} needs them: host:port,...",
    )
if REDIS_SENTINELS and REDIS_URL:
    raise SettingError.conflict(
        "REDIS_URL", "REDIS_SENTINELS", "the sentinels say where the master is"
    )
if REDIS_SENTINELS and REDIS_LAYER_URLS:
    raise SettingError.conflict(
        "REDIS_LAYER_URLS", "REDIS_SENTINELS", "the layer is not sharded through sentinels"
    )
if REDIS_LAYER_URLS and not REDIS_URL:
    raise SettingError.missing(
        "REDIS_URL",
        "REDIS_LAYER_URLS shards the channel layer only: presence, limits and "
        "throttles need one main server in REDIS_URL (it may be one of the shards).",
    )
# Every Redis key of this app starts with this. Live events only make sense for
# the database they describe, so by default it names that database: two
# deployments (or a test server and a dev server) sharing a Redis never see
# each other's rooms, presence or rate limits.
REDIS_PREFIX = env.str(
    "REDIS_PREFIX",
    default="chatapp:{host}:{port}:{name}".format(
        host=DATABASES["default"].get("HOST") or "local",
        port=DATABASES["default"].get("PORT") or "",
        name=DATABASES["default"].get("NAME") or "",
    ),
)
# Each worker process receives all room events on one channel, so its queue
# must hold a burst; anything dropped is filled from the database anyway.
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", default=10_000, minimum=1)
if REDIS_URL or REDIS_SENTINELS:
    _layer_connection = {
        # channels-redis blocks 5 s in BZPOPMIN; redis-py 8's default
        # 5 s socket timeout races it and kills the receive loop.
        "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=15.0, minimum=6.0),
        "socket_connect_timeout": 5.0,
        "retry_on_timeout": True,
        # redis-py raises "Too many connections" past this instead
        # of waiting; per-process room subscriptions keep use low.
        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=1000, minimum=1),
        # A password in a URL wins over this one.
        "password": REDIS_PASSWORD or None,
    }
    if REDIS_SENTINELS:
        # channels-redis makes a redis-py SentinelConnectionPool of these keys:
        # each new connection asks the sentinels where the master is.
        _layer_hosts: list[dict[str, object]] = [
            {
                "sentinels": REDIS_SENTINELS,
                "master_name": REDIS_SENTINEL_MASTER,
                "sentinel_kwargs": {
                    "password": REDIS_SENTINEL_PASSWORD or None,
                    "socket_timeout": 2.0,
                    "socket_connect_timeout": 2.0,
                },
                **_layer_connection,
            }
        ]
    else:
        # Several hosts shard the layer: a group lives on the host its name
        # hashes to, a worker's channel on the host its name hashes to.
        _layer_hosts = [
            {"address": url, **_layer_connection} for url in REDIS_LAYER_URLS or [REDIS_URL]
        ]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": _layer_hosts,
                "capacity": CHANNEL_CAPACITY,
                "prefix": REDIS_PREFIX,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }

# Limits of PROTOCOL.md (all tunable).
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=4000, minimum=1)
CHAT_SEND_BURST = env.int("CHAT_SEND_BURST", default=20, minimum=1)
CHAT_SEND_RATE = env.float("CHAT_SEND_RATE", default=5.0, minimum=0.001)
CHAT_TYPING_INTERVAL = env.float("CHAT_TYPING_INTERVAL", default=2.0, minimum=0)
# Seconds after sending during which the author may edit a message.
CHAT_EDIT_WINDOW = env.float("CHAT_EDIT_WINDOW", default=3600.0, minimum=0)
# Largest JSON body of the API (as the socket's frame limit); larger is 413 too_large.
API_BODY_MAX_BYTES = env.int("API_BODY_MAX_BYTES", default=64 * 1024, minimum=1)
# Frames of any kind one socket may send: a burst, then a rate per second.
WS_FRAME_BURST = env.int("WS_FRAME_BURST", default=60, minimum=1)
WS_FRAME_RATE = env.float("WS_FRAME_RATE", default=20.0, minimum=0.001)
# Frames queued for one socket before it counts as too slow (closed with 4408).
WS_OUTBOX_SIZE = env.int("WS_OUTBOX_SIZE", default=1000, minimum=1)
# Sockets one user may hold across workers; a newer one closes the oldest (4409).
MAX_SOCKETS_PER_USER = env.int("MAX_SOCKETS_PER_USER", default=20, minimum=1)
# How often each worker checks all its sockets' sessions (the backstop of the
# per-user recheck a password change, logout or deactivation sends at once).
SESSION_CHECK_INTERVAL = env.float("SESSION_CHECK_INTERVAL", default=1.0, minimum=0.05)
# Presence entries of a worker expire this long after it stops refreshing them.
PRESENCE_TTL = env.float("PRESENCE_TTL", default=30.0, minimum=1.0)
# Joins and leaves of a room within this many seconds make one presence frame.
PRESENCE_DEBOUNCE = env.float("PRESENCE_DEBOUNCE", default=0.5, minimum=0)
# On SIGTERM (and each worker SIGHUP restarts) sockets are closed with 1012
# spread over this many seconds, so their clients do not all come back at once.
DRAIN_SECONDS = env.float("DRAIN_SECONDS", default=5.0, minimum=0)
# A client has this long to send a request's line and headers (from connecting,
# or from the first byte of its next request) before it gets 408 and is dropped.
HTTP_HEADER_TIMEOUT = env.float("HTTP_HEADER_TIMEOUT", default=10.0, minimum=0.1)
# API tokens a user may hold at once (PROTOCOL.md, "Bots and load testers").
MAX_TOKENS_PER_USER = env.int("MAX_TOKENS_PER_USER", default=20, minimum=1)
# asyncpg pool of each worker (the hot path).
CHAT_DB_POOL_MIN = env.int("CHAT_DB_POOL_MIN", default=2, minimum=0)
CHAT_DB_POOL_MAX = env.int("CHAT_DB_POOL_MAX", default=10, minimum=max(1, CHAT_DB_POOL_MIN))

# --- Static and media files --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
# Uploads on this host's disk, or, for more than one host, in an S3-compatible
# bucket every host reads and writes (docs/scaling.md, "More than one host").
# Either way they are served at MEDIA_URL (chatapp.core.media).
MEDIA_STORAGE = env.media_storage("MEDIA_STORAGE_URL")
STORAGES = {
    "default": (
        {"BACKEND": "chatapp.core.media.SharedMediaStorage", "OPTIONS": MEDIA_STORAGE}
        if MEDIA_STORAGE
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "chatapp.core.storage.StaticStorage"},
}
# A file not yet collected is served from the app folders rather than failing.
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_MANIFEST_STRICT = False
# Static files are this site's own: no CORS header, and a CSP of their own
# (docs/security.md, "Static and uploaded files").
SERVESTATIC_ALLOW_ALL_ORIGINS = False
SERVESTATIC_ADD_HEADERS_FUNCTION = static_file_headers

# --- Security ------------------------------------------------------------------------
# HTTPS=true behind a TLS-terminating proxy (nginx, a PaaS router) turns on
# secure cookies, HTTPS redirects and HSTS. uvicorn trusts X-Forwarded-Proto
# from FORWARDED_ALLOW_IPS, so request.is_secure() is right behind the proxy.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600, minimum=1)
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "chatapp.core.errors.csrf_failure"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", default=6 * 1024 * 1024, minimum=1024
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
)

# --- Internationalisation ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Observability -------------------------------------------------------------------
# /metrics answers these networks only (the client as resolved from
# FORWARDED_ALLOW_IPS, not the proxy's address); anyone else gets 403.
METRICS_ALLOWED_NETWORKS = env.networks("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1"])
# Where the workers of `chatapp serve` write their metrics (it sets this, or
# empties the folder an operator names); read by prometheus-client itself.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="").strip()
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise SettingError(
        "PROMETHEUS_MULTIPROC_DIR",
        PROMETHEUS_MULTIPROC_DIR,
        "an existing folder (chatapp serve makes it), or nothing",
    )
# One JSON object a line for a deployment's log collector, readable lines on a laptop.
LOG_FORMAT = env.choice(
    "LOG_FORMAT", ("json", "console"), default="json" if DEPLOYED and not DEBUG else "console"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "chatapp.core.logs.json_formatter"},
    },
    "filters": {
        # A dependency that is down is one line per failure, not a traceback each.
        "outages_in_one_line": {"()": "chatapp.core.logs.OutagesInOneLine"},
        "with_request_id": {"()": "chatapp.core.logs.WithRequestId"},
        "without_server_socket_lines": {"()": "chatapp.core.logs.WithoutServerSocketLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["without_server_socket_lines", "outages_in_one_line", "with_request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.log_level("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
