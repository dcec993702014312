/** GET /v1/status: what runs, what it served, and which configuration is in force. */
import type { RecentApply, StatusAnswer } from '@pop3-iac/admin-client';
import type { Pop3Server } from '../server/pop3-server';
import type { ConfigController } from './config-controller';

/** The contract's status answer (@pop3-iac/admin-client), as the daemon builds it. */
export type StatusReport = StatusAnswer;

/** What the admin side adds to the status: who applied, and the admin listener's refusals. */
export interface AdminAudit {
  recentApplies(): RecentApply[];
  handshakeFailures(): number;
  listen?: { address: string; port: number };
}

export function statusReport(
  server: Pop3Server,
  controller: ConfigController,
  version: string,
  instanceId: string,
  audit: AdminAudit,
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
    counters: {
      ...server.counters,
      refusedByRule: { ...server.counters.refusedByRule },
      adminHandshakeFailures: audit.handshakeFailures(),
    },
    applies: { ...controller.applyCounts },
    recentApplies: audit.recentApplies(),
    ...(audit.listen === undefined ? {} : { adminListen: audit.listen }),
  };
}
