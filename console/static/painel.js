import { h, clear, svg, throttle } from './dom.js';
import { providerName, sessionState } from './labels.js';

// Painel: the spec's §9 figures for the tenant (GET /dashboard), with small
// inline SVG charts. Refreshed when messages or sessions change.
export default function painel(main, { api }) {
  const hoursSel = h('select', { id: 'hours' }, [6, 24, 72, 168].map((n) =>
    h('option', { value: n, selected: n === 24 }, n === 168 ? 'últimos 7 dias' : `últimas ${n} h`)));
  const grid = h('div', { class: 'kpis', 'aria-busy': 'true' });
  const charts = h('div', { class: 'grid2' });

  async function load() {
    try {
      const d = await api.get(`/dashboard?hours=${hoursSel.value}`);
      render(d);
    } catch (err) {
      clear(grid, h('p', { class: 'error', role: 'alert' }, err.message));
    } finally {
      grid.removeAttribute('aria-busy');
    }
  }
  const reload = throttle(load, 5000); // figures, not a live feed

  function render(d) {
    const pct = d.successRate == null ? '—' : `${(d.successRate * 100).toFixed(1).replace('.', ',')}%`;
    clear(grid,
      kpi('Taxa de sucesso de envio', pct, `${d.sent} enviada(s) · ${d.failed} com falha · ${d.inFlight} em andamento`),
      kpi('Tempo de resposta da IA', ms(d.aiResponseP50Ms), `mediana · p95 ${ms(d.aiResponseP95Ms)} · ${d.aiReplies} resposta(s) da IA`),
      kpi('Sessões ativas', String(d.activeSessions), Object.entries(d.sessions).map(([k, v]) => `${sessionState[k] || k}: ${v}`).join(' · ') || 'nenhuma sessão'),
      kpi('Latência de processamento', ms(d.latencyP50Ms), `mediana (linha criada → aceita pelo provedor) · p95 ${ms(d.latencyP95Ms)}`));
    clear(charts,
      h('figure', { class: 'card chart' }, h('figcaption', {}, 'Envios por hora'), barChart(d.series)),
      h('figure', { class: 'card chart' }, h('figcaption', {}, 'Latência de processamento por hora (mediana)'), lineChart(d.series)),
      h('figure', { class: 'card chart' }, h('figcaption', {}, 'Mistura de provedores (envios)'), mix(d.providerMix)),
      h('figure', { class: 'card chart' }, h('figcaption', {}, 'Sessões por provedor'), mix(d.sessionProviders)));
  }

  clear(main, h('div', { class: 'row' }, h('h1', {}, 'Painel'), h('label', { for: 'hours', class: 'sr-only' }, 'Janela'), hoursSel),
    grid, charts);
  hoursSel.addEventListener('change', load);
  load();
  const onChange = (e) => { if (e.detail.topic.startsWith('message.') || e.detail.topic.startsWith('session.')) reload(); };
  api.events.addEventListener('change', onChange);
  return () => api.events.removeEventListener('change', onChange);
}

function kpi(label, value, note) {
  return h('section', { class: 'card kpi' }, h('h2', {}, label), h('p', { class: 'value' }, value), h('p', { class: 'muted' }, note));
}

function ms(v) {
  if (v == null) return '—';
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(1).replace('.', ',')} s`;
}

const W = 320;
const H = 120;
const PAD = 8;

// axes: the window's ends under the chart and the top value above it.
function axes(top) {
  return [
    svg('text', { x: 0, y: 10, class: 'tick' }, top),
    svg('text', { x: 0, y: H + 14, class: 'tick' }, 'início da janela'),
    svg('text', { x: W, y: H + 14, class: 'tick', 'text-anchor': 'end' }, 'agora'),
  ];
}

function barChart(series) {
  const max = Math.max(1, ...series.map((p) => p.sent + p.failed));
  const bw = (W - PAD) / series.length;
  const total = series.reduce((a, p) => a + p.sent, 0);
  const failed = series.reduce((a, p) => a + p.failed, 0);
  const bars = series.map((p, i) => {
    const hs = (p.sent / max) * (H - 10);
    const hf = (p.failed / max) * (H - 10);
    return [
      svg('rect', { x: PAD + i * bw + 1, y: H - hs, width: Math.max(1, bw - 2), height: hs, class: 'ok' }),
      svg('rect', { x: PAD + i * bw + 1, y: H - hs - hf, width: Math.max(1, bw - 2), height: hf, class: 'bad' }),
    ];
  });
  return h('div', {}, svg('svg', { viewBox: `0 -4 ${W} ${H + 22}`, role: 'img', 'aria-label': `${total} envios com sucesso e ${failed} falhas na janela` },
    axes(`máx. ${max}/h`), svg('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'axis' }), bars),
  h('ul', { class: 'legend' }, h('li', {}, h('span', { class: 'sw okc', 'aria-hidden': 'true' }), `enviadas: ${total}`),
    h('li', {}, h('span', { class: 'sw badc', 'aria-hidden': 'true' }), `com falha: ${failed}`)));
}

function lineChart(series) {
  const pts = series.map((p, i) => [i, p.latencyP50Ms]).filter(([, v]) => v != null);
  if (!pts.length) return h('p', { class: 'muted' }, 'Sem envios na janela.');
  const max = Math.max(1, ...pts.map(([, v]) => v));
  const x = (i) => (series.length <= 1 ? W / 2 : PAD + (i / (series.length - 1)) * (W - 2 * PAD));
  const y = (v) => H - 5 - (v / max) * (H - 20);
  const d = pts.map(([i, v], k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  return svg('svg', { viewBox: `0 -4 ${W} ${H + 22}`, role: 'img', 'aria-label': `Latência mediana máxima na janela: ${ms(max)}` },
    axes(`máx. ${ms(max)}`), svg('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'axis' }),
    svg('path', { d, class: 'line' }), pts.map(([i, v]) => svg('circle', { cx: x(i), cy: y(v), r: 2.5, class: 'dot' })));
}

function mix(counts) {
  const entries = Object.entries(counts || {}).filter(([, v]) => v > 0);
  const total = entries.reduce((a, [, v]) => a + v, 0);
  if (!total) return h('p', { class: 'muted' }, 'Nada na janela.');
  let x = 0;
  const segs = entries.map(([k, v]) => {
    const w = (v / total) * W;
    const r = svg('rect', { x, y: 0, width: w, height: 28, class: `p-${k}` });
    x += w;
    return r;
  });
  const label = entries.map(([k, v]) => `${providerName[k] || k}: ${v} (${Math.round((v / total) * 100)}%)`).join(', ');
  return h('div', {}, svg('svg', { viewBox: `0 0 ${W} 28`, role: 'img', 'aria-label': label, class: 'mix' }, segs),
    h('ul', { class: 'legend' }, entries.map(([k, v]) => h('li', {}, h('span', { class: `sw p-${k}`, 'aria-hidden': 'true' }),
      `${providerName[k] || k}: ${v} (${Math.round((v / total) * 100)}%)`))));
}
