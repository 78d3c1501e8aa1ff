/**
 * The object layer's operations, named once: retries, fault injection,
 * metrics and the in-memory store's call counts all use these names.
 */
export const OPERATIONS = ['head', 'list', 'get', 'put', 'create-upload', 'upload-part', 'complete-upload', 'abort-upload', 'delete', 'copy'] as const;

export type Operation = (typeof OPERATIONS)[number];

/** A counter per operation, all at 0. */
export function countsPerOperation(): Record<Operation, number> {
  return Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<Operation, number>;
}
