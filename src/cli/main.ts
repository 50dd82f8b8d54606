#!/usr/bin/env node
// The `lorafuota` command. Each command group lives in its own file and registers itself in program.ts.
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`lorafuota: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
