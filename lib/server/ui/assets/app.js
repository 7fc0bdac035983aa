// The trail browser: a search over GET /api/v1/audit/events shown as a
// paginated timeline with a chart, and one event's detail at
// /ui/events/<event_id>. Every filter is the API's own query parameter: the
// browser filters nothing, and the server checks every value.

import { ApiError, getExport, getJson, getToken, setToken } from './api.js'
import { renderChart } from './chart.js'
import { renderDetail } from './detail.js'
import { setTreeOpen } from './json-tree.js'
import { enableRowKeys, renderTimeline } from './timeline.js'

const EVENTS = '/api/v1/audit/events'
const FILTERS = ['correlation_id', 'event_type', 'event_category', 'event_outcome', 'actor_id', 'resource_type', 'resource_id', 'namespace', 'since', 'until']
const DEFAULTS = { order: 'desc', limit: '100', offset: '0' }
const $ = (id) => document.getElementById(id)

const ui = {
  message: $('message'),
  form: $('search'),
  results: $('results'),
  summary: $('summary'),
  pageLabel: $('page-label'),
  chart: $('chart'),
  table: $('timeline'),
  exportButton: $('export'),
  searchView: $('search-view'),
  detailView: $('detail-view'),
  detail: { heading: $('detail-heading'), fields: $('fields'), tree: $('event-data') },
  copyStatus: $('copy-status'),
  tokenStatus: $('token-status')
}

// What is on screen: `page` is the last timeline loaded, `event` the event in the detail view.
const state = { page: undefined, chartKey: undefined, event: undefined, fromList: false, focusId: undefined, seq: 0 }

function showMessage (text) {
  ui.message.textContent = text
  ui.message.hidden = false
}

function clearMessage () {
  ui.message.hidden = true
  ui.message.textContent = ''
}

function explain (err) {
  if (err instanceof ApiError && err.status === 401) {
    showMessage(`This server needs a valid API token (${err.message}). Paste it in "API token" above; it is kept for this tab only.`)
    $('token').focus()
  } else if (err instanceof ApiError && err.status === 400) {
    showMessage(`The server refused the query (${err.message}).`)
  } else {
    showMessage(err instanceof ApiError ? err.message : `Something went wrong: ${err.message}`)
  }
}

function showTokenStatus () {
  ui.tokenStatus.textContent = getToken() === '' ? 'no token set' : 'token set for this tab'
}

// The query of the current URL: known parameters only, defaults filled in.
function currentQuery () {
  const from = new URLSearchParams(location.search)
  const query = new URLSearchParams()
  for (const name of [...FILTERS, 'order', 'limit', 'offset']) {
    const value = from.get(name) ?? DEFAULTS[name]
    if (value !== undefined && value !== '') query.set(name, value)
  }
  return query
}

function filtersOf (query) {
  const filters = new URLSearchParams()
  for (const name of FILTERS) if (query.has(name)) filters.set(name, query.get(name))
  return filters
}

function fillForm (query) {
  for (const name of [...FILTERS, 'order', 'limit']) {
    const field = ui.form.elements.namedItem(name)
    field.value = query.get(name) ?? ''
    // A value the <select> lacks (e.g. limit=7 typed in the URL) stays the query's; the select shows its default.
    if (field.tagName === 'SELECT' && field.value === '' && name !== 'event_outcome') field.value = DEFAULTS[name]
  }
}

function go (url) {
  history.pushState(null, '', url)
  route()
}

async function loadSearch () {
  ui.searchView.hidden = false
  ui.detailView.hidden = true
  const query = currentQuery()
  fillForm(query)
  const key = query.toString()
  if (state.page !== undefined && state.page.key === key) return focusRow()
  const seq = ++state.seq
  const filters = filtersOf(query)
  const chartKey = filters.toString()
  ui.summary.textContent = 'Loading…'
  ui.table.setAttribute('aria-busy', 'true')
  try {
    const [page, histogram] = await Promise.all([
      getJson(EVENTS, query),
      state.chartKey === chartKey ? undefined : getJson(`${EVENTS}/histogram`, filters)
    ])
    if (seq !== state.seq) return
    clearMessage()
    state.page = { key, query, ...page }
    if (histogram !== undefined) {
      state.chartKey = chartKey
      renderChart(ui.chart, histogram)
    }
    showPage()
  } catch (err) {
    if (seq !== state.seq) return
    state.page = undefined
    state.chartKey = undefined
    ui.summary.textContent = ''
    ui.results.hidden = true
    ui.exportButton.disabled = true
    explain(err)
  } finally {
    if (seq === state.seq) ui.table.removeAttribute('aria-busy')
  }
}

function showPage () {
  const { data, pagination, query } = state.page
  const { total, limit, offset } = pagination
  const pages = Math.max(1, Math.ceil(total / limit))
  const current = Math.floor(offset / limit) + 1
  ui.results.hidden = false
  ui.exportButton.disabled = total === 0
  ui.summary.textContent = total === 0
    ? 'No events match.'
    : `${total.toLocaleString('en')} events, ${query.get('order') === 'asc' ? 'oldest' : 'newest'} first; showing ${(offset + 1).toLocaleString('en')}–${(offset + data.length).toLocaleString('en')}.`
  ui.pageLabel.textContent = `Page ${current.toLocaleString('en')} of ${pages.toLocaleString('en')}`
  const buttons = ui.results.querySelectorAll('[data-page]')
  for (const button of buttons) {
    const back = button.dataset.page === 'first' || button.dataset.page === 'prev'
    button.disabled = back ? offset === 0 : offset + data.length >= total
  }
  renderTimeline(ui.table.tBodies[0], data, offset + 1, openFromList)
  focusRow()
}

function focusRow () {
  if (state.focusId === undefined || state.page === undefined) return
  const at = state.page.data.findIndex((e) => e.event_id === state.focusId)
  state.focusId = undefined
  ui.table.tBodies[0].querySelectorAll('button')[at]?.focus()
}

function turnPage (to) {
  if (state.page === undefined) return
  const { total, limit, offset } = state.page.pagination
  const last = Math.max(0, Math.floor((total - 1) / limit) * limit)
  const next = { first: 0, prev: Math.max(0, offset - limit), next: Math.min(last, offset + limit), last }[to]
  if (next === undefined || next === offset) return
  const query = new URLSearchParams(state.page.query)
  query.set('offset', String(next))
  go(`/ui?${query}`)
}

function openFromList (event) {
  state.fromList = true
  history.pushState(null, '', `/ui/events/${encodeURIComponent(event.event_id)}`)
  showDetail(event)
  ui.detailView.querySelector('#back').focus()
}

function showDetail (event) {
  state.event = event
  ui.searchView.hidden = true
  ui.detailView.hidden = false
  ui.copyStatus.textContent = ''
  renderDetail(ui.detail, event)
  $('permalink').href = `/ui/events/${encodeURIComponent(event.event_id)}`
  $('trail-link').href = `/ui?${new URLSearchParams({ correlation_id: event.correlation_id })}`
  document.title = `${event.event_type} · audit trail browser`
}

async function loadDetail (id) {
  ui.searchView.hidden = true
  ui.detailView.hidden = true
  const seq = ++state.seq
  try {
    const event = state.event?.event_id === id ? state.event : await getJson(`${EVENTS}/${encodeURIComponent(id)}`)
    if (seq !== state.seq) return
    clearMessage()
    showDetail(event)
  } catch (err) {
    if (seq === state.seq) explain(err)
  }
}

function route () {
  document.title = 'Audit trail browser'
  const match = /^\/ui\/events\/([^/]+)$/.exec(location.pathname)
  if (match !== null) return loadDetail(decodeURIComponent(match[1]))
  state.fromList = false
  return loadSearch()
}

async function download () {
  const filters = filtersOf(state.page?.query ?? currentQuery())
  filters.set('order', state.page?.query.get('order') ?? DEFAULTS.order)
  ui.exportButton.disabled = true
  try {
    const blob = await getExport(filters)
    const link = document.createElement('a')
    link.href = URL.createObjectURL(blob)
    const name = (filters.get('correlation_id') ?? 'all').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)
    link.download = `audit-events-${name}.jsonl`
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000)
  } catch (err) {
    explain(err)
  } finally {
    ui.exportButton.disabled = false
  }
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault()
  const query = new URLSearchParams()
  for (const [name, value] of new FormData(ui.form)) if (typeof value === 'string' && value.trim() !== '') query.set(name, value.trim())
  query.set('offset', '0')
  state.page = undefined
  go(`/ui?${query}`)
})
$('clear').addEventListener('click', () => go('/ui'))
ui.exportButton.addEventListener('click', download)
for (const button of ui.results.querySelectorAll('[data-page]')) button.addEventListener('click', () => turnPage(button.dataset.page))
enableRowKeys(ui.table)

$('back').addEventListener('click', () => {
  if (state.fromList) {
    state.focusId = state.event?.event_id
    history.back()
  } else {
    go($('trail-link').getAttribute('href'))
  }
})
$('copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(JSON.stringify(state.event, null, 2))
    ui.copyStatus.textContent = 'Copied.'
  } catch (err) {
    ui.copyStatus.textContent = `Could not copy: ${err.message}`
  }
})
$('expand').addEventListener('click', () => setTreeOpen(ui.detail.tree, true))
$('collapse').addEventListener('click', () => setTreeOpen(ui.detail.tree, false))

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  setToken($('token').value.trim())
  $('token').value = ''
  showTokenStatus()
  state.page = undefined
  state.chartKey = undefined
  state.event = undefined
  route()
})
$('forget-token').addEventListener('click', () => {
  setToken('')
  showTokenStatus()
})

document.addEventListener('keydown', (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey || e.target.closest('input, select, textarea') !== null) return
  if (!ui.detailView.hidden && e.key === 'Escape') return $('back').click()
  if (ui.searchView.hidden) return
  if (e.key === 'n') turnPage('next')
  if (e.key === 'p') turnPage('prev')
})

window.addEventListener('popstate', route)
showTokenStatus()
route()
