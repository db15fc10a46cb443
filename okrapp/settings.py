"""One settings module, read from the environment.

Defaults are for a laptop with no servers: SQLite, a filesystem broker and mail written to
files, all under ``var/``. Production values come only from the environment (see README).
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OKRAPP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# A fixed key is only acceptable for the embedded default; production must set SECRET_KEY
# (``check --deploy`` flags a short or insecure one).
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-okrapp-local-development-key")
# Fernet keys for secrets at rest (okrapp.crypto), newest first; empty derives one from
# SECRET_KEY. Rotation: docs/integrations.md, "Secrets at rest".
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Absolute links in mail (invitations, reminders) are built from this, never from the
# request's Host header, so a forged header cannot redirect a password-setting link.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "template_partials",
    "csp",
    "okrapp",
    "cycles",
    "checkins",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "okrapp.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "okrapp.tenancy.TenantMiddleware",
]

ROOT_URLCONF = "okrapp.urls"
WSGI_APPLICATION = "okrapp.wsgi.application"

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
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "okrapp.context_processors.tenant",
                "okrapp.cache.csrf_hole",  # after Django's csrf: a kept page's token hole
            ],
            # {% icon %} is on nearly every page: no {% load %} line for it.
            "builtins": ["okrapp.templatetags.icons"],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names a server (PostgreSQL in production).
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'okrapp.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DB_PREPARED_STATEMENTS", True
):
    # Server-side binding lets psycopg prepare a statement after its second run on a
    # connection, so PostgreSQL stops planning it again: the joins of a page's queries cost
    # more to plan (2-3 ms) than to run (0.1-0.3 ms). Connections live DB_CONN_MAX_AGE
    # seconds, so a worker plans each query once per connection. Turn it off behind a
    # transaction-pooling PgBouncer older than 1.21 (DB_PREPARED_STATEMENTS=0).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=int(os.environ.get("DB_PREPARE_THRESHOLD", "2")),
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "okrapp.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: email is the login; sign-up leads straight to creating an organisation.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "none")
ACCOUNT_SIGNUP_FORM_CLASS = "okrapp.forms.SignupDetailsForm"
ACCOUNT_SIGNUP_REDIRECT_URL = "organization_create"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[okrapp] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
# Login failures are counted in the shared cache below (Redis when configured), so the limit
# holds across every web process.
ACCOUNT_RATE_LIMITS = {
    "login_failed": os.environ.get("LOGIN_FAILED_RATE", "10/m/ip,5/5m/key"),
}
ACCOUNT_ADAPTER = "okrapp.accounts.AccountAdapter"
# Single sign-on (okrapp.sso): each organisation's IdP is a SocialApp with provider_id
# "org-<slug>"; the adapter admits only allowed email domains and links accounts itself.
SOCIALACCOUNT_ADAPTER = "okrapp.accounts.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_REQUESTS_TIMEOUT = int(os.environ.get("SSO_REQUESTS_TIMEOUT", "10"))
SIGNUP_OPEN = env_bool("SIGNUP_OPEN", True)

# Redis (broker and cache) when REDIS_URL is set; otherwise no server is needed.
# CACHE_REDIS_URL puts the cache on a Redis of its own: a cache wants a memory limit with
# eviction (allkeys-lru), a broker must never lose a key (noeviction), and one Redis has one
# policy (docs/scaling.md). Without it the cache shares the broker's Redis.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", "") or REDIS_URL
if CACHE_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "okrapp.redis_cache.RedisCache",
            "LOCATION": CACHE_REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "okrapp"),
        }
    }
else:
    # A file cache is shared by every process on the machine, so the login rate limit holds
    # for the web server and the worker alike without a server.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    BROKER_DIR = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # Reminders, digests and scoring reminders go out at each person's local time; a tick
    # every 15 minutes is as precise as a weekly rhythm needs.
    "cadence-tick": {"task": "checkins.tasks.cadence_tick", "schedule": crontab(minute="*/15")},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Mail: SMTP when EMAIL_HOST is set, otherwise one file per message under var/mail/.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "okrapp <noreply@okrapp.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    # One file per message, named by its Message-ID: a ledger the reminder recovery can ask.
    EMAIL_BACKEND = "okrapp.mail_backends.LedgerFileBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# Internationalisation: every string is translatable; the language follows the membership.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hant", _("Traditional Chinese"))]
LOCALE_PATHS = [BASE_DIR / "okrapp" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# REST API under /api/v1/<org_slug>/ (okrapp.api). Tokens come first so that an anonymous
# call gets 401 with a WWW-Authenticate header; the session serves the browser (and the docs
# page), with DRF enforcing CSRF on its unsafe methods.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "okrapp.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "okrapp.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# The schema and its docs page are public: they describe the API, not any organisation's data,
# and tools (client generators, schemathesis) read them without credentials. Swagger UI's
# files come from drf-spectacular-sidecar (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "okrapp API",
    "DESCRIPTION": (
        "Cycles, objectives, key results and initiatives of one organisation, under "
        "`/api/v1/<org_slug>/`. Authenticate with a personal token from your profile page "
        "(`Authorization: Bearer okr_…`) or the browser session. Someone who is not a member "
        "of the organisation gets 404, as for an unknown one. Decimals are strings."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False, "displayOperationId": False},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "okrapp.api.protocol_error_responses",
    ],
    # One name per choice set (several fields are called "status" or "state").
    "ENUM_NAME_OVERRIDES": {
        "CycleStateEnum": "cycles.models.CycleState",
        "ObjectiveStatusEnum": "cycles.models.ObjectiveStatus",
        "InitiativeStatusEnum": "cycles.models.InitiativeStatus",
        "ReviewStatusEnum": "cycles.models.ReviewStatus",
    },
}

# Security: strict in production (DEBUG off), relaxed only for the local default.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy (django-csp), enforced in every environment: scripts, styles and
# everything else only from our own origin (htmx, app.js and Swagger UI are static files; no
# inline <script>, <style> or style attribute in any page), images also as data: URIs (SVG
# charts, Swagger UI's icons). The single sign-on pages widen form-action for the redirect to
# the identity provider (okrapp.headers.SecurityHeadersMiddleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Browser features no page uses, switched off for this origin and any frame.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# Sign-in pages post forms that end in a redirect to an organisation's identity provider
# (OIDC authorize / SAML single sign-on URL), which Chromium checks against form-action. Only
# those pages (paths under this prefix) allow any HTTPS target; plain HTTP only where the
# site itself is (a laptop or the tests' IdP on 127.0.0.1).
CSP_SIGN_IN_PREFIX = "/accounts/"
CSP_SIGN_IN_FORM_ACTION = ["https:"] + ([] if SITE_URL.startswith("https") else ["http:"])
if not DEBUG and env_bool("SECURE_COOKIES", SITE_URL.startswith("https")):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint narrates every PDF step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Invitations are valid this long (days).
INVITATION_VALID_DAYS = 7

# Slack and Microsoft Teams (checkins.integrations). Tests point these at a local fake;
# Teams posts to each organisation's incoming-webhook URL itself.
SLACK_API_BASE = os.environ.get("SLACK_API_BASE", "https://slack.com/api")
CHAT_HTTP_TIMEOUT = float(os.environ.get("CHAT_HTTP_TIMEOUT", "5"))
TEAMS_ALLOW_HTTP = env_bool("TEAMS_ALLOW_HTTP", DEBUG)
