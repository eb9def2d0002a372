// A fenced code block left open turns the rest of the document into code, which no built-in
// markdownlint rule reports. Two signs of it: a block that runs to the end of its container
// without a closing fence, and a block whose content holds a line that opens another fence with
// a language (```js): the block before it was not closed, and the fences pair up wrongly from
// there on.
/** @type {import("markdownlint").Rule} */
export default {
  names: ["fenced-code-closed"],
  description: "Fenced code block is never closed",
  tags: ["code", "fences"],
  parser: "micromark",
  function: (params, onError) => {
    const visit = (tokens) => {
      for (const token of tokens) {
        if (token.type === "codeFenced") {
          const fences = token.children.filter((child) => child.type === "codeFencedFence");
          if (fences.length < 2) {
            onError({ lineNumber: token.startLine, detail: "no closing fence before the end of the document or its container" });
          } else {
            const opener = /^\s*(`{3,}|~{3,})/.exec(params.lines[token.startLine - 1]);
            for (let line = token.startLine + 1; opener && line < token.endLine; line++) {
              const inner = /^\s*(`{3,}|~{3,})[^\s`~]/.exec(params.lines[line - 1]);
              if (inner && inner[1][0] === opener[1][0] && inner[1].length >= opener[1].length) {
                onError({ lineNumber: token.startLine, detail: `line ${line} opens another fenced block inside this one: this one is not closed` });
                break;
              }
            }
          }
        }

        visit(token.children);
      }
    };
    visit(params.parsers.micromark.tokens);
  },
};
