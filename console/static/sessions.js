import { h, clear, field, checkbox, timeEl, throttle } from './dom.js';
import { sessionState, providerName, stateClass } from './labels.js';

// Sessões: the tenant's WhatsApp numbers, live. A WhatsApp Web session in
// pairing shows its QR code as an image (PNG drawn by the server) that is
// fetched again whenever WhatsApp rotates the code (event session.qr).
export default function sessions(main, { api, announce }) {
  const list = h('ul', { class: 'sessions', 'aria-live': 'polite', 'aria-busy': 'true' });
  const qrURLs = new Map(); // session id → { code, url }
  let current = [];

  async function load() {
    try {
      const out = await api.get('/sessions/status');
      current = out.sessions;
      render();
    } catch (err) {
      clear(list, h('li', { class: 'error', role: 'alert' }, `Não foi possível listar as sessões: ${err.message}`));
    } finally {
      list.removeAttribute('aria-busy');
    }
  }
  const reload = throttle(load, 300);

  function render() {
    if (!current.length) {
      clear(list, h('li', { class: 'empty' }, 'Nenhuma sessão ainda. Crie uma abaixo.'));
      return;
    }
    clear(list, current.map(card));
  }

  function card(s) {
    const label = sessionState[s.state] || s.state;
    const actions = h('div', { class: 'actions' });
    if (s.state !== 'connected' && s.state !== 'pairing' && s.state !== 'connecting' && s.provider !== 'meta_api') {
      actions.append(h('button', { type: 'button', onclick: () => reconnect(s) }, s.provider === 'baileys' ? 'Parear / reconectar' : 'Reconectar'));
    }
    if (s.state === 'connected' || s.state === 'pairing' || s.state === 'connecting') {
      actions.append(h('button', { type: 'button', onclick: () => disconnect(s, false) }, 'Desconectar'));
    }
    if (s.state !== 'logged_out' && s.provider !== 'sandbox') {
      actions.append(h('button', { type: 'button', class: 'danger', onclick: () => disconnect(s, true) },
        s.provider === 'baileys' ? 'Desvincular aparelho' : 'Esquecer credenciais'));
    }
    const body = [
      h('div', { class: 'row' },
        h('h3', {}, formatPhone(s.phoneNumber)),
        h('span', { class: `badge ${stateClass(s.state)}`, 'data-state': s.state }, label)),
      h('p', { class: 'muted' }, providerName[s.provider] || s.provider,
        s.connectedAt && s.state === 'connected' ? [' · conectado desde ', timeEl(s.connectedAt)] : ''),
    ];
    if (s.reason) body.push(h('p', { class: 'reason' }, s.reason));
    if (s.provider === 'meta_api' && s.state !== 'connected') {
      body.push(h('p', { class: 'muted' }, 'Para corrigir as credenciais, envie o formulário da API oficial de novo com este número.'));
    }
    if (s.state === 'pairing') body.push(pairing(s));
    body.push(actions);
    return h('li', { class: 'card session', 'data-session': s.phoneNumber }, ...body);
  }

  function pairing(s) {
    const box = h('div', { class: 'pairing' });
    if (s.pairCode) {
      box.append(h('p', {}, 'Código de pareamento: ', h('strong', { class: 'paircode' }, s.pairCode)),
        h('p', { class: 'muted' }, 'No celular: Aparelhos conectados › Conectar aparelho › Conectar com número de telefone.'));
    }
    if (s.qrCode) {
      const img = h('img', { class: 'qr', alt: `QR code para parear o número ${formatPhone(s.phoneNumber)}`, width: 264, height: 264, 'data-qr-for': s.phoneNumber });
      const known = qrURLs.get(s.sessionId);
      if (known && known.code === s.qrCode) img.src = known.url;
      else fetchQR(s, img);
      box.append(h('figure', {}, img, h('figcaption', {},
        'Escaneie no celular: Configurações › Aparelhos conectados › Conectar aparelho. O código muda a cada ~20 s; esta imagem acompanha.')));
    }
    return box;
  }

  async function fetchQR(s, img) {
    try {
      const blob = await api.get(`/sessions/qr.png?phoneNumber=${encodeURIComponent(s.phoneNumber)}`, { raw: true });
      const old = qrURLs.get(s.sessionId);
      const url = URL.createObjectURL(blob);
      qrURLs.set(s.sessionId, { code: s.qrCode, url });
      img.src = url;
      img.dataset.qrVersion = String(Number((old && old.version) || 0) + 1);
      qrURLs.get(s.sessionId).version = img.dataset.qrVersion;
      if (old) URL.revokeObjectURL(old.url);
    } catch (err) {
      if (err.status !== 404) announce(`QR code indisponível: ${err.message}`, 'error');
    }
  }

  async function reconnect(s) {
    try {
      await api.post('/sessions/initialize', { phoneNumber: s.phoneNumber, provider: s.provider });
      load();
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  async function disconnect(s, logout) {
    if (logout && !confirm(s.provider === 'baileys'
      ? `Desvincular o aparelho ${formatPhone(s.phoneNumber)}? Será preciso escanear o QR code de novo.`
      : `Esquecer as credenciais de ${formatPhone(s.phoneNumber)}?`)) return;
    try {
      await api.del(`/sessions/disconnect?phoneNumber=${encodeURIComponent(s.phoneNumber)}${logout ? '&logout=true' : ''}`);
      announce(logout ? 'Sessão desvinculada.' : 'Sessão desconectada.');
      load();
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  // New WhatsApp Web session.
  const waPhone = h('input', { type: 'tel', inputmode: 'numeric', pattern: '[0-9]{8,15}', required: true, placeholder: '5511999998888', autocomplete: 'off' });
  const waCode = checkbox('Parear com código (em vez de QR code)');
  const waError = h('p', { class: 'error', role: 'alert' });
  const waForm = h('form', { class: 'card', 'aria-labelledby': 'new-wa' },
    h('h2', { id: 'new-wa' }, 'Nova sessão WhatsApp Web'),
    field('Número do WhatsApp (DDI + DDD + número, só dígitos)', waPhone),
    waCode, waError,
    h('button', { type: 'submit', class: 'primary' }, 'Criar e parear'));
  waForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    waError.textContent = '';
    try {
      const byCode = waCode.querySelector('input').checked;
      await api.post('/sessions/initialize', { phoneNumber: waPhone.value.trim(), provider: 'baileys', pairWithCode: byCode });
      announce(byCode ? 'Sessão criada: digite o código de pareamento no celular.' : 'Sessão criada: escaneie o QR code.');
      waForm.reset();
      await load();
      list.querySelector('img.qr')?.scrollIntoView({ block: 'center' });
    } catch (err) {
      waError.textContent = problemText(err);
    }
  });

  // New Meta Cloud API session: secrets are write-only (password fields,
  // cleared after sending, never read back).
  const m = {
    phone: h('input', { type: 'tel', inputmode: 'numeric', pattern: '[0-9]{8,15}', required: true, autocomplete: 'off' }),
    phoneNumberId: h('input', { type: 'text', inputmode: 'numeric', required: true, autocomplete: 'off' }),
    wabaId: h('input', { type: 'text', inputmode: 'numeric', required: true, autocomplete: 'off' }),
    accessToken: h('input', { type: 'password', required: true, autocomplete: 'new-password' }),
    appSecret: h('input', { type: 'password', required: true, autocomplete: 'new-password' }),
    verifyToken: h('input', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' }),
  };
  const metaError = h('p', { class: 'error', role: 'alert' });
  const metaForm = h('form', { class: 'card', 'aria-labelledby': 'new-meta' },
    h('h2', { id: 'new-meta' }, 'Nova sessão da API oficial (Meta)'),
    h('p', { class: 'muted' }, 'Os segredos são gravados cifrados e nunca são mostrados de novo.'),
    field('Número (só dígitos)', m.phone),
    field('Phone number ID', m.phoneNumberId),
    field('WABA ID', m.wabaId),
    field('Token de acesso', m.accessToken),
    field('App secret', m.appSecret, 'Valida a assinatura dos webhooks da Meta.'),
    field('Verify token', m.verifyToken, 'O mesmo valor configurado no webhook do app da Meta.'),
    metaError,
    h('button', { type: 'submit', class: 'primary' }, 'Criar sessão Meta'));
  metaForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    metaError.textContent = '';
    try {
      await api.post('/sessions/initialize', { phoneNumber: m.phone.value.trim(), provider: 'meta_api', meta: {
        phoneNumberId: m.phoneNumberId.value.trim(), wabaId: m.wabaId.value.trim(),
        accessToken: m.accessToken.value, appSecret: m.appSecret.value, verifyToken: m.verifyToken.value } });
      announce('Sessão Meta criada; o número está sendo conferido na Meta.');
      metaForm.reset();
      load();
    } catch (err) {
      metaError.textContent = problemText(err);
    } finally {
      for (const k of ['accessToken', 'appSecret']) m[k].value = '';
    }
  });

  clear(main,
    h('h1', {}, 'Sessões'),
    h('section', { 'aria-labelledby': 'list-title' }, h('h2', { id: 'list-title', class: 'sr-only' }, 'Sessões do tenant'), list),
    h('div', { class: 'grid2' }, waForm, metaForm));
  load();

  const onChange = (e) => { if (e.detail.topic.startsWith('session.')) reload(); };
  api.events.addEventListener('change', onChange);
  api.events.addEventListener('ready', reload);
  return () => {
    api.events.removeEventListener('change', onChange);
    api.events.removeEventListener('ready', reload);
    for (const q of qrURLs.values()) URL.revokeObjectURL(q.url);
  };
}

export function formatPhone(p) {
  const m = /^55(\d{2})(\d{4,5})(\d{4})$/.exec(p || '');
  return m ? `+55 (${m[1]}) ${m[2]}-${m[3]}` : (p ? `+${p}` : '');
}

export function problemText(err) {
  const fields = (err.errors || []).map((f) => `${f.location.replace(/^body\./, '')}: ${f.message}`);
  return fields.length ? `${err.message} (${fields.join('; ')})` : err.message;
}
