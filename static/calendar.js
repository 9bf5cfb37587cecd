/* The calendar page: FullCalendar (static/vendor/fullcalendar, MIT) fed from /calendar/events.
 *
 * Times are the team's wall clock without an offset, and the calendar runs in UTC mode, so it
 * shows the team's clock whatever time zone the browser is in.
 */
(function () {
  "use strict";

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // A Date in the calendar's UTC mode, as the team's wall clock: 2026-03-03T09:00
  function wallClock(date) {
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) +
      "T" + pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes());
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // A post in the calendar: its time and title, then its channels' networks (icons copied from
  // the page's <template>) and its status as a badge, all visible without hovering. Text goes
  // in as text, never as markup.
  function postContent(arg, icons) {
    var props = arg.event.extendedProps;
    if (props.blackout) {
      return undefined; // FullCalendar's own rendering of a shaded background event
    }
    function part(tag, className, text) {
      var node = document.createElement(tag);
      node.className = className;
      if (text !== undefined) {
        node.textContent = text;
      }
      return node;
    }
    var box = part("div", "post-content");
    var line = part("div", "post-line");
    if (arg.timeText) {
      line.appendChild(part("span", "post-time", arg.timeText));
      line.appendChild(document.createTextNode(" ")); // read as two words, not "09:00Title"
    }
    // In the week's list (a phone's view) the row is no link of its own: the title is, so the
    // keyboard and screen readers reach the post as a mouse does.
    var listed = arg.view.type.indexOf("list") === 0 && arg.event.url;
    var title = part(listed ? "a" : "span", "post-title", arg.event.title);
    if (listed) {
      title.href = arg.event.url;
    }
    line.appendChild(title);
    box.appendChild(line);
    var badges = part("div", "post-badges");
    var networks = part("span", "networks");
    (props.networks || []).filter(function (network, index, all) {
      return all.indexOf(network) === index;
    }).forEach(function (network) {
      var icon = icons && icons.content.querySelector(".network-" + network);
      if (icon) {
        networks.appendChild(icon.cloneNode(true));
      }
    });
    if (networks.childNodes.length) {
      badges.appendChild(networks);
    }
    badges.appendChild(part("span", "badge-status status-" + props.status, props.statusBadge || props.statusLabel));
    box.appendChild(badges);
    return { domNodes: [box] };
  }

  function say(text, kind) {
    var box = document.getElementById("calendar-message");
    box.textContent = text;
    box.className = "flash flash-" + kind;
    box.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("calendar");
    if (!el || !window.FullCalendar) {
      return;
    }
    var data = el.dataset;
    var filters = {
      channel: document.getElementById("filter-channel"),
      department: document.getElementById("filter-department"),
      campaign: document.getElementById("filter-campaign"),
      status: document.getElementById("filter-status"),
    };
    var loadedAt = Date.now();
    var teamNow = new Date(data.now + ":00Z");
    var phone = window.matchMedia("(max-width: 40rem)").matches;
    var icons = document.getElementById("network-icons");

    var exportLink = document.getElementById("export-csv");
    var exportBase = exportLink ? exportLink.getAttribute("href").split("?")[0] : "";
    var shownRange = null;

    // The "Export CSV" link carries the filters and the range the calendar shows right now.
    function updateExportLink() {
      if (!exportLink) {
        return;
      }
      var params = new URLSearchParams();
      Object.keys(filters).forEach(function (name) {
        if (filters[name].value) {
          params.set(name, filters[name].value);
        }
      });
      if (shownRange) {
        params.set("start", wallClock(shownRange.start));
        params.set("end", wallClock(shownRange.end));
      }
      var query = params.toString();
      exportLink.setAttribute("href", exportBase + (query ? "?" + query : ""));
    }

    // The previous/next buttons are named by their hints; the chevrons in them are decoration,
    // not images without a name.
    function quietToolbarIcons() {
      el.querySelectorAll(".fc-toolbar .fc-icon").forEach(function (icon) {
        icon.removeAttribute("role");
        icon.setAttribute("aria-hidden", "true");
      });
    }

    var calendar = new FullCalendar.Calendar(el, {
      timeZone: "UTC",
      now: function () {
        return new Date(teamNow.getTime() + (Date.now() - loadedAt));
      },
      locale: data.locale,
      initialView: phone && data.initialView === "dayGridMonth" ? "listWeek" : data.initialView,
      initialDate: data.initialDate || undefined,
      firstDay: 1,
      height: "auto",
      nowIndicator: true,
      dayMaxEvents: 4,
      eventDisplay: "block",
      headerToolbar: phone
        ? { left: "prev,next", center: "title", right: "dayGridMonth,listWeek" }
        : { left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,listWeek" },
      eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: data.locale !== "de" },
      // Our own words for the buttons, in both languages (FullCalendar's English ones are in
      // lower case), and an all-day label that says it in full.
      buttonText: { today: data.buttonToday, month: data.buttonMonth, week: data.buttonWeek, list: data.buttonList },
      buttonHints: { prev: data.previous, next: data.next },
      allDayText: data.allDay,
      eventClassNames: function (arg) {
        return arg.event.extendedProps.blackout ? [] : ["post-event"];
      },
      eventContent: function (arg) {
        return postContent(arg, icons);
      },
      editable: true,
      eventDurationEditable: false,
      eventStartEditable: true,
      displayEventEnd: false,
      defaultTimedEventDuration: "00:30",
      eventSources: [
        {
          url: data.eventsUrl,
          extraParams: function () {
            return {
              channel: filters.channel.value,
              department: filters.department.value,
              campaign: filters.campaign.value,
              status: filters.status.value,
            };
          },
          failure: function () {
            say(data.error, "error");
          },
        },
        {
          // Blackout dates: shaded background, not draggable.
          url: data.blackoutsUrl,
          editable: false,
          color: "#5b6770",
          failure: function () {
            say(data.error, "error");
          },
        },
      ],
      datesSet: function (info) {
        shownRange = { start: info.start, end: info.end };
        updateExportLink();
        quietToolbarIcons();
      },
      // A day's cell is named by its day number alone, which hides the posts in it from
      // screen readers; without the name, the cell reads as what it contains.
      dayCellDidMount: function (info) {
        info.el.removeAttribute("aria-labelledby");
      },
      eventDidMount: function (info) {
        var props = info.event.extendedProps;
        if (props.blackout) {
          var note = info.event.title + (props.channels.length ? " · " + props.channels.join(", ") : " · " + props.statusLabel);
          info.el.setAttribute("title", note);
          return;
        }
        // The link's name is what it shows (time, title, networks, status), so speech input
        // finds it by its visible words; the channels' full names are a tooltip on top.
        var label = (info.timeText ? info.timeText + " " : "") + info.event.title + " · " + props.statusLabel + " · " + props.channels.join(", ");
        info.el.setAttribute("title", label);
        info.el.style.setProperty("--dept", info.event.backgroundColor);
      },
      dateClick: function (info) {
        window.location.href = data.composeUrl + "?date=" + info.dateStr.slice(0, 10);
      },
      eventDrop: function (info) {
        var url = data.rescheduleUrl.replace(/\/0\/reschedule$/, "/" + info.event.id + "/reschedule");
        var publishAt = wallClock(info.event.start);

        function send(confirmed) {
          var payload = { publish_at: publishAt };
          if (confirmed) {
            payload.confirm = true;
          }
          return fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
            body: JSON.stringify(payload),
          }).then(function (response) {
            return response.json().catch(function () {
              return { error: response.statusText };
            }).then(function (body) {
              // An approved post: the server asks first, since moving it takes its approval.
              if (response.status === 409 && body.needs_confirmation && !confirmed) {
                return window.calendarApp.ask({
                  title: data.confirmMoveTitle,
                  message: body.message || body.error,
                  yes: data.confirmMove,
                  danger: false,
                }).then(function (yes) {
                  if (yes) {
                    return send(true);
                  }
                  info.revert();
                  return null;
                });
              }
              if (!response.ok) {
                throw new Error(body.error || response.statusText);
              }
              var warnings = body.warnings || [];
              // A move into a blackout date is allowed, but the planner must see what it meets.
              say([body.message].concat(warnings).join(" "), warnings.length ? "error" : "success");
              calendar.refetchEvents();
              return null;
            });
          });
        }

        send(false).catch(function (error) {
          info.revert();
          say(data.moveFailed + " " + error.message, "error");
        });
      },
    });
    calendar.render();
    Object.keys(filters).forEach(function (name) {
      filters[name].addEventListener("change", function () {
        calendar.refetchEvents();
        updateExportLink();
      });
    });
  });
})();
