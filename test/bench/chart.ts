/**
 * The chart `npm run bench` writes beside bench-results.json: the events/s
 * of every scenario's contenders as grouped horizontal bars on one linear
 * scale, each labelled with its median and its ratios against their goals.
 * Plain SVG text, no dependency.
 */
import type { Row } from './common.js'

const FONT = 12
const CHAR_WIDTH = 6.6 // an estimate of a 12 px sans-serif character, to size the label column
const BAR_WIDTH = 420
const ROW_HEIGHT = 20
const BAR_HEIGHT = 14
const GROUP_HEAD = 24
const PADDING = 16

const COLOURS = { store: '#2b6cb0', raw: '#718096', otel: '#dd6b20' }

interface Bar {
  readonly scenario: string
  readonly contender: string
  readonly median: number
  readonly spread: string
  readonly ratios: string[]
}

// The text after a bar: its median and spread, then its ratios.
const noteOf = (bar: Bar): string => [`${Math.round(bar.median).toLocaleString('en-US')}/s ${bar.spread}`, ...bar.ratios].join('; ')

const escape = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

// The baselines are the raw loops and floors, and OpenTelemetry; every other contender is audit-stream.
function colour (contender: string): string {
  if (contender.startsWith('OpenTelemetry')) return COLOURS.otel
  if (contender.startsWith('raw') || contender.startsWith('floor')) return COLOURS.raw
  return COLOURS.store
}

// A round step giving about five ticks up to `max`.
function tickStep (max: number): number {
  const rough = max / 5
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 2.5, 5, 10].find((f) => f * power >= rough) ?? 10
  return step * power
}

const short = (n: number): string => n >= 1e6 ? `${+(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`

/**
 * @param rows - the run's rows; those in events/s are drawn, one bar per scenario and contender
 * @param caption - lines printed under the chart (machine, scale, load)
 * @returns the SVG document
 */
export function chart (rows: readonly Row[], caption: readonly string[]): string {
  const bars: Bar[] = []
  for (const row of rows) {
    if (row.unit !== 'events/s' || row.median <= 0) continue
    let bar = bars.find((b) => b.scenario === row.scenario && b.contender === row.contender)
    if (bar === undefined) {
      bar = { scenario: row.scenario, contender: row.contender, median: row.median, spread: row.spread, ratios: [] }
      bars.push(bar)
    }
    const r = row.ratio
    if (r !== undefined) bar.ratios.push(`${r.value.toFixed(2)}x ${r.against}${r.target === 'informational' ? '' : r.target === '(reference)' ? ' (reference)' : ` (goal ${r.target}: ${r.met ? 'met' : 'not met'})`}`)
  }
  const scenarios = [...new Set(bars.map((b) => b.scenario))]
  const labelWidth = Math.ceil(Math.max(20, ...bars.map((b) => b.contender.length)) * CHAR_WIDTH) + PADDING
  const max = Math.max(1, ...bars.map((b) => b.median))
  const step = tickStep(max)
  const top = Math.ceil(max / step) * step
  const x = (value: number): number => labelWidth + (value / top) * BAR_WIDTH
  const textWidth = (text: string): number => Math.ceil(text.length * CHAR_WIDTH)
  const width = Math.ceil(Math.max(labelWidth + BAR_WIDTH, ...bars.map((b) => x(b.median) + 6 + textWidth(noteOf(b))), ...caption.map((line) => PADDING + textWidth(line))) + PADDING)
  const chartTop = 64
  const bodyHeight = scenarios.length * GROUP_HEAD + bars.length * ROW_HEIGHT
  const height = chartTop + bodyHeight + 16 + caption.length * (FONT + 4) + PADDING

  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="${FONT}">`)
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="${PADDING}" y="24" font-size="15" font-weight="bold" fill="#1a202c">audit-stream benchmarks: events/s (median), by scenario and contender</text>`)
  const legend: Array<[string, string]> = [['audit-stream', COLOURS.store], ['raw loop / floor', COLOURS.raw], ['OpenTelemetry', COLOURS.otel]]
  let legendX = PADDING
  for (const [name, fill] of legend) {
    out.push(`<rect x="${legendX}" y="34" width="12" height="12" fill="${fill}"/><text x="${legendX + 16}" y="44" fill="#2d3748">${escape(name)}</text>`)
    legendX += 16 + textWidth(name) + 20
  }
  for (let tick = 0; tick <= top; tick += step) {
    out.push(`<line x1="${x(tick).toFixed(1)}" y1="${chartTop - 6}" x2="${x(tick).toFixed(1)}" y2="${chartTop + bodyHeight}" stroke="#e2e8f0"/>`)
    out.push(`<text x="${x(tick).toFixed(1)}" y="${chartTop - 9}" text-anchor="middle" fill="#718096">${short(tick)}</text>`)
  }
  let y = chartTop
  for (const scenario of scenarios) {
    out.push(`<text x="${PADDING}" y="${y + 17}" font-weight="bold" fill="#1a202c">${escape(scenario)}</text>`)
    y += GROUP_HEAD
    for (const bar of bars.filter((b) => b.scenario === scenario)) {
      const barY = y + (ROW_HEIGHT - BAR_HEIGHT) / 2
      out.push(`<text x="${labelWidth - 8}" y="${barY + BAR_HEIGHT - 3}" text-anchor="end" fill="#2d3748">${escape(bar.contender)}</text>`)
      out.push(`<rect x="${labelWidth}" y="${barY}" width="${(x(bar.median) - labelWidth).toFixed(1)}" height="${BAR_HEIGHT}" fill="${colour(bar.contender)}"><title>${escape(`${bar.scenario} / ${bar.contender}: ${Math.round(bar.median)} events/s ${bar.spread}`)}</title></rect>`)
      out.push(`<text x="${(x(bar.median) + 6).toFixed(1)}" y="${barY + BAR_HEIGHT - 3}" fill="#2d3748">${escape(noteOf(bar))}</text>`)
      y += ROW_HEIGHT
    }
  }
  y += 16
  for (const line of caption) {
    y += FONT + 4
    out.push(`<text x="${PADDING}" y="${y}" fill="#4a5568">${escape(line)}</text>`)
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
