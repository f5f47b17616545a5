import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseHeldoutSplit, findBooks } from "./index.ts";

// Five books; Epsilon (the last) holds about 10% of the characters, Delta+Epsilon about 25%.
function library(): string {
  const chapter = (book: string, n: number, verses: number) =>
    `${book} ${n}\n` + Array.from({ length: verses }, (_, i) => `Verse ${i} of ${book} chapter ${n}.\n`).join("");
  return [
    chapter("Alpha", 1, 20), chapter("Alpha", 2, 20),
    chapter("Beta", 1, 10),
    chapter("1 Gamma", 1, 10),
    chapter("Delta", 1, 12),
    chapter("Epsilon", 1, 10),
  ].join("\n");
}

test("findBooks finds chapter-1 headings after blank lines (and at the start) with chapter counts", () => {
  const text = library();
  const books = findBooks(text);
  assert.deepEqual(books.map((b) => [b.name, b.chapters]), [["Alpha", 2], ["Beta", 1], ["1 Gamma", 1], ["Delta", 1], ["Epsilon", 1]]);
  assert.equal(books[0]!.start, 0);
  for (const b of books.slice(1)) {
    assert.equal(text.slice(b.start - 2, b.start), "\n\n");
    assert.ok(text.startsWith(`${b.name} 1\n`, b.start));
  }
});

test("positions count code points, so they index token ids even past astral characters", () => {
  const text = "A 1\n😀😀\n\nB 1\nb\n";
  const b = findBooks(text)[1]!;
  assert.equal(b.start, 8);
  assert.equal([...text].slice(b.start, b.start + 3).join(""), "B 1");
});

test("the split is the smallest run of last books reaching the minimum fraction", () => {
  const text = library();
  const books = findBooks(text);
  const wide = chooseHeldoutSplit(text, { minFraction: 0.05, maxFraction: 0.5 });
  assert.deepEqual(wide.books, ["Epsilon"]);
  assert.equal(wide.start, books[4]!.start);
  assert.equal(wide.trainChars + wide.heldoutChars, text.length);
  const more = chooseHeldoutSplit(text, { minFraction: 0.15, maxFraction: 0.5 });
  assert.deepEqual(more.books, ["Delta", "Epsilon"]);
  assert.equal(more.trainChars, books[3]!.start);
});

test("a split outside the allowed range and a malformed corpus are refused", () => {
  const text = library();
  assert.throws(() => chooseHeldoutSplit(text, { minFraction: 0.01, maxFraction: 0.02 }), /the last books from "Epsilon" hold \d+\.\d+% of the characters; expected between 1% and 2%/);
  assert.throws(() => chooseHeldoutSplit(text, { minFraction: 0.9, maxFraction: 1 }), /all books but the first together hold less than 90%/);
  assert.throws(() => findBooks("Alpha 1\nx\n\nnot a heading\n"), /line "not a heading" follows a blank line but is not a chapter heading/);
  assert.throws(() => findBooks("Alpha 1\nx\n\nBeta 2\ny\n"), /chapter heading "Beta 2" does not continue book "Alpha"; expected "Beta 1" first/);
  assert.throws(() => findBooks("Alpha 2\nx\n"), /does not continue book \(none\)/);
});
