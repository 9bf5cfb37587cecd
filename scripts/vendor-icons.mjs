// Copies the Tabler icons the pages use (static/vendor/tabler-icons, MIT) out of node_modules.
// The templates inline them by name (calendar_app/web/icons.py); add a name here to use it.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";

const SOURCE = "node_modules/@tabler/icons/icons/outline";
const TARGET = "static/vendor/tabler-icons";
const ICONS = [
  // the menu
  "calendar", "pencil-plus", "speakerphone", "checklist", "alert-triangle", "calendar-off",
  "book", "send", "heart-rate-monitor", "broadcast", "building", "users", "history",
  "calendar-share", "bell", "menu-2", "x", "logout", "inbox", "chart-bar", "report-analytics",
  // the networks a channel publishes to
  "brand-x", "brand-mastodon", "brand-bluesky", "brand-threads", "brand-linkedin",
  "brand-instagram", "brand-facebook", "article", "world",
  // actions
  "trash",
];

rmSync(TARGET, { recursive: true, force: true });
mkdirSync(TARGET, { recursive: true });
for (const name of ICONS) {
  copyFileSync(`${SOURCE}/${name}.svg`, `${TARGET}/${name}.svg`);
}
copyFileSync("node_modules/@tabler/icons/LICENSE", `${TARGET}/LICENSE`);
console.log(`${readdirSync(TARGET).length - 1} icons in ${TARGET}`);
