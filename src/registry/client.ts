import type { Readable } from 'node:stream';
import { BrrError } from '../core/errors.js';
import { basicHeader, fetchToken, parseChallenge, tokenScopes, unauthorized } from './auth.js';
import { findCredentials, type Credentials } from './credentials.js';
import { statusError, unreachable } from './http-errors.js';
import { discard, httpTransport, type HttpResponse, type HttpTransport, type Transport } from './http.js';
import { apiHost, isLoopback, registryScheme, type ImageRef } from './reference.js';

/**
 * A client for one repository on one registry (OCI distribution API). It owns the auth state:
 * the first 401 tells it which scheme the registry wants, and later requests reuse the Basic
 * header or the Bearer token. Status codes become BrrErrors here, at the boundary. Requests go
 * through one keep-alive transport (http.ts), so a push reuses its connections; close() ends them.
 */

export type Action = 'pull' | 'push';

export interface ClientOptions {
  ref: Pick<ImageRef, 'registry' | 'repository' | 'scheme'>;
  actions: Action[];
  insecure?: boolean;
  /** Given: used as is (null = anonymous). Absent: looked up in the auth files. */
  credentials?: Credentials | null;
  env?: NodeJS.ProcessEnv;
  /** Default: a keep-alive node:http transport of this client's own (closed by close()). */
  transport?: Transport;
}

export interface SendInit {
  headers?: Record<string, string>;
  /** A factory, so a request can be sent again after an auth challenge. */
  body?: () => Buffer | Readable;
  /** Bytes in the body (counted in bytesSent). */
  length?: number;
  /** What the request is about, for error messages: `blob sha256:…`, `manifest v1`. */
  what: string;
  /** Statuses the caller handles itself (e.g. 404 on a HEAD that asks "is it there?"). */
  accept?: number[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class RegistryClient {
  /** Request body bytes sent (blobs and manifests): what a push costs on the wire. */
  bytesSent = 0;
  private auth: string | null = null;
  private readonly scopesAsked = new Set<string>();

  private constructor(
    readonly registry: string,
    readonly repository: string,
    readonly baseUrl: string,
    private readonly actions: Action[],
    private readonly insecure: boolean,
    private readonly credentials: Credentials | null,
    private readonly credentialsFile: string | null,
    private readonly transport: Transport,
    private readonly ownTransport: HttpTransport | null,
  ) {}

  /** Decides the scheme (refusing insecure HTTP before any connection) and finds credentials. */
  static async open(opts: ClientOptions): Promise<RegistryClient> {
    const insecure = opts.insecure ?? false;
    const scheme = registryScheme(opts.ref, insecure);
    let credentials = opts.credentials ?? null;
    let file: string | null = null;
    if (opts.credentials === undefined) {
      const found = await findCredentials(opts.ref.registry, opts.env);
      credentials = found?.credentials ?? null;
      file = found?.file ?? null;
    }
    const base = `${scheme}://${apiHost(opts.ref.registry)}`;
    let own: HttpTransport | null = null;
    const transport = opts.transport ?? (own = httpTransport());
    return new RegistryClient(
      opts.ref.registry,
      opts.ref.repository,
      base,
      opts.actions,
      insecure,
      credentials,
      file,
      transport,
      own,
    );
  }

  /** Closes the connections this client opened (a no-op with a transport given to open()). */
  close(): void {
    this.ownTransport?.close();
  }

  /** `/v2/<repository>/<suffix>` as a URL. */
  url(suffix: string): URL {
    return new URL(`/v2/${this.repository}/${suffix}`, this.baseUrl);
  }

  /** Sends one request, answering auth challenges and following redirects; non-2xx become errors. */
  async send(method: string, url: URL, init: SendInit): Promise<HttpResponse> {
    for (let round = 0; ; round++) {
      const sentWith = this.auth;
      const res = await this.follow(method, url, init);
      if (res.status !== 401 || round >= 3) {
        if ((res.status >= 200 && res.status < 300) || init.accept?.includes(res.status)) return res;
        throw await statusError(res, this.registry, this.repository, init.what, this.credentialsFile);
      }
      await discard(res);
      // A concurrent request already answered a challenge since this one was sent: retry with that.
      if (this.auth !== sentWith) continue;
      await this.answer(res.headers.get('www-authenticate'));
    }
  }

  private async answer(header: string | null): Promise<void> {
    const challenge = header ? parseChallenge(header) : null;
    if (challenge?.scheme === 'basic') {
      if (!this.credentials) throw unauthorized(this.registry, 'it requires credentials', null);
      if (this.auth?.startsWith('Basic '))
        throw unauthorized(this.registry, 'the credentials were rejected', this.credentialsFile);
      if (!this.baseUrl.startsWith('https:') && !isLoopback(this.registry) && !this.insecure) {
        throw new BrrError('registry_insecure', `refusing to send credentials to ${this.registry} over plain HTTP`, {
          exitCode: 2,
          hint: 'use HTTPS or pass --insecure',
        });
      }
      this.auth = basicHeader(this.credentials);
      return;
    }
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      const scopes = tokenScopes(challenge.params.scope, this.repository, this.actions);
      if (this.auth?.startsWith('Bearer ') && scopes.every((s) => this.scopesAsked.has(s))) {
        throw unauthorized(this.registry, `the token does not grant ${scopes.join(' ')}`, this.credentialsFile);
      }
      scopes.forEach((s) => this.scopesAsked.add(s));
      const token = await fetchToken(
        {
          realm: challenge.params.realm,
          service: challenge.params.service,
          scopes: [...this.scopesAsked],
          credentials: this.credentials,
          registry: this.registry,
          insecure: this.insecure,
          transport: this.transport,
        },
        this.credentialsFile,
      );
      this.auth = `Bearer ${token}`;
      return;
    }
    throw unauthorized(
      this.registry,
      `it asks for an unsupported auth scheme (${challenge?.scheme ?? 'none'})`,
      this.credentialsFile,
    );
  }

  /**
   * Follows redirects by hand: blob downloads are often redirected to object storage, which
   * must never receive the registry's Authorization header.
   */
  private async follow(method: string, start: URL, init: SendInit): Promise<HttpResponse> {
    let url = start;
    for (let hop = 0; hop < 6; hop++) {
      const sameOrigin = url.origin === new URL(this.baseUrl).origin;
      const headers: Record<string, string> = { ...init.headers };
      if (this.auth && sameOrigin) headers.authorization = this.auth;
      if (init.length !== undefined) headers['content-length'] = String(init.length);
      let res: HttpResponse;
      try {
        res = await this.transport({ method, url, headers, body: init.body?.() });
      } catch (e) {
        // A BrrError is the body's own (e.g. a blob found damaged while it was being sent).
        if (e instanceof BrrError) throw e;
        throw unreachable(e, this.registry, url);
      }
      if (init.length !== undefined) this.bytesSent += init.length;
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location || (method !== 'GET' && method !== 'HEAD')) return res;
      await discard(res);
      const next = new URL(location, url);
      if (next.protocol === 'http:' && url.protocol === 'https:' && !this.insecure) {
        throw new BrrError('registry_insecure', `${this.registry} redirected to plain HTTP (${next.host}); refusing`, {
          exitCode: 2,
          hint: 'pass --insecure if you trust the network',
        });
      }
      url = next;
    }
    throw new BrrError('registry_error', `${this.registry}: too many redirects for ${init.what}`, {
      hint: 'the registry or its storage is misconfigured',
    });
  }
}
