/**
 * Serializes a SentencePiece `tokenizer.model` (sentencepiece.ModelProto) holding only its pieces: field 1, each a
 * message of piece (1, string), score (2, float) and type (3, enum; NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4,
 * UNUSED 5, BYTE 6 — the same numbers as GGUF token types). Enough for converters, which read only the vocabulary.
 */
export interface SentencePieceEntry {
  piece: string | Uint8Array;
  score: number;
  type: number;
}

export function writeSentencePieceModel(pieces: readonly SentencePieceEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: number[] = [];
  const varint = (out: number[], value: number) => {
    while (value > 0x7f) {
      out.push((value & 0x7f) | 0x80);
      value = Math.floor(value / 128);
    }
    out.push(value);
  };
  const scratch = new DataView(new ArrayBuffer(4));
  for (const { piece, score, type } of pieces) {
    const message: number[] = [];
    const text = typeof piece === "string" ? encoder.encode(piece) : piece;
    message.push(0x0a);
    varint(message, text.length);
    for (const byte of text) message.push(byte);
    message.push(0x15);
    scratch.setFloat32(0, score, true);
    for (let i = 0; i < 4; i++) message.push(scratch.getUint8(i));
    if (type !== 1) {
      message.push(0x18);
      varint(message, type);
    }
    chunks.push(0x0a);
    varint(chunks, message.length);
    for (const byte of message) chunks.push(byte);
  }
  return Uint8Array.from(chunks);
}
