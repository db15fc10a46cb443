"""Single sign-on per organisation: OpenID Connect and SAML 2.0 through django-allauth.

An organisation's admin enters its identity provider (``SsoConfiguration``); the service
keeps one allauth ``SocialApp`` per protocol and organisation (``provider_id`` and, for
SAML, ``client_id`` = ``org-<slug>``), so allauth's providers do the protocol work and
``okrapp.accounts.SocialAccountAdapter`` decides who may come in.
"""
