"""``scam-milter web``: a small review page for the quarantine (docs/web.md).

``accounts`` (users file, scrypt hashes, roles), ``sessions`` (signed cookies, CSRF
tokens), ``ratelimit`` (failed logins), ``forms`` (what the browser sends, checked),
``message`` and ``stats`` (what the pages show, as plain values), ``headers`` (CSP and
friends), ``app`` (the Starlette routes) and ``templates/`` (Jinja2, autoescaped).
"""
