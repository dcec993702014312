/**
 * Worker thread body of CryptPool: computes SHA-crypt strings off the main
 * thread, so that a burst of logins does not stall the event loop that
 * serves every other session.
 */
import { parentPort } from 'node:worker_threads';
import { shaCrypt } from './sha-crypt.js';

export interface CryptRequest {
  id: number;
  password: Uint8Array;
  setting: string;
}

export type CryptReply = { id: number; hash: string } | { id: number; error: string };

parentPort?.on('message', (m: CryptRequest) => {
  let reply: CryptReply;
  try {
    reply = {
      id: m.id,
      hash: shaCrypt(Buffer.from(m.password.buffer, m.password.byteOffset, m.password.byteLength), m.setting),
    };
  } catch (err) {
    reply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
  }
  m.password.fill(0);
  parentPort!.postMessage(reply);
});
