// Progressive enhancement only: every page works without this file.
"use strict";

// Copy buttons: data-copy names the element whose value (or text) goes to the clipboard. They are rendered
// hidden and shown here, so no button is on screen before (or without) the script that makes it work.
document.querySelectorAll("[data-copy][hidden]").forEach(function (button) { button.hidden = false; });
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) { return; }
  var isField = source.tagName === "INPUT" || source.tagName === "TEXTAREA";
  var value = isField ? source.value : source.textContent.trim();
  if (isField) { source.select(); }
  var label = button.textContent;
  var say = function (text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 4000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(value).then(function () { say("Copied"); }, function () { say("Press Ctrl+C to copy"); });
  } else {
    say("Select and press Ctrl+C");
  }
});

// Setup guides: the URLs to paste follow the connection ID while it is typed (the server computes the same).
function slugify(value) {
  return value.trim().toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
}
function followSlug(source) {
  var slug = slugify(source.value);
  if (!slug) { return; }
  document.querySelectorAll("[data-slug-url]").forEach(function (element) {
    element.textContent = element.getAttribute("data-slug-url").replace("{slug}", slug);
  });
}
document.addEventListener("input", function (event) {
  if (event.target.matches("[data-slug-source]")) { followSlug(event.target); }
});
// What was typed before this script ran counts too.
document.querySelectorAll("[data-slug-source]").forEach(followSlug);
