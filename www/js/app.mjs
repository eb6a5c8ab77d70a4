// app.mjs - the dashboard's entry: hash router, top bar (navigation, who is
// signed in, sign-out), the sign-in page, and the guard that sends a revoked
// token back to sign-in. Each page module exports render(main, params) and
// may return a cleanup function (stops its pollers) called on navigation.
import { session, whoami, onUnauthorized, ApiError } from './api.mjs';
import { h, replace, errorBox, notice, field, fieldError, explain, announce } from './ui.mjs';

const routes = [
  { re: /^\/?$/, page: 'library' },
  { re: /^\/signin$/, page: 'signin', public: true },
  { re: /^\/library$/, page: 'library' },
  { re: /^\/upload$/, page: 'upload' },
  { re: /^\/audiobooks\/([^/]+)$/, page: 'audiobook' },
  { re: /^\/tts$/, page: 'tts' },
  { re: /^\/tts\/([^/]+)$/, page: 'tts' },
  { re: /^\/admin$/, page: 'admin', admin: true },
  { re: /^\/admin\/([a-z]+)$/, page: 'admin', admin: true },
];

const titles = { library: 'Library', upload: 'Upload', audiobook: 'Audiobook', tts: 'Text to speech', admin: 'Admin', signin: 'Sign in' };
const loaders = {
  library: () => import('./library.mjs'),
  upload: () => import('./upload.mjs'),
  audiobook: () => import('./audiobook.mjs'),
  tts: () => import('./tts.mjs'),
  admin: () => import('./admin.mjs'),
};

const main = document.getElementById('main');
let cleanup = null;
let signinReason = null;
let navSeq = 0;

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, qs] = raw.split('?');
  return { path, query: new URLSearchParams(qs || '') };
}

export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

function renderTopbar(pageName) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const signedIn = !!session.token;
  nav.hidden = !signedIn;
  const w0 = session.who;
  document.querySelectorAll('[data-admin-only]').forEach((el) => { el.hidden = !(session.isAdmin || (w0 && w0.role === 'unknown')); });
  document.querySelectorAll('[data-nav]').forEach((a) => {
    if (a.dataset.nav === pageName) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
  if (!signedIn) { replace(who); return; }
  const w = session.who || {};
  const label = w.role === 'admin' ? 'admin' : w.role === 'user' ? 'user' : 'token not checked';
  replace(who,
    h('span', { class: 'hide-narrow' }, 'Signed in', w.name ? ` as ${w.name}` : '', ` (${label})`),
    h('button', { type: 'button', class: 'small', id: 'signout', onclick: signOut }, 'Sign out'));
}

function signOut() {
  session.clear();
  signinReason = { kind: 'ok', text: 'You are signed out. The token was removed from this browser tab.' };
  go('/signin');
}

async function route() {
  const seq = ++navSeq;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  const { path, query } = parseHash();
  let r = routes.find((x) => x.re.test(path));
  if (!r) {
    renderTopbar('');
    replace(main, h('h1', null, 'Page not found'), h('p', null, 'There is no page at this address. ', h('a', { href: '#/library' }, 'Go to the library'), '.'));
    document.title = 'Not found · quire';
    return;
  }
  const params = path.match(r.re).slice(1).map(decodeURIComponent);
  if (!r.public && !session.token) {
    const back = path === '/signin' ? '' : path;
    if (back && back !== '/') sessionStorage.setItem('quire.after', back);
    r = routes[1];
  }
  document.title = `${titles[r.page] || 'quire'} · quire`;
  renderTopbar(r.page);
  if (r.page === 'signin') { renderSignin(); return; }
  // An unverified token (the server cannot say who it is) may try: the
  // server decides, and its pages explain what is missing.
  if (r.admin && !session.isAdmin && !(session.who && session.who.role === 'unknown')) {
    replace(main, h('h1', null, 'Admin'), notice('warn', 'This page is for administrators.',
      session.who && session.who.role === 'unknown'
        ? 'This server cannot tell yet whether your token is an administrator’s; sign in again once it can.'
        : 'Your token belongs to a regular user. Ask an administrator if you need access.'));
    return;
  }
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  let mod;
  try {
    mod = await loaders[r.page]();
  } catch (e) {
    replace(main, notice('error', 'This page could not be loaded.', 'Reload the page to try again.'));
    return;
  }
  if (seq !== navSeq) return;
  try {
    cleanup = (await mod.render(main, params, query)) || null;
    if (seq !== navSeq && cleanup) { cleanup(); cleanup = null; }
  } catch (e) {
    replace(main, h('h1', null, titles[r.page]), errorBox(e, 'This page could not be shown'));
  }
  if (seq === navSeq && !query.has('t') && !query.has('bt')) {
    const h1 = main.querySelector('h1');
    if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
  }
}

function renderSignin() {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-required': 'true' });
  const show = h('input', { type: 'checkbox', id: 'show-token' });
  show.addEventListener('change', () => { input.type = show.checked ? 'text' : 'password'; });
  const status = h('div', { id: 'signin-status', 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', id: 'signin-btn' }, 'Sign in');
  const form = h('form', { class: 'card signin', id: 'signin-form', novalidate: true },
    h('h1', null, 'Sign in to quire'),
    signinReason ? notice(signinReason.kind, signinReason.text) : null,
    field('API token', input, 'Paste the token you were given (it starts with “qr_”). It stays only in this browser tab.').wrap,
    h('div', { class: 'field' }, h('label', { class: 'inline', for: 'show-token' }, show, 'Show token')),
    btn, status,
    h('p', { class: 'small muted' }, 'No token? An administrator can create one on the Admin page or with ', h('code', null, 'quirectl user add NAME'), '.'));
  signinReason = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    fieldError(input, null);
    replace(status);
    if (!token) { fieldError(input, 'Enter your API token.'); input.focus(); return; }
    btn.disabled = true;
    btn.textContent = 'Checking…';
    try {
      const who = await whoami(token);
      session.set(token, who);
      const after = sessionStorage.getItem('quire.after');
      sessionStorage.removeItem('quire.after');
      announce('Signed in');
      go(after || '/library');
    } catch (e) {
      let msg;
      if (e instanceof ApiError && e.status === 401) msg = 'This token was not accepted. Check that you copied all of it; it may also have been revoked.';
      else { const x = explain(e); msg = `Could not check the token: ${x.lead}${x.detail ? ` ${x.detail}` : ''}`; }
      fieldError(input, msg);
      input.focus();
    } finally {
      btn.disabled = false;
      btn.textContent = 'Sign in';
    }
  });
  replace(main, form);
  input.focus();
}

onUnauthorized(() => {
  session.clear();
  signinReason = { kind: 'warn', text: 'Your token is no longer accepted by the server (it may have been revoked). Sign in again.' };
  go('/signin');
});

document.getElementById('skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (ev) => {
  // Last line of defence: an unexpected failure becomes a message, not a blank page.
  if (ev.reason && ev.reason.name === 'AbortError') { ev.preventDefault(); return; }
  main.prepend(errorBox(ev.reason, 'Something failed'));
  if (ev.reason instanceof ApiError) ev.preventDefault();
});
route();
