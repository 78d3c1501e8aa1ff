import { InvalidArgumentError } from 'commander';
import { HOST_PORT_PATTERN } from '../config/host-port';

/**
 * Commander argument parsers for the flags that are not settings (those are
 * checked in src/config/): a bad value is a one-line usage error (exit 2)
 * naming the option.
 */
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
