// repo-rag web chat: clicking a citation (any element with class "cite" and data-path) opens it in
// the source panel. The citation is written as JSON into a hidden Textbox (#cite-box) and the
// hidden button #cite-go is clicked, which runs the server-side source viewer.
(function () {
  "use strict";
  function findInput() {
    return document.querySelector("#cite-box textarea, #cite-box input");
  }
  // Where a citation points: data-* attributes, or (inside chat messages, whose sanitizer drops
  // data-* attributes) the query string of its href "#cite?repo=..&path=..&start=..&end=..".
  function citationOf(el) {
    if (el.hasAttribute("data-path")) {
      return {
        repo: el.getAttribute("data-repo") || "",
        path: el.getAttribute("data-path") || "",
        start: parseInt(el.getAttribute("data-start") || "0", 10),
        end: parseInt(el.getAttribute("data-end") || "0", 10)
      };
    }
    var href = el.getAttribute("href") || "";
    var at = href.indexOf("#cite?");
    if (at < 0) return null;
    var q = new URLSearchParams(href.slice(at + 6));
    return {
      repo: q.get("repo") || "",
      path: q.get("path") || "",
      start: parseInt(q.get("start") || "0", 10),
      end: parseInt(q.get("end") || "0", 10)
    };
  }
  function openCitation(el) {
    var box = findInput();
    var go = document.querySelector("#cite-go");
    var cite = citationOf(el);
    if (!box || !go || !cite || !cite.path) return false;
    cite.nonce = Date.now();
    box.value = JSON.stringify(cite);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    // Let the component take the new value before the click reads it.
    setTimeout(function () { go.click(); }, 30);
    document.querySelectorAll(".cite.active").forEach(function (a) { a.classList.remove("active"); });
    el.classList.add("active");
    return true;
  }
  document.addEventListener(
    "click",
    function (event) {
      var el = event.target && event.target.closest ? event.target.closest(".cite") : null;
      if (!el || !citationOf(el)) return;
      event.preventDefault();
      event.stopPropagation();
      openCitation(el);
    },
    true
  );
  document.addEventListener(
    "keydown",
    function (event) {
      if (event.key !== "Enter" && event.key !== " ") return;
      var el = event.target && event.target.closest ? event.target.closest(".cite") : null;
      if (!el || !citationOf(el)) return;
      event.preventDefault();
      openCitation(el);
    },
    true
  );
  window.repoRagOpenCitation = openCitation;
})();
