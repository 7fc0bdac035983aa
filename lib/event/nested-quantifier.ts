/**
 * A guard against catastrophic backtracking in a document's `pattern`s: one
 * event could otherwise hold the event loop for minutes.
 */

/**
 * Whether `pattern` repeats a group that itself repeats, like `(a+)+` or
 * `(\\w+\\s?)*`: the shape whose backtracking is exponential in the input's
 * length. A heuristic, not a proof of safety: it does not catch overlapping
 * alternatives such as `(a|a)*`.
 * @internal
 */
export function nestedQuantifier (pattern: string): boolean {
  // Per open group: whether something quantified is inside it.
  const groups: boolean[] = []
  // Whether the atom just closed can take a quantifier, and whether it holds one.
  let lastHolds = false
  let lastIsAtom = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    const quantifier = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i)))
    if (quantifier) {
      const repeats = c === '*' || c === '+' || (c === '{' && !/^\{(\d+)(,\1)?\}|^\{[01](,1)?\}/.test(pattern.slice(i)))
      if (lastIsAtom && repeats && lastHolds) return true
      if (lastIsAtom && repeats && groups.length > 0) groups[groups.length - 1] = true
      if (c === '{') i = pattern.indexOf('}', i)
      if (pattern[i + 1] === '?') i++
      lastIsAtom = false
      continue
    }
    lastHolds = false
    lastIsAtom = true
    if (c === '\\') {
      i++
    } else if (c === '[') {
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++
    } else if (c === '(') {
      groups.push(false)
      lastIsAtom = false
    } else if (c === ')') {
      lastHolds = groups.pop() ?? false
      if (lastHolds && groups.length > 0) groups[groups.length - 1] = true
    } else if (c === '|' || c === '^' || c === '$') {
      lastIsAtom = false
    }
  }
  return false
}
