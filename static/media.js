/* The composer's images: upload by drag and drop or the file input, a thumbnail, alt text and
 * remove per image, the alt text waiver's reason shown only when it is ticked. Each image is an
 * element with data-media-item, data-media-url and data-media-alt (the per-network preview reads
 * them); a "media-change" event on the form says they changed. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var block = document.getElementById("media-block");
    if (!block) {
      return;
    }
    var form = block.closest("form");
    var list = document.getElementById("media-list");
    var template = document.getElementById("media-item-template");
    var input = document.getElementById("media-file");
    var drop = document.getElementById("media-drop");
    var problem = document.getElementById("media-upload-error");
    var waived = document.getElementById("alt_text_waived");
    var reason = document.getElementById("waiver-reason");
    var maxImages = parseInt(block.dataset.maxImages, 10) || 4;
    var csrf = form.querySelector('input[name="csrf_token"]');
    var pending = 0;

    function items() {
      return Array.prototype.slice.call(list.querySelectorAll("[data-media-item]"));
    }

    function changed() {
      items().forEach(function (item, index) {
        var text = item.querySelector("textarea");
        var label = item.querySelector("label");
        text.id = "media-alt-" + index;
        label.setAttribute("for", text.id);
      });
      form.dispatchEvent(new CustomEvent("media-change", { bubbles: true }));
    }

    function say(text) {
      problem.textContent = text || "";
    }

    function add(image) {
      var item = template.content.firstElementChild.cloneNode(true);
      item.dataset.mediaId = String(image.id);
      item.dataset.mediaUrl = image.url;
      item.dataset.mediaAlt = "";
      item.querySelector("img").src = image.url;
      item.querySelector('input[name="media_id"]').value = String(image.id);
      list.appendChild(item);
      changed();
      item.querySelector("textarea").focus();
    }

    function upload(file) {
      if (items().length + pending >= maxImages) {
        say(block.dataset.tooMany);
        return;
      }
      var data = new FormData();
      data.append("file", file, file.name);
      pending += 1;
      say(block.dataset.uploading);
      fetch(block.dataset.uploadUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: csrf ? { "X-CSRFToken": csrf.value } : {},
      })
        .then(function (response) {
          return response
            .json()
            .catch(function () {
              return { error: block.dataset.uploadFailed };
            })
            .then(function (body) {
              return { ok: response.ok, body: body };
            });
        })
        .then(function (answer) {
          pending -= 1;
          if (answer.ok) {
            say("");
            add(answer.body);
          } else {
            var fields = answer.body.fields || {};
            say(file.name + ": " + (fields.file || answer.body.error || block.dataset.uploadFailed));
          }
        })
        .catch(function () {
          pending -= 1;
          say(file.name + ": " + block.dataset.uploadFailed);
        });
    }

    function uploadAll(files) {
      Array.prototype.forEach.call(files, upload);
    }

    input.addEventListener("change", function () {
      uploadAll(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () {
        drop.classList.remove("dragging");
      });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files) {
        uploadAll(event.dataTransfer.files);
      }
    });
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-media-remove]");
      if (!button) {
        return;
      }
      button.closest("[data-media-item]").remove();
      say("");
      changed();
    });
    list.addEventListener("input", function (event) {
      var item = event.target.closest("[data-media-item]");
      if (item && event.target.name === "media_alt") {
        item.dataset.mediaAlt = event.target.value;
        form.dispatchEvent(new CustomEvent("media-change", { bubbles: true }));
      }
    });
    waived.addEventListener("change", function () {
      reason.hidden = !waived.checked;
    });
  });
})();
