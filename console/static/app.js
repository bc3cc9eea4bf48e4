import { h, clear, field, announce } from './dom.js';
import * as api from './api.js';
import sessions from './sessions.js';
import conversations from './conversations.js';
import agents from './agents.js';
import painel from './painel.js';

const pages = [
  { path: 'sessoes', title: 'Sessões', page: sessions },
  { path: 'conversas', title: 'Conversas', page: conversations },
  { path: 'agentes', title: 'Agentes', page: agents },
  { path: 'painel', title: 'Painel', page: painel },
];

const app = document.getElementById('app');
let unmount = null;
let tenants = [];

async function boot() {
  try {
    await api.loadConfig();
  } catch {
    clear(app, h('p', { class: 'boot' }, 'Não foi possível carregar a configuração do console.'));
    return;
  }
  api.loadAuth();
  api.onSignedOut.addEventListener('signedout', () => showLogin('Sua sessão expirou; entre de novo.'));
  if (!api.state.auth) return showLogin();
  await enter();
}

function showLogin(notice) {
  if (unmount) { unmount(); unmount = null; }
  api.stopStream();
  document.title = 'Entrar — zapbase';
  const cfg = api.state.config;
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Entrar');
  const form = h('form', { class: 'card login-form', 'aria-labelledby': 'login-title' },
    field('E-mail', email), field('Senha', password), error, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    button.disabled = true;
    try {
      await api.signIn(email.value.trim(), password.value);
      password.value = '';
      await enter();
    } catch (err) {
      error.textContent = err.message;
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  const parts = [h('h1', { id: 'login-title' }, 'Entrar no zapbase')];
  if (notice) parts.push(h('p', { class: 'notice', role: 'status' }, notice));
  if (cfg.supabaseUrl && cfg.publishableKey) {
    parts.push(h('p', {}, 'Use o e-mail e a senha da sua conta (Supabase Auth).'), form);
  } else if (cfg.dev) {
    parts.push(h('p', {}, 'No modo de desenvolvimento, abra o link de acesso que o ', h('code', {}, 'zapbase dev'),
      ' imprime no terminal (', h('code', {}, '/console#token=…'), ').'));
  } else {
    parts.push(h('p', {}, 'Entrada por e-mail e senha não configurada neste servidor: defina ',
      h('code', {}, 'SUPABASE_URL'), ' e ', h('code', {}, 'SUPABASE_PUBLISHABLE_KEY'), '.'));
  }
  clear(app, h('main', { id: 'main', class: 'login', tabindex: '-1' }, ...parts));
  app.removeAttribute('aria-busy');
  (cfg.supabaseUrl ? email : app.querySelector('h1')).focus?.();
}

async function enter() {
  try {
    const me = await api.get('/me/tenants', { tenant: false });
    tenants = me.tenants;
    if (!tenants.length) {
      clear(app, h('main', { id: 'main', class: 'login' }, h('h1', {}, 'Nenhum tenant'),
        h('p', {}, `O usuário ${me.email || me.userId} não é membro de nenhum tenant. Peça a um administrador para adicioná-lo.`),
        h('button', { type: 'button', onclick: () => api.signOut().then(() => showLogin()) }, 'Sair')));
      return;
    }
    if (!tenants.some((t) => t.clientId === api.state.clientId)) api.setTenant(tenants[0].clientId);
    renderShell(me);
  } catch (err) {
    if (err.status === 401) return showLogin('Não foi possível validar seu acesso; entre de novo.');
    clear(app, h('p', { class: 'boot', role: 'alert' }, `Erro ao carregar: ${err.message}`));
  }
}

function renderShell(me) {
  const select = h('select', { id: 'tenant', 'aria-label': 'Tenant' },
    tenants.map((t) => h('option', { value: t.clientId, selected: t.clientId === api.state.clientId }, `${t.name} (${t.clientId})`)));
  select.addEventListener('change', () => {
    api.setTenant(select.value);
    api.startStream();
    route();
  });
  const live = h('span', { class: 'live', id: 'live', role: 'status' }, 'conectando…');
  api.events.addEventListener('status', (e) => {
    live.textContent = e.detail === 'live' ? 'ao vivo' : 'reconectando…';
    live.className = `live ${e.detail}`;
  });
  const nav = h('nav', { 'aria-label': 'Seções' },
    h('ul', {}, pages.map((p) => h('li', {}, h('a', { href: `#/${p.path}`, 'data-page': p.path }, p.title)))));
  const user = h('span', { class: 'user' }, me.email || 'usuário');
  const out = h('button', { type: 'button', class: 'link' }, 'Sair');
  out.addEventListener('click', async () => { await api.signOut(); showLogin('Você saiu.'); });
  clear(app,
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/sessoes' }, h('img', { src: '/console/icon.svg', alt: '', width: 28, height: 28 }), 'zapbase'),
      h('div', { class: 'tenant' }, select), live, h('div', { class: 'who' }, user, out)),
    nav,
    h('main', { id: 'main', tabindex: '-1' }),
    h('div', { id: 'toast', class: 'toasts', 'aria-live': 'polite' }));
  app.removeAttribute('aria-busy');
  api.startStream();
  route();
}

function route() {
  const main = document.getElementById('main');
  if (!main) return;
  const path = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'sessoes';
  const entry = pages.find((p) => p.path === path) || pages[0];
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === entry.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (unmount) unmount();
  clear(main);
  document.title = `${entry.title} — zapbase`;
  try {
    unmount = entry.page(main, { api, announce }) || null;
  } catch (err) {
    announce(`Erro: ${err.message}`, 'error');
  }
}

window.addEventListener('hashchange', () => {
  if (/token=/.test(location.hash)) { api.loadAuth(); enter(); return; }
  if (!api.state.auth) return;
  route();
  document.getElementById('main')?.focus({ preventScroll: true });
});

boot();
