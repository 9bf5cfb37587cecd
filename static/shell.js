/* calendar_app: the app shell's menu on a phone. Loaded in <head> without `defer`, so the
 * "js" class is set before the page is drawn and the collapsed menu does not flash open.
 * Without JavaScript the menu is a plain list at the top of every page.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("menu-button");
    var menu = document.getElementById("side-menu");
    if (!button || !menu) {
      return;
    }
    button.hidden = false;

    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      document.documentElement.classList.toggle("menu-open", open);
    }

    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    // Escape closes the open menu and gives the focus back to its button.
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  });
})();
