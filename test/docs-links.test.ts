// Every relative link in docs/*.md (the README draft included) points at a file that exists and, for a
// markdown target with an anchor, at a heading of that file.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('links in docs/', () => {
  for (const f of docs) {
    it(f, () => {
      const file = join(root, 'docs', f);
      // The README draft is written to be moved to the top of the checkout.
      const base = f === 'README.draft.md' ? root : dirname(file);
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      const broken: string[] = [];
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const to = path ? resolve(base, path) : file;
        if (!existsSync(to)) broken.push(target!);
        else if (anchor && to.endsWith('.md') && !anchors(to).has(anchor)) broken.push(target!);
      }
      expect(broken).toEqual([]);
    });
  }
});
