/** The Warden web console: sign-in, then the fleet's pages (README "Console"). */
import { render, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf, whenSignedOut } from './api';
import { fleet } from './fleet';
import { Link, navigate, useLocation } from './router';
import type { Me } from './types';
import { LoginPage } from './pages/login';
import { SessionsPage } from './pages/sessions';
import { SessionPage } from './pages/session';
import { CommandsPage } from './pages/commands';
import { InstancesPage } from './pages/instances';
import { AuditPage } from './pages/audit';
import './style.css';

const NAV: Array<[string, string]> = [
  ['/sessions', 'Sessions'],
  ['/commands', 'Commands'],
  ['/instances', 'Instances'],
  ['/audit', 'Audit'],
];

function Page({ me, path }: { me: Me; path: string }): JSX.Element {
  const one = /^\/sessions\/([0-9A-Za-z]{1,26})\/?$/.exec(path);
  if (one) return <SessionPage id={one[1]!} me={me} />;
  if (path.startsWith('/commands')) return <CommandsPage />;
  if (path.startsWith('/instances')) return <InstancesPage />;
  if (path.startsWith('/audit')) return <AuditPage />;
  return <SessionsPage me={me} />;
}

/** Where a sign-in continues: the page that asked for it (same origin only), else Sessions. */
function afterLogin(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '';
  return /^\/[a-z]/.test(next) ? next : '/sessions';
}

function App(): JSX.Element {
  const { path } = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    whenSignedOut(() => {
      fleet.stop();
      setMe(null);
    });
    api<Me>('/api/me').then(
      (m) => {
        setCsrf(m.csrfToken);
        setMe(m);
      },
      () => setMe(null),
    );
  }, []);

  useEffect(() => {
    if (me) fleet.start();
    if (me && (path === '/' || path === '/login')) navigate(afterLogin(), true);
    if (me === null && path !== '/login') navigate(`/login${path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`}`, true);
  }, [me, path]);

  if (me === undefined) return <p class="boot">Loading the Warden console…</p>;
  if (me === null) {
    return (
      <LoginPage
        onSignedIn={(m) => {
          setCsrf(m.csrfToken);
          setMe(m);
        }}
      />
    );
  }

  const signOut = async () => {
    await api('/api/logout', { method: 'POST' }).catch(() => {});
    fleet.stop();
    setCsrf(undefined);
    setMe(null);
  };

  return (
    <>
      <header class="top">
        <a class="skip" href="#main">Skip to content</a>
        <strong class="brand">Warden</strong>
        <nav aria-label="Pages">
          {NAV.map(([href, label]) => (
            <Link key={href} href={href} aria-current={path.startsWith(href) ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {me.name} <span class={`role role-${me.role}`}>{me.role}</span>
        </span>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page me={me} path={path} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
