/* The composer's preview: a card per chosen channel on Mastodon, Bluesky, X or LinkedIn (the four
 * networks' cards before any channel is chosen) showing the account, the text with links as the
 * network shows them, the images and a link card, the length against the network's limit and
 * where the network folds or refuses the text. User text only ever becomes text nodes. */
(function () {
  "use strict";

  // Links as Mastodon, Bluesky and LinkedIn find them: with a scheme, without trailing punctuation.
  var LINK = /https?:\/\/[^\s<>"]+/gi;
  var TRAILING = /[.,;:!?'")\]}]+$/;
  var SHOWN_LINK = { x: 23, mastodon: 30, bluesky: 26 };

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) {
      return values[key];
    });
  }

  function findLinks(text, network) {
    var lib = window.calendarText.twitterText();
    if (network === "x" && lib) {
      return lib.extractUrlsWithIndices(text).map(function (found) {
        return { start: found.indices[0], end: found.indices[1], url: found.url };
      });
    }
    var links = [];
    var match;
    LINK.lastIndex = 0;
    while ((match = LINK.exec(text)) !== null) {
      var url = match[0].replace(TRAILING, "");
      links.push({ start: match.index, end: match.index + url.length, url: url });
    }
    return links;
  }

  // A link as the network writes it in the post: LinkedIn as written, the others without the
  // scheme and "www.", cut short with "…" (X after the 23 characters it counts for a link).
  function shownLink(url, network) {
    var room = SHOWN_LINK[network];
    if (!room) {
      return url;
    }
    var bare = url.replace(/^https?:\/\//i, "").replace(/^www\./i, "");
    return bare.length > room ? bare.slice(0, room - 1) + "…" : bare;
  }

  function domain(url) {
    try {
      var host = new URL(/^https?:\/\//i.test(url) ? url : "https://" + url).hostname;
      return host.replace(/^www\./i, "");
    } catch (_e) {
      return url;
    }
  }

  // Where the text goes past the network's limit (a UTF-16 offset), or -1.
  function overAt(text, card, count) {
    var limit = parseInt(card.dataset.limit, 10);
    if (!limit || count <= limit) {
      return -1;
    }
    var parsed = card.dataset.counting === "x-weighted" ? window.calendarText.parseTweet(text) : null;
    if (parsed) {
      return parsed.validRangeEnd + 1;
    }
    var chars = window.calendarText.graphemes(text);
    return chars.length > limit ? chars[limit].index : -1;
  }

  // Where LinkedIn folds the text in the feed ("…see more"): after about `fold` characters or
  // at the third line, whichever comes first; -1 when it shows the whole text.
  function foldAt(text, fold) {
    var chars = window.calendarText.graphemes(text);
    var at = chars.length > fold ? chars[fold].index : -1;
    // ... at the end of the word it is in, when that word started shortly before
    var space = at > 0 ? text.lastIndexOf(" ", at) : -1;
    if (space > 0 && at - space < 20) {
      at = space;
    }
    var lines = 0;
    for (var i = 0; i < text.length; i += 1) {
      if (text[i] === "\n") {
        lines += 1;
        if (lines === 3) {
          if (i + 1 < text.length && (at < 0 || i < at)) {
            at = i;
          }
          break;
        }
      }
    }
    return at;
  }

  // A link is never split: a cut inside one moves to its start.
  function outsideLinks(at, links) {
    links.forEach(function (link) {
      if (at > link.start && at < link.end) {
        at = link.start;
      }
    });
    return at;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function renderText(target, text, network, marks) {
    target.replaceChildren();
    var links = findLinks(text, network);
    var over = marks.over >= 0 ? outsideLinks(marks.over, links) : -1;
    var fold = marks.fold >= 0 ? outsideLinks(marks.fold, links) : -1;
    var stops = [0, text.length];
    if (over >= 0) stops.push(over);
    if (fold >= 0) stops.push(fold);
    links.forEach(function (link) {
      stops.push(link.start, link.end);
    });
    stops = stops.filter(function (value, index, all) {
      return all.indexOf(value) === index;
    }).sort(function (a, b) {
      return a - b;
    });
    var parent = target;
    for (var i = 0; i < stops.length - 1; i += 1) {
      var start = stops[i];
      var end = stops[i + 1];
      if (start === fold) {
        target.appendChild(element("span", "fold-marker", marks.foldLabel));
        parent = target.appendChild(element("span", "folded"));
      }
      if (start === over) {
        if (marks.overLabel) {
          parent.appendChild(element("span", "limit-marker", marks.overLabel));
        }
        parent = parent.appendChild(element("span", "over"));
      }
      var link = links.find(function (candidate) {
        return candidate.start === start;
      });
      if (link) {
        var shown = element("span", "preview-url", shownLink(link.url, network));
        shown.title = link.url;
        parent.appendChild(shown);
      } else {
        parent.appendChild(document.createTextNode(text.slice(start, end)));
      }
    }
  }

  function renderMedia(card, images) {
    var box = card.querySelector(".preview-media");
    box.replaceChildren();
    box.hidden = images.length === 0;
    var shown = images.slice(0, 4);
    box.className = "preview-media count-" + shown.length;
    shown.forEach(function (image, index) {
      var frame = box.appendChild(element("span", "preview-image"));
      var img = frame.appendChild(document.createElement("img"));
      img.src = image.url;
      img.alt = image.alt;
      img.loading = "lazy";
      if (index === 3 && images.length > 4) {
        frame.appendChild(element("span", "more-images", "+" + (images.length - 4)));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("composer");
    var preview = document.getElementById("preview");
    if (!form || !preview) {
      return;
    }
    var body = form.querySelector("#body");
    var cards = Array.prototype.slice.call(preview.querySelectorAll(".preview-card"));
    var none = document.getElementById("preview-none");
    var fold = parseInt(preview.dataset.linkedinFold, 10);

    function chosen() {
      return Array.prototype.slice.call(form.querySelectorAll('input[name="channels"]:checked')).map(function (box) {
        return box.value;
      });
    }

    function textFor(channelId) {
      var own = channelId ? form.querySelector("#override-" + channelId) : null;
      return own && own.value.trim() ? own.value : body.value;
    }

    function images() {
      return Array.prototype.slice.call(form.querySelectorAll("[data-media-item]")).map(function (item) {
        return { url: item.dataset.mediaUrl || "", alt: item.dataset.mediaAlt || "" };
      }).filter(function (image) {
        return image.url;
      });
    }

    function renderCard(card, pictures) {
      var network = card.dataset.network;
      var text = textFor(card.dataset.previewChannel);
      var count = window.calendarText.length(text, card.dataset.counting);
      var limit = parseInt(card.dataset.limit, 10);
      var marks = { over: overAt(text, card, count), fold: -1 };
      if (network === "x") {
        marks.overLabel = preview.dataset.showMore;
      }
      if (network === "linkedin") {
        marks.fold = foldAt(text, fold);
        marks.foldLabel = preview.dataset.seeMore;
      }
      renderText(card.querySelector(".preview-text"), text, network, marks);
      renderMedia(card, pictures);

      var links = findLinks(text, network);
      var linkCard = card.querySelector(".preview-link");
      linkCard.hidden = pictures.length > 0 || links.length === 0;
      card.querySelector(".preview-domain").textContent = links.length ? domain(links[0].url) : "";

      var counter = card.querySelector(".preview-counter");
      counter.textContent = limit ? count + " / " + limit : String(count);
      counter.classList.toggle("too-long", Boolean(limit) && count > limit);
      var note = card.querySelector(".preview-note");
      if (limit && count > limit) {
        note.textContent = fill(preview.dataset.over, { count: count - limit });
      } else if (marks.fold >= 0) {
        note.textContent = preview.dataset.folded;
      } else {
        note.textContent = "";
      }
      card.classList.toggle("too-long", Boolean(limit) && count > limit);
    }

    function update() {
      var ids = chosen();
      var pictures = images();
      var shown = 0;
      cards.forEach(function (card) {
        var channelId = card.dataset.previewChannel;
        var visible = channelId ? ids.indexOf(channelId) >= 0 : ids.length === 0;
        card.hidden = !visible;
        if (visible) {
          shown += 1;
          renderCard(card, pictures);
        }
      });
      none.hidden = shown > 0;
    }

    // Typing is answered within a tenth of a second, without redrawing on every key.
    var pending = null;
    function soon() {
      if (pending === null) {
        pending = window.setTimeout(function () {
          pending = null;
          update();
        }, 100);
      }
    }

    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    // Images are added and removed by the upload block without an input event.
    new MutationObserver(soon).observe(form, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["data-media-item", "data-media-url", "data-media-alt"],
    });
    update();
  });
})();
