import { hashUnit, mulberry32 } from './simulator-model.js'

/**
 * The files a simulated run produces: small, deterministic, and real enough for the
 * tools that open them (a safetensors header that parses, JPEGs that decode).
 */

export const VALIDATION_IMAGE_COUNT = 3
const ADAPTER_WIDTH = 64

function seededBytes(length: number, ...key: readonly (string | number)[]): Buffer {
  const next = mulberry32(Math.floor(hashUnit(...key) * 2 ** 32))
  const bytes = Buffer.alloc(length)
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256)
  return bytes
}

/** A safetensors file holding one LoRA A/B pair of the job's rank, in F16. */
export function adapterBytes(externalJobId: string, jobId: string, rank: number): Buffer {
  const tensorBytes = rank * ADAPTER_WIDTH * 2
  const header = JSON.stringify({
    __metadata__: { format: 'pt', producer: 'lora-simulator', job_id: jobId, lora_rank: String(rank) },
    'base_model.model.layers.0.self_attn.q_proj.lora_A.weight': { dtype: 'F16', shape: [rank, ADAPTER_WIDTH], data_offsets: [0, tensorBytes] },
    'base_model.model.layers.0.self_attn.q_proj.lora_B.weight': {
      dtype: 'F16',
      shape: [ADAPTER_WIDTH, rank],
      data_offsets: [tensorBytes, 2 * tensorBytes],
    },
  })
  const headerBytes = Buffer.from(header, 'utf8')
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(headerBytes.length))
  return Buffer.concat([length, headerBytes, seededBytes(2 * tensorBytes, externalJobId, 'adapter')])
}

class BitWriter {
  private bytes: number[] = []
  private current = 0
  private filled = 0

  write(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.current = (this.current << 1) | ((value >> i) & 1)
      if (++this.filled === 8) this.flushByte()
    }
  }

  finish(): Buffer {
    // Pad with ones, as the standard asks.
    while (this.filled !== 0) this.write(1, 1)
    return Buffer.from(this.bytes)
  }

  private flushByte(): void {
    this.bytes.push(this.current)
    // A 0xFF in entropy-coded data must be followed by a stuffed zero.
    if (this.current === 0xff) this.bytes.push(0)
    this.current = 0
    this.filled = 0
  }
}

function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt16BE(marker, 0)
  head.writeUInt16BE(payload.length + 2, 2)
  return Buffer.concat([head, payload])
}

/**
 * A 64x64 greyscale baseline JPEG of 8x8 flat tiles: every block carries only its DC
 * coefficient, so a two-table Huffman coder of a few lines is a complete encoder.
 */
export function validationImageBytes(externalJobId: string, index: number): Buffer {
  const blocks = 8
  const size = blocks * 8
  const base = 60 + 120 * hashUnit(externalJobId, 'image', index)
  const tilt = 8 + 8 * hashUnit(externalJobId, 'tilt', index)
  const grain = mulberry32(Math.floor(hashUnit(externalJobId, 'grain', index) * 2 ** 32))

  // DC categories 0..11 all get a 4-bit code 0000..1011 (canonical order); the only AC
  // symbol is end-of-block, coded as a single 0 bit.
  const dcTable = Buffer.from([0x00, 0, 0, 0, 12, ...new Array<number>(12).fill(0), ...Array.from({ length: 12 }, (_, i) => i)])
  const acTable = Buffer.from([0x10, 1, ...new Array<number>(15).fill(0), 0x00])

  const bits = new BitWriter()
  let previousDc = 0
  for (let by = 0; by < blocks; by++) {
    for (let bx = 0; bx < blocks; bx++) {
      const level = Math.max(8, Math.min(247, Math.round(base + tilt * (bx - by) + 10 * (grain() - 0.5))))
      // With a unit quantiser, a flat block's DC coefficient is 8 x (level - 128).
      const dc = 8 * (level - 128)
      const diff = dc - previousDc
      previousDc = dc
      const magnitude = Math.abs(diff)
      const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1
      bits.write(category, 4)
      if (category > 0) bits.write(diff > 0 ? diff : diff - 1 + (1 << category), category)
      bits.write(0, 1)
    }
  }

  const sizeBytes = Buffer.alloc(4)
  sizeBytes.writeUInt16BE(size, 0)
  sizeBytes.writeUInt16BE(size, 2)
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xfffe, Buffer.from(`lora-simulator ${externalJobId} validation ${index}`, 'latin1')),
    segment(0xffdb, Buffer.from([0x00, ...new Array<number>(64).fill(1)])),
    segment(0xffc0, Buffer.concat([Buffer.from([8]), sizeBytes, Buffer.from([1, 1, 0x11, 0])])),
    segment(0xffc4, dcTable),
    segment(0xffc4, acTable),
    segment(0xffda, Buffer.from([1, 1, 0x00, 0, 63, 0])),
    bits.finish(),
    Buffer.from([0xff, 0xd9]),
  ])
}
