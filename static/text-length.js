/* How each network counts a text, as the server's channel rules do (calendar_app/channel_rules.py):
 * X by twitter-text's weights (the library X publishes, vendored in static/vendor/twitter-text:
 * a link counts 23, an emoji or a CJK character 2), the others in characters as people see them
 * (grapheme clusters). The server decides; this only tells the planner early. */
(function () {
  "use strict";

  var segmenter = window.Intl && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

  function twitterText() {
    return window.twttr && window.twttr.txt ? window.twttr.txt : null;
  }

  // The text's characters as people see them, each with its UTF-16 offset.
  function graphemes(text) {
    var out = [];
    if (segmenter) {
      for (var part of segmenter.segment(text)) {
        out.push({ index: part.index, text: part.segment });
      }
      return out;
    }
    var index = 0;
    Array.from(text).forEach(function (ch) {
      out.push({ index: index, text: ch });
      index += ch.length;
    });
    return out;
  }

  function visibleLength(text) {
    return graphemes(text).length;
  }

  // The counter and the preview ask for the same text's count on every keystroke.
  var lastTweet = { text: null, parsed: null };

  function parseTweet(text) {
    var lib = twitterText();
    if (!lib) {
      return null;
    }
    if (lastTweet.text !== text) {
      lastTweet = { text: text, parsed: lib.parseTweet(text) };
    }
    return lastTweet.parsed;
  }

  function length(text, counting) {
    var parsed = counting === "x-weighted" ? parseTweet(text) : null;
    return parsed ? parsed.weightedLength : visibleLength(text);
  }

  window.calendarText = {
    graphemes: graphemes,
    visibleLength: visibleLength,
    length: length,
    parseTweet: parseTweet,
    twitterText: twitterText,
  };
})();
