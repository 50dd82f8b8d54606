import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';

describe('cli', () => {
  it('prints help', () => {
    const out = execFileSync('node', ['dist/src/cli/main.js', '--help'], { encoding: 'utf8' });
    expect(out).toContain('lorafuota');
  });
});
