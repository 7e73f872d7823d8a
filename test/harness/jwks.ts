/**
 * Test identity providers: each has a real key pair and serves its public keys as a JWKS,
 * `GET /<idp>/.well-known/jwks.json`. Private keys go to the stack file so tests can sign tokens.
 */
import { listen } from './ports.js';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export interface Idp { name: string; issuer: string; jwksUrl: string; alg: string; kid: string; privateJwk: JWK; publicJwk: JWK }
export interface JwksServer { url: string; idps: Record<string, Idp>; close(): Promise<void> }

/** Starts the JWKS server on a free port with one IdP per `[name, alg]`. */
export async function startJwks(specs: [string, 'ES256' | 'RS256'][]): Promise<JwksServer> {
  const server = createServer((req, res) => handle(req.url ?? '', res));
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;
  const idps: Record<string, Idp> = {};
  for (const [name, alg] of specs) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `${name}-${alg.toLowerCase()}-1`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
    idps[name] = { name, issuer: `${url}/${name}`, jwksUrl: `${url}/${name}/.well-known/jwks.json`, alg, kid, privateJwk, publicJwk };
  }
  function handle(path: string, res: import('node:http').ServerResponse) {
    const m = /^\/([a-z0-9-]+)\/\.well-known\/jwks\.json$/.exec(path);
    const idp = m ? idps[m[1]!] : undefined;
    if (!idp) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({ keys: [idp.publicJwk] }));
  }
  return { url, idps, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}
