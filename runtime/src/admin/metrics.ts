/** The daemon's state in Prometheus text exposition format (version 0.0.4). */
import { listenerKey } from '@pop3-iac/schema';
import type { StatusReport } from './status';

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(status: StatusReport): string {
  const lines: string[] = [];
  const metric = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    samples: Array<[Record<string, string>, number]>,
  ) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      lines.push(`${name}${text ? `{${text}}` : ''} ${value}`);
    }
  };
  metric('pop3d_up', 'gauge', 'Always 1 while the daemon answers.', [[{ version: status.version }, 1]]);
  metric('pop3d_uptime_seconds', 'gauge', 'Seconds since the daemon started.', [[{}, status.uptimeSeconds]]);
  metric('pop3d_config_generation', 'gauge', 'Generation of the configuration in force.', [[{}, status.generation]]);
  metric(
    'pop3d_config_applies_total',
    'counter',
    'Configuration applies by result.',
    Object.entries(status.applies).map(([result, n]) => [{ result }, n]),
  );
  metric(
    'pop3d_listener_connections_total',
    'counter',
    'Connections accepted or refused per listener.',
    status.listeners.flatMap((l) => {
      const listener = listenerKey(l);
      return [
        [{ listener, outcome: 'accepted' }, l.accepted],
        [{ listener, outcome: 'refused' }, l.refused],
      ] as Array<[Record<string, string>, number]>;
    }),
  );
  metric('pop3d_connections_accepted_total', 'counter', 'Connections admitted by connection control.', [
    [{}, status.counters.connectionsAccepted],
  ]);
  metric(
    'pop3d_connections_refused_total',
    'counter',
    'Connections refused, by the rule that refused them.',
    Object.entries(status.counters.refusedByRule).map(([rule, n]) => [{ rule }, n]),
  );
  metric('pop3d_tls_handshake_failures_total', 'counter', 'Implicit-TLS handshakes that failed.', [
    [{}, status.counters.tlsHandshakeFailures],
  ]);
  metric(
    'pop3d_admin_tls_handshake_failures_total',
    'counter',
    'Handshakes refused on --admin-listen: no client certificate, one from another CA, or not TLS 1.3.',
    [[{}, status.counters.adminHandshakeFailures]],
  );
  metric('pop3d_connections_open', 'gauge', 'Connections open now.', [[{}, status.sessions.connections]]);
  metric('pop3d_sessions_open', 'gauge', 'POP3 sessions open now, by state.', [
    [{ state: 'authorization' }, status.sessions.authorization],
    [{ state: 'transaction' }, status.sessions.transaction],
  ]);
  return `${lines.join('\n')}\n`;
}
