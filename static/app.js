/* calendar_app: small enhancements on every page. No inline scripts (the CSP forbids them). */
(function () {
  "use strict";

  // The crisis button opens its dialog instead of following its link (the link is the
  // fallback without JavaScript). A modal <dialog> keeps keyboard focus inside, closes on
  // Escape and gives focus back to the button.
  function setUpDialogs() {
    document.querySelectorAll("[data-opens]").forEach(function (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-opens"));
      if (!dialog || typeof dialog.showModal !== "function") {
        return;
      }
      opener.addEventListener("click", function (event) {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("select, textarea, input:not([type=hidden])");
        if (first) {
          first.focus();
        }
      });
      dialog.addEventListener("close", function () {
        opener.focus();
      });
    });
    document.querySelectorAll("[data-closes]").forEach(function (closer) {
      closer.addEventListener("click", function () {
        var dialog = document.getElementById(closer.getAttribute("data-closes"));
        if (dialog) {
          dialog.close();
        }
      });
    });
  }

  // In the crisis form, the channel boxes matter only when "chosen channels" is picked.
  function setUpScope() {
    document.querySelectorAll("fieldset").forEach(function (fieldset) {
      var radios = fieldset.querySelectorAll('input[name="scope"]');
      var boxes = fieldset.querySelector(".channel-choices");
      if (!radios.length || !boxes) {
        return;
      }
      function sync() {
        var chosen = fieldset.querySelector('input[name="scope"][value="chosen"]');
        var on = chosen && chosen.checked;
        boxes.hidden = !on;
        boxes.querySelectorAll("input").forEach(function (box) {
          box.disabled = !on;
        });
      }
      radios.forEach(function (radio) {
        radio.addEventListener("change", sync);
      });
      // Picking a playbook takes its scope; the head may still widen or narrow it.
      var playbook = fieldset.form && fieldset.form.querySelector('select[name="playbook"]');
      var byPlaybook = fieldset.querySelector('input[name="scope"][value="playbook"]');
      if (playbook && byPlaybook) {
        playbook.addEventListener("change", function () {
          if (playbook.value) {
            byPlaybook.checked = true;
          } else if (byPlaybook.checked) {
            fieldset.querySelector('input[name="scope"][value="all"]').checked = true;
          }
          sync();
        });
      }
      sync();
    });
  }

  // "Select all" in the review table.
  function setUpSelectAll() {
    document.querySelectorAll("[data-selects]").forEach(function (master) {
      master.addEventListener("change", function () {
        var name = master.getAttribute("data-selects");
        master.form.querySelectorAll('input[name="' + name + '"]').forEach(function (box) {
          box.checked = master.checked;
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpDialogs();
    setUpScope();
    setUpSelectAll();
  });
})();
