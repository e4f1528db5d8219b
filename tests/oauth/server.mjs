// A real authorization server for tests/e2e/test_oauth.py: oidc-provider (OpenID Certified),
// issuing JWT access tokens by client_credentials with resource indicators (RFC 8707).
//
// Listens on 127.0.0.1 (PORT, or a free port) and prints one JSON line once it answers:
// {"issuer": "http://127.0.0.1:<port>"}. Beside the issuer itself it serves, for the tests:
//   /impostor/...   another issuer (<issuer>/impostor) signing with the SAME keys
//   /rogue/...      the same issuer name signing with a key the issuer never publishes
//   POST /admin/rotate   a new signing key: published first and used from now on, the old
//                        one still published (the issuer restarts on the same port with it)
// Clients (secret "<client id>-secret", client_secret_basic):
//   rails-reader: rails:read · rails-clerk: every rails scope, its tokens carry a name and an
//   email · rails-expiring: rails:read, tokens live one second.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const SCOPES = ['rails:read', 'rails:write', 'rails:order', 'rails:confirm'];
const CLIENTS = {
  'rails-reader': 'rails:read',
  'rails-clerk': SCOPES.join(' '),
  'rails-expiring': 'rails:read',
};

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'ES256', use: 'sig' };
}

function provider(issuer, keys) {
  const oidc = new Provider(issuer, {
    clients: Object.entries(CLIENTS).map(([id, scope]) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope,
    })),
    jwks: { keys },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    scopes: SCOPES,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => ({
          scope: SCOPES.join(' '),
          audience: resource,
          accessTokenTTL: client.clientId === 'rails-expiring' ? 1 : 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: (ctx, token) => (token.clientId === 'rails-clerk'
      ? { name: 'Casey Clerk', email: 'casey@example.com' }
      : undefined),
    ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600 },
  });
  return oidc.callback();
}

const server = http.createServer();
await new Promise((resolve) => { server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

let keys = [signingKey()];
let current = provider(issuer, keys);
let impostor = provider(`${issuer}/impostor`, keys);
const rogue = provider(issuer, [signingKey()]);

function mounted(handler, prefix, req, res) {
  req.originalUrl = req.url;
  req.url = req.url.slice(prefix.length) || '/';
  return handler(req, res);
}

server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/admin/rotate') {
    keys = [signingKey(), ...keys];
    current = provider(issuer, keys);
    impostor = provider(`${issuer}/impostor`, keys);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: keys[0].kid }));
  } else if (req.url.startsWith('/impostor/')) {
    mounted(impostor, '/impostor', req, res);
  } else if (req.url.startsWith('/rogue/')) {
    mounted(rogue, '/rogue', req, res);
  } else {
    current(req, res);
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
