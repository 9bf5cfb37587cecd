/* The composer's live counter: each selected channel's text against that channel's limit,
 * counted as that channel's network counts it (static/text-length.js, as the server counts). */
(function () {
  "use strict";

  var LINK = /https?:\/\/\S+/i;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) {
      return values[key];
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("composer");
    if (!form) {
      return;
    }
    var body = form.querySelector("#body");
    var rows = Array.prototype.slice.call(form.querySelectorAll(".channel-row"));
    var buttons = form.querySelectorAll("[data-needs-fit]");
    var message = document.getElementById("fit-message");

    function update() {
      var problems = [];
      rows.forEach(function (row) {
        var box = row.querySelector('input[type="checkbox"]');
        var own = row.querySelector("textarea");
        var counter = row.querySelector(".counter");
        var text = own && own.value.trim() ? own.value : body.value;
        var limit = parseInt(row.dataset.limit, 10);
        var length = window.calendarText.length(text, row.dataset.counting);
        row.classList.toggle("selected", box.checked);
        counter.classList.remove("too-long");
        if (!box.checked) {
          counter.textContent = "";
          return;
        }
        counter.textContent = limit ? length + " / " + limit : String(length);
        if (limit && length > limit) {
          counter.classList.add("too-long");
          problems.push(fill(form.dataset.tooLong, { count: length - limit, channel: row.dataset.name }));
        }
        if (row.dataset.links === "no" && LINK.test(text)) {
          counter.classList.add("too-long");
          problems.push(fill(form.dataset.noLinks, { channel: row.dataset.name }));
        }
      });
      message.textContent = problems.join(" · ");
      buttons.forEach(function (button) {
        button.disabled = problems.length > 0;
      });
    }

    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  });
})();
