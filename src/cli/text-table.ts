/** Rows as left-aligned columns, two spaces apart (the first row is the header). */
export function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** "87.5%", or "-" before anything was asked. */
export function hitRatio(f: { hits: number; misses: number }): string {
  const asked = f.hits + f.misses;
  return asked === 0 ? '-' : `${((100 * f.hits) / asked).toFixed(1)}%`;
}
