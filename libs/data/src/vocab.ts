// Character-level vocabulary: [PAD] and [MASK] first, then every corpus character by code point.
// Token strings are single Unicode code points, so encoding is one table lookup per character.
import { readFileSync } from "node:fs";

export const PAD_TOKEN = "[PAD]";
export const MASK_TOKEN = "[MASK]";

/** The JSON form, the same fields a model's config.json carries (extra fields are ignored). */
export interface VocabularyJSON {
  vocab: string[];
  mask_token_id: number;
  pad_token_id: number;
}

/** Text that holds a character the vocabulary lacks; says which, where, and what to do. */
export class VocabularyError extends Error {
  readonly char: string;
  readonly source: string | undefined;
  readonly line: number;
  readonly column: number;
  constructor(char: string, source: string | undefined, line: number, column: number, vocabSize: number) {
    super(
      `${source ?? "text"}:${line}:${column}: ${describeChar(char)} is not in the vocabulary (${vocabSize} tokens); ` +
        `remove or replace it, or rebuild the dataset metadata from a corpus that contains it (and retrain)`,
    );
    this.name = "VocabularyError";
    this.char = char;
    this.source = source;
    this.line = line;
    this.column = column;
  }
}

/** `character 'é' (U+00E9)`, or `character '\t' (U+0009)` / `character U+200B (not printable)`. */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch) || ch === " ") return `character '${ch}' (${code})`;
  const escaped = JSON.stringify(ch).slice(1, -1);
  if (escaped !== ch) return `character '${escaped}' (${code})`;
  return `character ${code} (not printable)`;
}

function showToken(token: string | undefined): string {
  if (token === undefined) return "(none)";
  return token.length > 2 ? `'${token}'` : `'${JSON.stringify(token).slice(1, -1)}'`;
}

export class Vocabulary {
  readonly tokens: readonly string[];
  readonly maskTokenId: number;
  readonly padTokenId: number;
  // BMP characters map through a dense table (-1 = absent); astral ones through a Map.
  private readonly bmp: Int32Array;
  private readonly astral = new Map<number, number>();

  constructor(tokens: readonly string[], ids: { maskTokenId: number; padTokenId: number }) {
    const where = "vocabulary";
    if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== "string")) {
      throw new Error(`${where}: expected an array of token strings in id order`);
    }
    for (const [label, id, token] of [["mask_token_id", ids.maskTokenId, MASK_TOKEN], ["pad_token_id", ids.padTokenId, PAD_TOKEN]] as const) {
      if (!Number.isInteger(id) || tokens[id] !== token) {
        throw new Error(`${where}: ${label} is ${id} but token ${id} is ${showToken(tokens[id])}; expected '${token}' there`);
      }
    }
    this.tokens = Object.freeze([...tokens]);
    this.maskTokenId = ids.maskTokenId;
    this.padTokenId = ids.padTokenId;
    this.bmp = new Int32Array(65536).fill(-1);
    const seen = new Map<string, number>();
    tokens.forEach((token, id) => {
      const prev = seen.get(token);
      if (prev !== undefined) throw new Error(`${where}: token ${showToken(token)} appears at ids ${prev} and ${id}; expected each token once`);
      seen.set(token, id);
      if (id === ids.maskTokenId || id === ids.padTokenId) return;
      const cp = token.codePointAt(0);
      if (cp === undefined || String.fromCodePoint(cp) !== token) {
        throw new Error(`${where}: token ${id} is ${showToken(token)}; expected a single character (only [PAD] and [MASK] are longer)`);
      }
      if (cp < 65536) this.bmp[cp] = id;
      else this.astral.set(cp, id);
    });
  }

  /** [PAD], [MASK], then the distinct characters of `text` sorted by code point. */
  static fromCorpus(text: string): Vocabulary {
    const seen = new Set<number>();
    for (const ch of text) seen.add(ch.codePointAt(0)!);
    const chars = [...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp));
    return new Vocabulary([PAD_TOKEN, MASK_TOKEN, ...chars], { padTokenId: 0, maskTokenId: 1 });
  }

  static fromJSON(json: VocabularyJSON): Vocabulary {
    if (!json || typeof json !== "object") throw new Error(`vocabulary JSON must be an object with vocab, mask_token_id and pad_token_id; got ${JSON.stringify(json)}`);
    return new Vocabulary(json.vocab, { maskTokenId: json.mask_token_id, padTokenId: json.pad_token_id });
  }

  toJSON(): VocabularyJSON {
    return { vocab: [...this.tokens], mask_token_id: this.maskTokenId, pad_token_id: this.padTokenId };
  }

  get size(): number {
    return this.tokens.length;
  }

  /** Id of a single character, or undefined. */
  idOf(ch: string): number | undefined {
    const cp = ch.codePointAt(0);
    if (cp === undefined || String.fromCodePoint(cp) !== ch) return undefined;
    const id = cp < 65536 ? this.bmp[cp]! : (this.astral.get(cp) ?? -1);
    return id < 0 ? undefined : id;
  }

  /**
   * Character ids of `text`. Special tokens are not parsed: "[MASK]" in text is six characters.
   * `source` (e.g. a file name) goes into the error for a character outside the vocabulary.
   */
  encode(text: string, options: { source?: string } = {}): Int32Array {
    const out = new Int32Array(text.length);
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      let id: number;
      if (unit < 0xd800 || unit > 0xdfff) {
        id = this.bmp[unit]!;
      } else {
        const cp = text.codePointAt(i)!;
        if (cp > 0xffff) {
          id = this.astral.get(cp) ?? -1;
          if (id >= 0) i++;
        } else id = -1; // a lone surrogate is never a token
      }
      if (id < 0) throw this.errorAt(text, i, options.source);
      out[n++] = id;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  /** Text of `ids`; [MASK] and [PAD] print as their token strings unless maskChar/padChar are given. */
  decode(ids: ArrayLike<number>, options: { maskChar?: string; padChar?: string } = {}): string {
    const tokens = this.tokens.slice();
    if (options.maskChar !== undefined) tokens[this.maskTokenId] = options.maskChar;
    if (options.padChar !== undefined) tokens[this.padTokenId] = options.padChar;
    const parts: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const token = tokens[ids[i]!];
      if (token === undefined) throw new Error(`cannot decode id ${ids[i]} at position ${i}; expected an integer in [0, ${tokens.length})`);
      parts[i] = token;
    }
    return parts.join("");
  }

  equals(other: Vocabulary): boolean {
    return this.describeDifference(other) === null;
  }

  /** Why two vocabularies differ (for refusals), or null when they are the same. */
  describeDifference(other: Vocabulary): string | null {
    const sizes = `sizes ${this.size} vs ${other.size}`;
    const n = Math.max(this.size, other.size);
    for (let id = 0; id < n; id++) {
      if (this.tokens[id] !== other.tokens[id]) {
        return `vocabularies differ at id ${id}: ${showToken(this.tokens[id])} vs ${showToken(other.tokens[id])} (${sizes})`;
      }
    }
    // Same tokens imply same special ids: each special token occurs once, at its id.
    return null;
  }

  private errorAt(text: string, index: number, source: string | undefined): VocabularyError {
    // Line and column are only worked out on failure, so the hot loop stays a table lookup.
    const lineStart = index === 0 ? 0 : text.lastIndexOf("\n", index - 1) + 1;
    let line = 1;
    for (let i = text.indexOf("\n"); i !== -1 && i < lineStart; i = text.indexOf("\n", i + 1)) line++;
    const column = [...text.slice(lineStart, index)].length + 1;
    const ch = String.fromCodePoint(text.codePointAt(index)!);
    return new VocabularyError(ch, source, line, column, this.size);
  }
}

/** The vocabulary in a dataset metadata file (any JSON with vocab, mask_token_id and pad_token_id). */
export function readVocabularyFile(path: string): Vocabulary {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read the vocabulary in ${path}: ${(err as Error).message}`);
  }
  try {
    return Vocabulary.fromJSON(json as VocabularyJSON);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
