import { InvalidTokenizerError } from "./errors.ts";

/**
 * Reads the vocabulary of a SentencePiece `tokenizer.model` (a serialized `sentencepiece.ModelProto`): field 1 holds
 * the pieces, each a `SentencePiece` message with piece (1, string), score (2, float) and type (3, enum: NORMAL 1,
 * UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6; absent means NORMAL). Everything else (trainer and
 * normalizer specs) is skipped. Hand-written: the protobuf libraries on npm need the .proto schema compiled in, for
 * three fields of one message.
 */
export interface SentencePiece {
  piece: string;
  score: number;
  type: number;
}

export const SentencePieceType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function readSentencePieceModel(bytes: Uint8Array): SentencePiece[] {
  const pieces: SentencePiece[] = [];
  forEachField(bytes, (field, wire, value) => {
    if (field === 1 && wire === 2) pieces.push(readPiece(value as Uint8Array));
  });
  if (pieces.length === 0)
    throw new InvalidTokenizerError("tokenizer.model", "it holds no pieces (not a SentencePiece model?)");
  return pieces;
}

function readPiece(bytes: Uint8Array): SentencePiece {
  const piece: SentencePiece = { piece: "", score: 0, type: SentencePieceType.normal };
  forEachField(bytes, (field, wire, value) => {
    if (field === 1 && wire === 2) {
      try {
        piece.piece = strictUtf8.decode(value as Uint8Array);
      } catch {
        throw new InvalidTokenizerError("tokenizer.model", "a piece is not UTF-8");
      }
    } else if (field === 2 && wire === 5) piece.score = value as number;
    else if (field === 3 && wire === 0) piece.type = Number(value);
  });
  return piece;
}

/** Walks the fields of one message: varint (0) as bigint, fixed64 (1) skipped, bytes (2), fixed32 (5) as float. */
function forEachField(
  bytes: Uint8Array,
  visit: (field: number, wire: number, value: bigint | number | Uint8Array) => void,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length || shift > 63n)
        throw new InvalidTokenizerError("tokenizer.model", "it is truncated or not a protobuf message");
      const byte = bytes[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const need = (size: number) => {
    if (at + size > bytes.length)
      throw new InvalidTokenizerError("tokenizer.model", "it is truncated or not a protobuf message");
  };
  while (at < bytes.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) visit(field, wire, varint());
    else if (wire === 1) {
      need(8);
      at += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      need(length);
      visit(field, wire, bytes.subarray(at, at + length));
      at += length;
    } else if (wire === 5) {
      need(4);
      visit(field, wire, view.getFloat32(at, true));
      at += 4;
    } else throw new InvalidTokenizerError("tokenizer.model", `unsupported protobuf wire type ${wire}`);
  }
}
