// A collapsible JSON tree from <details>/<summary> (keyboard and screen
// reader friendly for free). Every key and value goes in as text: event data
// is attacker-controlled, so nothing here ever parses it as HTML or a URL.

const OPEN_DEPTH = 2

function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className !== undefined) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function label (key) {
  return key === undefined ? [] : [el('span', 'key', Array.isArray(key) ? `[${key[0]}]` : JSON.stringify(key)), el('span', 'punct', ': ')]
}

function node (key, value, depth) {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [[i], v]) : Object.entries(value)
    const details = el('details')
    details.open = depth < OPEN_DEPTH
    const summary = el('summary')
    const shape = Array.isArray(value) ? `[${entries.length} item${entries.length === 1 ? '' : 's'}]` : `{${entries.length} key${entries.length === 1 ? '' : 's'}}`
    summary.append(...label(key), el('span', 'shape', shape))
    const list = el('ul')
    for (const [k, v] of entries) {
      const item = el('li')
      item.append(node(k, v, depth + 1))
      list.append(item)
    }
    details.append(summary, list)
    return details
  }
  const line = el('span', 'leaf')
  const kind = value === null ? 'null' : typeof value
  line.append(...label(key), el('span', `value ${kind}`, kind === 'string' ? JSON.stringify(value) : String(value)))
  return line
}

/** Replaces `container`'s content with a tree of `value`. */
export function renderJsonTree (container, value) {
  container.replaceChildren(node(undefined, value, 0))
}

/** Opens or closes every branch under `container`. */
export function setTreeOpen (container, open) {
  for (const details of container.querySelectorAll('details')) details.open = open
}
