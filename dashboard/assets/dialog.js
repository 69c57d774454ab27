// A confirmation dialog on the native <dialog> element: showModal() makes the rest of the page
// inert and Esc cancels it; Tab is also kept inside by hand, so focus cannot land on the page
// behind. Focus starts on Cancel (the safe choice) and returns where it was on close.
import { h } from './dom.js';

/**
 * Asks for confirmation. `onConfirm` runs while the dialog stays open (buttons disabled); if it
 * throws, the error is shown in the dialog and the user may retry or cancel. Resolves to
 * onConfirm's result, or null when cancelled.
 */
export function confirmDialog({ title, body, confirmLabel, danger = false, onConfirm }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = 'dialog-title';
    const bodyId = 'dialog-body';
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const cancel = h('button', { type: 'button', class: 'btn', autofocus: true }, 'Cancel');
    const confirm = h('button', { type: 'submit', class: danger ? 'btn btn-danger' : 'btn btn-primary' }, confirmLabel);
    const form = h(
      'form',
      { method: 'dialog' },
      h('h2', { id: titleId }, title),
      h('div', { id: bodyId }, body),
      error,
      h('div', { class: 'dialog-actions' }, cancel, confirm),
    );
    const dlg = h('dialog', { 'aria-labelledby': titleId, 'aria-describedby': bodyId, class: 'dialog' }, form);
    let result = null;
    let busy = false;

    const close = () => {
      dlg.close();
    };
    cancel.addEventListener('click', close);
    dlg.addEventListener('cancel', (ev) => {
      if (busy) ev.preventDefault();
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(result);
    });
    dlg.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Tab') return;
      const items = [...dlg.querySelectorAll('button, [href], input, select, textarea')].filter((x) => !x.disabled);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (ev.shiftKey && document.activeElement === first) {
        ev.preventDefault();
        last.focus();
      } else if (!ev.shiftKey && document.activeElement === last) {
        ev.preventDefault();
        first.focus();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      cancel.disabled = true;
      confirm.disabled = true;
      confirm.setAttribute('aria-busy', 'true');
      error.hidden = true;
      try {
        result = await onConfirm();
        busy = false;
        close();
      } catch (e) {
        busy = false;
        cancel.disabled = false;
        confirm.disabled = false;
        confirm.removeAttribute('aria-busy');
        error.replaceChildren(
          h('strong', {}, e.message ?? String(e)),
          e.hint ? h('span', { class: 'hint' }, ` ${e.hint}`) : null,
        );
        error.hidden = false;
        confirm.focus();
      }
    });

    document.body.appendChild(dlg);
    dlg.showModal();
    cancel.focus();
  });
}
