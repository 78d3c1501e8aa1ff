/**
 * Strings in UTF-16 code-unit order (what `<` compares): the same on every
 * node whatever its locale, unlike localeCompare, which goes through ICU
 * collation and cost 37 ms of the event loop per cold 512 MiB read when
 * blocks were grouped with it (docs/BENCHMARKS.md).
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
