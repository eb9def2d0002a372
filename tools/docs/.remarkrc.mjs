// remark-validate-links over README.md and docs/: every relative link must name a file that exists
// and every #anchor a heading that exists (in the same file or the linked one). Offline: links to
// other sites are not fetched.
import remarkGfm from "remark-gfm";
import remarkValidateLinks from "remark-validate-links";

export default {
  plugins: [remarkGfm, [remarkValidateLinks, { repository: false }]],
};
