/** NAME_MAX on Linux, in bytes. */
export const NAME_MAX = 255;

/** Why a path segment taken from an object key cannot be a file name, or undefined when it can. */
export function invalidNameReason(name: string): string | undefined {
  if (name === '') return 'empty path segment';
  if (name === '.' || name === '..') return `"${name}" is reserved`;
  if (name.includes('\0')) return 'contains NUL';
  if (Buffer.byteLength(name) > NAME_MAX) return `longer than ${NAME_MAX} bytes`;
  return undefined;
}
