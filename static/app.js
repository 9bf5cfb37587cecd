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

  // One "are you sure?" dialog for the page (base.html), filled per question. Resolves true when
  // the person confirms; Escape, Cancel and the backdrop answer no.
  function ask(question) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(question.message));
    }
    dialog.querySelector("#confirm-title").textContent = question.title || dialog.dataset.title;
    dialog.querySelector("#confirm-message").textContent = question.message;
    var yes = dialog.querySelector("[data-answer=yes]");
    yes.textContent = question.yes || dialog.dataset.yes;
    yes.className = question.danger === false ? "" : "alarm";
    dialog.returnValue = "";
    dialog.showModal();
    // A destructive question starts on Cancel, so Enter alone never destroys anything.
    (question.danger === false ? yes : dialog.querySelector("button[value=no]")).focus();
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "yes");
      });
    });
  }
  window.calendarApp = { ask: ask };

  // A destructive button (data-confirm="what will happen") asks first; the form is sent only
  // on yes, with the same button as its submitter. Without JavaScript it submits at once.
  function setUpConfirmations() {
    document.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (button.dataset.confirmed === "1") {
          delete button.dataset.confirmed;
          return;
        }
        if (button.form && !button.form.noValidate && !button.formNoValidate && !button.form.checkValidity()) {
          return; // let the browser name the missing field first
        }
        event.preventDefault();
        ask({ message: button.dataset.confirm, yes: button.dataset.confirmYes || button.textContent.trim() }).then(function (yes) {
          if (yes) {
            button.dataset.confirmed = "1";
            button.click();
          }
        });
      });
    });
  }

  // Which edges of a sideways-scrolling box have more columns beyond them (app.css fades
  // those edges out).
  function markHiddenColumns(box) {
    var beyond = box.scrollWidth - box.clientWidth;
    var left = Math.abs(box.scrollLeft);
    box.toggleAttribute("data-more-left", beyond > 1 && left > 1);
    box.toggleAttribute("data-more-right", beyond > 1 && left < beyond - 1);
  }

  // A table wider than its box scrolls sideways in it; a keyboard reaches the box to scroll it
  // (Tab, then the arrow keys), and a screen reader names it after its table.
  function setUpScrollingTables() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      var table = box.querySelector("table");
      markHiddenColumns(box);
      if (!box.dataset.watched) {
        box.dataset.watched = "1";
        box.addEventListener("scroll", function () { markHiddenColumns(box); }, { passive: true });
      }
      if (box.scrollWidth <= box.clientWidth) {
        if (box.dataset.scrolls) {
          ["tabindex", "role", "aria-labelledby", "aria-label", "data-scrolls"].forEach(function (name) {
            box.removeAttribute(name);
          });
        }
        return;
      }
      box.dataset.scrolls = "1";
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      var named = table && (table.getAttribute("aria-labelledby") || (table.caption && table.caption.id));
      if (named) {
        box.setAttribute("aria-labelledby", named);
      } else if (table && table.caption) {
        box.setAttribute("aria-label", table.caption.textContent.trim());
      } else {
        var heading = document.querySelector("main h1");
        if (heading) {
          box.setAttribute("aria-label", heading.textContent.trim());
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpScrollingTables();
    window.addEventListener("resize", setUpScrollingTables);
    setUpDialogs();
    setUpConfirmations();
    setUpScope();
    setUpSelectAll();
  });
})();
