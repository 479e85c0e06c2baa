// Roster's console: small enhancements over forms and links that work
// without it. Copy buttons, confirmations, and switches that save when
// flipped.
"use strict";
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });
});
document.addEventListener("click", function (e) {
  var b = e.target.closest("button[data-copy]");
  if (!b) return;
  e.preventDefault();
  var source = document.getElementById(b.getAttribute("data-copy"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 2000); };
  if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, function () {}); }
});
document.addEventListener("submit", function (e) {
  var f = e.target;
  var question = f.getAttribute("data-confirm");
  if (question && !window.confirm(question)) e.preventDefault();
});
document.addEventListener("change", function (e) {
  var t = e.target;
  if (t.matches("input[data-autosave]")) t.form.requestSubmit();
});
