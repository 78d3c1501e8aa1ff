import { InvalidArgumentError } from 'commander';
import { HOST_PORT_PATTERN } from '../config/host-port';
import { parseDuration } from '../config/units';

/** Commander argument parsers: a bad value is a one-line usage error (exit 2) naming the option. */
export function hostPortArg(value: string): string {
  if (!HOST_PORT_PATTERN.test(value)) throw new InvalidArgumentError('expected HOST:PORT.');
  return value;
}

export function integerArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };
}

/** `60s`, `500ms`, `5m`, plain seconds or `never` (Infinity), in milliseconds. */
export function durationArg(value: string): number {
  try {
    return parseDuration(value, 'duration');
  } catch {
    throw new InvalidArgumentError('expected a duration such as 500ms, 60s, 5m or never.');
  }
}

export function urlArg(value: string): string {
  if (!URL.canParse(value)) throw new InvalidArgumentError('expected a URL such as http://127.0.0.1:9000.');
  return value;
}
