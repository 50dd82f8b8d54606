/**
 * `startSimulation`: the simulated network as `lorafuota sim` runs it. The assembling itself is in assemble.ts,
 * shared with the demo, the tests and the benches.
 */
export { assembleSimulation as startSimulation, VIRTUAL_EPOCH_MS } from './assemble.js';
export type { Provisioning, ProvisionedDevice, Simulation, SimulationOptions, SimTime } from './assemble.js';
