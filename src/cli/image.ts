import type { Command } from 'commander';

/** Registers the `image` command group (filled in by its owner). */
export function register(_program: Command): void {}
