/**
 * Runs contenders in turn (alternating, after a warm-up) and reports the
 * median and spread of each, so that ratios come from one run on one machine.
 */

export interface Sample {
  /** What the contender achieved in one repetition, in `unit`s (higher is better unless `lowerIsBetter`). */
  readonly value: number
}

export interface Contender {
  readonly name: string
  /** One repetition; returns the measured value. */
  readonly run: () => Promise<number>
}

export interface Measured {
  readonly name: string
  readonly median: number
  readonly min: number
  readonly max: number
  readonly samples: number[]
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Alternates the contenders: warm-up rounds first, then `reps` measured rounds. */
export async function compare (contenders: readonly Contender[], options: { reps: number, warmup: number }): Promise<Measured[]> {
  const samples = contenders.map(() => [] as number[])
  for (let round = 0; round < options.warmup + options.reps; round++) {
    for (const [i, contender] of contenders.entries()) {
      global.gc?.()
      const value = await contender.run()
      if (round >= options.warmup) samples[i]!.push(value)
    }
  }
  return contenders.map((c, i) => summarize(c.name, samples[i]!))
}

/** The median, range and samples of one measure (`samples` not empty). */
export function summarize (name: string, samples: number[]): Measured {
  return { name, median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples }
}

/** `spread` as ±percent of the median: (max - min) / 2 / median. */
export function spread (m: Measured): string {
  return `±${(((m.max - m.min) / 2 / m.median) * 100).toFixed(1)}%`
}

export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
