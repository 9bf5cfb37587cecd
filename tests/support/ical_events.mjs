// Reads an iCalendar file from stdin with ical.js (the parser of Thunderbird's calendar) and
// prints its events as JSON: what a JavaScript calendar makes of the app's feed.
import ICAL from "ical.js";

let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) text += chunk;
const calendar = new ICAL.Component(ICAL.parse(text));
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  return {
    uid: event.uid,
    summary: event.summary,
    description: event.description,
    sequence: event.sequence,
    last_modified: vevent.getFirstPropertyValue("last-modified").toJSDate().toISOString(),
    start: event.startDate.toJSDate().toISOString(),
  };
});
process.stdout.write(JSON.stringify(events));
