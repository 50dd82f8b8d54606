import type { Command } from 'commander';

/** Registers the `keys` command group (filled in by its owner). */
export function register(_program: Command): void {}
