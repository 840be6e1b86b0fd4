// Fills time-zone fields from the browser (Intl), where the person has not chosen one yet.
// A static file, not inline script: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  if (!zone) {
    return;
  }
  document.querySelectorAll("[data-browser-time-zone]").forEach(function (field) {
    if (field.tagName === "SELECT") {
      var known = Array.prototype.some.call(field.options, function (option) { return option.value === zone; });
      if (known && field.dataset.browserTimeZone === "unset") {
        field.value = zone;
      }
    } else if (!field.value) {
      field.value = zone;
    }
  });
})();
