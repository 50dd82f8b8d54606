#!/usr/bin/env node
// The `lorafuota` command. Each command group lives in its own file and registers itself here.
import { Command } from 'commander';
import { register as registerFec } from './fec.js';
import { register as registerKeys } from './keys.js';
import { register as registerUplink } from './uplink.js';
import { register as registerImage } from './image.js';
import { register as registerSim } from './sim.js';
import { register as registerCampaign } from './campaign.js';
import { register as registerServe } from './serve.js';
import { register as registerWorker } from './worker.js';

const program = new Command();
program
  .name('lorafuota')
  .description('Firmware updates over the air for LoRaWAN fleets (TS003-TS006, TS004 FEC, ChirpStack v4)')
  .version('0.1.0')
  // Root options only before the subcommand, so `image sign --version 1.2.3` is the subcommand's own option.
  .enablePositionalOptions();

registerFec(program);
registerKeys(program);
registerUplink(program);
registerImage(program);
registerSim(program);
registerCampaign(program);
registerServe(program);
registerWorker(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`lorafuota: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
