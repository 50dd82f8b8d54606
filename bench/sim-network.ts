// Simulated network at fleet scale: 10,000 devices on one schedule, one simulated hour of uplinks (virtual time),
// then a 100-frame class C multicast to all of them with 10 % uniform loss (timed with the second hour's uplinks).
import type { Bench } from './run.js';
import { ScaledClock } from '../src/codec/clock.js';
import { SimChirpStack } from '../src/sim/chirpstack-server.js';
import { SimNetwork } from '../src/sim/network.js';
import { Radio } from '../src/sim/radio.js';
import type { MulticastFrame, SimulatedDevice, Uplink } from '../src/sim/types.js';

const DEVICES = 10_000;
const T0 = Date.UTC(2025, 6, 14);

class Quiet implements SimulatedDevice {
  heard = 0;
  private next: number;
  constructor(readonly devEui: string, first: number) {
    this.next = first;
  }
  receiveUnicast(): void {}
  receiveMulticast(_f: MulticastFrame): void {
    this.heard++;
  }
  nextUplinkAt(): number {
    return this.next;
  }
  transmit(now: number): Uplink {
    this.next = now + 600_000;
    return { fPort: 1, data: new Uint8Array(0) };
  }
}

function run(): { uplinkMs: number; multicastMs: number; uplinks: number; received: number } {
  const cs = new SimChirpStack();
  const app = cs.createApplication('bench');
  const dp = cs.createDeviceProfile({ name: 'p' });
  const devices: Quiet[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const eui = (0x70b3d57ed0000000n + BigInt(i)).toString(16);
    cs.createDevice({ devEui: eui, applicationId: app, deviceProfileId: dp, keys: { nwkKey: '', appKey: '', genAppKey: '' } });
    devices.push(new Quiet(eui, T0 + ((i * 7919) % 600_000)));
  }
  let uplinks = 0;
  const net = new SimNetwork({ clock: new ScaledClock(T0, 1), devices, chirpstack: cs, radio: new Radio({ seed: 1, loss: 0.1 }), out: { emit: () => void uplinks++ } });
  const t0 = performance.now();
  net.advanceTo(T0 + 3_600_000);
  const t1 = performance.now();
  const firstHourUplinks = uplinks;
  const g = cs.createMulticastGroup({
    name: 'g', applicationId: app, region: 'EU868', mcAddr: 1, mcAppSKey: '00'.repeat(16), mcNwkSKey: '11'.repeat(16), groupType: 'CLASS_C', dr: 5, frequencyHz: 869_525_000,
  });
  for (const d of devices) cs.groups.get(g)!.devices.add(d.devEui);
  for (let n = 0; n < 100; n++) cs.enqueueMulticast(g, { fPort: 201, data: new Uint8Array(53) });
  const t2 = performance.now();
  net.advanceTo(T0 + 7_200_000);
  const t3 = performance.now();
  net.close();
  return { uplinkMs: t1 - t0, multicastMs: t3 - t2, uplinks: firstHourUplinks, received: devices.reduce((s, d) => s + d.heard, 0) };
}

export const benches: Bench[] = [
  {
    name: 'sim.network-10k',
    run() {
      const r = run();
      return {
        medianMs: r.uplinkMs + r.multicastMs,
        memoryBytes: process.memoryUsage().heapUsed,
        devices: DEVICES,
        uplinks: r.uplinks,
        uplinksPerSec: Math.round((r.uplinks / r.uplinkMs) * 1000),
        multicastDeliveries: r.received,
        deliveriesPerSec: Math.round((r.received / r.multicastMs) * 1000),
      };
    },
  },
];
