/**
 * SASL PLAIN (RFC 4616) message decoding, for POP3 AUTH (RFC 5034).
 */

/** RFC 4648 base64, padded, as RFC 5034 requires. The empty string is valid (an empty response). */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type PlainDecodeResult =
  { ok: true; authzid: string; authcid: string; password: string } | { ok: false; error: 'bad-base64' | 'malformed' };

/**
 * Decodes a client response of the PLAIN mechanism.
 *
 * RFC 5034 section 4: "If the client is to send an initial response and it is
 * zero-length, it MUST instead send a single '=' character" (so "=" is an
 * empty response; a continuation line may also simply be empty).
 */
export function decodePlainResponse(text: string): PlainDecodeResult {
  const b64 = text === '=' ? '' : text;
  if (!BASE64_RE.test(b64)) return { ok: false, error: 'bad-base64' };
  const bytes = Buffer.from(b64, 'base64');
  // RFC 4616 section 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
  const first = bytes.indexOf(0);
  const second = first === -1 ? -1 : bytes.indexOf(0, first + 1);
  if (first === -1 || second === -1 || bytes.indexOf(0, second + 1) !== -1) return { ok: false, error: 'malformed' };
  try {
    const authzid = utf8.decode(bytes.subarray(0, first));
    const authcid = utf8.decode(bytes.subarray(first + 1, second));
    const password = utf8.decode(bytes.subarray(second + 1));
    // RFC 4616: authcid = 1*SAFE, passwd = 1*SAFE (each at most 255 octets).
    if (authcid === '' || password === '') return { ok: false, error: 'malformed' };
    return { ok: true, authzid, authcid, password };
  } catch {
    return { ok: false, error: 'malformed' };
  } finally {
    bytes.fill(0);
  }
}
