;; The RETR encoder's inner loop, in WebAssembly (text format; the bytes are
;; generated into crlf-kernel-wasm.ts by scripts/generate-crlf-kernel.js).
;;
;; encode(in, len, out, state) turns `len` octets of a message file at `in`
;; into the octets RETR sends, at `out`, and returns how many: a bare LF
;; becomes CRLF, a line starting with "." gets a second "." (RFC 1939 §3,
;; byte-stuffing), everything else is copied. `state` carries what one chunk
;; leaves for the next (bits 0-7: the previous octet, LF at the start of the
;; message; bit 8: a CR held back because it was the chunk's last octet, and
;; only the next octet says whether it ends a line); state() returns it after
;; the call. The output is exactly that of Normaliser (normalise.ts) with
;; dotStuff, which stays the reference (a differential test holds them equal).
;;
;; Why not JavaScript: with 77-octet lines the per-line work of a JS copy
;; (Buffer#copy makes a typed array per call) was half of pop3d's CPU per MB
;; of RETR. Here, 16 octets at a time are compared with LF at once (SIMD); a
;; line costs one bitmask, one count of trailing zeros and two stores.
;;
;; `out` needs room for 2 * len + 1 + 16 octets: every input octet makes at
;; most two, a held CR one more, and a 16-octet store may reach 15 past the
;; last octet it means.
(module
  (memory (export "memory") 14 14) ;; 896 KiB (crlf-encoder.ts lays it out), fixed: views of it are never detached
  ;; state: bits 0-7 the previous input octet (LF at the start: a line start), bit 8 a CR held back
  (global $state (mut i32) (i32.const 10))
  (func (export "state") (result i32) (global.get $state))
  (func (export "encode") (param $in i32) (param $len i32) (param $out i32) (param $st i32) (result i32)
    (local $i i32) (local $o i32) (local $p i32) (local $c i32) (local $end i32) (local $last i32)
    (local $hold i32) (local $v v128) (local $mask i32) (local $k i32)
    (global.set $state (local.get $st))
    (local.set $o (local.get $out))
    (local.set $p (i32.and (global.get $state) (i32.const 255)))
    (if (i32.and (global.get $state) (i32.const 256))
      (then
        (i32.store8 (local.get $o) (i32.const 13))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))))
    (local.set $i (local.get $in))
    (local.set $end (i32.add (local.get $in) (local.get $len)))
    (local.set $last (i32.sub (local.get $end) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.le_u (i32.add (local.get $i) (i32.const 16)) (local.get $last))
          (then
            (local.set $v (v128.load align=1 (local.get $i)))
            ;; a "." starting a line needs the scalar path (dot-stuffing)
            (if (i32.eqz (i32.and (i32.eq (local.get $p) (i32.const 10))
                                  (i32.eq (i8x16.extract_lane_u 0 (local.get $v)) (i32.const 46))))
              (then
                (local.set $mask (i8x16.bitmask (i8x16.eq (local.get $v) (i8x16.splat (i32.const 10)))))
                (v128.store align=1 (local.get $o) (local.get $v))
                (if (i32.eqz (local.get $mask))
                  (then
                    (local.set $o (i32.add (local.get $o) (i32.const 16)))
                    (local.set $i (i32.add (local.get $i) (i32.const 16)))
                    (local.set $p (i8x16.extract_lane_u 15 (local.get $v)))
                    (br $next)))
                ;; the octets before the first LF went out as they are; then the LF
                (local.set $k (i32.ctz (local.get $mask)))
                (if (local.get $k)
                  (then
                    (local.set $o (i32.add (local.get $o) (local.get $k)))
                    (local.set $i (i32.add (local.get $i) (local.get $k)))
                    (local.set $p (i32.load8_u (i32.sub (local.get $i) (i32.const 1))))))
                (if (i32.ne (local.get $p) (i32.const 13))
                  (then
                    (i32.store8 (local.get $o) (i32.const 13))
                    (local.set $o (i32.add (local.get $o) (i32.const 1)))))
                (i32.store8 (local.get $o) (i32.const 10))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (local.set $p (i32.const 10))
                (br $next)))))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.eq (local.get $c) (i32.const 10))
          (then
            (if (i32.ne (local.get $p) (i32.const 13))
              (then
                (i32.store8 (local.get $o) (i32.const 13))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))))
            (i32.store8 (local.get $o) (i32.const 10))
            (local.set $o (i32.add (local.get $o) (i32.const 1))))
          (else
            (if (i32.and (i32.eq (local.get $c) (i32.const 13)) (i32.eq (local.get $i) (local.get $last)))
              (then (local.set $hold (i32.const 256)))
              (else
                (if (i32.and (i32.eq (local.get $p) (i32.const 10)) (i32.eq (local.get $c) (i32.const 46)))
                  (then
                    (i32.store8 (local.get $o) (i32.const 46))
                    (local.set $o (i32.add (local.get $o) (i32.const 1)))))
                (i32.store8 (local.get $o) (local.get $c))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))))))
        (local.set $p (local.get $c))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $state (i32.or (local.get $p) (local.get $hold)))
    (i32.sub (local.get $o) (local.get $out))
  )
)
