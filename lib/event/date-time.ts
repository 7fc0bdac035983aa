/**
 * RFC 3339 date-times as the event schema and PostgreSQL's timestamptz both
 * accept them.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

// The decimal number in value[at, at + count), or -1 if any of it is not a digit.
function digitsAt (value: string, at: number, count: number): number {
  let result = 0
  for (let i = at; i < at + count; i++) {
    const c = value.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    result = result * 10 + c
  }
  return result
}

/**
 * Whether `value` is an RFC 3339 date-time, as `event_timestamp` must be:
 * `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or `±HH:MM`, with
 * real calendar dates, from year 0001 (PostgreSQL has no year 0000) to 9999,
 * also as the instant in UTC that the offset gives, and after PostgreSQL
 * rounds the fraction to microseconds. Read
 * character by character: it runs on every recorded event, where a regex
 * plus `Date.parse` cost more than the rest of the validation together.
 * @internal
 */
export function isDateTime (value: string): boolean {
  const n = value.length
  if (n < 20) return false
  // '-' 45, ':' 58, 'T' 84, 't' 116, '.' 46, 'Z' 90, 'z' 122, '+' 43
  if (value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45 || (value.charCodeAt(10) !== 84 && value.charCodeAt(10) !== 116) || value.charCodeAt(13) !== 58 || value.charCodeAt(16) !== 58) return false
  const year = digitsAt(value, 0, 4)
  const month = digitsAt(value, 5, 2)
  const day = digitsAt(value, 8, 2)
  const hour = digitsAt(value, 11, 2)
  const minute = digitsAt(value, 14, 2)
  const second = digitsAt(value, 17, 2)
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false
  let i = 19
  // Whether PostgreSQL, which keeps microseconds, rounds the fraction up into the next second.
  let carries = false
  if (value.charCodeAt(i) === 46) {
    i++
    const start = i
    while (i < n && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++
    if (i === start) return false
    carries = i - start > 6 && digitsAt(value, start, 6) === 999_999 && value.charCodeAt(start + 6) >= 53
  }
  // The last second of 9999 in UTC must not round into year 10000.
  const lastSecond = carries && year === 9999 && month === 12 && day === 31 && second === 59
  if (i === n - 1) return (value.charCodeAt(i) === 90 || value.charCodeAt(i) === 122) && !(lastSecond && hour === 23 && minute === 59)
  if (i !== n - 6 || (value.charCodeAt(i) !== 43 && value.charCodeAt(i) !== 45) || value.charCodeAt(i + 3) !== 58) return false
  const offsetHour = digitsAt(value, i + 1, 2)
  const offsetMinute = digitsAt(value, i + 4, 2)
  if (offsetHour < 0 || offsetHour > 23 || offsetMinute < 0 || offsetMinute > 59) return false
  // The instant in UTC stays within years 0001 to 9999 too: an offset must not carry
  // 0001-01-01 into year 0 (which no reader gets back) or 9999-12-31 into year 10000.
  const offset = (offsetHour * 60 + offsetMinute) * (value.charCodeAt(i) === 45 ? -1 : 1)
  const local = hour * 60 + minute
  if (year === 1 && month === 1 && day === 1 && local - offset < 0) return false
  if (year === 9999 && month === 12 && day === 31 && local - offset >= 24 * 60) return false
  if (lastSecond && local - offset === 24 * 60 - 1) return false
  return true
}
