// Events over time by outcome: stacked bars in SVG, drawn from the server's
// histogram (the server buckets and counts; the page draws rectangles).

const NS = 'http://www.w3.org/2000/svg'
const OUTCOMES = ['success', 'failure', 'pending']
const WIDTH = 960
const HEIGHT = 140
const LEFT = 44
const BOTTOM = 20

function svg (tag, attrs, text) {
  const node = document.createElementNS(NS, tag)
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value))
  if (text !== undefined) node.textContent = text
  return node
}

function duration (seconds) {
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['min', 60]]) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${unit}`
  }
  return `${seconds} s`
}

function when (iso) {
  return iso.replace('T', ' ').replace(/\.000Z$|Z$/, '')
}

/** Draws `histogram` (from GET /api/v1/audit/events/histogram) into `figure`. */
export function renderChart (figure, histogram) {
  const { buckets, bucket_seconds: seconds, total } = histogram
  const sums = { success: 0, failure: 0, pending: 0 }
  let max = 0
  for (const b of buckets) {
    for (const o of OUTCOMES) sums[o] += b[o]
    max = Math.max(max, b.success + b.failure + b.pending)
  }
  const plotW = WIDTH - LEFT
  const plotH = HEIGHT - BOTTOM
  const barW = buckets.length === 0 ? 0 : plotW / buckets.length
  const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', class: 'histogram' })
  root.append(svg('title', { id: 'chart-title' }, 'Events over time by outcome'))
  const range = buckets.length === 0 ? 'no events' : `from ${when(buckets[0].start)} to ${when(buckets.at(-1).start)} UTC, one bar per ${duration(seconds)}`
  root.append(svg('desc', { id: 'chart-desc' }, `${total} events ${range}: ${sums.success} success, ${sums.failure} failure, ${sums.pending} pending.`))
  root.append(svg('line', { x1: LEFT, y1: plotH, x2: WIDTH, y2: plotH, class: 'axis' }))
  root.append(svg('text', { x: LEFT - 6, y: 10, class: 'tick', 'text-anchor': 'end' }, String(max)))
  root.append(svg('text', { x: LEFT - 6, y: plotH, class: 'tick', 'text-anchor': 'end' }, '0'))
  buckets.forEach((b, i) => {
    const group = svg('g', { class: 'bucket' })
    group.append(svg('title', {}, `${when(b.start)} UTC (+${duration(seconds)}): ${b.success} success, ${b.failure} failure, ${b.pending} pending`))
    let y = plotH
    for (const o of OUTCOMES) {
      if (b[o] === 0) continue
      const h = Math.max(1, (b[o] / max) * (plotH - 4))
      y -= h
      group.append(svg('rect', { x: LEFT + i * barW + 0.5, y, width: Math.max(1, barW - 1), height: h, class: o }))
    }
    root.append(group)
  })
  if (buckets.length > 0) {
    root.append(svg('text', { x: LEFT, y: HEIGHT - 4, class: 'tick' }, when(buckets[0].start)))
    root.append(svg('text', { x: WIDTH, y: HEIGHT - 4, class: 'tick', 'text-anchor': 'end' }, when(buckets.at(-1).start)))
  }
  const caption = document.createElement('figcaption')
  for (const o of OUTCOMES) {
    const item = document.createElement('span')
    item.className = `legend ${o}`
    item.textContent = `${o} ${sums[o].toLocaleString('en')}`
    caption.append(item)
  }
  const width = document.createElement('span')
  width.className = 'muted'
  width.textContent = buckets.length === 0 ? '' : `one bar = ${duration(seconds)}`
  caption.append(width)
  figure.replaceChildren(root, caption)
}
