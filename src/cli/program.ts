/** The `lorafuota` command tree, built without parsing anything (main.ts parses; scripts/gen.ts documents it). */
import { Command } from 'commander';
import { register as registerFec } from './fec.js';
import { register as registerKeys } from './keys.js';
import { register as registerUplink } from './uplink.js';
import { register as registerImage } from './image.js';
import { register as registerSim } from './sim.js';
import { register as registerCampaign } from './campaign.js';
import { register as registerServe } from './serve.js';
import { register as registerWorker } from './worker.js';
import { register as registerQuickstart } from './quickstart.js';
import { finishHelp, formatCommanderError } from './help.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('lorafuota')
    .description('Firmware updates over the air for LoRaWAN fleets (TS003-TS006, TS004 FEC, ChirpStack v4)')
    .version('0.1.0')
    // Root options only before the subcommand, so `image sign --version 1.2.3` is the subcommand's own option.
    .enablePositionalOptions()
    // Set before the subcommands exist so that they inherit it (finishHelp sets it again on every command).
    .configureOutput({ outputError: (str, write) => write(formatCommanderError(str)) });

  registerFec(program);
  registerKeys(program);
  registerUplink(program);
  registerImage(program);
  registerSim(program);
  registerQuickstart(program);
  registerCampaign(program);
  registerServe(program);
  registerWorker(program);
  finishHelp(program);
  return program;
}
