// The docs a user reads agree with the flags the code declares: every long
// option of `cachalot mount --help` is in the README's option table, every
// mount and meta key is in docs/CONFIG.md, each with the default declared in
// src/config/ (the one place defaults are written).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program';
import { META_SETTINGS } from '../../src/config/meta-config';
import { MOUNT_SETTINGS } from '../../src/config/mount-config';
import { flagName, type Settings } from '../../src/config/setting';

const root = join(__dirname, '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const configDoc = readFileSync(join(root, 'docs', 'CONFIG.md'), 'utf8');

/** The rows of the markdown table whose header line is `header`. */
function tableRows(markdown: string, header: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === header);
  assert.ok(start >= 0, `a table headed ${header}`);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start + 2, end < 0 ? undefined : end);
}

function rowNaming(rows: string[], name: string): string | undefined {
  return rows.find((row) => row.split('|')[1].includes(`\`${name}`));
}

function longOptions(command: string): string[] {
  const found = buildProgram().commands.find((c: Command) => c.name() === command);
  assert.ok(found, command);
  return found.options.map((option) => option.long!).filter((long) => long !== '--help');
}

/** The default as docs write it, for those declared as a value (not in words). */
function shownDefault(value: string | number | boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

test("every long option of `mount --help` is in the README's option table, with its declared default", () => {
  const rows = tableRows(readme, '| option | meaning | default |');
  for (const option of longOptions('mount')) assert.ok(rowNaming(rows, option), `README's table has ${option}`);
  for (const [key, setting] of Object.entries(MOUNT_SETTINGS as Settings)) {
    const row = setting.flag && rowNaming(rows, flagName(key, setting));
    const value = typeof setting.default === 'boolean' ? undefined : shownDefault(setting.default);
    if (row && value !== undefined) assert.ok(row.split('|')[3].includes(value), `README: ${flagName(key, setting)} defaults to ${value}: ${row}`);
  }
});

test('docs/CONFIG.md has every mount and meta key with its declared default', () => {
  const tables: Array<[string, Settings]> = [
    ['| key | type | default | meaning | flag |', MOUNT_SETTINGS],
    ['| key | type | default | meaning |', META_SETTINGS],
  ];
  for (const [header, settings] of tables) {
    const rows = tableRows(configDoc, header);
    for (const [key, setting] of Object.entries(settings)) {
      const row = rowNaming(rows, key);
      assert.ok(row, `CONFIG.md (${header}) has ${key}`);
      const value = shownDefault(setting.default);
      if (value !== undefined) assert.ok(row.split('|')[3].includes(value), `CONFIG.md: ${key} defaults to ${value}: ${row}`);
      if (setting.flag === 'off') assert.ok(row.includes(flagName(key, setting)), `CONFIG.md names ${flagName(key, setting)}`);
    }
  }
});

test('every long option of `meta --help` is a [meta] key in docs/CONFIG.md, or --config', () => {
  const rows = tableRows(configDoc, '| key | type | default | meaning |');
  for (const option of longOptions('meta')) {
    if (option === '--config') continue;
    assert.ok(rowNaming(rows, option.slice(2).replace(/-/g, '_')), `CONFIG.md's [meta] table has the key of ${option}`);
  }
});
