/**
 * The one rule about a ledger URL that everyone needs, PostgreSQL or not: it may carry a
 * password, so it is shown through `redactUrl`. Kept apart from the PostgreSQL driver so that
 * naming or refusing a URL does not load `pg` (~30 ms of start-up every SQLite command paid).
 */

/** The URL with any password (userinfo or `password=` parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(key)) u.searchParams.set(key, '***');
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    // Not parseable: show only the scheme, as the rest might be anything.
    return `${url.split(':')[0] ?? 'postgres'}://(unparseable URL)`;
  }
}
