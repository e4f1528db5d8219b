"""Identity over HTTP: rails-mcp as an OAuth 2.1 resource server.

With ``RAILS_AUTH_ISSUER`` set, every HTTP request must carry a JWT access token from that
issuer, naming this server as its audience (RFC 8707), unexpired, signed by a key the issuer
publishes (its JWKS). What is missing or wrong is ``401`` with ``WWW-Authenticate: Bearer
resource_metadata=…`` pointing at this server's protected-resource metadata (RFC 9728), so a
client can find the authorization server on its own. The SDK's public resource-server parts
do the HTTP side (``BearerAuthBackend``, ``RequireAuthMiddleware``, the metadata route, the
auth context a handler reads the token from); this package verifies the tokens.

The JOSE library is PyJWT: the SDK already depends on it (one library, not two), and its
``PyJWKClient`` fetches and caches the issuer's key set and can refetch it, so a rotated key
is picked up without a restart. Fetching never runs on the event loop (a worker thread) nor
per request: the set is cached for five minutes, and a token signed by a key not in the
cache refetches it at most once per ``REFETCH_COOLDOWN_SECONDS``.

Each tool needs one scope (:func:`rails_mcp.tools.declare.scope_of`): ``tools/list`` shows
what the token may call, and calling beyond it is ``403`` with ``error="insufficient_scope"``
and the scope to ask for (step-up authorization).

Three modules: :mod:`.identity` (who a verified token speaks for, and its scopes: what the
server reads per call), :mod:`.tokens` (the issuer's keys and the JWT checks) and :mod:`.http`
(the metadata routes, ``401``/``403`` and the wiring of the SDK's middleware). Only
``identity`` is imported when OAuth is off.
"""
