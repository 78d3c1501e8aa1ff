// The cluster secret: token files and the constant-time comparison.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readClusterToken, tokensMatch } from '../../src/rpc/cluster-token';
import { isCachalotError } from '../../src/errors';

const dir = mkdtempSync(join(tmpdir(), 'cachalot-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tokenFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

const oneLineError = (path: string, pattern: RegExp) => (err: unknown) =>
  isCachalotError(err, 'InvalidConfig') && err.message.includes(path) && pattern.test(err.message) && !err.message.includes('\n');

test('the token is the file without surrounding whitespace; a private file gives no warning', () => {
  assert.deepEqual(readClusterToken(tokenFile('ok', '  s3cr3t-token\n\n')), { token: 's3cr3t-token', warning: undefined });
});

test('a world-readable token file works with a warning', () => {
  const path = tokenFile('open', 'abc\n', 0o644);
  const { token, warning } = readClusterToken(path);
  assert.equal(token, 'abc');
  assert.match(warning ?? '', /readable by every user/);
});

test('missing, empty and multi-word token files are one-line errors naming the file', () => {
  const missing = join(dir, 'missing');
  assert.throws(() => readClusterToken(missing), oneLineError(missing, /ENOENT/));
  const empty = tokenFile('empty', ' \n');
  assert.throws(() => readClusterToken(empty), oneLineError(empty, /empty/));
  const twoLines = tokenFile('two-lines', 'abc\ndef\n');
  assert.throws(() => readClusterToken(twoLines), oneLineError(twoLines, /one word/));
  assert.throws(() => readClusterToken(dir), oneLineError(dir, /EISDIR/));
});

test('tokensMatch: equal only for the same token, whatever the lengths', () => {
  assert.ok(tokensMatch('abc', 'abc'));
  assert.ok(!tokensMatch('abc', 'abd'));
  assert.ok(!tokensMatch('ab', 'abc'));
  assert.ok(!tokensMatch('', 'abc'));
});
