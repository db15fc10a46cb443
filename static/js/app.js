/*
 * Small progressive enhancements. Every page works without this file.
 *
 * - <form data-slug-source="<id>" data-slug-target="<id>">: while the person has not typed
 *   in the target input, keep it filled with a URL-safe version of the source input's value
 *   (an organisation's address from its name).
 * - <details class="confirm">: an open confirmation closes on a click elsewhere or Escape.
 */
(function () {
  "use strict";

  function slugify(value) {
    return value
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 50);
  }

  function bindSlugs(root) {
    root.querySelectorAll("form[data-slug-source]").forEach(function (form) {
      if (form.dataset.slugBound) return;
      var source = document.getElementById(form.dataset.slugSource);
      var target = document.getElementById(form.dataset.slugTarget);
      if (!source || !target) return;
      form.dataset.slugBound = "1";
      var touched = target.value !== "" && target.value !== slugify(source.value);
      target.addEventListener("input", function () {
        touched = target.value !== "";
      });
      source.addEventListener("input", function () {
        if (!touched) target.value = slugify(source.value);
      });
    });
  }

  function closeConfirms(except) {
    document.querySelectorAll("details.confirm[open]").forEach(function (details) {
      if (details !== except && !details.contains(except)) details.removeAttribute("open");
    });
  }

  document.addEventListener("click", function (event) {
    closeConfirms(event.target);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.confirm[open]");
    if (!open) return;
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    bindSlugs(document);
  });
  document.addEventListener("htmx:load", function (event) {
    bindSlugs(event.target);
  });
})();
