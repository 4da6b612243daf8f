// A loopback OpenID Provider for the gateway's tests: npm's oidc-provider (not Authlib), driven by the
// Python test suite through a small control API under /__test/.
//
// Start: node server.mjs  -> prints "LISTENING <port>" once it accepts connections on 127.0.0.1.
// Control API (JSON, loopback only, for tests):
//   POST /__test/config   {keys?: [private JWK], clients?: [client metadata], accounts?: {id: claims},
//                          pkceRequired?: bool, conformIdTokenClaims?: bool}
//                                                 -> rebuilds the provider (key rotation, static clients)
//   POST /__test/override {id_token}              -> the next token response carries this id_token instead
//   GET  /__test/stats                            -> {jwks, token, authorization} request counts
//   POST /__test/stats/reset
// Interactions: GET /interaction/<uid>?login=<account id> signs that account in and grants what the client
// asked for, so a test "browser" can complete the authorization code flow without HTML forms.
import http from 'node:http';

import Provider from 'oidc-provider';

const state = {
  keys: [],
  clients: [],
  accounts: {},
  pkceRequired: true,
  conformIdTokenClaims: false,
  override: null,
  stats: { jwks: 0, token: 0, authorization: 0 },
};

let current = null;
let issuer = null;

function claimsFor(id) {
  const extra = state.accounts[id] || {};
  return { sub: id, email: id, email_verified: true, ...extra };
}

function build() {
  const provider = new Provider(issuer, {
    clients: state.clients,
    jwks: { keys: state.keys },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => claimsFor(id),
    }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
      vendor: ['hd', 'tid', 'memberOf', 'preferred_username'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'vendor', 'offline_access'],
    conformIdTokenClaims: state.conformIdTokenClaims,
    pkce: { required: () => state.pkceRequired },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      clientCredentials: { enabled: true },
    },
    // The gateway under test listens on loopback: back-channel logout requests must reach it, so the
    // provider's SSRF guard (which refuses special-use addresses) is left out of this test-only provider.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['loopback-test-provider-cookie-key'] },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });

  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') state.stats.jwks += 1;
    if (ctx.path === '/token') state.stats.token += 1;
    if (ctx.path === '/auth') state.stats.authorization += 1;
    if (ctx.path.startsWith('/interaction/')) {
      await interaction(provider, ctx);
      return;
    }
    await next();
    if (ctx.path === '/token' && ctx.method === 'POST' && state.override && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: state.override };
      state.override = null;
    }
  });
  return provider;
}

async function interaction(provider, ctx) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const accountId = details.session?.accountId || ctx.query.login;
  if (!accountId) {
    ctx.status = 400;
    ctx.body = { error: 'login_required', detail: 'add ?login=<account id>' };
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope || 'openid'));
  const missing = details.prompt.details?.missingOIDCClaims;
  if (Array.isArray(missing) && missing.length) grant.addOIDCClaims(missing);
  const grantId = await grant.save();
  const result = { login: { accountId }, consent: { grantId } };
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      try { resolve(body ? JSON.parse(body) : {}); } catch (error) { reject(error); }
    });
  });
}

function reply(res, status, data) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(data));
}

async function control(req, res, path) {
  if (req.method === 'POST' && path === '/__test/config') {
    const body = await readJson(req);
    for (const name of ['keys', 'clients', 'accounts', 'pkceRequired', 'conformIdTokenClaims']) {
      if (body[name] !== undefined) state[name] = body[name];
    }
    current = build();
    return reply(res, 200, { issuer, kids: state.keys.map((k) => k.kid) });
  }
  if (req.method === 'POST' && path === '/__test/override') {
    state.override = (await readJson(req)).id_token || null;
    return reply(res, 200, { ok: true });
  }
  if (req.method === 'GET' && path === '/__test/stats') return reply(res, 200, state.stats);
  if (req.method === 'POST' && path === '/__test/stats/reset') {
    state.stats = { jwks: 0, token: 0, authorization: 0 };
    return reply(res, 200, state.stats);
  }
  return reply(res, 404, { error: 'not_found' });
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://loopback').pathname;
  if (path.startsWith('/__test/')) {
    control(req, res, path).catch((error) => reply(res, 500, { error: String(error) }));
    return;
  }
  if (!current) return reply(res, 503, { error: 'not_configured' });
  return current.callback()(req, res);
});

server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
