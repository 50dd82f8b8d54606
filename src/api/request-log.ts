/**
 * A gRPC server interceptor that logs every API call when it ends: method, status code, duration. Never the
 * metadata (it carries the bearer token) nor the messages (a Create carries the image and keys).
 */
import * as grpc from '@grpc/grpc-js';

export interface RequestLogger {
  info(obj: object, msg: string): void;
}

export function requestLogInterceptor(log: RequestLogger): grpc.ServerInterceptor {
  return (method, call) => {
    const t0 = performance.now();
    return new grpc.ServerInterceptingCall(call, {
      sendStatus(status, next) {
        const code = grpc.status[status.code] ?? String(status.code);
        log.info({ method: method.path, code, ms: Math.round(performance.now() - t0) }, 'api request');
        next(status);
      },
    });
  };
}
