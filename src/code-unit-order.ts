/**
 * Strings in UTF-16 code-unit order (what `<` compares): the same on every
 * node whatever its locale, unlike localeCompare, which goes through ICU
 * collation: too dear for the read path, which sorts every batch of blocks
 * it groups into GETs.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
