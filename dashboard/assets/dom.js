// A tiny element builder: every value from the API enters the page as text (never as HTML), so
// an app name, a cause or a log line cannot inject markup; and no inline style is ever set, so
// the page runs under `default-src 'self'`.

/**
 * h('button', { class: 'x', onclick: fn, disabled: true }, 'text', child, [more]) builds an element.
 * Attributes: `class`, `text`, `on<event>` (a function), booleans (true sets, false/null omits),
 * everything else through setAttribute. Children: nodes, strings and numbers (as text), arrays; null
 * and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Says `text` to screen readers (the page's one polite live region) and shows it briefly. */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (region) {
    // Clearing first makes a repeated message be read again.
    region.textContent = '';
    setTimeout(() => (region.textContent = text), 30);
  }
  const toasts = document.getElementById('toasts');
  if (toasts) {
    const t = h('div', { class: 'toast' }, text);
    toasts.appendChild(t);
    setTimeout(() => t.remove(), 5000);
    while (toasts.children.length > 3) toasts.firstElementChild?.remove();
  }
}

let uid = 0;
/** A page-unique id for label/aria wiring. */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}
