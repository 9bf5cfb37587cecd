// Bundles the parts of twitter-text (Apache-2.0) that the composer needs into one browser script,
// static/vendor/twitter-text/twitter-text.min.js, exposing `window.twttr.txt`. The package ships
// CommonJS and ES modules only, so esbuild makes the browser build. Its core-js 2 polyfills are
// left out: every browser the app supports has what they polyfill.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

const TARGET = "static/vendor/twitter-text";

const skipPolyfills = {
  name: "skip-core-js",
  setup(b) {
    b.onResolve({ filter: /^core-js\// }, (args) => ({ path: args.path, namespace: "empty" }));
    b.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "", loader: "js" }));
  },
};

rmSync(TARGET, { recursive: true, force: true });
mkdirSync(TARGET, { recursive: true });
await build({
  stdin: {
    contents: [
      'export { default as parseTweet } from "twitter-text/dist/esm/parseTweet";',
      'export { default as extractUrlsWithIndices } from "twitter-text/dist/esm/extractUrlsWithIndices";',
      'export { default as configs } from "twitter-text/dist/esm/configs";',
    ].join("\n"),
    resolveDir: ".",
  },
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "twttr.txt",
  target: "es2019",
  legalComments: "none",
  banner: {
    js: "/* twitter-text 3.1.0 (Apache-2.0), twemoji-parser (MIT), punycode (MIT): see LICENSE files beside this one */",
  },
  plugins: [skipPolyfills],
  outfile: `${TARGET}/twitter-text.min.js`,
});
copyFileSync("node_modules/twitter-text/LICENSE", `${TARGET}/LICENSE`);
copyFileSync("node_modules/twemoji-parser/LICENSE.md", `${TARGET}/LICENSE-twemoji-parser.md`);
copyFileSync("node_modules/punycode/LICENSE-MIT.txt", `${TARGET}/LICENSE-punycode.txt`);
console.log(`twitter-text in ${TARGET}`);
