/*
 * 关怀版 (elderly mode): larger type and underlined links, chosen by the visitor.
 *
 * Why client-side: the choice is a display preference that must not reach the
 * server. Pages stay identical for every anonymous visitor (and so cacheable), and
 * no route or cookie is needed. The class is set on <html> while the <head> is
 * parsed, so the page is never painted at the wrong size. Without JavaScript the
 * button stays hidden and the browser's own zoom remains available.
 */
(function () {
  "use strict";
  var KEY = "qzt-care";
  var root = document.documentElement;

  function stored() {
    try {
      return window.localStorage.getItem(KEY) === "1";
    } catch (e) {
      return false; // storage disabled: the mode simply does not persist
    }
  }

  function store(on) {
    try {
      if (on) {
        window.localStorage.setItem(KEY, "1");
      } else {
        window.localStorage.removeItem(KEY);
      }
    } catch (e) {
      /* storage disabled */
    }
  }

  root.classList.toggle("care", stored());

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-care-toggle]");
    if (!button) {
      return;
    }
    function show() {
      button.setAttribute("aria-pressed", root.classList.contains("care") ? "true" : "false");
    }
    button.addEventListener("click", function () {
      var on = !root.classList.contains("care");
      root.classList.toggle("care", on);
      store(on);
      show();
    });
    show();
    button.hidden = false;
  });
})();
