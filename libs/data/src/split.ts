// Book boundaries and the held-out split. The corpus format: each chapter is a heading line such
// as "Genesis 1" at the start of the text or after a blank line; chapter 1 starts a book.

export interface Book {
  name: string;
  /** Index (in characters = code points = token ids) of the book's first heading line. */
  start: number;
  chapters: number;
}

export interface HeldoutSplit {
  /** Token index where held-out text begins: the first character of a book heading. */
  start: number;
  books: string[];
  trainChars: number;
  heldoutChars: number;
}

export const DEFAULT_MIN_HELDOUT_FRACTION = 0.03;
export const DEFAULT_MAX_HELDOUT_FRACTION = 0.05;

const HEADING = /^(.+) (\d+)$/;

function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // Count a surrogate pair once: skip the low half that follows a high half.
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff) continue;
    n++;
  }
  return n;
}

/** Books in order, found from their chapter-1 headings. Throws when the text has no headings. */
export function findBooks(text: string): Book[] {
  const books: Book[] = [];
  let offset = 0; // UTF-16 index of the current line
  let chars = 0; // code points before the current line
  let previousBlank = true;
  while (offset <= text.length) {
    let end = text.indexOf("\n", offset);
    if (end === -1) end = text.length;
    const line = text.slice(offset, end);
    if (previousBlank && line !== "") {
      const m = HEADING.exec(line);
      if (!m) throw new Error(`line "${line.slice(0, 60)}" follows a blank line but is not a chapter heading like "Genesis 1"; expected the corpus format of data/corpus/README.md`);
      const [, name, chapter] = m as unknown as [string, string, string];
      if (chapter === "1") books.push({ name, start: chars, chapters: 1 });
      else {
        const book = books[books.length - 1];
        if (!book || book.name !== name) throw new Error(`chapter heading "${line}" does not continue book ${book ? `"${book.name}"` : "(none)"}; expected "${name} 1" first`);
        book.chapters++;
      }
    }
    previousBlank = line === "";
    chars += codePointLength(line) + 1;
    offset = end + 1;
  }
  if (books.length === 0) throw new Error(`found no chapter headings such as "Genesis 1"; expected a corpus of books split into chapters`);
  return books;
}

/**
 * The smallest run of whole books at the end of the text holding at least `minFraction` of its
 * characters; refused if that run exceeds `maxFraction` (the last book alone would be too big).
 */
export function chooseHeldoutSplit(
  text: string,
  { minFraction = DEFAULT_MIN_HELDOUT_FRACTION, maxFraction = DEFAULT_MAX_HELDOUT_FRACTION } = {},
): HeldoutSplit {
  const books = findBooks(text);
  const total = codePointLength(text);
  for (let i = books.length - 1; i >= 1; i--) {
    const heldoutChars = total - books[i]!.start;
    if (heldoutChars < minFraction * total) continue;
    if (heldoutChars > maxFraction * total) {
      throw new Error(
        `the last books from "${books[i]!.name}" hold ${(heldoutChars / total * 100).toFixed(2)}% of the characters; ` +
          `expected between ${minFraction * 100}% and ${maxFraction * 100}%: widen the range or use a corpus with smaller books`,
      );
    }
    return { start: books[i]!.start, books: books.slice(i).map((b) => b.name), trainChars: books[i]!.start, heldoutChars };
  }
  throw new Error(`all books but the first together hold less than ${minFraction * 100}% of the characters; expected a corpus with more books`);
}
