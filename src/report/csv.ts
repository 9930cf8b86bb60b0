// Comma-separated values as RFC 4180 writes them: a field with a comma, a quote or a line break is
// quoted, its quotes doubled; lines end in CRLF, so spreadsheets on every system read the file.

function cell(value: number | string | boolean | null | undefined): string {
  if (value === undefined || value === null) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * A header and rows as CSV text; a missing value is an empty field.
 *
 * @example
 * ```ts
 * assert.equal(toCsv(["name", "value"], [["a,b", 1], ['say "hi"', undefined]]), 'name,value\r\n"a,b",1\r\n"say ""hi""",\r\n');
 * ```
 */
export function toCsv(header: readonly string[], rows: readonly (readonly (number | string | boolean | null | undefined)[])[]): string {
  return [header, ...rows].map((row) => `${row.map(cell).join(",")}\r\n`).join("");
}
