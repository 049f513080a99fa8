/**
 * Terminate with a reason: a modal dialog (keyboard: Esc cancels, Enter confirms; the focus
 * goes back to the button that opened it) that posts
 * the kill and reports the acknowledgement the API answers with (outcome, instance, latency).
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { fleet } from '../fleet';
import { visible } from '../format';
import type { KillReport } from '../types';

export type Target = { kind: 'session'; id: string; label: string } | { kind: 'user'; user: string; count: number };

export interface Outcome {
  ok: boolean;
  text: string;
}

function describe(r: KillReport): string {
  const ms = r.ms !== undefined ? `acknowledged in ${r.ms} ms (${r.totalMs} ms end to end)` : `after ${r.totalMs} ms`;
  return `${r.sessionId}: ${r.outcome} on ${visible(r.instance, 64) || 'no instance'}, ${ms}`;
}

export function TerminateDialog(props: { target: Target; by: string; onDone: (o: Outcome) => void; onCancel: () => void }): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const { target } = props;

  // The page removes the dialog when it ends, and Esc gets there before the dialog has closed
  // (Preact re-renders in a microtask after the cancel event). A modal dialog removed while open
  // gives the focus back to nothing, and while it is open the page behind it cannot take it: so
  // close it first, then give the focus back to what opened it (else to the page's main part),
  // and a keyboard user carries on where they were.
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const dialog = ref.current;
    dialog?.showModal();
    return () => {
      dialog?.close();
      (opener?.isConnected ? opener : document.getElementById('main'))?.focus();
    };
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const body = reason.trim() ? { reason: reason.trim() } : {};
    try {
      if (target.kind === 'session') {
        const { acknowledgement } = await api<{ acknowledgement: KillReport }>(`/api/sessions/${target.id}/kill`, { method: 'POST', body });
        fleet.acknowledged(acknowledgement, props.by);
        props.onDone({ ok: acknowledgement.outcome === 'killed', text: describe(acknowledgement) });
      } else {
        const r = await api<{ acknowledgements: KillReport[] }>(`/api/users/${encodeURIComponent(target.user)}/kill`, { method: 'POST', body });
        for (const a of r.acknowledgements) fleet.acknowledged(a, props.by);
        const lines = r.acknowledgements.map(describe);
        props.onDone({ ok: r.acknowledgements.every((a) => a.outcome === 'killed'), text: lines.length ? lines.join('; ') : `no live session of ${target.user}` });
      }
    } catch (err) {
      props.onDone({ ok: false, text: err instanceof ApiError ? `${err.code}: ${err.message}` : 'the kill request failed' });
    } finally {
      ref.current?.close();
    }
  };

  const title = target.kind === 'session' ? `Terminate session ${target.label}` : `Terminate all ${target.count} sessions of ${visible(target.user, 64)}`;
  return (
    <dialog ref={ref} class="terminate" aria-labelledby="terminate-title" onCancel={props.onCancel}>
      <form onSubmit={submit}>
        <h2 id="terminate-title">{title}</h2>
        <label>
          Reason (the user reads it)
          <input name="reason" maxLength={200} autoFocus value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <div class="buttons">
          <button type="button" onClick={() => { ref.current?.close(); props.onCancel(); }}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy}>
            Terminate
          </button>
        </div>
      </form>
    </dialog>
  );
}
