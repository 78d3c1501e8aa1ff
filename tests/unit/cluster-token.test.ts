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

test('the token is the file without surrounding whitespace', () => {
  assert.equal(readClusterToken(tokenFile('ok', '  s3cr3t-token\n\n')), 's3cr3t-token');
  assert.equal(readClusterToken(tokenFile('owner-read-only', 'abc\n', 0o400)), 'abc');
});

test('a token file that group or others may read or write is refused, one line naming it and chmod 600', () => {
  for (const [name, mode] of [['world-readable', 0o644], ['group-readable', 0o640], ['group-writable', 0o620], ['others-only', 0o604]] as const) {
    const path = tokenFile(name, 'abc\n', mode);
    const octal = mode.toString(8).padStart(4, '0');
    assert.throws(() => readClusterToken(path), oneLineError(path, new RegExp(`mode ${octal}\\): chmod 600 ${path}$`)), name);
  }
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
