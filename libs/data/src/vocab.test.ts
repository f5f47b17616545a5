import { test } from "node:test";
import assert from "node:assert/strict";
import { Vocabulary, VocabularyError, describeChar } from "./index.ts";

test("fromCorpus puts [PAD], [MASK] first, then characters by code point, newline included", () => {
  const v = Vocabulary.fromCorpus("ba\nab c");
  assert.deepEqual(v.tokens, ["[PAD]", "[MASK]", "\n", " ", "a", "b", "c"]);
  assert.equal(v.padTokenId, 0);
  assert.equal(v.maskTokenId, 1);
  assert.equal(v.size, 7);
  assert.equal(v.idOf("c"), 6);
  assert.equal(v.idOf("d"), undefined);
  assert.equal(v.idOf("[MASK]"), undefined, "special tokens are not characters");
});

test("encode/decode round-trip; masks and pads print as tokens or the given characters", () => {
  const v = Vocabulary.fromCorpus("In the beginning\nGod created");
  const text = "God created the\nbeginning";
  const ids = v.encode(text);
  assert.ok(ids instanceof Int32Array);
  assert.equal(ids.length, text.length);
  assert.equal(v.decode(ids), text);
  const masked = Int32Array.from(ids);
  masked[0] = v.maskTokenId;
  masked[1] = v.padTokenId;
  assert.equal(v.decode(masked).slice(0, 12), "[MASK][PAD]d");
  assert.equal(v.decode(masked, { maskChar: "_", padChar: "" }).slice(0, 3), "_d ");
  assert.throws(() => v.decode([0, 99]), /cannot decode id 99 at position 1; expected an integer in \[0, \d+\)/);
});

test("a character outside the vocabulary is named with code point, source and line:column", () => {
  const v = Vocabulary.fromCorpus("abc\n");
  assert.throws(
    () => v.encode("abc\nab\ncaé", { source: "notes.txt" }),
    (err: unknown) => {
      assert.ok(err instanceof VocabularyError);
      assert.equal(err.message.split(";")[0], "notes.txt:3:3: character 'é' (U+00E9) is not in the vocabulary (6 tokens)");
      assert.match(err.message, /rebuild the dataset metadata/);
      assert.deepEqual([err.char, err.source, err.line, err.column], ["é", "notes.txt", 3, 3]);
      return true;
    },
  );
  assert.throws(() => v.encode("\tb"), /text:1:1: character '\\t' \(U\+0009\)/);
  assert.throws(() => v.encode("ab😀"), /text:1:3: character '😀' \(U\+1F600\)/);
  assert.throws(() => v.encode("a\ud800b"), /text:1:2: character '\\ud800' \(U\+D800\)/);
  assert.equal(describeChar("\u200b"), "character U+200B (not printable)");
});

test("characters outside the BMP are single tokens", () => {
  const v = Vocabulary.fromCorpus("a😀b");
  assert.deepEqual(v.tokens.slice(2), ["a", "b", "😀"]);
  const ids = v.encode("😀a😀");
  assert.deepEqual([...ids], [4, 2, 4]);
  assert.equal(v.decode(ids), "😀a😀");
});

test("JSON round trip, equality and differences", () => {
  const v = Vocabulary.fromCorpus("hello world");
  const json = JSON.parse(JSON.stringify(v));
  assert.deepEqual(Object.keys(json).sort(), ["mask_token_id", "pad_token_id", "vocab"]);
  const w = Vocabulary.fromJSON(json);
  assert.ok(v.equals(w));
  assert.equal(v.describeDifference(w), null);

  const abc = Vocabulary.fromCorpus("abc");
  const abd = Vocabulary.fromCorpus("abd");
  assert.ok(!abc.equals(abd));
  assert.equal(abc.describeDifference(abd), "vocabularies differ at id 4: 'c' vs 'd' (sizes 5 vs 5)");
  assert.equal(abc.describeDifference(Vocabulary.fromCorpus("abcz")), "vocabularies differ at id 5: (none) vs 'z' (sizes 5 vs 6)");
  assert.equal(abc.describeDifference(Vocabulary.fromCorpus("abc\n")), "vocabularies differ at id 2: 'a' vs '\\n' (sizes 5 vs 6)");
  const moved = Vocabulary.fromJSON({ vocab: ["[MASK]", "[PAD]", "a", "b", "c"], mask_token_id: 0, pad_token_id: 1 });
  assert.match(abc.describeDifference(moved)!, /^vocabularies differ at id 0: '\[PAD\]' vs '\[MASK\]'/);
});

test("fromJSON refuses inconsistent vocabularies", () => {
  assert.throws(() => Vocabulary.fromJSON({ vocab: ["[PAD]", "[MASK]", "a"], mask_token_id: 2, pad_token_id: 0 }),
    /mask_token_id is 2 but token 2 is 'a'; expected '\[MASK\]' there/);
  assert.throws(() => Vocabulary.fromJSON({ vocab: ["[PAD]", "[MASK]", "a", "a"], mask_token_id: 1, pad_token_id: 0 }),
    /token 'a' appears at ids 2 and 3/);
  assert.throws(() => Vocabulary.fromJSON({ vocab: ["[PAD]", "[MASK]", "ab"], mask_token_id: 1, pad_token_id: 0 }),
    /token 2 is 'ab'; expected a single character/);
  // Specials may sit elsewhere when a model brings its own vocabulary.
  const moved = Vocabulary.fromJSON({ vocab: ["a", "[MASK]", "[PAD]"], mask_token_id: 1, pad_token_id: 2 });
  assert.deepEqual([...moved.encode("aa")], [0, 0]);
});
