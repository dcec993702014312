/**
 * The one admin client: pop3ctl, the provider, the tests and the benchmark
 * all talk to pop3d through it, over whichever transport the target names.
 * The typed methods answer the contract's types and throw AdminApiError for
 * an error answer; `request` gives the raw answer for callers that branch on
 * the status themselves.
 */
import type { ApplyAnswer, AdminErrorBody, ConfigAnswer, StatusAnswer, ValidateAnswer } from './contract';
import { ADMIN_TIMEOUT_MS, type AdminResponse } from './http-exchange';
import { sshTransport } from './ssh-transport';
import { describeTarget, isSshTarget, isTlsTarget, type AdminTarget } from './target';
import { tlsTransport } from './tls-transport';
import type { Transport } from './transport';
import { unixTransport } from './unix-transport';

export interface AdminClientOptions {
  /** Deadline of one request, connecting included, in milliseconds. Default 30e3 (30 s). */
  timeoutMs?: number;
}

/** The daemon answered with an error body (`code` from the contract's ADMIN_ERRORS). */
export class AdminApiError extends Error {
  readonly code: string;
  constructor(
    readonly where: string,
    readonly status: number,
    readonly body: Partial<AdminErrorBody>,
  ) {
    super(`pop3d at ${where}: ${body.message ?? `HTTP ${status}`}`);
    this.name = 'AdminApiError';
    this.code = body.code ?? `http_${status}`;
  }
}

export class AdminClient {
  /** The target as messages name it. */
  readonly where: string;
  private readonly transport: Transport;

  constructor(target: AdminTarget, options: AdminClientOptions = {}) {
    const timeoutMs = options.timeoutMs ?? ADMIN_TIMEOUT_MS;
    this.where = describeTarget(target);
    this.transport = isTlsTarget(target)
      ? tlsTransport(target, timeoutMs)
      : isSshTarget(target)
        ? sshTransport(target, timeoutMs)
        : unixTransport(target.socket, timeoutMs);
  }

  /** Any request; the answer whatever its status. Transport failures throw an AdminTransportError. */
  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminResponse> {
    return this.transport.request({ method, path, body, headers });
  }

  /** GET /v1/config: the running configuration and its ETag. */
  async getConfig(): Promise<{ config: ConfigAnswer; etag: string; generation: number }> {
    const response = await this.expect('GET', '/v1/config');
    return {
      config: response.body as ConfigAnswer,
      etag: String(response.headers.etag),
      generation: Number(response.headers['x-config-generation']),
    };
  }

  /** PUT /v1/config, only if `ifMatch` (when given) is still the running ETag. */
  async putConfig(config: unknown, ifMatch?: string): Promise<ApplyAnswer> {
    const response = await this.expect(
      'PUT',
      '/v1/config',
      config,
      ifMatch === undefined ? {} : { 'If-Match': ifMatch },
    );
    return response.body as ApplyAnswer;
  }

  /** POST /v1/config/validate: the plan, or an AdminApiError with the issues. */
  async validate(config: unknown): Promise<ValidateAnswer> {
    return (await this.expect('POST', '/v1/config/validate', config)).body as ValidateAnswer;
  }

  /** GET /v1/status. */
  async status(): Promise<StatusAnswer> {
    return (await this.expect('GET', '/v1/status')).body as StatusAnswer;
  }

  /** GET /metrics: Prometheus text. */
  async metrics(): Promise<string> {
    return (await this.expect('GET', '/metrics')).text;
  }

  /** Ends kept connections (TLS, SSH). The client may be used again afterwards. */
  close(): void {
    this.transport.close();
  }

  private async expect(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    const response = await this.request(method, path, body, headers);
    if (response.status < 200 || response.status > 299)
      throw new AdminApiError(
        this.where,
        response.status,
        typeof response.body === 'object' && response.body !== null ? (response.body as AdminErrorBody) : {},
      );
    return response;
  }
}

/** One request to a local socket: the socket-only client's call, kept for its callers. */
export function adminRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<AdminResponse> {
  return unixTransport(socketPath, ADMIN_TIMEOUT_MS).request({ method, path, body, headers });
}
