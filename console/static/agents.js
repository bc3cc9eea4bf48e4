import { h, clear, field, checkbox, timeEl } from './dom.js';
import { messageStatus } from './labels.js';
import { problemText } from './sessions.js';

// Agentes: create from a template, edit prompt and settings, upload
// knowledge and try the agent in a test chat (a sandbox session receives a
// simulated message; the agent's reply arrives as a live event).
export default function agents(main, { api, announce }) {
  const listEl = h('ul', { class: 'agents', 'aria-busy': 'true' });
  const detail = h('section', { class: 'agent-detail', 'aria-live': 'polite' });
  let agentsList = [];
  let selected = null;
  let testChat = null; // { contact, ul, ids:Set }

  async function load(selectId) {
    try {
      const out = await api.get('/agents/list');
      agentsList = out.agents;
      renderList();
      const pick = agentsList.find((a) => a.id === (selectId || (selected && selected.id))) || agentsList[0];
      if (pick) show(pick);
      else clear(detail, h('p', { class: 'empty' }, 'Nenhum agente ainda: crie um a partir de um modelo.'));
    } catch (err) {
      clear(listEl, h('li', { class: 'error', role: 'alert' }, err.message));
    } finally {
      listEl.removeAttribute('aria-busy');
    }
  }

  function renderList() {
    clear(listEl, agentsList.map((a) => h('li', {}, h('button', {
      type: 'button', class: 'conv', 'aria-current': selected && selected.id === a.id ? 'true' : null,
      onclick: () => show(a),
    }, h('span', { class: 'who' }, a.name), h('span', { class: 'meta' },
      [a.isActive ? 'ativo' : 'inativo', a.isDefault ? 'padrão' : '', a.type].filter(Boolean).join(' · '))))));
  }

  async function templateForm() {
    const sel = h('select', { required: true });
    const f = h('form', { class: 'card', 'aria-labelledby': 'tpl-title' }, h('h2', { id: 'tpl-title' }, 'Criar agente a partir de modelo'),
      field('Modelo', sel), h('button', { type: 'submit', class: 'primary' }, 'Criar agente'));
    try {
      const out = await api.get('/agents/templates');
      for (const t of out.templates) sel.append(h('option', { value: t.id }, `${t.configuration.name || t.id} — ${t.description}`));
    } catch (err) { sel.append(h('option', { value: '' }, err.message)); }
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const a = await api.post('/agents/create', { template: sel.value });
        announce(`Agente "${a.name}" criado.`);
        load(a.id);
      } catch (err) { announce(problemText(err), 'error'); }
    });
    return f;
  }

  function show(a) {
    selected = a;
    testChat = null;
    renderList();
    const c = a.configuration || {};
    const rs = c.responseSettings || {};
    const name = h('input', { type: 'text', value: a.name, maxlength: 120, required: true });
    const prompt = h('textarea', { rows: 8, maxlength: 20000 });
    prompt.value = c.systemPrompt || '';
    const temp = h('input', { type: 'number', min: 0, max: 2, step: 0.1, value: rs.temperature ?? 0.7 });
    const maxTokens = h('input', { type: 'number', min: 0, max: 8192, step: 1, value: rs.maxTokens || 500 });
    const keywords = h('input', { type: 'text', value: (c.handoffKeywords || []).join(', ') });
    const handoffMsg = h('input', { type: 'text', value: c.handoffMessage || '', maxlength: 1000 });
    const active = checkbox('Ativo (responde conversas)', { checked: a.isActive });
    const def = checkbox('Agente padrão do tenant', { checked: a.isDefault });
    const err = h('p', { class: 'error', role: 'alert' });
    const edit = h('form', { class: 'card', 'aria-labelledby': 'edit-title' }, h('h2', { id: 'edit-title' }, `Configurar: ${a.name}`),
      field('Nome', name), field('Prompt do sistema', prompt, 'Quem o agente é e como responde.'),
      h('div', { class: 'grid2 tight' }, field('Temperatura', temp), field('Máximo de tokens por resposta', maxTokens)),
      field('Palavras que passam para um humano', keywords, 'Separadas por vírgula.'),
      field('Mensagem ao transferir para um humano', handoffMsg),
      active, def, err, h('button', { type: 'submit', class: 'primary' }, 'Salvar'));
    edit.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        const updated = await api.put(`/agents/${a.id}/configure`, {
          configuration: { name: name.value.trim(), systemPrompt: prompt.value,
            responseSettings: { temperature: Number(temp.value), maxTokens: Number(maxTokens.value), language: rs.language || 'pt-BR' },
            handoffKeywords: keywords.value.split(',').map((s) => s.trim()).filter(Boolean), handoffMessage: handoffMsg.value },
          isActive: active.querySelector('input').checked, isDefault: def.querySelector('input').checked });
        announce('Agente salvo.');
        load(updated.id);
      } catch (e2) { err.textContent = problemText(e2); }
    });

    const docs = h('ul', { class: 'docs' });
    const title = h('input', { type: 'text', required: true, maxlength: 300 });
    const category = h('input', { type: 'text', value: 'general', pattern: '[a-z][a-z0-9_]{0,39}' });
    const content = h('textarea', { rows: 5 });
    const file = h('input', { type: 'file', accept: '.txt,.md,.csv,text/plain,text/markdown' });
    file.addEventListener('change', async () => {
      const f = file.files[0];
      if (!f) return;
      content.value = await f.text();
      if (!title.value) title.value = f.name.replace(/\.[^.]+$/, '');
    });
    const kb = h('form', { class: 'card', 'aria-labelledby': 'kb-title' }, h('h2', { id: 'kb-title' }, 'Base de conhecimento'), docs,
      field('Título', title), field('Categoria', category, 'properties, documentation, visits, faq, general…'),
      field('Conteúdo', content), field('Ou carregar um arquivo de texto', file),
      h('button', { type: 'submit' }, 'Adicionar documento'));
    kb.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!content.value.trim()) { content.focus(); return; }
      try {
        await api.post(`/agents/${a.id}/knowledge`, { documents: [{ title: title.value.trim(), category: category.value.trim() || 'general', content: content.value }] });
        announce('Documento adicionado.');
        title.value = ''; content.value = ''; file.value = '';
        loadDocs();
      } catch (e2) { announce(problemText(e2), 'error'); }
    });
    async function loadDocs() {
      try {
        const out = await api.get(`/agents/${a.id}/knowledge`);
        clear(docs, out.documents.length ? out.documents.map((d) => h('li', {}, h('strong', {}, d.title), ` · ${d.category}`))
          : h('li', { class: 'muted' }, 'Nenhum documento.'));
      } catch (e2) { clear(docs, h('li', { class: 'error' }, e2.message)); }
    }
    loadDocs();

    clear(detail, edit, kb, testPanel(a));
  }

  function testPanel(a) {
    const box = h('section', { class: 'card', 'aria-labelledby': 'test-title' }, h('h2', { id: 'test-title' }, 'Testar o agente'));
    (async () => {
      let sandbox;
      try {
        const out = await api.get('/sessions/status');
        sandbox = out.sessions.find((s) => s.provider === 'sandbox');
      } catch { /* shown below */ }
      if (!sandbox) {
        box.append(h('p', { class: 'muted' }, 'O chat de teste usa uma sessão sandbox (ZAPBASE_SANDBOX=true, padrão no zapbase dev).'));
        return;
      }
      const contact = `5500${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;
      const ul = h('ol', { class: 'timeline', 'aria-live': 'polite', 'aria-label': 'Chat de teste' });
      const input = h('input', { type: 'text', required: true, placeholder: 'Escreva como se fosse o cliente', 'aria-label': 'Mensagem de teste' });
      const f = h('form', { class: 'composer row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Enviar'));
      box.append(h('p', { class: 'muted' }, `Mensagens simuladas do contato ${contact} na sessão sandbox; a resposta do agente chega aqui.`), ul, f);
      let assigned = false;
      testChat = { contact, ul, ids: new Set() };
      f.addEventListener('submit', async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        try {
          if (!assigned) {
            await api.post(`/agents/${a.id}/assign-conversation`, { sessionId: sandbox.sessionId, contact });
            assigned = true;
          }
          const m = await api.post('/conversations/simulate-inbound', { sessionId: sandbox.sessionId, from: contact, text });
          addTest(m);
          input.value = '';
        } catch (e2) { announce(problemText(e2), 'error'); }
      });
    })();
    return box;
  }

  function addTest(m) {
    if (!testChat || testChat.ids.has(m.id)) return;
    testChat.ids.add(m.id);
    const text = (m.content && (m.content.text || m.content.caption)) || `[${m.type}]`;
    testChat.ul.append(h('li', { class: `msg ${m.direction}` },
      m.agentId ? h('span', { class: 'ai' }, 'IA') : '',
      h('div', { class: 'body' }, h('p', { class: 'text' }, text)),
      h('span', { class: 'meta' }, timeEl(m.createdAt), m.direction === 'outbound' ? ` · ${messageStatus[m.status] || m.status}` : '')));
  }

  const onChange = async (e) => {
    const ev = e.detail;
    if (!testChat || ev.chat !== testChat.contact || !ev.messageId || testChat.ids.has(ev.messageId)) return;
    if (ev.topic !== 'ai.reply' && ev.topic !== 'message.created') return;
    try { addTest(await api.get(`/conversations/messages/${ev.messageId}`)); } catch { /* not ours */ }
  };
  api.events.addEventListener('change', onChange);

  const side = h('div', { class: 'agentside' }, h('h2', {}, 'Agentes do tenant'), listEl);
  clear(main, h('h1', {}, 'Agentes de IA'), h('div', { class: 'split agents-split' }, side, detail));
  templateForm().then((f) => side.append(f));
  load();
  return () => api.events.removeEventListener('change', onChange);
}
