/** GET /v1/status: what runs, what it served, and which configuration is in force. */
import type { Pop3Server, Counters } from '../server/pop3-server';
import type { ConfigController } from './config-controller';
import type { Owner } from './owner';

export interface StatusReport {
  /** The daemon's identity, kept in the state directory (see instance-id.ts). */
  instanceId: string;
  version: string;
  pid: number;
  uptimeSeconds: number;
  generation: number;
  etag: string;
  /** Who applied the running configuration (owner.ts), or null when nobody owns it. */
  owner: Owner | null;
  listeners: Array<{
    address: string;
    port: number;
    tls: boolean;
    state: 'listening';
    accepted: number;
    refused: number;
  }>;
  sessions: { connections: number; authorization: number; transaction: number };
  counters: Counters;
  applies: Record<string, number>;
}

export function statusReport(
  server: Pop3Server,
  controller: ConfigController,
  version: string,
  instanceId: string,
): StatusReport {
  let authorization = 0;
  let transaction = 0;
  for (const session of server.openSessions()) {
    if (session.state === 'TRANSACTION') transaction += 1;
    else if (session.state === 'AUTHORIZATION') authorization += 1;
  }
  return {
    instanceId,
    version,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - server.startedAt) / 1000),
    generation: controller.currentGeneration,
    etag: controller.currentEtag,
    owner: controller.currentOwner,
    listeners: server.listenerStatus().map(({ listener, counters }) => ({
      ...listener,
      state: 'listening' as const,
      accepted: counters.accepted,
      refused: counters.refused,
    })),
    sessions: { connections: server.connectionCount, authorization, transaction },
    counters: server.counters,
    applies: { ...controller.applyCounts },
  };
}
