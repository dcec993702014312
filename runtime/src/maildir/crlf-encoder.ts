/**
 * RETR's encoder: message file octets in, the octets RETR sends out (CRLF
 * line endings, dot-stuffed), through the WebAssembly loop of
 * crlf-kernel.wat. Normaliser (normalise.ts) stays the reference and does
 * TOP and size measurement; this is its fast path for whole messages.
 *
 * An EncoderLane is one instance of the module with its own fixed memory: two
 * input regions (a chunk being encoded while the next is read into the other)
 * and two output regions (one being written to the socket while the next is
 * encoded). Buffers handed out are views of that memory, never copies, so a
 * region is reused only after the write that took it has called back. A lane
 * serves one message at a time; idle lanes are kept in a small pool.
 */
import { CRLF_KERNEL_WASM } from './crlf-kernel-wasm';

/** Octets read from the file per chunk. */
export const ENCODER_CHUNK = 128 * 1024;
/** One output region: every input octet makes at most two, plus a held CR, plus a 16-octet store's overrun. */
const OUTPUT_REGION = 2 * ENCODER_CHUNK + 64 * 1024;
const INPUT_AT = [0, ENCODER_CHUNK] as const;
const OUTPUT_AT = [2 * ENCODER_CHUNK, 2 * ENCODER_CHUNK + OUTPUT_REGION] as const;
const MEMORY_NEEDED = 2 * ENCODER_CHUNK + 2 * OUTPUT_REGION;
/** The kernel's state at the start of a message: the previous octet is LF (a line starts). */
const MESSAGE_START = 0x0a;
const CRLF = Buffer.from('\r\n');
/** Idle lanes kept for the next big RETR; more are made when needed and left to the GC. */
const POOL_MAX = 4;

// Node's types (@types/node 20) leave WebAssembly to lib.dom; the little used here:
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface KernelExports {
  memory: { buffer: ArrayBuffer };
  encode(input: number, length: number, output: number, state: number): number;
  state(): number;
}

const kernel = new WebAssembly.Module(CRLF_KERNEL_WASM);
const idle: EncoderLane[] = [];

export class EncoderLane {
  private readonly exports: KernelExports;
  private readonly memory: ArrayBuffer;
  private state = MESSAGE_START;

  constructor() {
    this.exports = new WebAssembly.Instance(kernel).exports as unknown as KernelExports;
    this.memory = this.exports.memory.buffer;
    if (this.memory.byteLength < MEMORY_NEEDED)
      throw new Error('crlf-kernel.wat: memory smaller than the layout needs');
  }

  /** Input region 0 or 1, to read a chunk of at most ENCODER_CHUNK octets into. */
  input(region: 0 | 1): Buffer {
    return Buffer.from(this.memory, INPUT_AT[region], ENCODER_CHUNK);
  }

  /** Encodes the first `length` octets of input region `from` into output region `to`; a view of the result. */
  encode(from: 0 | 1, length: number, to: 0 | 1): Buffer {
    if (length === 0) return Buffer.alloc(0);
    const n = this.exports.encode(INPUT_AT[from], length, OUTPUT_AT[to], this.state);
    this.state = this.exports.state();
    return Buffer.from(this.memory, OUTPUT_AT[to], n);
  }

  /** At the end of the file: the CRLF a last line without one gets (a held-back CR becomes it), or undefined. */
  finish(): Buffer | undefined {
    const previous = this.state & 0xff;
    this.state = MESSAGE_START;
    return previous === 0x0a ? undefined : CRLF;
  }

  /** A lane for one message, from the pool or new. */
  static acquire(): EncoderLane {
    const lane = idle.pop() ?? new EncoderLane();
    lane.state = MESSAGE_START;
    return lane;
  }

  /** Back to the pool; only once nothing (a read, a pending write) can still touch its memory. */
  static release(lane: EncoderLane): void {
    if (idle.length < POOL_MAX) idle.push(lane);
  }
}
