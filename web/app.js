/* app.js - the work room's pages: plain JavaScript, no build step, no
 * network beyond this node.  Forms and lists are built from /api/kinds,
 * the same declarations the commands use (domain/schema.c). */
'use strict';

const S = { session: null, kinds: [], byName: {}, notice: null };
const $ = (sel) => document.querySelector(sel);
const main = () => $('#main');

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  if (method !== 'GET' && S.session) opt.headers['X-CSRF-Token'] = S.session.csrf;
  const r = await fetch(path, opt);
  let j = null;
  try { j = await r.json(); } catch (e) { j = { error: '服务器返回了无法识别的内容' }; }
  if (r.status === 401 && path !== '/api/login' && (path !== '/api/session' || j.ended)) {
    /* Logged out (an administrator changed the account, or the session
     * expired): the login page, with the reason; the page that asked
     * never goes on. */
    S.session = null;
    if (j.ended) S.notice = zh(j.error);
    nav();
    if (location.hash === '#/login') pageLogin(); else location.hash = '#/login';
    return new Promise(() => {});
  }
  return { ok: r.ok, status: r.status, body: j };
}

function show(...kids) { main().replaceChildren(...kids.filter((k) => k !== null && k !== undefined)); }

/* "title (事由): required (必填项不能为空)" -> "必填项不能为空（required）":
 * the Chinese first for the clerk, the English kept for whoever helps. */
function zh(text) {
  const body = text.replace(/^[a-z_]+ \([^)]*\): /, '');
  const m = body.match(/^(.*?)\s*\(([^()]*[\u4e00-\u9fff][^()]*)\)(.*)$/);
  return m ? m[2] + m[3] + '（' + m[1] + '）' : body;
}
function msg(text, ok) { return h('div', { class: 'msg ' + (ok ? 'ok' : 'bad'), id: ok ? 'ok-msg' : 'err-msg' }, text); }
function canWrite() { return S.session && S.session.role !== 'viewer' && S.session.node.role !== 'auditor'; }

function label(f, rec) {
  const v = rec[f.name];
  if (v === null || v === undefined) return '';
  if (f.type === 'enum') return rec[f.name + '_label'] || v;
  if (Array.isArray(v)) return v.join('、');
  return String(v);
}

/* ---- Navigation ------------------------------------------------------ */

function nav() {
  const n = $('#nav');
  n.replaceChildren();
  if (!S.session) { $('#office').textContent = ''; $('#who').replaceChildren(); return; }
  n.append(h('a', { href: '#/' }, '工作台'));
  for (const k of S.kinds) if (!k.parent) n.append(h('a', { href: '#/k/' + k.name, id: 'nav-' + k.name }, k.label));
  n.append(h('a', { href: '#/conflicts', id: 'nav-conflicts' }, '冲突'));
  n.append(h('a', { href: '#/report', id: 'nav-report' }, '报表'));
  n.append(h('a', { href: '#/audit', id: 'nav-audit' }, '审计'));
  $('#office').textContent = S.session.node.name + '（' + S.session.node.scope + '）';
  $('#who').replaceChildren(S.session.user + ' · ' + roleName(S.session.role) + ' ',
    S.session.open ? '' : h('a', { href: '#', id: 'logout', onclick: logout }, '退出'));
}

function roleName(r) {
  return { viewer: '只读', clerk: '书记员', lawyer: '律师', officer: '民警', admin: '管理员' }[r] || r;
}

async function logout(ev) {
  ev.preventDefault();
  await api('POST', '/api/logout', {});
  S.session = null;
  location.hash = '#/login';
  route();
}

/* A request sent before the session is known, so that it runs beside
 * /api/session instead of after it: its body, or null (then the page asks
 * again the ordinary way).  A session ended by a change to its account
 * leaves its reason for the login page. */
function early(path) {
  return fetch(path, { credentials: 'same-origin' }).then(async (r) => {
    const j = await r.json();
    if (r.status === 401 && j.ended) S.notice = zh(j.error);
    return r.ok ? j : null;
  }).catch(() => null);
}

async function boot() {
  /* The dashboard needs the session, the kinds and the status: ask for
   * all three at once (one after the other cost two extra round trips
   * and the gaps between them). */
  const session = api('GET', '/api/session');
  const kinds = early('/api/kinds');
  const path = (location.hash.slice(1) || '/').split('?')[0];
  S.early = path === '/' ? early('/api/status') : null;
  const r = await session;
  if (r.ok) {
    S.session = r.body;
    S.kinds = (await kinds) || (await api('GET', '/api/kinds')).body;
    for (const x of S.kinds) S.byName[x.name] = x;
  } else {
    await Promise.all([kinds, S.early]);
    S.early = null;
  }
  nav();
  route();
}

function route() {
  const hash = location.hash.slice(1) || '/';
  const [path, qs] = hash.split('?');
  const q = new URLSearchParams(qs || '');
  const p = path.split('/').map(decodeURIComponent);
  if (!S.session && p[1] !== 'login') { location.hash = '#/login'; return pageLogin(); }
  if (p[1] === 'login') return pageLogin();
  if (p[1] === 'k') return pageList(p[2], q);
  if (p[1] === 'r') return pageRecord(p[2], p[3]);
  if (p[1] === 'new') return pageForm(p[2], null, q);
  if (p[1] === 'edit') return pageForm(p[2], p[3], q);
  if (p[1] === 'conflicts') return pageConflicts();
  if (p[1] === 'report') return pageReport(q);
  if (p[1] === 'audit') return pageAudit();
  if (p[1] === 'evidence') return pageEvidence();
  return pageDashboard();
}
window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', boot);

/* ---- Login ------------------------------------------------------------ */

function pageLogin() {
  const err = h('div', { class: 'err', id: 'err-password' });
  const form = h('form', { class: 'rec', id: 'login-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/login', { user: $('#f-user').value, password: $('#f-password').value });
    if (!r.ok) { err.textContent = r.body.error; return; }
    S.session = r.body;
    S.notice = null;
    location.hash = '#/';
    boot();
  } },
  h('div', { class: 'row' }, h('label', { for: 'f-user' }, '用户名'), h('input', { id: 'f-user', autocomplete: 'username' })),
  h('div', { class: 'row' }, h('label', { for: 'f-password' }, '密码'), h('input', { id: 'f-password', type: 'password', autocomplete: 'current-password' }), err),
  h('button', { type: 'submit', id: 'login' }, '登录'));
  const notice = S.notice ? h('div', { class: 'msg bad', id: 'login-notice' }, S.notice) : null;
  show(h('h1', {}, '登录'), notice, form);
}

/* ---- Dashboard -------------------------------------------------------- */

function ago(ms) {
  if (!ms) return '从未';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + ' 秒前';
  if (s < 3600) return Math.round(s / 60) + ' 分钟前';
  if (s < 86400) return Math.round(s / 3600) + ' 小时前';
  return Math.round(s / 86400) + ' 天前';
}

/* ---- Equivocation evidence (docs/protocol.md 8.3) --------------------- */

function when(ms) {
  return new Date(ms).toLocaleString('zh-CN', { hour12: false });
}

const OURS = ['本机日志中没有该序号', '本机日志中是“本机的哈希”那一份', '本机日志中是“另一份的哈希”那一份', '本机日志中与两份都不同'];

/* The table of evidence records, newest first, and under it what each
 * one holds (hashes, who saw it), folded until asked for. */
function evidenceTable(recs) {
  const table = h('table', { id: 'evidence-list' },
    h('tr', {}, h('th', {}, '单位'), h('th', {}, '辖区'), h('th', {}, '序号'), h('th', {}, '发现方式'), h('th', {}, '发现时间'), h('th', {}, '签名')),
    ...recs.map((e) => h('tr', { 'data-scope': e.scope, 'data-seq': e.seq }, h('td', {}, e.scope_name), h('td', {}, e.scope),
      h('td', {}, '第 ' + e.seq + ' 条'), h('td', {}, e.how_label), h('td', {}, when(e.seen_at_ms)),
      h('td', {}, e.signed_bodies + ' / 2 份有该单位签名'))));
  const details = h('details', { id: 'evidence-details' }, h('summary', {}, '展开详细证据（哈希与发现节点）'),
    ...recs.map((e) => h('dl', { class: 'rec' },
      h('dt', {}, '单位'), h('dd', {}, e.scope_name + '（' + e.scope + '），节点 ' + e.origin),
      h('dt', {}, '序号'), h('dd', {}, String(e.seq)),
      h('dt', {}, '本机的哈希'), h('dd', { class: 'hash' }, e.held),
      h('dt', {}, '另一份的哈希'), h('dd', { class: 'hash' }, e.other),
      h('dt', {}, '发现方式'), h('dd', {}, e.how_label + '（' + e.how + '）'),
      h('dt', {}, '发现节点'), h('dd', {}, e.seen_by + (e.peer ? '，由 ' + e.peer + ' 出示' : '')),
      h('dt', {}, '发现时间'), h('dd', {}, when(e.seen_at_ms)),
      h('dt', {}, '签名'), h('dd', {}, e.signed_bodies + ' / 2 份记录可用该单位的密钥验证'),
      h('dt', {}, '本机日志'), h('dd', {}, OURS[e.ours] || ''))));
  return [table, details];
}

/* First on the dashboard: an office signed two histories.  Nothing to
 * hide behind a link: the count, who, which seq, how and when. */
function evidencePanel(ev) {
  if (!ev || !ev.total) return h('p', { class: 'ev-none', id: 'evidence' }, '篡改证据：无');
  const more = ev.total > ev.records.length
    ? h('p', {}, h('a', { href: '#/evidence', id: 'evidence-all' }, '查看全部 ' + ev.total + ' 条证据')) : null;
  return h('section', { class: 'ev', id: 'evidence', role: 'alert' },
    h('h2', {}, '⚠ 发现篡改证据：', h('b', { id: 'evidence-count' }, ev.total), ' 条'),
    h('p', {}, '下列单位对同一序号签发了两份不同的记录，即改写了已经同步出去的历史。' +
      '两份记录都由该单位的密钥签名，这是该单位所为的证据。请勿删除或修改数据，立即报告区司法所管理员，' +
      '并在本机运行 tiersync verify --receipts 核查。'),
    ...evidenceTable(ev.records), more);
}

async function pageEvidence() {
  const r = await api('GET', '/api/evidence');
  if (!r.ok) return show(msg(r.body.error));
  show(h('h1', {}, '篡改证据（' + r.body.total + ' 条）'),
    ...(r.body.total ? evidenceTable(r.body.records) : [h('p', { class: 'ev-none' }, '无')]));
}

async function pageDashboard() {
  const pre = S.early && await S.early;
  S.early = null;
  const r = pre ? { ok: true, body: pre } : await api('GET', '/api/status');
  if (!r.ok) return show(msg(r.body.error));
  const st = r.body;
  const risk = st.open_by_risk;
  const rl = { major: '重大', high: '高', medium: '中', low: '低' };
  const cards = h('div', { class: 'cards', id: 'risk-cards' },
    ...['major', 'high', 'medium', 'low'].map((k) => h('div', { class: 'card' }, h('b', {}, risk[k] || 0), '未结纠纷 · 风险' + rl[k])),
    h('div', { class: 'card' }, h('b', { id: 'conflict-count' }, st.conflicts), h('a', { href: '#/conflicts' }, '待处理冲突')),
    h('div', { class: 'card' }, h('b', {}, st.quarantined), '被隔离的变更'));
  const peers = h('table', { id: 'peers' }, h('tr', {}, h('th', {}, '链路'), h('th', {}, '辖区'), h('th', {}, '状态'), h('th', {}, '上次联系'), h('th', {}, '对方缺'), h('th', {}, '本机缺')),
    ...st.peers.map((p) => {
      const up = p.last_contact_ms && Date.now() - p.last_contact_ms < 120000 && !p.last_error;
      return h('tr', {}, h('td', {}, p.role === 'auditor' ? '审计' : p.id), h('td', {}, p.scope || ''),
        h('td', { class: up ? 'up' : 'down' }, up ? '在线' : '断开' + (p.last_error ? '：' + p.last_error : '')),
        h('td', {}, ago(p.last_contact_ms)), h('td', {}, p.they_lack), h('td', {}, p.we_lack));
    }));
  const dk = S.byName.dispute;
  const todo = h('table', { id: 'todo' }, h('tr', {}, h('th', {}, '编号'), h('th', {}, '事由'), h('th', {}, '风险'), h('th', {}, '登记日期')),
    ...st.mediating.records.map((d) => h('tr', {}, h('td', {}, h('a', { href: '#/r/dispute/' + d.id }, d.no)), h('td', {}, d.title), h('td', {}, d.risk_label), h('td', {}, d.opened))));
  show(h('h1', {}, '工作台'), evidencePanel(st.evidence), cards,
    h('h2', {}, '今日待办：调解中的纠纷'), todo,
    canWrite() ? h('div', { class: 'bar' }, h('button', { id: 'new-dispute', onclick: () => { location.hash = '#/new/dispute'; } }, '登记' + dk.label)) : null,
    h('h2', {}, '同步状态'), peers,
    st.quarantine.length ? h('h2', {}, '被隔离的变更') : null,
    st.quarantine.length ? h('table', {}, ...st.quarantine.map((q) => h('tr', {}, h('td', {}, q.peer), h('td', {}, q.reason), h('td', {}, q.count)))) : null);
}

/* ---- Lists ------------------------------------------------------------ */

async function pageList(name, q) {
  const k = S.byName[name];
  if (!k) return show(msg('没有这种记录：' + name));
  const known = ['scope', 'from', 'to', 'search', 'sort', 'asc', 'limit', 'page', ...k.fields.map((f) => f.name)];
  const params = new URLSearchParams();
  for (const [a, b] of q) if (known.includes(a)) params.set(a, b);
  if (!params.get('limit')) params.set('limit', '20');
  const r = await api('GET', '/api/records/' + name + '?' + params);
  if (!r.ok) return show(msg(r.body.error));
  const cols = k.fields.filter((f, i) => i < 7 && f.type !== 'list' && f.name !== 'summary');
  const page = parseInt(params.get('page') || '1', 10);
  const pages = Math.max(1, Math.ceil(r.body.total / parseInt(params.get('limit'), 10)));
  const go = (changes) => { for (const [a, b] of Object.entries(changes)) { if (b) params.set(a, b); else params.delete(a); } location.hash = '#/k/' + name + '?' + params; };
  const search = h('input', { id: 'search', placeholder: '搜索', value: params.get('search') || '' });
  const filters = k.fields.filter((f) => f.type === 'enum').slice(0, 3).map((f) =>
    h('select', { id: 'filter-' + f.name, onchange: (ev) => go({ [f.name]: ev.target.value, page: '' }) },
      h('option', { value: '' }, f.label + '：全部'),
      ...f.choices.map((c) => h('option', { value: c.code, selected: params.get(f.name) === c.code }, c.label))));
  const table = h('table', { id: 'list' },
    h('tr', {}, h('th', {}, '编号'), ...cols.map((f) => h('th', { onclick: () => go({ sort: f.name, asc: params.get('asc') ? '' : '1' }) }, f.label)), h('th', {}, '辖区')),
    ...r.body.records.map((rec) => h('tr', {}, h('td', {}, h('a', { href: '#/r/' + name + '/' + rec.id }, rec.no)),
      ...cols.map((f) => h('td', {}, label(f, rec))), h('td', {}, rec.scope_name))));
  show(h('h1', {}, k.label),
    h('div', { class: 'bar' }, search, h('button', { onclick: () => go({ search: search.value, page: '' }) }, '搜索'), ...filters,
      canWrite() && !k.parent ? h('button', { id: 'new', onclick: () => { location.hash = '#/new/' + name; } }, '新增') : null),
    table,
    h('div', { class: 'bar' }, '共 ', h('span', { id: 'total' }, r.body.total), ' 条 · 第 ' + page + '/' + pages + ' 页',
      page > 1 ? h('button', { class: 'alt', onclick: () => go({ page: String(page - 1) }) }, '上一页') : null,
      page < pages ? h('button', { class: 'alt', id: 'next', onclick: () => go({ page: String(page + 1) }) }, '下一页') : null));
}

/* ---- One record ------------------------------------------------------- */

function steps(name, rec) {
  if (!canWrite()) return [];
  const b = (id, text, fn) => h('button', { id, onclick: fn }, text);
  const patch = (vals) => async () => {
    const r = await api('PATCH', '/api/records/' + name + '/' + rec.id, vals);
    if (!r.ok) return main().prepend(msg(r.body.error));
    pageRecord(name, rec.id);
  };
  const out = [b('edit', '修改', () => { location.hash = '#/edit/' + name + '/' + rec.id; })];
  if (name === 'dispute') {
    if (rec.status === 'registered' || rec.status === 'failed') out.push(b('start-mediation', '开始调解', patch({ status: 'mediating' })));
    if (rec.status !== 'resolved' && rec.status !== 'referred') out.push(b('add-session', '记录调解', () => { location.hash = '#/new/mediation?dispute=' + rec.id; }));
    if (rec.status === 'mediating') out.push(b('close', '结案', () => { location.hash = '#/edit/dispute/' + rec.id + '?step=close'; }));
    if (rec.status === 'failed') out.push(b('refer', '移交诉讼/仲裁', () => { location.hash = '#/edit/dispute/' + rec.id + '?step=refer'; }));
  }
  if (name === 'petition' && rec.status === 'received') out.push(b('route', '分流', () => { location.hash = '#/edit/petition/' + rec.id + '?step=route'; }));
  if (name === 'person') out.push(b('add-visit', '记录走访', () => { location.hash = '#/new/visit?file=' + rec.id; }));
  return out;
}

async function pageRecord(name, id) {
  const k = S.byName[name];
  const r = await api('GET', '/api/records/' + name + '/' + encodeURIComponent(id));
  if (!r.ok) return show(msg(r.body.error));
  const rec = r.body;
  const dl = h('dl', { class: 'rec', id: 'record' }, h('dt', {}, '编号'), h('dd', { id: 'v-no' }, rec.no), h('dt', {}, '辖区'), h('dd', {}, rec.scope_name),
    ...k.fields.flatMap((f) => [h('dt', {}, f.label), h('dd', { id: 'v-' + f.name }, label(f, rec))]),
    h('dt', {}, '登记'), h('dd', {}, rec.recorded_by + ' ' + rec.recorded_at));
  const kids = S.kinds.filter((c) => c.parent && S.byName[c.name].fields.find((f) => f.name === c.parent).ref === name);
  const sub = kids.map((c) => [h('h2', {}, c.label + '（' + (rec[c.table] || []).length + '）'),
    h('table', { id: 'sub-' + c.name }, ...(rec[c.table] || []).map((x) => h('tr', {}, h('td', {}, x.no), h('td', {}, x[c.date] || ''),
      ...c.fields.filter((f) => f.name !== c.parent && f.type !== 'date').slice(0, 3).map((f) => h('td', {}, label(f, x))))))]);
  const edits = (rec.edits || []).map((e) => h('li', {}, e.by + ' ' + e.at + ' 修改了 ' + (e.fields || []).map((f) => (k.fields.find((x) => x.name === f) || { label: f }).label).join('、')));
  const prov = h('div', { id: 'provenance' });
  const provBtn = h('button', { class: 'alt', id: 'show-provenance', onclick: async () => {
    const p = await api('GET', '/api/provenance/' + name + '/' + rec.id);
    if (!p.ok) return prov.replaceChildren(msg(p.body.error));
    prov.replaceChildren(h('h2', {}, '数据来源（每个值由哪个节点、何时、经哪条数据流写入）'),
      h('table', { id: 'provenance-table' }, h('tr', {}, h('th', {}, '字段'), h('th', {}, '值'), h('th', {}, '写入节点'), h('th', {}, '节点辖区'), h('th', {}, '时间'), h('th', {}, '数据流 / 序号')),
        ...p.body.columns.map((c) => h('tr', {}, h('td', {}, c.label), h('td', {}, Array.isArray(c.value) ? c.value.join('、') : (c.value ?? '')),
          h('td', {}, c.origin), h('td', {}, c.origin_scope + (c.origin_role === 'office' ? '' : ' ' + c.origin_role)), h('td', {}, c.at),
          h('td', {}, c.stream_scope + ' #' + c.seq)))));
  } }, '数据来源');
  show(h('h1', {}, k.label + ' ' + rec.no), h('div', { class: 'bar' }, ...steps(name, rec), provBtn), dl, ...sub.flat(),
    edits.length ? h('h2', {}, '修改记录') : null, edits.length ? h('ul', { id: 'edits' }, ...edits) : null, prov);
}

/* ---- Forms: add, edit, and the workflow steps -------------------------- */

const STEP_FIELDS = {
  close: { fields: ['status', 'closed', 'outcome', 'agreement'], fixed: {}, title: '结案', choices: { status: ['resolved', 'failed'] }, needs: ['closed', 'outcome'] },
  refer: { fields: ['referred_to'], fixed: { status: 'referred' }, title: '移交诉讼或仲裁', needs: ['referred_to'] },
  route: { fields: ['routed_to', 'advice'], fixed: { status: 'routed' }, title: '分流', needs: ['routed_to'] },
};

function input(f, value, step) {
  const id = 'f-' + f.name;
  if (f.type === 'enum') {
    const allowed = step && step.choices && step.choices[f.name];
    return h('select', { id, name: f.name }, h('option', { value: '' }, '请选择'),
      ...f.choices.filter((c) => !allowed || allowed.includes(c.code)).map((c) => h('option', { value: c.code, selected: value === c.code }, c.label)));
  }
  if (f.type === 'date') return h('input', { id, name: f.name, type: 'date', value: value || '' });
  if (f.type === 'int') return h('input', { id, name: f.name, type: 'number', min: '0', value: value ?? '' });
  if (f.type === 'list') return h('input', { id, name: f.name, value: Array.isArray(value) ? value.join('、') : (value || ''), placeholder: '用顿号“、”分隔' });
  if (['summary', 'agreement', 'answer', 'question', 'minutes', 'decisions', 'notes', 'advice', 'measures', 'seen'].includes(f.name))
    return h('textarea', { id, name: f.name }, value || '');
  return h('input', { id, name: f.name, value: value || '' });
}

async function pageForm(name, id, q) {
  const k = S.byName[name];
  if (!k) return show(msg('没有这种记录：' + name));
  if (!canWrite()) return show(msg('只读账户不能修改记录'));
  let rec = {};
  if (id) {
    const r = await api('GET', '/api/records/' + name + '/' + encodeURIComponent(id));
    if (!r.ok) return show(msg(r.body.error));
    rec = r.body;
  }
  const step = STEP_FIELDS[q.get('step')];
  /* A new record starts its workflow at its first step (the node sets the
   * status), so the form asks only for what a person decides. */
  const fields = step ? k.fields.filter((f) => step.fields.includes(f.name))
    : k.fields.filter((f) => id || f.name !== 'status');
  const needed = (f) => f.required || (step && (step.needs || []).includes(f.name));
  const preset = {};
  for (const f of k.fields) if (q.get(f.name)) preset[f.name] = q.get(f.name);
  if (step && step.fields.includes('closed') && !rec.closed) preset.closed = new Date().toISOString().slice(0, 10);
  const rows = fields.map((f) => h('div', { class: 'row', id: 'row-' + f.name },
    h('label', { for: 'f-' + f.name }, f.label, needed(f) ? h('span', { class: 'req' }, ' *') : null),
    input(f, preset[f.name] ?? rec[f.name], step), h('div', { class: 'err', id: 'err-' + f.name })));
  const top = h('div', { id: 'form-msg' });
  const form = h('form', { class: 'rec', id: 'record-form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    for (const e of form.querySelectorAll('.err')) e.textContent = '';
    for (const e of form.querySelectorAll('.row.bad')) e.classList.remove('bad');
    const vals = Object.assign({}, step ? step.fixed : {});
    for (const f of fields) {
      const v = form.querySelector('[name="' + f.name + '"]').value.trim();
      if (id) { if (v !== label(f, rec) && !(f.type === 'enum' && v === (rec[f.name] || ''))) vals[f.name] = v === '' ? null : v; }
      else if (v !== '') vals[f.name] = f.type === 'int' ? parseInt(v, 10) : v;
    }
    const r = id ? await api('PATCH', '/api/records/' + name + '/' + rec.id, vals)
      : await api('POST', '/api/records/' + name, vals);
    if (!r.ok) {
      const f = r.body.field;
      const slot = f && $('#err-' + f);
      if (slot) { slot.textContent = zh(r.body.error); $('#row-' + f).classList.add('bad'); $('#f-' + f).focus(); }
      else top.replaceChildren(msg(r.body.error));
      return;
    }
    location.hash = '#/r/' + name + '/' + r.body.id;
  } }, ...rows, h('button', { type: 'submit', id: 'save' }, '保存'),
  h('button', { type: 'button', class: 'alt', onclick: () => history.back() }, '取消'));
  show(h('h1', {}, (step ? step.title : id ? '修改' : '新增') + k.label + (rec.no ? ' ' + rec.no : '')), top, form);
}

/* ---- Conflicts ------------------------------------------------------------ */

async function pageConflicts() {
  const r = await api('GET', '/api/conflicts');
  if (!r.ok) return show(msg(r.body.error));
  const settle = (c, body) => async () => {
    const x = await api('POST', '/api/conflicts/' + c.id, body);
    if (!x.ok) return main().prepend(msg(zh(x.body.error)));
    pageConflicts();
  };
  const items = r.body.map((c) => {
    const v = h('input', { id: 'value-' + c.id, placeholder: '或填写新值' });
    return h('div', { class: 'conflict', id: 'conflict-' + c.id },
      h('h2', {}, (c.kind_label || c.table) + ' ' + (c.no || c.row) + ' · ' + (c.column_label || c.column)),
      h('div', { class: 'side' },
        h('div', {}, h('b', {}, '当前显示'), h('p', { class: 'mine', 'data-value': c.mine ?? '' }, c.mine_label ? c.mine_label + '（' + c.mine + '）' : (c.mine ?? '（空）')), h('small', {}, c.mine_at + ' 节点 ' + c.mine_origin)),
        h('div', {}, h('b', {}, '另一方'), h('p', { class: 'theirs', 'data-value': c.theirs ?? '' }, c.theirs_label ? c.theirs_label + '（' + c.theirs + '）' : (c.theirs ?? '（空）')), h('small', {}, c.theirs_at + ' 节点 ' + c.theirs_origin))),
      canWrite() ? h('div', { class: 'bar' },
        h('button', { id: 'keep-mine-' + c.id, onclick: settle(c, { keep: 'mine' }) }, '保留当前'),
        h('button', { id: 'keep-theirs-' + c.id, onclick: settle(c, { keep: 'theirs' }) }, '采用另一方'),
        v, h('button', { id: 'keep-value-' + c.id, onclick: () => settle(c, { keep: 'value', value: v.value })() }, '写入新值')) : null);
  });
  show(h('h1', {}, '冲突（' + r.body.length + '）'), items.length ? h('div', { id: 'conflicts' }, ...items) : h('p', { id: 'no-conflicts' }, '没有待处理的冲突。'));
}

/* ---- Report and audit -------------------------------------------------------- */

async function pageReport(q) {
  const scope = q.get('scope') || S.session.node.scope;
  const from = q.get('from') || '', to = q.get('to') || '';
  const p = new URLSearchParams({ scope });
  if (from) p.set('from', from);
  if (to) p.set('to', to);
  const r = await api('GET', '/api/report?' + p);
  const fScope = h('input', { id: 'r-scope', value: scope }), fFrom = h('input', { id: 'r-from', type: 'date', value: from }), fTo = h('input', { id: 'r-to', type: 'date', value: to });
  const bar = h('div', { class: 'bar' }, '辖区 ', fScope, ' 从 ', fFrom, ' 至 ', fTo,
    h('button', { id: 'r-go', onclick: () => { location.hash = '#/report?' + new URLSearchParams({ scope: fScope.value, from: fFrom.value, to: fTo.value }); } }, '查询'),
    h('a', { href: '/report.html?' + p, target: '_blank', id: 'r-print' }, '打印版（含图表）'));
  if (!r.ok) return show(h('h1', {}, '报表'), bar, msg(r.body.error));
  const t = r.body.totals;
  const keys = [['disputes', '纠纷'], ['mediated', '调解结案'], ['resolved', '成功'], ['consults', '咨询'], ['petitions', '信访'], ['events', '普法'], ['audience', '受众'], ['visits', '走访'], ['risks', '评估'], ['meetings', '会议']];
  show(h('h1', {}, r.body.name + ' 工作报表'), bar,
    h('div', { class: 'cards', id: 'report-totals' }, ...keys.map(([k, l]) => h('div', { class: 'card' }, h('b', { id: 'rt-' + k }, t[k]), l))),
    h('h2', {}, '下辖单位'),
    h('table', { id: 'report-children' }, h('tr', {}, h('th', {}, '单位'), ...keys.map(([, l]) => h('th', {}, l))),
      ...r.body.children.map((c) => h('tr', { 'data-scope': c.scope }, h('td', {}, c.name), ...keys.map(([k]) => h('td', {}, c[k]))))));
}

async function pageAudit() {
  const r = await api('GET', '/api/verify');
  if (!r.ok) return show(msg(r.body.error));
  show(h('h1', {}, '审计'),
    msg(r.body.clean ? '校验通过：每条链、每个签名和辖区都正确，数据与日志一致。' : '发现 ' + r.body.faults.length + ' 处问题', r.body.clean),
    h('ul', { id: 'faults' }, ...r.body.faults.map((f) => h('li', {}, f))),
    h('h2', {}, '不符合规则的记录（' + r.body.check.length + '）'),
    h('ul', { id: 'check' }, ...r.body.check.map((c) => h('li', {}, c.kind + ' ' + (c.no || c.id) + '：' + c.message))));
}
