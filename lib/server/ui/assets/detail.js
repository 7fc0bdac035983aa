// One event: every field as text, event_data as a collapsible tree.

import { renderJsonTree } from './json-tree.js'

const FIELD_ORDER = [
  'event_id', 'event_timestamp', 'event_date', 'event_type', 'event_category', 'event_action', 'event_outcome', 'correlation_id',
  'parent_event_id', 'actor_type', 'actor_id', 'actor_ip', 'resource_type', 'resource_id', 'namespace', 'cluster_id', 'severity',
  'duration_ms', 'error_code', 'error_message', 'retention_days', 'is_sensitive', 'version'
]

/** Fills the detail view's parts with `event`. */
export function renderDetail ({ heading, fields, tree }, event) {
  heading.textContent = `${event.event_type ?? 'event'} · ${event.event_outcome ?? ''}`
  const names = [...FIELD_ORDER.filter((n) => n in event), ...Object.keys(event).filter((n) => n !== 'event_data' && !FIELD_ORDER.includes(n))]
  const rows = names.map((name) => {
    const tr = document.createElement('tr')
    const th = document.createElement('th')
    th.scope = 'row'
    th.textContent = name
    const td = document.createElement('td')
    const value = event[name]
    td.textContent = typeof value === 'string' ? value : JSON.stringify(value)
    tr.append(th, td)
    return tr
  })
  fields.tBodies[0].replaceChildren(...rows)
  renderJsonTree(tree, event.event_data ?? null)
}
