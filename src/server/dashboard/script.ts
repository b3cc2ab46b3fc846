/**
 * The dashboard's browser script (served as /dashboard/app.js). Plain
 * JavaScript for any current browser, no build step; it only calls the
 * documented HTTP API (docs/daemon.md) and writes data as text nodes.
 * Kept free of backquotes so it can live in this template string.
 */
export const DASHBOARD_SCRIPT = String.raw`
const POLL_MS = 2000
const TOKEN_KEY = 'syncline-token'
const authRequired = document.querySelector('meta[name="syncline-auth"]').content === 'token'
const $ = (id) => document.getElementById(id)
let selected = null
let timer = null

// A link may carry the token in its fragment (#token=…): never sent to a server, removed at once.
const fragment = new URLSearchParams(location.hash.slice(1))
if (fragment.get('token')) {
  sessionStorage.setItem(TOKEN_KEY, fragment.get('token'))
  history.replaceState(null, '', location.pathname + location.search)
}

function token() { return sessionStorage.getItem(TOKEN_KEY) }

async function api(path, options) {
  const headers = { accept: 'application/json' }
  if (authRequired) headers.authorization = 'Bearer ' + token()
  if (options && options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, { method: (options && options.method) || 'GET', headers, body: options && options.body !== undefined ? JSON.stringify(options.body) : undefined })
  const body = await response.json().catch(() => null)
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY)
    showTokenForm((body && body.error && body.error.message) || 'The daemon refused the token.')
    throw new Error('unauthorized')
  }
  if (!response.ok) throw new Error((body && body.error && (body.error.code + ': ' + body.error.message)) || ('HTTP ' + response.status))
  return body
}

function el(tag, text, className) {
  const node = document.createElement(tag)
  if (text !== undefined && text !== null) node.textContent = String(text)
  if (className) node.className = className
  return node
}

function row(cells) {
  const tr = document.createElement('tr')
  for (const cell of cells) {
    const td = document.createElement('td')
    if (cell instanceof Node) td.append(cell)
    else td.textContent = cell === undefined || cell === null ? '' : String(cell)
    tr.append(td)
  }
  return tr
}

function when(iso) { return iso ? new Date(iso).toLocaleString() : '' }
function counts(r) { return r ? [r.read, r.created, r.updated, r.deleted, r.failed, r.conflicts].map((n) => n === undefined ? 0 : n).join(' / ') : '' }
function seconds(ms) { return ms === undefined || ms === null ? '' : (ms / 1000).toFixed(ms < 10000 ? 2 : 0) + ' s' }
function status(text) { return el('span', text, 'status status-' + text) }

function button(label, action) {
  const b = el('button', label)
  b.type = 'button'
  b.addEventListener('click', async (event) => {
    event.stopPropagation()
    b.disabled = true
    try { await action(); await refresh() } catch (error) { banner(error.message) } finally { b.disabled = false }
  })
  return b
}

function banner(message) {
  const node = $('banner')
  node.textContent = message || ''
  node.hidden = !message
}

function renderSyncs(syncs) {
  const body = $('syncs').tBodies[0]
  body.replaceChildren()
  $('no-syncs').hidden = syncs.length > 0
  for (const sync of syncs) {
    const last = sync.lastRun
    const lastCell = document.createElement('div')
    if (last) lastCell.append(status(last.status), el('span', ' ' + when(last.finishedAt || last.startedAt), 'muted'))
    if (sync.problem) lastCell.append(el('div', sync.problem.code + ': ' + sync.problem.message, 'error'))
    const actions = document.createElement('div')
    if (sync.running) actions.append(button('Cancel', () => api('/api/syncs/' + encodeURIComponent(sync.id) + '/cancel', { method: 'POST' })))
    else if (sync.mode !== 'realtime') {
      actions.append(button('Run', () => api('/api/syncs/' + encodeURIComponent(sync.id) + '/run', { method: 'POST', body: {} })))
      if (sync.mode === 'incremental') actions.append(button('Run full', () => api('/api/syncs/' + encodeURIComponent(sync.id) + '/run', { method: 'POST', body: { full: true } })))
    }
    const tr = row([
      el('strong', sync.id),
      sync.mode + (sync.direction === 'two-way' ? ' (two-way)' : ''),
      status(sync.status),
      lastCell,
      counts(last),
      sync.schedule ? sync.schedule + (sync.nextRunAt ? ' → ' + when(sync.nextRunAt) : '') : '',
      sync.lag === null || sync.lag === undefined ? '' : sync.lag.toFixed(1) + ' s',
      actions,
    ])
    tr.className = 'sync' + (sync.id === selected ? ' selected' : '')
    tr.dataset.sync = sync.id
    tr.addEventListener('click', () => { selected = sync.id; void refresh() })
    body.append(tr)
  }
}

async function renderDetail() {
  $('detail').hidden = selected === null
  if (selected === null) return
  $('detail-id').textContent = selected
  const id = encodeURIComponent(selected)
  const [runs, errors] = await Promise.all([api('/api/syncs/' + id + '/runs?limit=20'), api('/api/syncs/' + id + '/errors')])
  const runBody = $('runs').tBodies[0]
  runBody.replaceChildren(...runs.map((r) => row([r.runId, r.attempt, status(r.status), when(r.startedAt), seconds(r.durationMs), counts(r), el('div', r.error ? (r.errorCode ? r.errorCode + ': ' : '') + r.error : '', 'error')])))
  const errorBody = $('errors').tBodies[0]
  errorBody.replaceChildren(...errors.slice(0, 50).map((e) => row([e.runId, e.recordId, e.operation, el('div', e.reason, 'error')])))
  $('no-errors').hidden = errors.length > 0
}

function renderConflicts(conflicts) {
  const open = conflicts.filter((c) => !c.resolvedAt)
  const body = $('conflicts').tBodies[0]
  body.replaceChildren(...open.map((c) => {
    const take = (side) => button('Take ' + side, () => api('/api/conflicts/' + encodeURIComponent(c.id) + '/resolve', { method: 'POST', body: { take: side } }))
    const actions = document.createElement('div')
    actions.append(take('source'), take('destination'))
    return row([c.syncId, c.recordId, c.kind || '', el('pre', JSON.stringify(c.source)), el('pre', JSON.stringify(c.destination)), when(c.detectedAt), actions])
  }))
  $('no-conflicts').hidden = open.length > 0
}

async function refresh() {
  clearTimeout(timer)
  try {
    const [syncs, conflicts] = await Promise.all([api('/api/syncs'), api('/api/conflicts')])
    if (selected !== null && !syncs.some((s) => s.id === selected)) selected = null
    renderSyncs(syncs)
    renderConflicts(conflicts)
    await renderDetail()
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString()
    banner('')
  } catch (error) {
    if (error.message === 'unauthorized') return
    banner('The daemon does not answer: ' + error.message)
  }
  timer = setTimeout(refresh, POLL_MS)
}

function showTokenForm(message) {
  clearTimeout(timer)
  $('main').hidden = true
  $('forget-token').hidden = true
  $('token-form').hidden = false
  banner(message)
}

function start() {
  $('token-form').hidden = true
  $('main').hidden = false
  $('forget-token').hidden = !authRequired
  void refresh()
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault()
  sessionStorage.setItem(TOKEN_KEY, $('token').value)
  $('token').value = ''
  banner('')
  start()
})
$('forget-token').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showTokenForm('') })

if (authRequired && !token()) showTokenForm('')
else start()
`
