import { BrrError, notFound } from '../core/errors.js';
import { unauthorized } from './auth.js';
import { readBody, type HttpResponse } from './http.js';

/**
 * HTTP answers and network failures become BrrErrors with stable codes here, at the boundary;
 * nothing above branches on status numbers or message text. Messages carry the registry's
 * error codes (MANIFEST_UNKNOWN, DENIED …), never request headers, so no credential leaks.
 */

/** Error bodies are small JSON documents; a larger one is not read for codes. */
const ERROR_BODY_CAP = 64 * 1024;

async function registryCodes(res: HttpResponse): Promise<string> {
  const body = await readBody(res, ERROR_BODY_CAP, () => new Error('error body too large'))
    .then((b) => JSON.parse(b.toString('utf8')) as { errors?: Array<{ code?: unknown }> } | null)
    .catch(() => null);
  const errors = body?.errors;
  const codes = (Array.isArray(errors) ? errors : [])
    .map((e) => e?.code)
    .filter((c): c is string => typeof c === 'string' && /^[A-Z_]{1,40}$/.test(c));
  return codes.length > 0 ? ` (${codes.join(', ')})` : '';
}

export async function statusError(
  res: HttpResponse,
  registry: string,
  repository: string,
  what: string,
  file: string | null,
): Promise<BrrError> {
  const codes = await registryCodes(res);
  const where = `${registry}/${repository}`;
  switch (res.status) {
    case 401:
      return unauthorized(registry, `HTTP 401 for ${what}${codes}`, file);
    case 403:
      return new BrrError('registry_denied', `${where}: access denied for ${what}${codes}`, {
        hint: 'the credentials are valid but lack permission on this repository; ask its owner',
      });
    case 404:
      return notFound(
        'registry_not_found',
        `${where}: ${what} not found${codes}`,
        'check the repository, tag or digest (e.g. `skopeo list-tags docker://REGISTRY/REPO`)',
      );
    case 429:
      return new BrrError('registry_rate_limited', `${registry} is rate-limiting requests${codes}`, {
        hint: 'wait and retry, or log in to raise the limit',
      });
    default:
      if (res.status >= 500)
        return new BrrError('registry_error', `${registry} failed with HTTP ${res.status} for ${what}${codes}`, {
          hint: 'retry later; if it persists, tell the registry operator',
        });
      return new BrrError('registry_error', `${where}: HTTP ${res.status} for ${what}${codes}`, {
        hint: 'the registry rejected the request; check the reference and the image',
      });
  }
}

/** A failed connection: DNS, refused, reset, TLS (the reason is the error's own, or its `cause`). */
export function unreachable(e: unknown, registry: string, url: URL): BrrError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (e as NodeJS.ErrnoException).code ?? '';
  const tls = /CERT|TLS|SSL/.test(code);
  return new BrrError(
    tls ? 'registry_tls' : 'registry_unreachable',
    `cannot reach ${registry} (${url.protocol}//${url.host}): ${cause?.message ?? (e as Error).message}`,
    {
      hint: tls
        ? 'the registry certificate is not trusted: fix it, or add its CA to NODE_EXTRA_CA_CERTS'
        : 'check the registry address and that it is running',
      cause: e,
    },
  );
}
