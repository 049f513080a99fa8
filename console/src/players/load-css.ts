/** The players' own style sheets (xterm, asciinema-player), fetched the first time one is shown. */
export function loadPlayerCss(): void {
  if (document.getElementById('player-css')) return;
  const link = document.createElement('link');
  link.id = 'player-css';
  link.rel = 'stylesheet';
  link.href = '/assets/players.css';
  document.head.appendChild(link);
}
