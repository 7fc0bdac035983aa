/**
 * The top-level key rules of an event, on the hot path of record(): generated
 * like TypeBox's checks, a switch over the known names, about 3x faster than
 * a Set lookup. Only own keys count, since JSON.stringify sends only those; a
 * plain object's enumerable keys are all its own, so hasOwn runs only for
 * others.
 */

/** A compiled key check: `hasOwn` is `Object.hasOwn`, passed in. @internal */
export type KeyRules = (value: object, hasOwn: (o: object, key: string) => boolean) => boolean

/**
 * The key rules of an event schema's top level, as generated code: every
 * required key present as an own key, and (unless `allowUnknownKeys`) no
 * unknown own key; never an object with a toJSON() method.
 * @internal
 */
export function keyRules (names: readonly string[], required: readonly string[], allowUnknownKeys: boolean): KeyRules {
  const optional = names.filter((name) => !required.includes(name))
  const cases = (list: readonly string[]): string => list.map((name) => `case ${JSON.stringify(name)}:`).join(' ')
  return new Function('value', 'hasOwn', `
    const proto = Object.getPrototypeOf(value)
    const plain = proto === Object.prototype || proto === null
    if (!plain && typeof value.toJSON === 'function') return false
    let own = 0
    for (const key in value) {
      switch (key) {
        ${required.length > 0 ? `${cases(required)} if (plain || hasOwn(value, key)) own++; continue` : ''}
        ${optional.length > 0 ? `${cases(optional)} continue` : ''}
        default:
          if (key === 'toJSON' || (${allowUnknownKeys ? 'false' : 'true'} && (plain || hasOwn(value, key)))) return false
      }
    }
    return own === ${required.length}`) as KeyRules
}
