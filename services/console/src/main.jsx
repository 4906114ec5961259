/*
 * main.jsx: the console's shell: the sign-in gate, the navigation and the
 * page for the current URL fragment. The API client is made once per
 * session; a 401 anywhere (a revoked key) signs out with the reason shown.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createClient } from './lib/api.js';
import { clearSession, loadSession, saveSession } from './lib/session.js';
import { href, parseRoute } from './lib/route.js';
import { SignIn } from './pages/signin.jsx';
import { Registries } from './pages/registries.jsx';
import { Components } from './pages/components.jsx';
import { ComponentPage } from './pages/component.jsx';
import { Tokens } from './pages/tokens.jsx';
import { Config } from './pages/config.jsx';
import { Settings } from './pages/settings.jsx';
import '@picocss/pico/css/pico.min.css';
import './app.css';

const PAGES = {
  registries: Registries,
  components: Components,
  component: ComponentPage,
  tokens: Tokens,
  config: Config,
  settings: Settings,
};

function useRoute() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Nav({ session, route, onSignOut }) {
  const cur = (p) => (route.page === p ? 'page' : undefined);
  return (
    <nav class="container-fluid top">
      <ul>
        <li><strong>Slipway</strong> <small class="org" data-org={session.org}>{session.org}</small></li>
      </ul>
      <ul>
        <li><a href={href('registries')} aria-current={cur('registries')}>Registries</a></li>
        <li><a href={href('components')} aria-current={route.page === 'registries' ? undefined : 'page'}>Components</a></li>
        <li><button type="button" class="secondary outline" id="sign-out" onClick={onSignOut}>Sign out</button></li>
      </ul>
    </nav>
  );
}

function App() {
  const [session, setSession] = useState(() => loadSession());
  const [signedOutWhy, setWhy] = useState('');
  const route = useRoute();

  const signOut = (why = '') => {
    clearSession();
    setWhy(why);
    setSession(null);
  };
  const api = useMemo(() => (session ? createClient({ key: session.key,
    onUnauthorized: (e) => signOut(e.message) }) : null), [session]);

  if (!session) {
    return (
      <SignIn reason={signedOutWhy} onSignedIn={(s) => {
        saveSession(s);
        setWhy('');
        setSession(s);
        if (!location.hash || location.hash === '#/') location.hash = href('registries');
      }} />
    );
  }
  const Page = PAGES[route.page] || Registries;
  return (
    <>
      <Nav session={session} route={route} onSignOut={() => signOut('')} />
      <main class="container">
        <Page key={`${route.page}:${route.id}`} api={api} org={session.org} id={route.id} query={route.query} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
