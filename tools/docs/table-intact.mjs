// A table without its delimiter row (| --- |), or split by a blank line, is not a table: its rows
// render as a paragraph of pipes, which no built-in markdownlint rule reports. A paragraph line
// that starts with a pipe is the sign of it; prose never starts a line with one.
/** @type {import("markdownlint").Rule} */
export default {
  names: ["table-intact"],
  description: "Table row outside a table (missing delimiter row, or a blank line inside the table)",
  tags: ["table"],
  parser: "micromark",
  function: (params, onError) => {
    const visit = (tokens) => {
      for (const token of tokens) {
        if (token.type === "paragraph") {
          for (let line = token.startLine; line <= token.endLine; line++) {
            if (/^\s*\|/.test(params.lines[line - 1])) {
              onError({ lineNumber: line, detail: "this line starts with '|' but is not part of a table" });
              break;
            }
          }
        } else {
          visit(token.children);
        }
      }
    };
    visit(params.parsers.micromark.tokens);
  },
};
