import { z } from 'zod';
import { LOG_LEVELS } from '../obs/logger';
import { HOST_PORT_PATTERN } from './host-port';
import { parseDuration, parseSize } from './units';

/**
 * The kinds of value a setting takes, as zod schemas that accept what the
 * config file writes (a TOML string or number) and what a flag gives (a
 * string): so one schema checks a value wherever it came from, and its
 * message is said after the flag, variable or key that gave it.
 */

/** A value that a parser turns into another or refuses with a one-line reason. */
function parsed<T>(parse: (text: string | number) => T) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      return parse(value);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/** `512MiB`, `4GiB`, `1.5GB` or bytes. */
export const size = () => parsed(parseSize);

/** `500ms`, `60s`, `5m`, `1h`, seconds, or `never` (Infinity), in milliseconds. */
export const duration = () => parsed(parseDuration);

/** An integer from min to max; a flag's digits count as one. */
export const integer = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .union([z.number(), z.string().regex(/^\d+$/, message).transform(Number)])
    .pipe(z.number().int(message).min(min, message).max(max, message));
};

/** Permission bits as an octal string ("0644") or a number. */
export const mode = () =>
  z.union([z.string().regex(/^0?[0-7]{3,4}$/, 'must be an octal mode such as "0644"'), z.number().int()]).transform((v) => (typeof v === 'string' ? parseInt(v, 8) : v));

/** A share from 0 to 90%: "5%" or a fraction (0.05). */
export const percent = () =>
  z
    .union([z.string().regex(/^\d+(\.\d+)?%$/, 'must be a percentage such as "5%"'), z.number()])
    .transform((v) => (typeof v === 'string' ? parseFloat(v) / 100 : v))
    .refine((v) => v >= 0 && v <= 0.9, 'must be from 0% to 90%');

export const hostPort = () => z.string().regex(HOST_PORT_PATTERN, 'must be HOST:PORT');

export const url = () => z.string().url('must be a URL such as http://127.0.0.1:9000');

export const text = () => z.string().min(1, 'must not be empty');

export const flag = () => z.boolean();

export const logLevel = () =>
  z.enum(LOG_LEVELS, { errorMap: (_issue, ctx) => ({ message: `"${String(ctx.data)}" is not one of ${LOG_LEVELS.join(', ')}` }) });
