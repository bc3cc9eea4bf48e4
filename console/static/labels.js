// What users read: message states, session states and providers in pt-BR.

export const messageStatus = {
  pending: 'pendente',
  sending: 'enviando',
  sent: 'enviada',
  delivered: 'entregue',
  read: 'lida',
  played: 'reproduzida',
  failed: 'falhou',
  received: 'recebida',
};

export const statusMarks = {
  pending: '🕓', sending: '⇡', sent: '✓', delivered: '✓✓', read: '✓✓', played: '✓✓', failed: '⚠', received: '',
};

export const sessionState = {
  connected: 'conectado',
  connecting: 'conectando…',
  pairing: 'aguardando pareamento',
  disconnected: 'desconectado',
  logged_out: 'desvinculado',
  banned: 'banido temporariamente',
  timelocked: 'bloqueio temporário',
  outdated: 'cliente desatualizado',
  stream_replaced: 'conectado em outro processo',
  auth_lost: 'credenciais inválidas',
  unreachable: 'inacessível',
  blocked: 'bloqueado',
  pairing_failed: 'pareamento falhou',
};

export const providerName = {
  baileys: 'WhatsApp Web',
  meta_api: 'API oficial (Meta)',
  sandbox: 'Sandbox',
  auto: 'automático',
};

export const aiState = {
  active: 'IA respondendo',
  paused: 'IA pausada',
  handoff: 'com humano',
};

export function stateClass(state) {
  if (state === 'connected') return 'ok';
  if (state === 'pairing' || state === 'connecting') return 'wait';
  if (state === 'disconnected' || state === 'logged_out') return 'off';
  return 'bad';
}
