import { describe, it, expect } from 'vitest';
import { ChirpStackClient } from '../src/chirpstack/client.js';
import { UplinkIntake } from '../src/chirpstack/intake.js';
import { fuotaPortDecoder } from '../src/chirpstack/port-decoder.js';
import { startMqttIntake } from '../src/chirpstack/mqtt-intake.js';
import { startSimulation } from '../src/sim/runner.js';

/** Waits (wall clock, for I/O only) until `pred` holds, at most `ms`. */
async function until(pred: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const t = Date.now();
  while (!(await pred()) && Date.now() - t < ms) await new Promise((r) => setTimeout(r, 20));
}

describe('whole simulation with the real fleet: gRPC in, Mosquitto out', () => {
  it('fleet uplinks reach the intake with simulated time (no GPS time: gateways without GPS, the default); a multicast reaches the members the radio lets through', async () => {
    // Manual time: the test moves the network itself, so nothing depends on the machine's speed.
    const sim = await startSimulation({
      devices: 20, seed: 5, loss: 0.3, silentFraction: 0.2, host: '127.0.0.1', port: 0, mqttUrl: 'mqtt://127.0.0.1:1883', time: { manual: true },
      classCMarginMs: 2000, deviceClass: 'sim-sensor', firmwareVersion: 0x010000, trustedKeys: [],
    });
    const intake = new UplinkIntake({ decode: fuotaPortDecoder(), logger: { warn: () => {} } });
    const sub = await startMqttIntake(intake, { url: 'mqtt://127.0.0.1:1883', applicationId: sim.provisioning.applicationId });
    const client = new ChirpStackClient({ target: sim.provisioning.grpc, apiToken: sim.provisioning.apiToken });
    try {
      const heard = new Set<string>();
      const times: number[][] = [];
      intake.onUplink((u) => {
        heard.add(u.devEui);
        times.push([u.timeMs, u.gpsTimeMs ?? -1]);
      });
      const loud = sim.provisioning.devices.filter((d) => !d.silent).map((d) => d.devEui);
      const silent = sim.provisioning.devices.filter((d) => d.silent).map((d) => d.devEui);
      expect(silent.length).toBeGreaterThan(0);
      // Every device transmits within its first interval (60 s ± 5 s).
      sim.network.advanceTo(sim.provisioning.startMs + 70_000);
      await sim.out.flush();
      await until(() => heard.size >= loud.length);
      expect([...heard].sort()).toEqual(loud.sort());
      for (const [timeMs, gps] of times) {
        expect(timeMs).toBeGreaterThanOrEqual(sim.provisioning.startMs);
        expect(gps).toBe(-1);
      }

      const gid = await client.createMulticastGroup({
        name: 'm', applicationId: sim.provisioning.applicationId, region: 'EU868', mcAddr: 0x01020304,
        mcAppSKey: '95cb4518ee375606735bbacbdce837fa', mcNwkSKey: 'c3f6b388bad6c000b23291ad52c11c7b', groupType: 'CLASS_C', dr: 5, frequencyHz: 869_525_000,
      });
      for (const d of sim.provisioning.devices) await client.addDeviceToMulticastGroup(gid, d.devEui);
      for (let n = 1; n <= 10; n++) await client.enqueueMulticast(gid, { fPort: 201, data: Uint8Array.of(0x08, n, 0, 1, 2, 3, 4) });
      sim.network.advanceTo(sim.network.time + 60_000);
      expect(await client.listMulticastQueue(gid)).toEqual([]);
      const rec = sim.network.lossRecord().find((r) => r.groupId === gid)!;
      expect(rec.sent.map((s) => s.fragN)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(Object.keys(rec.received).sort()).toEqual(sim.provisioning.devices.map((d) => d.devEui).sort());
      const got = Object.values(rec.received).reduce((s, r) => s + r.length, 0);
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThan(200);
      expect(sim.network.airtime().multicasts).toBe(10);
    } finally {
      client.close();
      await sub.close();
      await sim.stop();
    }
  });
});
