import { h, clear, field, timeEl, debounce, throttle } from './dom.js';
import { messageStatus, statusMarks, aiState, providerName } from './labels.js';
import { formatPhone, problemText } from './sessions.js';

// Conversas: contacts with their last message, and a chat timeline whose
// statuses move live (message.status events).
export default function conversations(main, { api, announce }) {
  const listEl = h('ul', { class: 'convs', 'aria-busy': 'true' });
  const chat = h('section', { class: 'chat', 'aria-labelledby': 'chat-title' });
  const layout = h('div', { class: 'split' }, h('section', { class: 'convlist', 'aria-labelledby': 'conv-title' },
    h('h2', { id: 'conv-title' }, 'Contatos'), newChatForm(), listEl), chat);
  let convs = [];
  let sessions = [];
  let open = null; // { contact, sessionId }
  let timeline = null; // Map message id → li
  const rows = new Map(); // message id → message
  const mediaURLs = [];

  function newChatForm() {
    const num = h('input', { type: 'tel', inputmode: 'numeric', pattern: '[0-9]{8,15}', required: true, placeholder: '5511988887777' });
    const f = h('form', { class: 'newchat' }, field('Nova conversa com o número', num), h('button', { type: 'submit' }, 'Abrir'));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      openChat({ contact: num.value.trim(), sessionId: null });
      num.value = '';
    });
    return f;
  }

  async function loadList() {
    try {
      convs = (await api.get('/conversations')).conversations;
      renderList();
    } catch (err) {
      clear(listEl, h('li', { class: 'error', role: 'alert' }, err.message));
    } finally {
      listEl.removeAttribute('aria-busy');
    }
  }
  // Every status change is an event: reload the list at most about once a
  // second (the console shares the tenant's rate limit).
  const reloadList = throttle(loadList, 1000);

  async function loadSessions() {
    try {
      sessions = (await api.get('/sessions/status')).sessions;
      const sel = chat.querySelector('select.from');
      if (sel && open) fillFrom(sel, open);
    } catch { /* the composer offers "automática" */ }
  }
  const reloadSessions = debounce(loadSessions, 500);

  function renderList() {
    if (!convs.length) {
      clear(listEl, h('li', { class: 'empty' }, 'Nenhuma conversa ainda.'));
      return;
    }
    clear(listEl, convs.map((c) => {
      const m = c.lastMessage;
      const active = open && open.contact === c.contact;
      return h('li', {}, h('button', {
        type: 'button', class: 'conv', 'aria-current': active ? 'true' : null, 'data-contact': c.contact,
        onclick: () => openChat({ contact: c.contact, sessionId: c.sessionId || null, pushName: c.pushName, aiState: c.aiState }),
      },
      h('span', { class: 'who' }, c.pushName || formatPhone(c.contact),
        c.unanswered ? h('span', { class: 'count', 'aria-label': `${c.unanswered} sem resposta` }, String(c.unanswered)) : ''),
      h('span', { class: 'snippet' }, m.direction === 'outbound' ? `${m.agentId ? 'IA' : 'Você'}: ${snippet(m)}` : snippet(m)),
      h('span', { class: 'meta' }, timeEl(m.createdAt), c.aiState ? ` · ${aiState[c.aiState]}` : '')));
    }));
  }

  async function openChat(c) {
    open = c;
    timeline = new Map();
    layout.classList.add('chat-open');
    renderList();
    const title = c.pushName ? `${c.pushName} (${formatPhone(c.contact)})` : formatPhone(c.contact);
    const ul = h('ol', { class: 'timeline', 'aria-live': 'polite', 'aria-label': 'Mensagens' });
    const back = h('button', { type: 'button', class: 'back', onclick: () => { layout.classList.remove('chat-open'); listEl.querySelector('[aria-current]')?.focus(); } }, '← Contatos');
    const handoff = h('button', { type: 'button', class: 'handoff' });
    const setHandoff = (st) => {
      c.aiState = st;
      handoff.textContent = st === 'handoff' ? 'Devolver ao agente de IA' : 'Passar para um humano';
      handoff.disabled = !c.sessionId;
      handoff.title = c.sessionId ? '' : 'Envie ou receba uma mensagem por uma sessão primeiro';
    };
    setHandoff(c.aiState);
    c.setHandoff = setHandoff;
    handoff.addEventListener('click', async () => {
      try {
        const to = c.aiState === 'handoff' ? 'agent' : 'human';
        const r = await api.put('/conversations/handoff', { sessionId: c.sessionId, contact: c.contact, to });
        setHandoff(r.state);
        announce(to === 'human' ? 'Conversa com um humano: o agente não responde.' : 'O agente de IA voltou a responder.');
        reloadList();
      } catch (err) { announce(err.message, 'error'); }
    });
    clear(chat, h('div', { class: 'chathead' }, back, h('h2', { id: 'chat-title' }, title), handoff), ul, composer(c));
    try {
      const out = await api.get(`/conversations/messages?contact=${encodeURIComponent(c.contact)}`);
      if (open !== c) return;
      for (const m of out.messages) addMessage(ul, m);
      ul.lastElementChild?.scrollIntoView({ block: 'end' });
    } catch (err) {
      ul.append(h('li', { class: 'error', role: 'alert' }, err.message));
    }
    chat.querySelector('textarea')?.focus();
  }

  function composer(c) {
    const text = h('textarea', { rows: 2, placeholder: 'Escreva uma mensagem', 'aria-label': 'Mensagem' });
    const file = h('input', { type: 'file', accept: 'image/*,video/*,audio/*,application/pdf' });
    const from = h('select', { 'aria-label': 'Enviar pela sessão', class: 'from' });
    fillFrom(from, c);
    const send = h('button', { type: 'submit', class: 'primary' }, 'Enviar');
    const f = h('form', { class: 'composer' }, text, h('div', { class: 'row' }, field('Anexar mídia', file), from, send));
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); f.requestSubmit(); }
    });
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = text.value.trim();
      if (!body && !file.files.length) { text.focus(); return; }
      send.disabled = true;
      try {
        let r;
        if (file.files.length) {
          const fd = new FormData();
          const fl = file.files[0];
          const t = fl.type.split('/')[0];
          fd.set('to', c.contact);
          fd.set('type', ['image', 'video', 'audio'].includes(t) ? t : 'document');
          if (body) fd.set('caption', body);
          if (from.value) fd.set('from', from.value);
          fd.set('file', fl, fl.name);
          r = await api.request('POST', '/messages/media?wait=false', fd);
        } else {
          const req = { to: c.contact, content: body };
          if (from.value) req.from = from.value;
          r = await api.post('/messages/text?wait=false', req);
        }
        text.value = '';
        file.value = '';
        if (!timeline.has(r.messageId)) fetchMessage(r.messageId);
      } catch (err) {
        announce(problemText(err), 'error');
      } finally {
        send.disabled = false;
        text.focus();
      }
    });
    return f;
  }

  // fillFrom lists the connected sessions a message can leave from (again
  // whenever the sessions reload), keeping the choice.
  function fillFrom(sel, c) {
    const keep = sel.value || (sessions.find((x) => x.sessionId === c.sessionId) || {}).phoneNumber || '';
    clear(sel, h('option', { value: '' }, 'Sessão: automática'),
      sessions.filter((x) => x.state === 'connected').map((x) => h('option', { value: x.phoneNumber, selected: x.phoneNumber === keep },
        `${formatPhone(x.phoneNumber)} · ${providerName[x.provider] || x.provider}`)));
  }

  function addMessage(ul, m) {
    // Reads and events race: never let an older copy of a row replace a
    // newer one (statuses only move forward).
    const prev = rows.get(m.id);
    if (prev && (rank(m.status) < rank(prev.status) || new Date(m.updatedAt) < new Date(prev.updatedAt))) return;
    rows.set(m.id, m);
    if (timeline.has(m.id)) { updateMessage(m); return; }
    const li = h('li', { class: `msg ${m.direction}`, 'data-id': m.id });
    timeline.set(m.id, li);
    fill(li, m);
    ul.append(li);
  }

  function fill(li, m) {
    const parts = [];
    if (m.agentId) parts.push(h('span', { class: 'ai', title: 'Resposta escrita pelo agente de IA' }, 'IA'));
    parts.push(body(m));
    const st = h('span', { class: `status ${m.status}`, 'data-status': m.status },
      m.direction === 'outbound' ? `${statusMarks[m.status] || ''} ${messageStatus[m.status] || m.status}` : '');
    parts.push(h('span', { class: 'meta' }, timeEl(m.createdAt), m.direction === 'outbound' ? [' · ', st] : ''));
    if (m.status === 'failed') {
      parts.push(h('p', { class: 'reason', role: 'note' }, m.errorReason || 'Falha no envio.', m.errorCode ? ` (${m.errorCode})` : ''));
    }
    clear(li, ...parts);
  }

  function updateMessage(m) {
    const li = timeline && timeline.get(m.id);
    if (li) fill(li, m);
  }

  function body(m) {
    const c = m.content || {};
    const text = c.text || c.caption || '';
    const box = h('div', { class: 'body' });
    if (m.hasMedia || c.mediaUrl) {
      const ph = h('div', { class: 'media' }, h('span', { class: 'muted' }, mediaLabel(m.type)));
      box.append(ph);
      if (m.hasMedia) loadMedia(m, ph);
      else if (c.mediaUrl) clear(ph, h('a', { href: c.mediaUrl, target: '_blank', rel: 'noopener noreferrer' }, mediaLabel(m.type)));
    } else if (m.type === 'location' && c.latitude !== undefined) {
      box.append(h('p', {}, `📍 ${c.name || 'Localização'} (${c.latitude}, ${c.longitude})`));
    } else if (!text) {
      box.append(h('p', { class: 'muted' }, `[${m.type}]`));
    }
    if (text) box.append(h('p', { class: 'text' }, text));
    return box;
  }

  async function loadMedia(m, ph) {
    try {
      const blob = await api.get(`/messages/${m.id}/media`, { raw: true });
      const url = URL.createObjectURL(blob);
      mediaURLs.push(url);
      const alt = (m.content && m.content.caption) || mediaLabel(m.type);
      if (m.type === 'image' || m.type === 'sticker') clear(ph, h('img', { src: url, alt, loading: 'lazy' }));
      else if (m.type === 'video') clear(ph, h('video', { src: url, controls: true, 'aria-label': alt }));
      else if (m.type === 'audio' || m.type === 'voice') clear(ph, h('audio', { src: url, controls: true, 'aria-label': alt }));
      else clear(ph, h('a', { href: url, download: (m.content && m.content.filename) || 'arquivo' }, `📄 ${(m.content && m.content.filename) || 'Baixar documento'}`));
    } catch {
      clear(ph, h('span', { class: 'muted' }, `${mediaLabel(m.type)} (indisponível)`));
    }
  }

  async function fetchMessage(id) {
    try {
      const m = await api.get(`/conversations/messages/${id}`);
      if (!open || !sameChat(m)) return;
      const ul = chat.querySelector('.timeline');
      if (!open.sessionId && m.sessionId) {
        open.sessionId = m.sessionId;
        open.setHandoff?.(open.aiState);
      }
      addMessage(ul, m);
      timeline.get(m.id)?.scrollIntoView({ block: 'end' });
    } catch { /* deleted or not ours */ }
  }

  function sameChat(m) {
    return open && m.contact === open.contact;
  }

  const onChange = (e) => {
    const ev = e.detail;
    if (ev.topic === 'session.state') reloadSessions();
    if (!ev.topic.startsWith('message.') && ev.topic !== 'ai.reply') return;
    reloadList();
    if (!open || !ev.messageId || ev.chat !== open.contact) return;
    const m = rows.get(ev.messageId);
    if (m && ev.topic === 'message.status' && timeline.has(ev.messageId)) {
      // The event carries the new state and, when failed, its reason.
      if (rank(ev.data.status) < rank(m.status)) return; // a late event never moves a row back
      m.status = ev.data.status;
      if (ev.data.error_reason) m.errorReason = ev.data.error_reason;
      if (ev.data.error_code) m.errorCode = ev.data.error_code;
      updateMessage(m);
    } else if (!m) {
      fetchMessage(ev.messageId);
    }
  };
  async function refreshTimeline() {
    const c = open;
    const ul = chat.querySelector('.timeline');
    if (!c || !ul) return;
    try {
      const out = await api.get(`/conversations/messages?contact=${encodeURIComponent(c.contact)}`);
      if (open === c) for (const m of out.messages) addMessage(ul, m);
    } catch { /* the next event retries */ }
  }
  const onReady = () => { loadList(); loadSessions(); refreshTimeline(); };
  api.events.addEventListener('change', onChange);
  api.events.addEventListener('ready', onReady);

  clear(main, h('h1', {}, 'Conversas'), layout);
  chat.append(h('p', { class: 'empty' }, 'Escolha um contato para ver a conversa.'));
  loadList();
  loadSessions();
  return () => {
    api.events.removeEventListener('change', onChange);
    api.events.removeEventListener('ready', onReady);
    for (const u of mediaURLs) URL.revokeObjectURL(u);
  };
}

const order = ['pending', 'sending', 'sent', 'delivered', 'read', 'played'];
function rank(st) { return st === 'failed' ? 2.5 : Math.max(0, order.indexOf(st)); }

function mediaLabel(t) {
  return { image: '🖼 Imagem', video: '🎬 Vídeo', audio: '🔊 Áudio', voice: '🎤 Mensagem de voz', document: '📄 Documento', sticker: 'Figurinha' }[t] || t;
}

function snippet(m) {
  const c = m.content || {};
  const t = c.text || c.caption || (m.type !== 'text' ? mediaLabel(m.type) : '');
  return t.length > 60 ? `${t.slice(0, 60)}…` : t;
}
