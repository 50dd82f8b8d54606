// A tiny WebAssembly SIMD kernel for the encoder's XOR work, assembled here from readable op lists
// (no toolchain needed). Each export works on byte addresses in an imported memory; every row of
// fragment data is `stride` bytes, stride a multiple of 16. The WAT equivalent is in the comments.

const I32 = 0x7f;
const EMPTY = 0x40;
const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br_if: 0x0d,
  get: 0x20, set: 0x21, tee: 0x22,
  load8_u: [0x2d, 0, 0], const: 0x41,
  eqz: 0x45, lt_u: 0x49, ge_u: 0x4f, ctz: 0x68, add: 0x6a, sub: 0x6b, mul: 0x6c, and: 0x71, or: 0x72, xor: 0x73,
  shl: 0x74, shr_s: 0x75, shr_u: 0x76, load: [0x28, 2, 0], store: [0x36, 2, 0], fill: [0xfc, 0x0b, 0x00],
  f64_const_1: [0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f], f64_div: 0xa3, f64_mul: 0xa2, f64_from_i32: 0xb7, i32_from_f64: 0xaa,
  v128_load: [0xfd, 0x00, 4, 0], v128_store: [0xfd, 0x0b, 4, 0], v128_xor: [0xfd, 0x51],
} as const;
type Code = (number | readonly number[])[];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
}
const flat = (code: Code): number[] => code.flatMap((c) => (typeof c === 'number' ? [c] : [...c]));
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}
const c32 = (n: number): Code => [op.const, ...sleb(n)];
const get = (l: number): Code => [op.get, l];
const addTo = (l: number, by: Code): Code => [...get(l), ...by, op.add, op.set, l];

/** while (d < end) { v128[d] = v128[a] ^ v128[b]; d += 16; a += 16; b += 16 }  (runs at least once) */
function xorLoop(d: number, a: number, b: number, end: number): Code {
  return [
    op.loop, EMPTY,
    ...get(d), ...get(a), op.v128_load, ...get(b), op.v128_load, op.v128_xor, op.v128_store,
    ...addTo(a, c32(16)), ...addTo(b, c32(16)),
    ...get(d), ...c32(16), op.add, op.tee, d, ...get(end), op.lt_u, op.br_if, 0,
    op.end,
  ];
}

// build(table, group, stride): table[s] = table[s & (s-1)] ^ group[ctz(s)] for s = 1..255 (table[0] stays 0).
// locals: 3 s, 4 d, 5 a, 6 b, 7 end
const build: Code = [
  ...c32(1), op.set, 3,
  op.loop, EMPTY,
  ...get(0), ...get(3), ...get(2), op.mul, op.add, op.tee, 4, ...get(2), op.add, op.set, 7,
  ...get(0), ...get(3), ...get(3), ...c32(1), op.sub, op.and, ...get(2), op.mul, op.add, op.set, 5,
  ...get(1), ...get(3), op.ctz, ...get(2), op.mul, op.add, op.set, 6,
  ...xorLoop(4, 5, 6, 7),
  ...get(3), ...c32(1), op.add, op.tee, 3, ...c32(256), op.lt_u, op.br_if, 0,
  op.end,
];

// apply(table, sel, selStep, count, out, stride): for each of `count` rows, s = byte at sel (then sel += selStep);
// if s != 0, out_row ^= table[s]; out advances one stride per row.  locals: 6 s, 7 d, 8 a, 9 b, 10 end, 11 selEnd
const apply: Code = [
  op.block, EMPTY,
  ...get(3), op.eqz, op.br_if, 0,
  ...get(1), ...get(2), ...get(3), op.mul, op.add, op.set, 11,
  op.loop, EMPTY,
  ...get(1), op.load8_u, op.tee, 6,
  op.if, EMPTY,
  ...get(4), op.tee, 7, op.tee, 8, ...get(5), op.add, op.set, 10,
  ...get(0), ...get(6), ...get(5), op.mul, op.add, op.set, 9,
  ...xorLoop(7, 8, 9, 10),
  op.end,
  ...addTo(4, get(5)),
  ...get(1), ...get(2), op.add, op.tee, 1, ...get(11), op.lt_u, op.br_if, 0,
  op.end,
  op.end,
];

// gather(data, row, m, out, stride): out ^= data[i] for every bit i < m set in the packed row.
// locals: 5 i, 6 d, 7 a, 8 b, 9 end
const gather: Code = [
  op.block, EMPTY,
  ...get(2), op.eqz, op.br_if, 0,
  op.loop, EMPTY,
  ...get(1), ...get(5), ...c32(3), op.shr_u, op.add, op.load8_u, ...get(5), ...c32(7), op.and, op.shr_u, ...c32(1), op.and,
  op.if, EMPTY,
  ...get(3), op.tee, 6, op.tee, 7, ...get(4), op.add, op.set, 9,
  ...get(0), ...get(5), ...get(4), op.mul, op.add, op.set, 8,
  ...xorLoop(6, 7, 8, 9),
  op.end,
  ...get(5), ...c32(1), op.add, op.tee, 5, ...get(2), op.lt_u, op.br_if, 0,
  op.end,
  op.end,
];

// row(k, m, rule, out): the parity row of coded fragment k (TS004-2.0.0 §5; docs/protocol.md §4) as ceil(m/32) little-endian words at
// out; the same branch-free loop as parityRowInto in fec-row.ts. locals: 4 mod, 5 x, 6 ones, 7 want, 8 r, 9 addr,
// 10 word, 11 (f64) inverse
const row: Code = [
  ...get(3), ...c32(0), ...get(1), ...c32(31), op.add, ...c32(5), op.shr_u, ...c32(2), op.shl, op.fill,
  ...get(1), ...get(1), ...get(1), ...c32(1), op.sub, op.and, op.eqz, op.add, op.set, 4, // mod = m + (m is 2^n)
  op.f64_const_1, ...get(4), op.f64_from_i32, op.f64_div, op.set, 11,
  ...c32(1), ...get(0), ...c32(1001), op.mul, op.add, op.set, 5,
  ...get(1), ...c32(1), op.shr_u, op.set, 7,
  op.block, EMPTY,
  ...get(6), ...get(7), op.ge_u, op.br_if, 0,
  op.loop, EMPTY,
  op.loop, EMPTY, // draw: x = prbs23(x); r = x mod mod, until r < m
  ...get(5), ...c32(1), op.shr_u, ...get(5), ...get(5), ...c32(5), op.shr_u, op.xor, ...c32(1), op.and, ...c32(22), op.shl, op.add, op.tee, 5,
  ...get(5), op.f64_from_i32, ...get(11), op.f64_mul, op.i32_from_f64, ...get(4), op.mul, op.sub,
  op.tee, 8, ...get(4), ...get(4), ...c32(1), op.sub, ...get(8), op.sub, ...c32(31), op.shr_s, op.and, op.sub, op.tee, 8,
  ...get(1), op.ge_u, op.br_if, 0,
  op.end,
  ...get(3), ...get(8), ...c32(5), op.shr_u, ...c32(2), op.shl, op.add, op.tee, 9, op.load, op.set, 10,
  ...get(9), ...get(10), ...c32(1), ...get(8), op.shl, op.or, op.store,
  // ones += 1 - (had & (rule - 1)): rule 2 does not count a repeated draw
  ...get(6), ...c32(1), ...get(10), ...get(8), op.shr_u, ...c32(1), op.and, ...get(2), ...c32(1), op.sub, op.and, op.sub, op.add,
  op.tee, 6, ...get(7), op.lt_u, op.br_if, 0,
  op.end,
  op.end,
];

const fnType = (params: number): number[] => [0x60, ...uleb(params), ...new Array<number>(params).fill(I32), 0];
const body = (locals: number, code: Code, f64Locals = 0): number[] => {
  const decls = f64Locals ? [[...uleb(locals), I32], [...uleb(f64Locals), 0x7c]] : [[...uleb(locals), I32]];
  const b = [...vec(decls), ...flat(code), op.end];
  return [...uleb(b.length), ...b];
};

const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vec([fnType(3), fnType(6), fnType(5), fnType(4)])),
  ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x01]])),
  ...section(3, vec([[0], [1], [2], [3]])),
  ...section(7, vec([[...name('build'), 0, 0], [...name('apply'), 0, 1], [...name('gather'), 0, 2], [...name('row'), 0, 3]])),
  ...section(10, vec([body(5, build), body(6, apply), body(5, gather), body(7, row, 1)])),
]);

// The project compiles without DOM typings, so declare the slice of the WebAssembly API used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export interface XorKernel {
  readonly memory: WasmMemory;
  build(table: number, group: number, stride: number): void;
  apply(table: number, sel: number, selStep: number, count: number, out: number, stride: number): void;
  gather(data: number, row: number, m: number, out: number, stride: number): void;
  row(k: number, m: number, rule: number, out: number): void;
}

let compiled: object | undefined;

/** A kernel instance over its own memory of at least `bytes` bytes (zero-filled). */
export function createXorKernel(bytes: number): XorKernel {
  compiled ??= new wasm.Module(MODULE);
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
  const e = new wasm.Instance(compiled, { env: { mem: memory } }).exports as Omit<XorKernel, 'memory'>;
  return { memory, build: e.build, apply: e.apply, gather: e.gather, row: e.row };
}
