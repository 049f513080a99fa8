/**
 * Live watch in the page: the admin API's watch WebSocket (README "Live watch") written into
 * a read-only xterm.js terminal. Loaded on demand (a separate chunk, outside the console's
 * own size budget).
 */
import { Terminal } from '@xterm/xterm';
import { loadPlayerCss } from './load-css';

type WatchMessage =
  | { type: 'screen'; cols: number; rows: number; data: string }
  | { type: 'output'; data: string }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'end'; reason: string };

const clamp = (n: unknown, max: number) => Math.min(max, Math.max(1, Math.floor(Number(n) || 1)));

export function openWatch(el: HTMLElement, id: string, onStatus: (text: string, live: boolean) => void): () => void {
  loadPlayerCss();
  const term = new Terminal({ disableStdin: true, cursorBlink: false, scrollback: 2000, fontSize: 14, convertEol: false });
  term.open(el);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/api/sessions/${encodeURIComponent(id)}/watch`);
  let ended = '';
  ws.onmessage = (m: MessageEvent) => {
    let msg: WatchMessage;
    try {
      msg = JSON.parse(String(m.data)) as WatchMessage;
    } catch {
      return;
    }
    if (msg.type === 'screen') {
      term.reset();
      term.resize(clamp(msg.cols, 1000), clamp(msg.rows, 500));
      term.write(String(msg.data));
      onStatus(`watching (read-only), ${term.cols}x${term.rows}`, true);
    } else if (msg.type === 'output') {
      term.write(String(msg.data));
    } else if (msg.type === 'resize') {
      term.resize(clamp(msg.cols, 1000), clamp(msg.rows, 500));
      onStatus(`watching (read-only), ${term.cols}x${term.rows}`, true);
    } else if (msg.type === 'end') {
      ended = String(msg.reason);
    }
  };
  ws.onclose = () => onStatus(`watch ended${ended ? `: ${ended}` : ''}`, false);
  ws.onerror = () => onStatus('cannot watch this session (see the admin log)', false);
  return () => {
    ws.onclose = null;
    ws.close();
    term.dispose();
  };
}
