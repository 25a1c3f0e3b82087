/**
 * Parameters are bound the same way on both drivers: undefined is NULL, and json or
 * jsonb parameters take the object itself (both drivers encode it; a string would be
 * stored as a JSON string).
 */
export function bindParams(params: readonly unknown[] | undefined): unknown[] {
  if (!params) return []
  return params.map((p) => {
    if (p === undefined) return null
    // The postgres driver types a parameter from its first element; as ISO text, an
    // array of dates takes the type the statement gives it (timestamptz[]).
    if (Array.isArray(p) && p[0] instanceof Date) return p.map((d: Date) => d.toISOString())
    return p
  })
}

/** Type OIDs whose text form both drivers parse the same way. */
export const OID = { int8: 20, numeric: 1700, date: 1082 } as const

export const parseNumeric = (value: string): number => Number.parseFloat(value)
export const parseInt8 = (value: string): number => Number(value)
/** Dates stay 'YYYY-MM-DD' strings: a calendar day has no time zone to get wrong. */
export const parseDate = (value: string): string => value
