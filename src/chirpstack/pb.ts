/**
 * The official ChirpStack v4 protobuf stubs (CommonJS, google-protobuf), re-exported for ES-module use.
 * Message classes live on each module's default export; service definitions are named exports.
 */
import multicastPb from '@chirpstack/chirpstack-api/api/multicast_group_pb.js';
import devicePb from '@chirpstack/chirpstack-api/api/device_pb.js';
import deviceProfilePb from '@chirpstack/chirpstack-api/api/device_profile_pb.js';
import commonPb from '@chirpstack/chirpstack-api/common/common_pb.js';
import integrationPb from '@chirpstack/chirpstack-api/integration/integration_pb.js';
import gwPb from '@chirpstack/chirpstack-api/gw/gw_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';
import durationPb from 'google-protobuf/google/protobuf/duration_pb.js';

export { MulticastGroupServiceClient, MulticastGroupServiceService } from '@chirpstack/chirpstack-api/api/multicast_group_grpc_pb.js';
export { DeviceServiceClient, DeviceServiceService } from '@chirpstack/chirpstack-api/api/device_grpc_pb.js';
export { DeviceProfileServiceClient, DeviceProfileServiceService } from '@chirpstack/chirpstack-api/api/device_profile_grpc_pb.js';

export { multicastPb, devicePb, deviceProfilePb, commonPb, integrationPb, gwPb, emptyPb, timestampPb, durationPb };

export function timestampFromMs(ms: number): InstanceType<typeof timestampPb.Timestamp> {
  const ts = new timestampPb.Timestamp();
  ts.setSeconds(Math.floor(ms / 1000));
  ts.setNanos(Math.round((ms - Math.floor(ms / 1000) * 1000) * 1e6));
  return ts;
}

export function msFromTimestamp(ts: { getSeconds(): number; getNanos(): number } | undefined): number | undefined {
  return ts ? ts.getSeconds() * 1000 + Math.floor(ts.getNanos() / 1e6) : undefined;
}
