/*
 * Small progressive enhancements. Every page works without this file.
 *
 * - <form data-slug-source="<id>" data-slug-target="<id>">: while the person has not typed
 *   in the target input, keep it filled with a URL-safe version of the source input's value
 *   (an organisation's address from its name).
 * - <details class="confirm">: an open confirmation closes on a click elsewhere or Escape.
 * - In a <form data-show-when-form>, an element with data-show-when="<field>:<v1> <v2>" is
 *   shown only while that field has one of those values, and one with
 *   data-hide-when="<field>:<v>" is hidden while it has (a checkbox's value is "on" when
 *   ticked). Hidden inputs are disabled so they are not sent. Without this file every
 *   field shows, with a hint saying which apply.
 * - <select data-autosubmit>: choosing an option submits its (GET) form.
 * - My week: Enter in a field of a [data-kr-card] saves that card alone (its [data-kr-save]
 *   button, with htmx), not every card of the page. Without this file Enter submits the
 *   whole form, as "Save all" does.
 * - An htmx request that fails with nothing to swap in (403, 404, a server error, no
 *   network) shows #request-failed with the message for that case (the page's language,
 *   from its data- attributes): what the person did was not saved, and what to do. The
 *   next request that succeeds hides it again.
 * - <html class="js">: lets CSS hide buttons that only no-JavaScript visitors need.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

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

  function fieldValue(form, name) {
    var control = form.elements.namedItem(name);
    if (!control) return null;
    if (control.type === "checkbox") return control.checked ? "on" : "";
    return control.value;
  }

  function matches(form, rule) {
    var parts = rule.split(":");
    var value = fieldValue(form, parts[0]);
    return value !== null && parts[1].split(" ").indexOf(value) !== -1;
  }

  function applyConditions(form) {
    form.querySelectorAll("[data-show-when], [data-hide-when]").forEach(function (element) {
      var show = element.dataset.showWhen;
      var hide = element.dataset.hideWhen;
      var visible = (!show || matches(form, show)) && !(hide && matches(form, hide));
      element.hidden = !visible;
      element.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !visible;
      });
    });
    form.querySelectorAll("[data-no-js-hint]").forEach(function (hint) {
      hint.hidden = true;
    });
  }

  function bindConditions(root) {
    root.querySelectorAll("form[data-show-when-form]").forEach(function (form) {
      if (form.dataset.conditionsBound) return;
      form.dataset.conditionsBound = "1";
      form.addEventListener("change", function () {
        applyConditions(form);
      });
      applyConditions(form);
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]") && event.target.form) {
      event.target.form.requestSubmit();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.shiftKey) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var field = event.target;
    // A textarea takes Enter as a new line; an input method composing a word (Chinese)
    // takes it as confirming the word.
    if (!(field instanceof HTMLInputElement)) return;
    var card = field.closest("[data-kr-card]");
    var save = card && card.querySelector("[data-kr-save]");
    if (!save || save.disabled) return;
    event.preventDefault();
    save.click();
  });

  function bind(root) {
    bindSlugs(root);
    bindConditions(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    bind(document);
  });
  document.addEventListener("htmx:load", function (event) {
    bind(event.target);
  });

  function requestFailed(kind) {
    var box = document.getElementById("request-failed");
    if (!box) {
      return;
    }
    box.querySelector("p").textContent = box.dataset[kind] || box.dataset.failed;
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    requestFailed(status === 403 ? "denied" : status === 404 ? "gone" : "failed");
  });
  document.addEventListener("htmx:sendError", function () {
    requestFailed("offline");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("request-failed");
    if (box && event.detail.successful) {
      box.hidden = true;
    }
  });
})();
