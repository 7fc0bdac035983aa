// The timeline: one page of events as a real <table>. Each row's time is a
// <button> that opens the event; arrow keys, Home and End move between rows.

const COLUMNS = ['event_type', 'event_category', 'event_action', 'event_outcome']

function cell (text, className) {
  const td = document.createElement('td')
  td.textContent = text ?? ''
  if (className !== undefined) td.className = className
  return td
}

function joined (...parts) {
  return parts.filter((p) => p !== undefined && p !== '').join(' ')
}

/** Fills `tbody` with `events` numbered from `first`; `onOpen(event)` runs when one is chosen. */
export function renderTimeline (tbody, events, first, onOpen) {
  const rows = events.map((event, i) => {
    const tr = document.createElement('tr')
    tr.dataset.eventId = event.event_id
    const open = document.createElement('button')
    open.type = 'button'
    open.className = 'link'
    open.textContent = String(event.event_timestamp ?? '').replace('T', ' ').replace('Z', '')
    open.addEventListener('click', () => onOpen(event))
    const time = document.createElement('td')
    time.append(open)
    tr.append(cell(String(first + i), 'num'), time)
    for (const column of COLUMNS) tr.append(cell(event[column], column === 'event_outcome' ? `outcome ${event[column]}` : undefined))
    tr.append(cell(joined(event.actor_type, event.actor_id)), cell(joined(event.resource_type, event.resource_id)), cell(event.namespace))
    return tr
  })
  tbody.replaceChildren(...rows)
}

/** Arrow-key movement between the rows' buttons of `table`. */
export function enableRowKeys (table) {
  table.addEventListener('keydown', (e) => {
    const buttons = [...table.querySelectorAll('tbody button')]
    const at = buttons.indexOf(document.activeElement)
    if (at === -1) return
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[e.key]
    if (to === undefined || buttons[to] === undefined) return
    e.preventDefault()
    buttons[to].focus()
  })
}
