/**
 * A count-min sketch of how often each block was asked for: 4-bit counters
 * in four rows, halved every `sampleSize` increments so that old popularity
 * fades (TinyLFU's "reset"). Memory is fixed whatever the number of keys.
 */
export class FrequencySketch {
  private readonly rows: Uint8Array[];
  private readonly mask: number;
  private additions = 0;

  constructor(
    expectedKeys: number,
    private readonly sampleSize = Math.max(100, 10 * expectedKeys),
  ) {
    let width = 64;
    while (width < 4 * expectedKeys) width *= 2;
    this.mask = width - 1;
    this.rows = Array.from({ length: 4 }, () => new Uint8Array(width));
  }

  increment(key: string): void {
    const hash = fnv1a(key);
    let added = false;
    for (let row = 0; row < 4; row++) {
      const slot = this.slot(hash, row);
      if (this.rows[row][slot] < 15) {
        this.rows[row][slot]++;
        added = true;
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.halve();
  }

  estimate(key: string): number {
    const hash = fnv1a(key);
    let least = 15;
    for (let row = 0; row < 4; row++) least = Math.min(least, this.rows[row][this.slot(hash, row)]);
    return least;
  }

  private slot(hash: number, row: number): number {
    // A different odd multiplier per row spreads one hash over independent-enough slots.
    return (Math.imul(hash, ROW_SEEDS[row]) >>> 7) & this.mask;
  }

  private halve(): void {
    for (const row of this.rows) for (let i = 0; i < row.length; i++) row[i] >>= 1;
    this.additions = Math.floor(this.additions / 2);
  }
}

const ROW_SEEDS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f];

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
